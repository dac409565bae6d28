import datetime
from decimal import Decimal

import pytest

from acquitte.customers.services import create_staff_user
from acquitte.invoicing.models import Invoice
from tests import factories

# Money is received on or after the invoice date, and never in the future.
TODAY = datetime.date.today().isoformat()

PASSWORD = "un-mot-de-passe-solide-42"


@pytest.fixture
def two_orgs(db):
    a = factories.quebec_organisation("org-a")
    b = factories.french_organisation("org-b")
    return a, b


def staff(org, role="owner", email=None):
    return create_staff_user(
        actor=factories.SYSTEM,
        organisation=org,
        email=email or f"{role}@{org.slug}.test",
        password=PASSWORD,
        role=role,
    )


def login(client, user):
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def test_changelists_show_only_own_organisation(client, two_orgs):
    a, b = two_orgs
    ca = factories.customer(a, name="Client A")
    cb = factories.customer(b, name="Client B")
    factories.product(a, sku="SKU-A")
    factories.product(b, sku="SKU-B")
    factories.invoice(a, ca)
    factories.invoice(b, cb)
    login(client, staff(a))
    for url, mine, theirs in [
        ("/admin/customers/customer/", "Client A", "Client B"),
        ("/admin/catalog/product/", "SKU-A", "SKU-B"),
        ("/admin/invoicing/invoice/", "Client A", "Client B"),
    ]:
        body = client.get(url).content.decode()
        assert mine in body and theirs not in body, url


def test_other_tenants_objects_are_not_reachable_by_id(client, two_orgs):
    a, b = two_orgs
    cb = factories.customer(b, name="Client B")
    inv_b = factories.invoice(b, cb)
    login(client, staff(a))
    for url in [
        f"/admin/customers/customer/{cb.pk}/change/",
        f"/admin/invoicing/invoice/{inv_b.pk}/change/",
        f"/admin/customers/organisation/{b.pk}/change/",
    ]:
        response = client.get(url, follow=True)
        assert "Client B" not in response.content.decode()
        assert inv_b.number not in response.content.decode()


def test_invoice_form_refuses_other_tenants_customer(client, two_orgs):
    a, b = two_orgs
    cb = factories.customer(b, name="Client B")
    login(client, staff(a))
    form = client.get("/admin/invoicing/invoice/add/").content.decode()
    assert "Client B" not in form
    before = Invoice.objects.count()
    response = client.post(
        "/admin/invoicing/invoice/add/",
        {
            "customer": cb.pk,
            "kind": "invoice",
            "online_payment": "on",
            "lines-TOTAL_FORMS": "0",
            "lines-INITIAL_FORMS": "0",
            "taxes-TOTAL_FORMS": "0",
            "taxes-INITIAL_FORMS": "0",
            "allocations-TOTAL_FORMS": "0",
            "allocations-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200  # form redisplayed with an error
    assert Invoice.objects.count() == before


def test_read_only_role_cannot_change_or_run_actions(client, two_orgs):
    a, _ = two_orgs
    ca = factories.customer(a)
    draft = factories.invoice(a, ca, finalise=False)
    login(client, staff(a, role="read_only"))
    assert client.get("/admin/invoicing/invoice/").status_code == 200
    assert client.get("/admin/customers/customer/add/").status_code == 403
    response = client.post(
        "/admin/invoicing/invoice/", {"action": "finalise_selected", "_selected_action": [draft.pk]}
    )
    draft.refresh_from_db()
    assert draft.status == "draft"
    assert response.status_code in (200, 302, 403)


def test_finalise_void_and_credit_note_actions(client, two_orgs):
    a, _ = two_orgs
    ca = factories.customer(a)
    draft = factories.invoice(a, ca, finalise=False)
    empty = Invoice.objects.create(organisation=a, customer=ca, currency="CAD")
    login(client, staff(a, role="accountant"))
    response = client.post(
        "/admin/invoicing/invoice/",
        {"action": "finalise_selected", "_selected_action": [draft.pk, empty.pk]},
        follow=True,
    )
    body = response.content.decode()
    draft.refresh_from_db()
    empty.refresh_from_db()
    assert draft.status == "open" and draft.number
    assert empty.status == "draft"
    assert "sans ligne" in body
    client.post(
        "/admin/invoicing/invoice/", {"action": "credit_note_selected", "_selected_action": [draft.pk]}
    )
    credit = Invoice.objects.get(kind="credit_note")
    assert credit.corrects_id == draft.pk and credit.total == draft.total
    client.post("/admin/invoicing/invoice/", {"action": "void_selected", "_selected_action": [draft.pk]})
    draft.refresh_from_db()
    assert draft.status == "void"


def test_finalised_invoice_is_read_only_in_admin(client, two_orgs):
    a, _ = two_orgs
    ca = factories.customer(a)
    inv = factories.invoice(a, ca)
    login(client, staff(a))
    page = client.get(f"/admin/invoicing/invoice/{inv.pk}/change/")
    assert page.status_code == 200
    assert 'name="notes"' not in page.content.decode()
    client.post(f"/admin/invoicing/invoice/{inv.pk}/change/", {"notes": "changé", "customer": ca.pk})
    inv.refresh_from_db()
    assert inv.notes == "" and inv.total == Decimal("114.98")


def test_draft_lines_edited_in_admin_recompute_totals(client, two_orgs):
    a, _ = two_orgs
    ca = factories.customer(a)
    category = factories.tax_category(a, "qc", "Taxable Québec (TPS + TVQ)", ["CA-GST", "CA-QC-QST"])
    login(client, staff(a))
    data = {
        "customer": ca.pk,
        "kind": "invoice",
        "online_payment": "on",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0",
        "lines-0-description": "Hébergement",
        "lines-0-quantity": "2",
        "lines-0-unit_price": "50.00",
        "lines-0-discount_percent": "0",
        "lines-0-tax_category": category.pk,
        "taxes-TOTAL_FORMS": "0",
        "taxes-INITIAL_FORMS": "0",
        "allocations-TOTAL_FORMS": "0",
        "allocations-INITIAL_FORMS": "0",
    }
    response = client.post("/admin/invoicing/invoice/add/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    inv = Invoice.objects.get(customer=ca)
    assert inv.total == Decimal("114.98")
    assert inv.created_by.email == "owner@org-a.test"


def test_staff_record_a_cheque_received(client, two_orgs):
    a, b = two_orgs
    ca = factories.customer(a)
    inv = factories.invoice(a, ca)
    other = factories.invoice(b, factories.customer(b, name="Client B"))
    login(client, staff(a, role="accountant"))
    assert (
        "Enregistrer un paiement reçu"
        in client.get(f"/admin/invoicing/invoice/{inv.pk}/change/").content.decode()
    )
    url = f"/admin/invoicing/invoice/{inv.pk}/paiement/"
    bad = client.post(url, {"method": "cheque", "amount": "-1", "received_on": TODAY})
    assert bad.status_code == 200
    client.post(url, {"method": "cheque", "amount": "114.98", "received_on": TODAY, "reference": "Chèque 88"})
    inv.refresh_from_db()
    assert inv.status == "paid"
    assert client.get(f"/admin/invoicing/invoice/{other.pk}/paiement/").status_code == 404
    login(client, staff(a, role="read_only", email="ro@a.test"))
    assert client.get(url).status_code == 403


def test_staff_revoke_a_public_link(client, two_orgs):
    a, _ = two_orgs
    inv = factories.invoice(a, factories.customer(a))
    old = inv.public_token
    login(client, staff(a))
    client.post("/admin/invoicing/invoice/", {"action": "revoke_link_selected", "_selected_action": [inv.pk]})
    assert client.get(f"/i/{old}/").status_code == 404
    inv.refresh_from_db()
    assert client.get(f"/i/{inv.public_token}/").status_code == 200
