"""Quotes through their services and their public link: sending, deciding, converting once."""

import datetime
import threading
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test import Client, TestCase
from django.utils import timezone

from acquitte.core.actors import PublicLink
from acquitte.core.errors import BusinessError
from acquitte.core.models import AuditLog
from acquitte.invoicing.models import Invoice
from acquitte.notifications.models import Notification, OutboundMessage
from acquitte.quotes import services
from acquitte.quotes.models import Quote
from tests import factories
from tests.factories import SYSTEM


def link(quote, name=""):
    """The customer holding the quote's public link, as its page builds them."""
    return PublicLink(
        token=quote.public_token,
        organisation_id=quote.organisation_id,
        customer_id=quote.customer_id,
        name=name,
    )


@pytest.fixture
def customer(org_qc):
    return factories.customer(
        org_qc, name="Isabelle Côté", email="isabelle@example.test", phone="514 555 0199"
    )


@pytest.fixture
def product(org_qc):
    return factories.product(org_qc, sku="POSE", price="350.00", name="Pose de fenêtre")


def sent_quote(org, customer, product, quantity=2):
    quote = services.create_quote(actor=SYSTEM, organisation=org, customer=customer)
    services.add_product(actor=SYSTEM, quote=quote, product=product, quantity=quantity)
    return services.send_quote(actor=SYSTEM, quote=quote)


def test_lines_totals_and_tapping_a_product_twice(org_qc, customer, product):
    quote = services.create_quote(actor=SYSTEM, organisation=org_qc, customer=customer)
    services.add_product(actor=SYSTEM, quote=quote, product=product)
    line = services.add_product(actor=SYSTEM, quote=quote, product=product)
    quote.refresh_from_db()
    assert quote.lines.count() == 1 and line.quantity == 2
    assert (quote.subtotal, quote.tax_total, quote.total) == (
        Decimal("700.00"),
        Decimal("104.83"),
        Decimal("804.83"),
    )
    services.set_quantity(actor=SYSTEM, line=line, quantity="3")
    quote.refresh_from_db()
    assert quote.subtotal == Decimal("1050.00")
    with pytest.raises(BusinessError, match="positive"):
        services.set_quantity(actor=SYSTEM, line=line, quantity="-1")
    with pytest.raises(BusinessError):
        services.set_quantity(actor=SYSTEM, line=line, quantity="abc")
    services.remove_line(actor=SYSTEM, line=line)
    quote.refresh_from_db()
    assert quote.total == 0


def test_send_numbers_the_quote_and_queues_email_and_sms(org_qc, customer, product):
    with TestCase.captureOnCommitCallbacks(execute=True):
        quote = sent_quote(org_qc, customer, product)
    assert quote.status == "sent" and quote.number.startswith("S-")
    assert quote.valid_until == timezone.localdate() + datetime.timedelta(days=30)
    email = OutboundMessage.objects.get(channel="email", reference=quote.number)
    sms = OutboundMessage.objects.get(channel="sms", reference=quote.number)
    url = services.public_url(quote)
    assert url in email.body and url in email.html_body and url in sms.body
    assert email.attachment_name == f"{quote.number}.pdf" and bytes(email.attachment).startswith(b"%PDF")
    assert "Processus de facture" in email.html_body
    assert email.status == "sent" and sms.status == "outbox_only"
    number = quote.number
    services.send_quote(actor=SYSTEM, quote=quote)  # a reminder keeps the number
    quote.refresh_from_db()
    assert quote.number == number and OutboundMessage.objects.filter(reference=number).count() == 4


def test_send_follows_the_customer_details_and_language(org_qc, product):
    english = factories.customer(org_qc, name="Northwind", email="ap@northwind.example", language="en")
    quote = sent_quote(org_qc, english, product)
    assert list(OutboundMessage.objects.filter(reference=quote.number).values_list("channel", flat=True)) == [
        "email"
    ]
    email = OutboundMessage.objects.get(reference=quote.number)
    assert email.subject.startswith("Quote ") and "approve it" in email.body


def test_nothing_to_send_is_refused(org_qc, customer, product):
    empty = services.create_quote(actor=SYSTEM, organisation=org_qc, customer=customer)
    with pytest.raises(BusinessError, match="au moins un produit"):
        services.send_quote(actor=SYSTEM, quote=empty)
    assert Quote.objects.get(pk=empty.pk).number == ""


def test_customer_approval_makes_one_finalised_invoice(org_qc, customer, product):
    quote = sent_quote(org_qc, customer, product)
    services.mark_viewed(quote=quote, actor=link(quote))
    assert Quote.objects.get(pk=quote.pk).status == "viewed"
    with pytest.raises(BusinessError, match="votre nom"):
        services.approve_quote(quote=quote, actor=link(quote, " "))
    invoice = services.approve_quote(
        quote=quote, actor=link(quote, "Isabelle Côté"), ip_address="203.0.113.9"
    )
    assert invoice.status == "open" and invoice.number.startswith("F-") and invoice.total == quote.total
    assert [(line.description, line.quantity) for line in invoice.lines.all()] == [
        ("Pose de fenêtre", Decimal("2.000"))
    ]
    again = services.approve_quote(quote=quote, actor=link(quote, "Quelqu'un d'autre"))
    assert again.pk == invoice.pk and Invoice.objects.filter(organisation=org_qc).count() == 1
    quote.refresh_from_db()
    assert (quote.status, quote.approved_via, quote.approver_name, quote.approver_ip) == (
        "converted",
        "customer",
        "Isabelle Côté",
        "203.0.113.9",
    )
    actions = list(
        AuditLog.objects.filter(object_id=str(quote.pk), content_type__model="quote").values_list(
            "action", flat=True
        )
    )
    assert {"send", "view", "approve", "convert"} <= set(actions)
    assert Notification.objects.filter(organisation=org_qc, kind="quote_approved").count() == 1


def test_staff_approval_records_who_and_can_start_from_a_draft(org_qc, customer, product):
    owner = factories.staff(org_qc)
    quote = services.create_quote(organisation=org_qc, customer=customer, actor=owner)
    services.add_product(quote=quote, product=product, actor=owner)
    invoice = services.approve_quote(quote=quote, actor=owner, ip_address="198.51.100.4")
    quote.refresh_from_db()
    assert quote.number and quote.approved_by == owner and quote.approved_via == "staff"
    assert invoice.created_by == owner


def test_declined_or_expired_quotes_cannot_be_approved(org_qc, customer, product):
    declined = sent_quote(org_qc, customer, product)
    services.decline_quote(quote=declined, actor=link(declined), reason="Trop cher")
    with pytest.raises(BusinessError, match="refusée"):
        services.approve_quote(quote=declined, actor=link(declined, "Isabelle"))
    owner = factories.staff(org_qc)
    with pytest.raises(BusinessError, match="refusée"):
        services.approve_quote(quote=declined, actor=owner)

    expired = sent_quote(org_qc, customer, product)
    Quote.objects.filter(pk=expired.pk).update(valid_until=timezone.localdate() - datetime.timedelta(days=1))
    with pytest.raises(BusinessError, match="expiré"):
        services.approve_quote(quote=expired, actor=link(expired, "Isabelle"))
    assert (
        services.expire_quotes(
            actor=SYSTEM,
        )
        == 1
    )
    assert Quote.objects.get(pk=expired.pk).status == "expired"
    assert (
        services.expire_quotes(
            actor=SYSTEM,
        )
        == 0
    )
    with pytest.raises(BusinessError, match="expiré"):
        services.approve_quote(quote=expired, actor=owner)
    assert not Invoice.objects.filter(organisation=org_qc).exists()


def test_roles_and_tenants(org_qc, org_fr, customer, product):
    reader = factories.staff(org_qc, email="lecture@example.test", role="read_only")
    other = factories.staff(org_fr, email="gerant@example.test")
    quote = sent_quote(org_qc, customer, product)
    for actor in (reader, other):
        with pytest.raises(PermissionDenied):
            services.approve_quote(quote=quote, actor=actor)
        with pytest.raises(PermissionDenied):
            services.send_quote(quote=quote, actor=actor)
    french_product = factories.product(org_fr, sku="DEV")
    draft = services.create_quote(actor=SYSTEM, organisation=org_qc, customer=customer)
    with pytest.raises(BusinessError, match="introuvable"):
        services.add_product(actor=SYSTEM, quote=draft, product=french_product)
    with pytest.raises(BusinessError, match="introuvable"):
        services.create_quote(actor=SYSTEM, organisation=org_fr, customer=customer)


def test_sent_quote_is_no_longer_editable(org_qc, customer, product):
    quote = sent_quote(org_qc, customer, product)
    with pytest.raises(BusinessError, match="ne peut plus être modifiée"):
        services.add_product(actor=SYSTEM, quote=quote, product=product)
    with pytest.raises(BusinessError, match="ne peut plus être modifiée"):
        services.set_quantity(actor=SYSTEM, line=quote.lines.get(), quantity=5)


# The public link -----------------------------------------------------------------------------


def test_link_shows_approves_and_redirects_to_the_invoice(client, org_qc, customer, product):
    quote = sent_quote(org_qc, customer, product)
    url = f"/q/{quote.public_token}/"
    page = client.get(url)
    assert page.status_code == 200 and "Approuver la soumission" in page.content.decode()
    assert client.get(url + "pdf/")["Content-Type"] == "application/pdf"
    refused = client.post(url + "approuver/", {"name": "Isabelle"})  # the box is not ticked
    assert refused.status_code == 400 and not Invoice.objects.exists()
    done = client.post(url + "approuver/", {"name": "Isabelle", "agree": "on"})
    invoice = Invoice.objects.get(organisation=org_qc)
    assert done["Location"] == f"/i/{invoice.public_token}/"
    assert client.get(url)["Location"] == f"/i/{invoice.public_token}/"


def test_link_of_one_quote_cannot_reach_another(client, org_qc, org_fr, customer, product):
    mine = sent_quote(org_qc, customer, product)
    theirs = sent_quote(org_fr, factories.customer(org_fr, name="Martin"), factories.product(org_fr, sku="D"))
    forged = theirs.public_token[:12] + mine.public_token[12:]
    assert client.get(f"/q/{forged}/").status_code == 404
    assert client.post(f"/q/{forged}/approuver/", {"name": "X", "agree": "on"}).status_code == 404
    assert client.get("/q/short/").status_code == 404
    draft = services.create_quote(actor=SYSTEM, organisation=org_qc, customer=customer)
    assert client.get(f"/q/{draft.public_token}/").status_code == 404
    assert Quote.objects.get(pk=theirs.pk).status == "sent"


def test_decline_by_link(client, org_qc, customer, product):
    quote = sent_quote(org_qc, customer, product)
    client.post(f"/q/{quote.public_token}/refuser/", {"reason": "Budget"})
    quote.refresh_from_db()
    assert quote.status == "declined" and quote.decline_reason == "Budget"
    page = client.get(f"/q/{quote.public_token}/").content.decode()
    assert "Vous avez refusé" in page and "approuver/" not in page
    client.post(f"/q/{quote.public_token}/approuver/", {"name": "I", "agree": "on"})
    assert not Invoice.objects.exists()


@pytest.mark.postgres
def test_concurrent_approvals_make_one_invoice():
    """Eight simultaneous approvals of one quote over HTTP: one invoice, everyone lands on it."""
    org = factories.quebec_organisation("quote-race")
    customer = factories.customer(org, phone="514 555 0199")
    quote = sent_quote(org, customer, factories.product(org))
    barrier = threading.Barrier(8)
    answers, errors = [], []

    def approve():
        try:
            barrier.wait()
            response = Client().post(
                f"/q/{quote.public_token}/approuver/", {"name": "Isabelle", "agree": "on"}
            )
            answers.append(response["Location"])
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=approve) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    invoice = Invoice.objects.get(organisation=org)
    assert answers == [f"/i/{invoice.public_token}/"] * 8
    assert Quote.objects.get(pk=quote.pk).invoice_id == invoice.pk


def test_quote_pdf_reads_as_a_quote_in_each_country_and_language(org_qc, org_fr, customer, product):
    import io

    from pypdf import PdfReader

    from acquitte.documents.services import render
    from acquitte.quotes.documents import document_data_for_quote

    def text(quote):
        return PdfReader(io.BytesIO(render(document_data_for_quote(quote)))).pages[0].extract_text()

    quebec = sent_quote(org_qc, customer, product)
    body = text(quebec)
    assert "SOUMISSION" in body and quebec.number in body and "Pose de fenêtre" in body
    assert "804,83" in body and "Bon pour accord" in body
    france = sent_quote(org_fr, factories.customer(org_fr, name="Martin"), factories.product(org_fr, sku="D"))
    assert "DEVIS" in text(france)
    english = sent_quote(org_qc, factories.customer(org_qc, name="Northwind", language="en"), product)
    assert "QUOTE" in text(english) and "Valid until" in text(english)


def test_staff_previewing_the_link_does_not_mark_it_viewed(client, org_qc, customer, product):
    quote = sent_quote(org_qc, customer, product)
    client.force_login(factories.staff(org_qc))
    client.get(f"/q/{quote.public_token}/")
    assert Quote.objects.get(pk=quote.pk).status == "sent"
    client.logout()
    client.get(f"/q/{quote.public_token}/")
    assert Quote.objects.get(pk=quote.pk).status == "viewed"


def test_english_quote_shows_units_in_english(org_qc, product):
    import io

    from pypdf import PdfReader

    from acquitte.documents.services import render
    from acquitte.quotes.documents import document_data_for_quote

    yearly = factories.product(org_qc, sku="SSL", price="89.00", name="Certificat SSL", unit="an")
    english = factories.customer(org_qc, name="Northwind", language="en")
    quote = services.create_quote(actor=SYSTEM, organisation=org_qc, customer=english)
    services.add_product(actor=SYSTEM, quote=quote, product=yearly)
    text = PdfReader(io.BytesIO(render(document_data_for_quote(quote)))).pages[0].extract_text()
    assert "1 year" in text and "1 an" not in text


def test_a_link_speaks_only_for_its_customer_and_expiry_is_the_system(org_qc, customer, product):
    quote = sent_quote(org_qc, customer, product)
    stranger = factories.customer(org_qc, name="Autre", email="autre@example.test")
    foreign = PublicLink(
        token=quote.public_token, organisation_id=org_qc.pk, customer_id=stranger.pk, name="X"
    )
    with pytest.raises(PermissionDenied):
        services.approve_quote(quote=quote, actor=foreign)
    with pytest.raises(PermissionDenied):
        services.decline_quote(quote=quote, actor=foreign)
    with pytest.raises(PermissionDenied):
        services.mark_viewed(quote=quote, actor=foreign)
    with pytest.raises(PermissionDenied):
        services.send_quote(quote=quote, actor=link(quote))
    with pytest.raises(PermissionDenied):
        services.expire_quotes(actor=factories.staff(org_qc))
    assert Quote.objects.get(pk=quote.pk).status == Quote.Status.SENT
    invoice = services.approve_quote(quote=quote, actor=link(quote, "Isabelle Côté"))
    assert invoice.created_by is None
    approval = AuditLog.objects.get(object_id=str(quote.pk), content_type__model="quote", action="approve")
    assert approval.actor_label == link(quote).label
