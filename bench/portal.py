# ruff: noqa: I001  (bench/_setup must configure Django before Django is imported)
"""Server-side time of the portal's invoice list and invoice pages for a customer with 2 000 invoices.

    uv run python bench/portal.py [N] [REQUESTS]      (default 2 000 invoices, 200 requests a page)

Requests go in-process through Django's test client (middleware, session, templates, queries);
no network. Prints p50/p95 per page; the last line is `invoice_list_p95_ms`.
"""

import random
import statistics
import sys
import time
import uuid

import _setup  # noqa: F401
from django.core.management import call_command
from django.db import connection
from django.test import Client

from acquitte.customers.models import User
from acquitte.invoicing.services import finalise_invoices
from acquitte.payments.services import record_payment
from tests import factories
from tests.factories import SYSTEM


def percentile(values, p):
    return statistics.quantiles(values, n=100)[p - 1]


def main(n: int, requests: int) -> None:
    call_command("migrate", verbosity=0)
    org = factories.quebec_organisation(f"bench-{uuid.uuid4().hex[:8]}")
    customer = factories.customer(org)
    email = f"{org.slug}@bench.test"
    User.objects.create_user(email, "bench-password-1", customer=customer)
    print(f"database: {connection.vendor}; building {n} invoices…", flush=True)
    drafts = [factories.invoice(org, customer, finalise=False) for _ in range(n)]
    invoices = []
    for i in range(0, n, 500):
        invoices += finalise_invoices(organisation=org, invoices=drafts[i : i + 500], actor=SYSTEM)
    record_payment(
        organisation=org,
        customer=customer,
        amount=invoices[0].total * (n // 2),
        method="cheque",
        actor=SYSTEM,
    )
    client = Client(HTTP_HOST="127.0.0.1")
    client.post("/connexion/", {"username": email, "password": "bench-password-1"})
    pages = {
        "invoice_list": lambda: "/factures/",
        "invoice_list_sorted": lambda: f"/factures/?tri=-total&page={random.randint(1, n // 25)}",
        "invoice": lambda: f"/factures/{random.choice(invoices).pk}/",
    }
    results = {}
    for name, url in pages.items():
        timings = []
        for _ in range(requests):
            start = time.perf_counter()
            response = client.get(url())
            timings.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200
        results[name] = timings
        print(
            f"{name}: p50 {statistics.median(timings):.1f} ms, p95 {percentile(timings, 95):.1f} ms",
            flush=True,
        )
    print(f"invoice_list_p95_ms: {percentile(results['invoice_list'], 95):.1f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000, int(sys.argv[2]) if len(sys.argv) > 2 else 200)
