"""Staff of one organisation cannot see or act on another's data: every back-office URL is tried
with the other organisation's ids, by GET and by POST."""

import re

import pytest
from django.urls import URLPattern

from acquitte.api import services as api_services
from acquitte.api.models import ApiKey
from acquitte.backoffice import urls as backoffice_urls
from acquitte.customers.models import Site
from acquitte.invoicing.models import Invoice
from acquitte.notifications.models import OutboundMessage, WebhookDelivery, WebhookEndpoint
from acquitte.payments.models import ProviderAccount
from acquitte.quotes import services as quotes
from acquitte.quotes.models import Quote
from acquitte.subscriptions.models import BillingRun, Order, OrderLine, Service, Subscription
from tests import factories


@pytest.fixture
def other(org_fr):
    """Another organisation's objects, each the target of the attack."""
    customer = factories.customer(org_fr, name="Boulangerie Martin", phone="+33 4 72 00 11 22")
    product = factories.product(org_fr, sku="DEV")
    quote = quotes.create_quote(actor=factories.SYSTEM, organisation=org_fr, customer=customer)
    quotes.add_product(actor=factories.SYSTEM, quote=quote, product=product)
    invoice = factories.invoice(org_fr, customer)
    draft = factories.invoice(org_fr, customer, finalise=False)
    from acquitte.payments.services import record_payment

    payment = record_payment(
        actor=factories.SYSTEM,
        organisation=org_fr,
        customer=customer,
        invoice=invoice,
        amount=invoice.total,
        method="cheque",
    )
    message = OutboundMessage.objects.create(
        organisation=org_fr, channel="email", kind="t", to="x@example.test", body="b", status="failed"
    )
    # Issue 18: an order with a line on a site, a subscription, a run.
    site = Site.objects.create(customer=customer, name="Atelier", country="FR")
    order = Order.objects.create(organisation=org_fr, customer=customer, number="CMD-FR")
    order_line = OrderLine.objects.create(
        order=order, product=product, site=site, description="x", quantity=1, unit_price=1
    )
    subscription = Subscription.objects.create(
        organisation=org_fr,
        customer=customer,
        site=site,
        product=product,
        description="x",
        quantity=1,
        unit_price=1,
        period="monthly",
        started_on="2026-01-10",
    )
    run = BillingRun.objects.create(organisation=org_fr, kind="billing", run_date="2026-02-02")
    # Issue 13: a domain on that subscription, a webhook endpoint and one of its deliveries.
    service = Service.objects.create(
        organisation=org_fr,
        customer=customer,
        subscription=subscription,
        kind="domain",
        name="boulangerie-martin.fr",
        expires_on="2027-01-10",
    )
    endpoint = WebhookEndpoint.objects.create(
        organisation=org_fr, url="https://hooks.example/", secret="whsec_x"
    )
    delivery = WebhookDelivery.objects.create(
        organisation=org_fr, endpoint=endpoint, message_id="msg_x", event_type="service.renewed", payload={}
    )
    # Issue 14: an API key.
    api_key, _token = api_services.create_api_key(
        organisation=org_fr, actor=factories.SYSTEM, name="Clé du voisin", scope=ApiKey.Scope.WRITE
    )
    return {
        "api_key": api_key,
        "service": service,
        "endpoint": endpoint,
        "delivery": delivery,
        "order": order,
        "order_line": order_line,
        "subscription": subscription,
        "run": run,
        "customer": customer,
        "address": customer.addresses.get(),
        "product": product,
        "quote": quote,
        "quote_line": quote.lines.get(),
        "invoice": invoice,
        "draft": draft,
        "draft_line": draft.lines.get(),
        "message": message,
        "payment": payment,
        "staff": factories.staff(org_fr, email="patron@atelier.example"),
    }


def _kwargs(name, other):
    """URL arguments pointing at the other organisation's objects."""
    by_name = {
        "customer_detail": {"pk": other["customer"].pk},
        "customer_edit": {"pk": other["customer"].pk},
        "customer_add": {"pk": other["customer"].pk, "what": "contact"},
        "address_default": {"pk": other["customer"].pk, "address_pk": other["address"].pk},
        "customer_part_edit": {"pk": other["customer"].pk, "what": "address", "part_pk": other["address"].pk},
        "customer_part_remove": {
            "pk": other["customer"].pk,
            "what": "address",
            "part_pk": other["address"].pk,
        },
        "product_edit": {"pk": other["product"].pk},
        "quote_detail": {"pk": other["quote"].pk},
        "quote_review": {"pk": other["quote"].pk},
        "quote_pdf": {"pk": other["quote"].pk},
        "quote_action": {"pk": other["quote"].pk, "action": "approve"},
        "invoice_detail": {"pk": other["invoice"].pk},
        "invoice_pdf": {"pk": other["invoice"].pk},
        "invoice_record_payment": {"pk": other["invoice"].pk},
        "invoice_action": {"pk": other["invoice"].pk, "action": "void"},
        "builder": {"doc": "soumissions", "pk": other["quote"].pk},
        "builder_add": {"doc": "factures", "pk": other["draft"].pk},
        "builder_new_product": {"doc": "soumissions", "pk": other["quote"].pk},
        "builder_line": {"doc": "factures", "pk": other["draft"].pk, "line_pk": other["draft_line"].pk},
        "builder_remove": {"doc": "soumissions", "pk": other["quote"].pk, "line_pk": other["quote_line"].pk},
        "message": {"pk": other["message"].pk},
        "message_retry": {"pk": other["message"].pk},
        "payment_refund": {"pk": other["payment"].pk},
        "unlock": {"pk": other["staff"].pk},
        "order_detail": {"pk": other["order"].pk},
        "order_line_add": {"pk": other["order"].pk},
        "order_line_edit": {"pk": other["order"].pk, "line_pk": other["order_line"].pk},
        "order_line_remove": {"pk": other["order"].pk, "line_pk": other["order_line"].pk},
        "order_move": {"pk": other["order"].pk, "status": "cancelled"},
        "subscription_detail": {"pk": other["subscription"].pk},
        "subscription_change": {"pk": other["subscription"].pk, "change": "pause"},
        "billing_run": {"pk": other["run"].pk},
        "service_detail": {"pk": other["service"].pk},
        "service_suspend": {"pk": other["service"].pk},
        "service_unsuspend": {"pk": other["service"].pk},
        "webhook_detail": {"pk": other["endpoint"].pk},
        "webhook_action": {"pk": other["endpoint"].pk, "action": "secret"},
        "webhook_delivery": {"pk": other["delivery"].pk},
        "webhook_replay": {"pk": other["delivery"].pk},
        "api_key_revoke": {"pk": other["api_key"].pk},
    }
    return by_name.get(name)


def _patterns_with_arguments():
    return [p for p in backoffice_urls.urlpatterns if isinstance(p, URLPattern) and "<" in str(p.pattern)]


def test_every_url_with_an_id_refuses_another_organisations_objects(client, org_qc, other):
    client.force_login(factories.staff(org_qc))
    fr_quote, fr_invoice, fr_draft = other["quote"], other["invoice"], other["draft"]
    tried = []
    for pattern in _patterns_with_arguments():
        if pattern.name.startswith("provider_"):
            continue  # no id in these: the organisation is the signed-in user's (next test)
        kwargs = _kwargs(pattern.name, other)
        assert kwargs is not None, f"no cross-tenant case for {pattern.name}"
        path = "/gestion/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern)).format(**kwargs)
        for method in ("get", "post"):
            response = getattr(client, method)(
                path, {"quantity": "9", "product": other["product"].pk, "name": "X", "customer": 1}
            )
            assert response.status_code in (404, 405), f"{method.upper()} {path} → {response.status_code}"
        tried.append(pattern.name)
    assert len(tried) >= 19
    fr_quote.refresh_from_db()
    fr_draft.refresh_from_db()
    assert fr_quote.status == "draft" and fr_quote.lines.get().quantity == 1
    assert Invoice.objects.get(pk=fr_invoice.pk).status == "paid"  # paid by the fixture, never voided
    assert fr_draft.lines.count() == 1 and fr_draft.lines.get().quantity == 1
    assert not Quote.objects.filter(organisation=org_qc).exists()
    assert OutboundMessage.objects.get(pk=other["message"].pk).status == "failed"
    assert Order.objects.get(pk=other["order"].pk).status == "draft" and other["order"].lines.count() == 1
    assert Subscription.objects.get(pk=other["subscription"].pk).status == "active"
    other["payment"].refresh_from_db()
    assert other["payment"].amount_refunded == 0
    assert ApiKey.objects.get(pk=other["api_key"].pk).revoked_at is None


def test_lists_and_pickers_show_only_the_own_organisation(client, org_qc, other):
    client.force_login(factories.staff(org_qc))
    mine = factories.customer(org_qc, name="Café Bonjour")
    for url in [
        "/gestion/clients/",
        "/gestion/soumissions/",
        "/gestion/factures/",
        "/gestion/catalogue/",
        "/gestion/messages/",
        "/gestion/notifications/",
        "/gestion/soumissions/nouvelle/",
        "/gestion/factures/nouvelle/",
        "/gestion/cles-api/",
        "/gestion/",
    ]:
        body = client.get(url).content.decode()
        assert "Boulangerie Martin" not in body and "x@example.test" not in body, url
        assert other["api_key"].prefix not in body, url
    assert "Café Bonjour" in client.get("/gestion/clients/").content.decode()
    # Picking another organisation's customer for a new quote or invoice.
    assert (
        client.post("/gestion/soumissions/nouvelle/", {"customer": other["customer"].pk}).status_code == 404
    )
    client.post("/gestion/factures/nouvelle/", {"customer": other["customer"].pk})
    assert not Invoice.objects.filter(organisation=org_qc).exists()
    # Adding another organisation's product to one's own quote.
    quote = quotes.create_quote(actor=factories.SYSTEM, organisation=org_qc, customer=mine)
    client.post(f"/gestion/soumissions/{quote.pk}/lignes/ajouter/", {"product": other["product"].pk})
    assert not quote.lines.exists()
    # Filtering invoices by another organisation's customer shows nothing of theirs.
    body = client.get(f"/gestion/factures/?customer={other['customer'].pk}").content.decode()
    assert other["invoice"].number not in body


def test_settings_of_another_organisation_are_out_of_reach(client, org_qc, org_fr):
    client.force_login(factories.staff(org_qc))
    before = ProviderAccount.objects.filter(organisation=org_fr).count()
    client.post("/gestion/reglages/paiement/sandbox/deconnecter/")
    client.post("/gestion/reglages/paiement/defaut/", {})
    assert ProviderAccount.objects.filter(organisation=org_fr).count() == before
    org_fr.refresh_from_db()
    assert org_fr.online_payment_default is True
    body = client.get("/gestion/reglages/paiement/").content.decode()
    assert org_fr.name not in body


def test_who_reaches_the_back_office(client, org_qc):
    assert client.get("/gestion/factures/")["Location"].startswith("/connexion/")
    portal_user = factories.customer(org_qc)
    from acquitte.customers.models import User

    user = User.objects.create_user("client@example.test", "x-long-password", customer=portal_user)
    client.force_login(user)
    assert client.get("/gestion/")["Location"] == "/"
