# ruff: noqa: I001  (bench/_setup must configure Django before Django is imported)
"""Webhook events accepted per second and sandbox charges settled per second.

    uv run python bench/payments.py [N]       (default 2 000; DATABASE_URL picks the database)

Webhooks: N signed direct-debit events POSTed in-process by 8 concurrent senders to the
real inbox (signature and freshness verified, stored once, answered). The task a worker would
run is queued in memory during that phase, then run for every event (timed apart), and each
event is checked applied exactly once; a tenth are replayed and change nothing. Charges: N/4
card payments of invoices through the sandbox, end to end.
"""

import datetime
import json
import sys
import threading
import time
import uuid

import _setup  # noqa: F401
from django.core.management import call_command
from django.db import connection
from django.test import Client

from acquitte.invoicing.services import finalise_invoices
from acquitte.payments import services, tasks
from acquitte.payments.models import Payment, WebhookEvent
from acquitte.payments.providers.sandbox import SIGNATURE_HEADER, SandboxProvider, sign
from tests import factories
from tests.factories import SYSTEM

SENDERS = 8


def main(n: int) -> None:
    call_command("migrate", verbosity=0)
    org = factories.quebec_organisation(f"bench-{uuid.uuid4().hex[:8]}")
    customer = factories.customer(org)
    debit = services.add_bank_account(
        actor=SYSTEM,
        customer=customer,
        holder="Bench",
        scheme="pad",
        institution="006",
        transit="00123",
        account="1234567",
    )
    print(f"database: {connection.vendor}; preparing {n} pending direct debits…", flush=True)
    invoices = [factories.invoice(org, customer, finalise=False) for _ in range(n)]
    invoices = finalise_invoices(organisation=org, invoices=invoices, actor=SYSTEM)
    payments = [
        services.pay_invoice(
            actor=SYSTEM, invoice=inv, payment_method=debit, idempotency_key=uuid.uuid4().hex
        )
        for inv in invoices
    ]
    secret = services.webhook_secret(provider="sandbox", organisation=org)
    sandbox = SandboxProvider()
    bodies = [(sandbox.settle_debit(reference=p.provider_reference, outcome="paid_out")) for p in payments]
    client = Client(HTTP_HOST="127.0.0.1")
    url = f"/webhooks/sandbox/{org.slug}/"
    encoded = [json.dumps(b).encode() for b in bodies]
    queued: list[int] = []
    tasks.process_webhook_event.delay = queued.append  # the broker, in memory

    def deliver(chunk: list[bytes]) -> None:
        client = Client(HTTP_HOST="127.0.0.1")
        for body in chunk:
            response = client.post(
                url,
                data=body,
                content_type="application/json",
                headers={SIGNATURE_HEADER: sign(body, secret)},
            )
            assert response.status_code == 200
        connection.close()

    # Providers deliver concurrently; 8 senders let PostgreSQL group the commits.
    chunks = [encoded[i::SENDERS] for i in range(SENDERS)]
    threads = [threading.Thread(target=deliver, args=(chunk,)) for chunk in chunks]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    start_apply = time.perf_counter()
    for event_id in queued:
        services.process_webhook_event(event_id=event_id)
    applied = len(queued) / (time.perf_counter() - start_apply)
    for body in encoded[: n // 10]:  # replays change nothing
        client.post(
            url, data=body, content_type="application/json", headers={SIGNATURE_HEADER: sign(body, secret)}
        )
    assert WebhookEvent.objects.filter(organisation=org).count() == n
    assert WebhookEvent.objects.filter(organisation=org, processed_at__isnull=True).count() == 0
    assert Payment.objects.filter(organisation=org, status="succeeded").count() == n

    card = services.add_card(
        actor=SYSTEM,
        customer=customer,
        holder="Bench",
        number="4242424242424242",
        cvv="123",
        expiry=f"12/{(datetime.date.today().year + 1) % 100:02d}",
    )
    more = finalise_invoices(
        organisation=org,
        invoices=[factories.invoice(org, customer, finalise=False) for _ in range(n // 4)],
        actor=SYSTEM,
    )
    start_c = time.perf_counter()
    for inv in more:
        services.pay_invoice(actor=SYSTEM, invoice=inv, payment_method=card, idempotency_key=uuid.uuid4().hex)
    charges = len(more) / (time.perf_counter() - start_c)
    print(f"charges_settled_per_s: {charges:.0f}")
    print(f"webhook_events_applied_per_s: {applied:.0f}")
    print(f"webhooks: {n} accepted and applied once in {elapsed:.2f} s")
    print(f"webhooks_per_s: {n / elapsed:.0f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
