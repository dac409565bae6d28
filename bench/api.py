# ruff: noqa: I001  (bench/_setup must configure Django before Django is imported)
"""The JSON API: p95 of a page of 100 invoices with their customer expanded, and invoices created
and finalised per second through the API with idempotency keys, from C concurrent clients.

    uv run python bench/api.py [N] [REQUESTS] [CLIENTS]   (default 2 000 invoices, 200 pages, 4 clients)

In-process through Django's test client (middleware, key lookup, rate limit, serialisation); the
clients are threads, each with its own database connection. Run ANALYZE before measuring (autovacuum
is off on these machines). Last line `api_list_p95_ms`.
"""

import json
import statistics
import sys
import threading
import time
import uuid

import _setup  # noqa: F401
from django.core.management import call_command
from django.db import connection
from django.test import Client

from acquitte.api.services import create_api_key
from acquitte.invoicing.services import finalise_invoices
from tests import factories
from tests.factories import SYSTEM


def percentile(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100)[p - 1]


def main(n: int, requests: int, clients: int) -> None:
    call_command("migrate", verbosity=0)
    org = factories.quebec_organisation(f"bench-{uuid.uuid4().hex[:8]}")
    owner = factories.staff(org, email=f"{org.slug}@bench.test")
    customers = [factories.customer(org, name=f"Client {i}", email=f"c{i}@bench.test") for i in range(50)]
    product = factories.product(org)
    print(f"database: {connection.vendor}; building {n} invoices…", flush=True)
    drafts = [factories.invoice(org, customers[i % 50], finalise=False) for i in range(n)]
    for i in range(0, n, 500):
        finalise_invoices(organisation=org, invoices=drafts[i : i + 500], actor=SYSTEM)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    _key, token = create_api_key(organisation=org, actor=owner, name="bench", scope="write")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    client = Client(HTTP_HOST="127.0.0.1")
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get("/api/v1/invoices?expand=customer&limit=100", **headers)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.content[:300]
    each = max(1, requests // clients)
    body = json.dumps({"customer": customers[0].pk, "lines": [{"product": product.pk, "quantity": "2"}]})
    failures: list[int] = []

    def work(worker: int) -> None:
        own = Client(HTTP_HOST="127.0.0.1")
        for i in range(each):
            made = own.post(
                "/api/v1/invoices",
                body,
                content_type="application/json",
                HTTP_IDEMPOTENCY_KEY=f"bench-{worker}-{i}",
                **headers,
            )
            done = own.post(f"/api/v1/invoices/{json.loads(made.content)['id']}/finalize", **headers)
            if made.status_code != 201 or done.status_code != 200:
                failures.append(done.status_code)
        connection.close()

    threads = [threading.Thread(target=work, args=(w,)) for w in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    print(f"list p50 {statistics.median(timings):.1f} ms")
    print(
        f"created_and_finalised_per_s: {each * clients / elapsed:.0f} ({clients} clients, {len(failures)} failures)"
    )
    print(f"api_list_p95_ms: {percentile(timings, 95):.1f}")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    main(*(args + [2000, 200, 4][len(args) :]))
