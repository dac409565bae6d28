# ruff: noqa: I001  (bench/_setup must configure Django before Django is imported)
"""Finalise N three-line invoices on the configured database and print invoices per second.

    uv run python bench/finalise.py [N]          (default 10 000; DATABASE_URL picks the database)

Without DATABASE_URL it writes bench organisations into the development database in var/; point
it at a scratch one, e.g. DATABASE_URL=sqlite:////tmp/bench.sqlite3 or a PostgreSQL database of its own.

Drafts are built first (not timed). Then they are finalised twice over: one at a time
(`finalise_invoice`, one transaction each, as the admin does) for a tenth of them, and the rest
in batches of 500 (`finalise_invoices`, as a billing run does). Both keep every rule: row-locked
gapless numbers, frozen taxes and bill-to, ledger entries, audit rows.
"""

import sys
import time
import uuid

import _setup  # noqa: F401
from django.core.management import call_command
from django.db import connection

from acquitte.invoicing import services
from acquitte.invoicing.models import Invoice
from tests import factories
from tests.factories import SYSTEM

BATCH = 500


def main(n: int) -> None:
    call_command("migrate", verbosity=0)
    slug = f"bench-{uuid.uuid4().hex[:8]}"
    org = factories.quebec_organisation(slug)
    customer = factories.customer(org)
    lines = [factories.line(org, price=p) for p in ("19.99", "250.00", "7.35")]
    print(f"database: {connection.vendor}; building {n} drafts of 3 lines…", flush=True)
    drafts = []
    for i in range(n):
        drafts.append(services.create_invoice(organisation=org, customer=customer, actor=SYSTEM, lines=lines))
        if (i + 1) % max(1, n // 5) == 0:
            print(f"  {i + 1}/{n} drafts", flush=True)
    single, batched = drafts[: max(1, n // 10)], drafts[max(1, n // 10) :]
    start = time.perf_counter()
    for draft in single:
        services.finalise_invoice(invoice=draft, actor=SYSTEM)
    elapsed = time.perf_counter() - start
    print(f"one at a time: {len(single)} in {elapsed:.2f} s = {len(single) / elapsed:.0f}/s", flush=True)
    start = time.perf_counter()
    for i in range(0, len(batched), BATCH):
        services.finalise_invoices(organisation=org, invoices=batched[i : i + BATCH], actor=SYSTEM)
        print(f"  batch: {min(i + BATCH, len(batched))}/{len(batched)} finalised", flush=True)
    elapsed = time.perf_counter() - start
    numbers = sorted(
        int(n[-6:]) for n in Invoice.objects.filter(organisation=org).values_list("number", flat=True)
    )
    assert numbers == list(range(1, n + 1)), "numbering is not gapless"
    print(f"batched: {len(batched)} in {elapsed:.2f} s; numbers 1..{n} gapless")
    print(f"invoices_per_s: {len(batched) / elapsed:.0f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
