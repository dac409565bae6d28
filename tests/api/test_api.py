"""The JSON API through Django's test client (issue 14): keys and scopes, tenancy, problem
documents in the caller's language, money as strings, cursor pages, idempotency, rate limit."""

import json
import re
import threading

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from acquitte.api.api import api as ninja_api
from acquitte.api.auth import KeyRateThrottle
from acquitte.api.models import ApiKey, IdempotencyKey
from acquitte.api.services import revoke_api_key
from acquitte.core.models import AuditLog
from acquitte.customers.models import Customer
from acquitte.invoicing.models import Invoice
from tests import factories

from .conftest import Api, key_for

PROBLEM = "application/problem+json"


def body(response):
    return json.loads(response.content)


def test_without_a_key_or_with_a_revoked_one_the_answer_is_401_as_a_problem(client, org, owner, api):
    assert Client().get("/api/v1/customers").status_code == 401
    response = Api(client, "acq_nothing_here").get("/customers")
    assert response.status_code == 401 and response["Content-Type"] == PROBLEM
    assert response["WWW-Authenticate"] == "Bearer"
    assert body(response)["type"] == "urn:acquitte:problem:unauthenticated"
    revoke_api_key(key=ApiKey.objects.get(), actor=owner)
    assert api.get("/customers").status_code == 401


def test_the_key_is_stored_hashed_and_its_use_recorded(org, api):
    key = ApiKey.objects.get()
    assert api.token not in (key.key_hash, key.prefix) and api.token.startswith(f"acq_{key.prefix}_")
    assert key.last_used_at is None
    assert api.get("/customers").status_code == 200
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_a_read_only_key_reads_and_is_refused_every_write_changing_nothing(org, reader):
    customer = factories.customer(org)
    assert reader.get(f"/customers/{customer.pk}").status_code == 200
    refused = reader.post("/customers", {"name": "Nouveau", "email": "n@example.test"})
    assert refused.status_code == 403 and refused["Content-Type"] == PROBLEM
    assert "consultation" in body(refused)["title"]
    refused = reader.patch(f"/customers/{customer.pk}", {"name": "Autre"})
    assert refused.status_code == 403
    assert list(Customer.objects.values_list("name", flat=True)) == ["Café Bonjour"]


def test_a_customer_made_through_the_api_is_audited_as_the_key(org, api):
    made = api.post("/customers", {"name": "Boulangerie", "email": "pain@example.test", "language": "en"})
    assert made.status_code == 201, made.content
    found = body(made)
    assert found["number"] and found["language"] == "en" and found["addresses"] == []
    prefix = ApiKey.objects.get().prefix
    assert AuditLog.objects.filter(actor_label=f"api:{prefix}").exists()


def test_an_invoice_drafted_with_lines_finalised_then_its_pdf(org, api):
    customer = factories.customer(org)
    product = factories.product(org, price="799.99")
    category = product.tax_category_id
    draft = api.post(
        "/invoices",
        {
            "customer": customer.pk,
            "lines": [
                {"product": product.pk, "quantity": "0.5"},
                {"description": "Installation", "unit_price": "120.00", "tax_category": category},
            ],
            "notes": "Commande 42",
        },
    )
    assert draft.status_code == 201, draft.content
    found = body(draft)
    assert found["status"] == "draft" and [line["quantity"] for line in found["lines"]] == ["0.5", "1"]
    assert found["subtotal"] == "520.00" and isinstance(found["total"], str)
    changed = api.patch(f"/invoices/{found['id']}", {"notes": "Commande 43", "due_date": "2027-01-31"})
    assert changed.status_code == 200 and body(changed)["notes"] == "Commande 43"
    final = api.post(f"/invoices/{found['id']}/finalize")
    assert final.status_code == 200 and re.match(r"F-\d{4}-\d+", body(final)["number"])
    again = api.patch(f"/invoices/{found['id']}", {"notes": "trop tard"})
    assert again.status_code == 422 and body(again)["code"] == "document_finalised"
    pdf = api.get(f"/invoices/{found['id']}/pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert body(api.get(f"/invoices/{found['id']}/public-link"))["url"].startswith("http")


def test_bad_input_gets_field_errors_in_french_or_english_and_changes_nothing(org, api):
    customer = factories.customer(org)
    bad = {"customer": "x", "lines": [{"quantity": 1.5, "unit_price": "abc"}], "notes": "a\x00b"}
    for language, missing in (("fr", "Catégorie de taxe introuvable."), ("en", "Tax category not found.")):
        refused = api.post("/invoices", bad, language=language)
        assert refused.status_code == 422 and refused["Content-Type"] == PROBLEM
        fields = {e["field"] for e in body(refused)["errors"]}
        assert {"customer", "lines.0.quantity", "lines.0.unit_price", "notes"} <= fields
        refused = api.post(
            "/invoices",
            {"customer": customer.pk, "lines": [{"description": "x", "unit_price": "1.00"}]},
            language=language,
        )
        assert refused.status_code == 422
        assert body(refused)["errors"] == [
            {"field": "lines.0.tax_category", "message": missing, "type": "invalid_input"}
        ]
        assert refused["Content-Language"] == language
    assert not Invoice.objects.exists()


def _paths_with_ids() -> list[tuple[str, str]]:
    document = ninja_api.get_openapi_schema()
    return [
        (method, path)
        for path, operations in document["paths"].items()
        for method in operations
        if "{" in path
    ]


def test_another_organisations_ids_answer_404_on_every_operation_as_missing_ones_do(org, api):
    other = factories.french_organisation()
    theirs = factories.customer(other, name="Boulangerie Martin", email="martin@example.test")
    ids = {
        "customer_id": theirs.pk,
        "invoice_id": factories.invoice(other, theirs).pk,
        "product_id": factories.product(other, sku="PAIN").pk,
    }
    before = Invoice.objects.get(pk=ids["invoice_id"]).status
    paths = _paths_with_ids()
    assert len(paths) >= 8
    for method, path in paths:
        names = re.findall(r"{(\w+)}", path)
        assert set(names) <= set(ids), f"{method} {path}: add its ids to this test"
        for theirs_or_missing in (True, False):
            url = re.sub(
                r"{(\w+)}",
                lambda m, t=theirs_or_missing: str(ids[m.group(1)] if t else 999_999_999),
                path.removeprefix("/api/v1"),
            )
            response = api.call(method, url, {} if method in {"post", "patch"} else None)
            assert response.status_code == 404, (method, url, response.content)
            assert body(response)["title"] == "Objet introuvable."
    assert Invoice.objects.get(pk=ids["invoice_id"]).status == before
    assert api.get(f"/invoices?customer={theirs.pk}").status_code == 404


def test_lists_come_in_cursor_pages_and_expand_costs_no_query_per_row(org, api):
    customers = [
        factories.customer(org, name=f"Client {n:02d}", email=f"c{n}@example.test") for n in range(25)
    ]
    seen, cursor = [], ""
    while True:
        found = body(api.get(f"/customers?limit=10&cursor={cursor}"))
        seen += [c["id"] for c in found["data"]]
        cursor = found["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(c.pk for c in customers) and len(seen) == len(set(seen))
    assert api.get("/customers?cursor=pas-un-curseur").status_code == 422

    def queries(count: int) -> int:
        for n in range(Invoice.objects.count(), count):
            factories.invoice(org, customers[n % 5])
        with CaptureQueriesContext(connection) as captured:
            listed = body(api.get("/invoices?expand=customer&limit=100"))
        assert len(listed["data"]) == count and listed["data"][0]["customer"]["name"].startswith("Client")
        return len(captured)

    assert queries(3) == queries(20)


def test_the_same_idempotency_key_replays_refuses_another_body_and_waits_while_in_flight(org, api):
    customer = factories.customer(org)
    product = factories.product(org)
    order = {"customer": customer.pk, "lines": [{"product": product.pk}]}
    first = api.post("/invoices", order, key="commande-1")
    second = api.post("/invoices", order, key="commande-1")
    assert first.status_code == second.status_code == 201
    assert second["Idempotent-Replayed"] == "true" and second.content == first.content
    assert Invoice.objects.count() == 1
    other = api.post("/invoices", {**order, "notes": "autre"}, key="commande-1")
    assert other.status_code == 422 and body(other)["code"] == "idempotency_key_reused"
    IdempotencyKey.objects.create(api_key=ApiKey.objects.get(), key="commande-2", request_hash="x" * 64)
    busy = api.post("/invoices", order, key="commande-2")
    assert busy.status_code in (409, 422)
    assert Invoice.objects.count() == 1
    assert api.post("/invoices", order, key="k" * 256).status_code == 422


def test_a_key_over_its_rate_is_answered_429_with_retry_after(org, api, monkeypatch):
    throttle = next(t for t in ninja_api.throttle if isinstance(t, KeyRateThrottle))
    monkeypatch.setattr(throttle, "num_requests", 3)
    monkeypatch.setattr(throttle, "duration", 60)
    statuses = [api.get("/customers").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = api.get("/customers")
    assert limited["Content-Type"] == PROBLEM and int(limited["Retry-After"]) >= 1


def test_the_document_and_its_docs_are_served_without_a_key(client):
    document = client.get("/api/v1/openapi.json")
    assert document.status_code == 200
    paths = json.loads(document.content)["paths"]
    operation_ids = [op["operationId"] for ops in paths.values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids)) and "createInvoice" in operation_ids
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and b"/static/ninja/swagger-ui-bundle.js" in page.content
    assert b"cdn" not in page.content.lower()


@pytest.mark.postgres
def test_twenty_concurrent_identical_posts_make_one_invoice():
    org = factories.quebec_organisation("idem-concurrent")
    owner = factories.staff(org)
    customer = factories.customer(org)
    product = factories.product(org)
    _key, token = key_for(org, owner)
    order = json.dumps({"customer": customer.pk, "lines": [{"product": product.pk}]})
    statuses: list[int] = []
    barrier = threading.Barrier(20)

    def post() -> None:
        barrier.wait()
        response = Client().post(
            "/api/v1/invoices",
            order,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
            HTTP_IDEMPOTENCY_KEY="une-seule-fois",
        )
        statuses.append(response.status_code)
        connection.close()

    threads = [threading.Thread(target=post) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Invoice.objects.filter(organisation=org).count() == 1
    assert set(statuses) <= {201, 409} and 201 in statuses
