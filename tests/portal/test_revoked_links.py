"""Revoking an invoice's link closes every path to it, and the new link can be sent (issue 11, item 3)."""

import datetime

import pytest

from acquitte.invoicing.models import Invoice
from acquitte.notifications.models import OutboundMessage
from acquitte.payments.models import SandboxCharge
from acquitte.quotes import services as quotes
from tests import factories

NEXT_YEAR = f"12/{(datetime.date.today().year + 1) % 100:02d}"
CARD = {"holder": "Isabelle Côté", "number": "4242 4242 4242 4242", "expiry": NEXT_YEAR, "cvv": "123"}


@pytest.fixture
def staff(org_qc):
    return factories.staff(org_qc)


@pytest.fixture
def converted(client, org_qc):
    """A quote the customer approved through its link, and the invoice it became."""
    customer = factories.customer(org_qc, name="Isabelle Côté", email="isabelle@example.test")
    quote = quotes.create_quote(actor=factories.SYSTEM, organisation=org_qc, customer=customer)
    quotes.add_product(
        actor=factories.SYSTEM, quote=quote, product=factories.product(org_qc, price="350.00"), quantity=2
    )
    quote = quotes.send_quote(actor=factories.SYSTEM, quote=quote)
    done = client.post(f"/q/{quote.public_token}/approuver/", {"name": "Isabelle", "agree": "on"})
    quote.refresh_from_db()
    assert quote.invoice is not None and done.url == f"/i/{quote.invoice.public_token}/"
    return quote, quote.invoice


def revoke(client, staff, invoice: Invoice) -> Invoice:
    client.force_login(staff, backend="django.contrib.auth.backends.ModelBackend")
    response = client.post(f"/gestion/factures/{invoice.pk}/revoke/", follow=True)
    assert "Lien public révoqué" in response.content.decode()
    client.logout()
    return Invoice.objects.get(pk=invoice.pk)


def test_the_quote_link_of_a_converted_quote_stops_leading_to_the_invoice(client, converted, staff):
    quote, invoice = converted
    assert client.get(f"/q/{quote.public_token}/").url == f"/i/{invoice.public_token}/"  # before: redirected
    old = invoice.public_token
    invoice = revoke(client, staff, invoice)
    secrets = [old, invoice.public_token, invoice.number, quote.number, str(invoice.total), "350", "Isabelle"]
    for response in (
        client.get(f"/q/{quote.public_token}/"),
        client.get(f"/q/{quote.public_token}/pdf/"),
        client.post(f"/q/{quote.public_token}/approuver/", {"name": "Isabelle", "agree": "on"}),
        client.post(f"/q/{quote.public_token}/refuser/", {"reason": "x"}),
    ):
        body = response.content.decode()
        assert response.status_code == 410 and "remplacé" in body and "Contactez-nous" in body
        assert not any(secret in body for secret in secrets), body
        assert not response.has_header("Location")
    assert client.get(f"/i/{old}/").status_code == 404
    quote.refresh_from_db()
    assert quote.status == quote.Status.CONVERTED  # the decline on the dead link changed nothing


def test_a_revoked_invoice_is_sent_again_with_its_new_link(client, converted, staff):
    _quote, invoice = converted
    old = invoice.public_token
    invoice = revoke(client, staff, invoice)
    client.force_login(staff, backend="django.contrib.auth.backends.ModelBackend")
    sent = client.post(f"/gestion/factures/{invoice.pk}/send/", follow=True).content.decode()
    assert "Facture envoyée" in sent
    assert f"/i/{invoice.public_token}/" in client.get(f"/gestion/factures/{invoice.pk}/").content.decode()
    email = OutboundMessage.objects.filter(channel=OutboundMessage.Channel.EMAIL, kind="invoice_sent").get()
    assert f"/i/{invoice.public_token}/" in email.body and old not in email.body
    client.logout()
    assert client.get(f"/i/{invoice.public_token}/").status_code == 200
    assert client.get(f"/i/{old}/").status_code == 404
    assert client.get(f"/i/{old}/pdf/").status_code == 404


def test_a_payment_page_opened_through_the_old_link_dies_with_it(client, org_qc, staff):
    invoice = factories.invoice(org_qc, factories.customer(org_qc))
    start = client.post(f"/i/{invoice.public_token}/payer/card/")
    assert "/sandbox/card/" in start.url and client.get(start.url).status_code == 200
    revoke(client, staff, invoice)
    assert client.get(start.url).status_code == 404
    assert client.post(start.url, CARD).status_code == 404
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.OPEN and SandboxCharge.objects.count() == 0
