# ruff: noqa: I001  (bench/_setup must configure Django before Django is imported)
"""The quote journey's server side, timed: send N quotes, then approve them (each becomes a
finalised invoice), and print quotes per second for each step.

    uv run python bench/quotes.py [N]          (default 200; DATABASE_URL picks the database)

Sending renders the quote's PDF (attached to the e-mail) and writes an e-mail and an SMS to the
outbox; their delivery runs in-process here, as without a broker (file e-mail backend, outbox-only
SMS). Approval locks the quote, creates and finalises the invoice (row-locked gapless number) and
notifies staff. Point DATABASE_URL at a scratch database: it writes a bench organisation.
"""

import sys
import time
import uuid

import _setup  # noqa: F401
from django.core.management import call_command
from django.db import connection

from acquitte.core.actors import PublicLink
from acquitte.notifications.models import OutboundMessage
from acquitte.quotes import services
from tests import factories
from tests.factories import SYSTEM


def main(n: int) -> None:
    call_command("migrate", verbosity=0)
    org = factories.quebec_organisation(f"bench-{uuid.uuid4().hex[:8]}")
    customer = factories.customer(org, phone="514 555 0199")
    products = [
        factories.product(org, sku=f"P{i}", price=p) for i, p in enumerate(("150.00", "29.95", "7.35"))
    ]
    print(f"database: {connection.vendor}; building {n} draft quotes of 3 lines…", flush=True)
    drafts = []
    for _ in range(n):
        quote = services.create_quote(organisation=org, customer=customer, actor=SYSTEM)
        for product in products:
            services.add_product(quote=quote, product=product, actor=SYSTEM)
        drafts.append(quote)
    start = time.perf_counter()
    for quote in drafts:
        services.send_quote(quote=quote, actor=SYSTEM)
    sent = time.perf_counter() - start
    messages = OutboundMessage.objects.filter(organisation=org).count()
    print(f"sent: {n} in {sent:.2f} s ({messages} messages in the outbox)", flush=True)
    start = time.perf_counter()
    for quote in drafts:
        signer = PublicLink(
            token=quote.public_token, organisation_id=org.pk, customer_id=customer.pk, name="Bench"
        )
        services.approve_quote(quote=quote, actor=signer, ip_address="127.0.0.1")
    approved = time.perf_counter() - start
    print(f"approved and invoiced: {n} in {approved:.2f} s")
    print(f"quotes_sent_per_s: {n / sent:.0f}")
    print(f"quotes_approved_per_s: {n / approved:.0f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
