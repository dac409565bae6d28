"""The public link: see an invoice and pay it without signing in (seeds 003, 004)."""

import datetime
import io

import pytest
from django.core.management import call_command
from django.test import Client, TestCase

from acquitte.invoicing.services import revoke_public_link
from acquitte.notifications.models import Notification
from acquitte.payments.models import SandboxCharge
from tests import factories

NEXT_YEAR = f"12/{(datetime.date.today().year + 1) % 100:02d}"


@pytest.fixture
def invoice(org_qc, customer_qc):
    return factories.invoice(org_qc, customer_qc)


def page(client, invoice):
    return client.get(f"/i/{invoice.public_token}/")


def pay_by_card(client, invoice, number, follow=True):
    start = client.post(f"/i/{invoice.public_token}/payer/card/")
    assert start.status_code == 302 and "/sandbox/card/" in start.url
    form = client.get(start.url)
    assert "MODE TEST" in form.content.decode()
    data = {"holder": "Isabelle Côté", "number": number, "expiry": NEXT_YEAR, "cvv": "123"}
    return start.url, client.post(start.url, data, follow=follow)


def test_public_page_shows_the_invoice(client, invoice):
    body = page(client, invoice).content.decode()
    assert invoice.number in body and "NON PAYÉE" in body and "114.98" in body
    assert "TPS" in body and "TVQ" in body


def test_unknown_or_revoked_link_reveals_nothing(client, invoice):
    assert client.get("/i/" + "x" * 43 + "/").status_code == 404
    old = invoice.public_token
    revoke_public_link(actor=factories.SYSTEM, invoice=invoice)
    assert client.get(f"/i/{old}/").status_code == 404
    assert client.post(f"/i/{old}/payer/card/").status_code == 404


def test_card_payment_turns_the_invoice_paid_once(client, invoice):
    url, response = pay_by_card(client, invoice, "4242 4242 4242 4242")
    body = response.content.decode()
    assert "Paiement accepté" in body and "PAYÉE" in body
    invoice.refresh_from_db()
    assert invoice.status == "paid"
    client.post(url, {"holder": "I C", "number": "4242424242424242", "expiry": NEXT_YEAR, "cvv": "123"})
    assert SandboxCharge.objects.count() == 1
    assert Notification.objects.filter(kind="payment_received").count() == 1


def test_declined_card_leaves_the_invoice_unpaid_with_a_message(client, invoice):
    _, response = pay_by_card(client, invoice, "4000000000000002")
    body = response.content.decode()
    assert "Paiement refusé" in body and "Carte refusée" in body and "NON PAYÉE" in body
    invoice.refresh_from_db()
    assert invoice.status == "open"


def test_bad_card_input_is_shown_on_the_form(client, invoice):
    _, response = pay_by_card(client, invoice, "1234", follow=False)
    assert response.status_code == 200 and "Numéro de carte invalide" in response.content.decode()
    invoice.refresh_from_db()
    assert invoice.status == "open" and SandboxCharge.objects.count() == 0


def test_paypal_approve_and_cancel(client, invoice):
    start = client.post(f"/i/{invoice.public_token}/payer/paypal/")
    assert "MODE TEST" in client.get(start.url).content.decode()
    cancel = client.post(start.url, {"decision": "cancel"}, follow=True)
    assert "annulé" in cancel.content.decode()
    invoice.refresh_from_db()
    assert invoice.status == "open"
    start = client.post(f"/i/{invoice.public_token}/payer/paypal/")
    client.post(start.url, {"decision": "approve"})
    invoice.refresh_from_db()
    assert invoice.status == "paid"


def test_tampered_or_foreign_session_is_refused(client, invoice, org_fr, customer_fr):
    start = client.post(f"/i/{invoice.public_token}/payer/card/")
    assert client.get(start.url[:-3] + "abc/").status_code == 404
    assert client.get(start.url.replace("/card/", "/paypal/")).status_code == 404


def test_transfer_declaration_notifies_staff_and_keeps_it_unpaid(client, invoice):
    response = client.post(
        f"/i/{invoice.public_token}/declarer/",
        {
            "kind": "cheque",
            "reference": "Chèque 1042",
            "sent_on": datetime.date.today().isoformat(),
            "amount": "114.98",
        },
        follow=True,
    )
    assert "restera non payée" in response.content.decode()
    invoice.refresh_from_db()
    assert invoice.status == "open"
    assert Notification.objects.filter(kind="transfer_declared").exists()
    bad = client.post(f"/i/{invoice.public_token}/declarer/", {"kind": "cheque", "amount": "-5"}, follow=True)
    assert "incomplète" in bad.content.decode()
    assert invoice.transfer_declarations.count() == 1


def test_forms_need_csrf(invoice):
    client = Client(enforce_csrf_checks=True)
    assert client.post(f"/i/{invoice.public_token}/payer/card/").status_code == 403
    assert client.post(f"/i/{invoice.public_token}/declarer/", {}).status_code == 403


def test_english_page(client, invoice):
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    body = page(client, invoice).content.decode()
    assert "Pay the invoice" in body and "UNPAID" in body and "GST" in body


def test_card_number_is_not_kept(client, invoice):
    pay_by_card(client, invoice, "4242424242424242")
    dump = io.StringIO()
    call_command("dumpdata", stdout=dump)
    assert "4242424242424242" not in dump.getvalue()


def test_direct_debit_mandate_then_settlement_through_webhooks(client, invoice):
    start = client.post(f"/i/{invoice.public_token}/payer/debit/")
    assert "MODE TEST" in client.get(start.url).content.decode()
    bad = client.post(
        start.url, {"holder": "A", "scheme": "pad", "institution": "06", "transit": "1", "account": "1"}
    )
    assert "Institution" in bad.content.decode()
    response = client.post(
        start.url,
        {
            "holder": "Isabelle Côté",
            "scheme": "pad",
            "institution": "006",
            "transit": "00123",
            "account": "1234567",
        },
        follow=True,
    )
    assert "Prélèvement autorisé" in response.content.decode()
    invoice.refresh_from_db()
    assert invoice.status == "open"
    # While the bank settles it, everyone sees it, and nothing offers to pay a second time.
    pending = page(client, invoice).content.decode()
    assert "Prélèvement en cours depuis le" in pending
    assert "/payer/" not in pending and "/declarer/" not in pending
    staff = Client()
    staff.force_login(factories.staff(invoice.organisation))
    assert "Prélèvement en cours depuis le" in staff.get(f"/gestion/factures/{invoice.pk}/").content.decode()
    # The sandbox's bank waits as long as it is told, then settles.
    out = io.StringIO()
    with TestCase.captureOnCommitCallbacks(execute=True):  # webhook tasks run after commit
        call_command("sandbox_settle_debits", "--after", "3600", stdout=out)
    assert "prélèvements traités : 0" in out.getvalue()
    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command("sandbox_settle_debits", stdout=out)
    assert "prélèvements traités : 1" in out.getvalue()
    invoice.refresh_from_db()
    assert invoice.status == "paid"
    assert Notification.objects.filter(organisation=invoice.organisation, kind="payment_received").exists()
    assert "Prélèvement en cours" not in page(client, invoice).content.decode()
    dump = io.StringIO()
    call_command("dumpdata", stdout=dump)
    assert "908172635" not in dump.getvalue()
