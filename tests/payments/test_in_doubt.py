"""An attempt in doubt (issue 11, item 11): a worker killed between the provider's acceptance and our
commit leaves an attempt without an outcome. Every page of the invoice says "Paiement en cours de
vérification" and offers no second payment, and reconciliation settles it within a minute."""

import datetime
import threading
import uuid

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from acquitte.customers.models import User
from acquitte.invoicing.models import Invoice
from acquitte.payments import selectors, services
from acquitte.payments.models import ChargeAttempt, SandboxCharge
from acquitte.payments.services import charges
from acquitte.payments.services.hosted import HOSTED_PAGE_LIFETIME
from acquitte.payments.services.reconciliation import IN_DOUBT_AFTER
from acquitte.quotes import services as quotes
from tests import factories
from tests.payments.test_hosted_payments import open_card_page, session_of, stripe  # noqa: F401 - fixture

NEXT_YEAR = f"12/{(datetime.date.today().year + 1) % 100:02d}"
CHECKING = "Paiement en cours de vérification"


@pytest.fixture
def card(customer_qc):
    return services.add_card(
        customer=customer_qc,
        holder="Isabelle Côté",
        number="4242424242424242",
        cvv="123",
        expiry=NEXT_YEAR,
        actor=factories.SYSTEM,
    )


@pytest.fixture
def customer_client(customer_qc):
    user = User.objects.create_user("client@cafe.test", "un-mot-de-passe-solide-42", customer=customer_qc)
    client = Client(raise_request_exception=False)
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def crashed_payment(client, invoice, card, monkeypatch) -> ChargeAttempt:
    """Pay through the portal while the worker dies once the provider has taken the money."""

    def killed(**kwargs):
        raise SystemError("worker killed before the outcome was committed")

    monkeypatch.setattr(charges, "apply_charge_result", killed)
    response = client.post(
        f"/factures/{invoice.pk}/payer/saved/", {"method": card.pk, "key": uuid.uuid4().hex}
    )
    monkeypatch.undo()
    assert response.status_code == 500 and SandboxCharge.objects.count() == 1  # money taken
    return ChargeAttempt.objects.get(state=ChargeAttempt.State.CREATED)


def test_every_page_says_checking_and_offers_no_second_payment(
    customer_client, client, org_qc, customer_qc, card, monkeypatch
):
    invoice = factories.invoice(org_qc, customer_qc)
    crashed_payment(customer_client, invoice, card, monkeypatch)
    portal = customer_client.get(f"/factures/{invoice.pk}/").content.decode()
    public = client.get(f"/i/{invoice.public_token}/").content.decode()
    client.force_login(factories.staff(org_qc), backend="django.contrib.auth.backends.ModelBackend")
    backoffice = client.get(f"/gestion/factures/{invoice.pk}/").content.decode()
    client.logout()
    for page in (portal, public, backoffice):
        assert CHECKING in page
    for page in (portal, public):
        assert "/payer/card/" not in page and "/payer/saved/" not in page and "/payer/paypal/" not in page
    again = customer_client.post(
        f"/factures/{invoice.pk}/payer/saved/", {"method": card.pk, "key": uuid.uuid4().hex}, follow=True
    )
    assert "déjà en cours" in again.content.decode()
    for start in (f"/factures/{invoice.pk}/payer/card/", f"/i/{invoice.public_token}/payer/card/"):
        answer = customer_client.post(start)
        assert "/sandbox/" not in answer["Location"]
    assert SandboxCharge.objects.count() == 1 and ChargeAttempt.objects.count() == 1


def test_reconciliation_settles_it_within_a_minute(customer_client, org_qc, customer_qc, card, monkeypatch):
    invoice = factories.invoice(org_qc, customer_qc)
    attempt = crashed_payment(customer_client, invoice, card, monkeypatch)
    system = factories.SYSTEM
    assert services.reconcile_payments(actor=system, pending=False)["checked"] == 0  # maybe still on its way
    ChargeAttempt.objects.filter(pk=attempt.pk).update(created_at=timezone.now() - IN_DOUBT_AFTER)
    assert services.reconcile_payments(actor=system, pending=False) == {"checked": 1, "settled": 1}
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.PAID
    page = customer_client.get(f"/factures/{invoice.pk}/").content.decode()
    assert CHECKING not in page and "PAYÉE" in page
    assert SandboxCharge.objects.count() == 1  # asked the provider, never charged again


def test_the_schedule_reaches_a_crash_within_a_minute():
    every = settings.CELERY_BEAT_SCHEDULE["reconcile-payments"]
    assert every["task"] == "acquitte.payments.tasks.reconcile_payments"
    assert IN_DOUBT_AFTER.total_seconds() + every["schedule"] <= 60  # the age, then at most one period
    assert datetime.timedelta(seconds=30) <= IN_DOUBT_AFTER  # past any provider call still running


def test_an_open_provider_page_is_neither_in_doubt_nor_closed(client, org_qc, stripe):  # noqa: F811
    """A payer on Stripe's page is not in doubt: the invoice offers to pay (a new page replaces
    that one), and reconciliation asks about it but closes it only after the page's lifetime."""
    invoice = factories.invoice(org_qc, factories.customer(org_qc))
    session = session_of(stripe, open_card_page(client, invoice))
    attempt = ChargeAttempt.objects.get(provider="stripe")
    ChargeAttempt.objects.filter(pk=attempt.pk).update(
        created_at=timezone.now() - datetime.timedelta(minutes=10)
    )
    assert not selectors.payable(invoice).payment_in_doubt
    page = client.get(f"/i/{invoice.public_token}/").content.decode()
    assert CHECKING not in page and "/payer/card/" in page
    services.reconcile_payments(actor=factories.SYSTEM)
    assert stripe.sessions[session["id"]]["status"] == "open"
    assert ChargeAttempt.objects.get(pk=attempt.pk).state == ChargeAttempt.State.CREATED
    ChargeAttempt.objects.filter(pk=attempt.pk).update(created_at=timezone.now() - HOSTED_PAGE_LIFETIME)
    services.reconcile_payments(actor=factories.SYSTEM)
    assert stripe.sessions[session["id"]]["status"] == "expired"


@pytest.mark.postgres
def test_approvals_racing_a_revocation_never_reveal_the_new_link():
    """Eight approvals through the link of a converted quote while staff revoke the invoice's link:
    each lands on the old (then dead) link or on the "replaced" page, never on the new link."""
    org = factories.quebec_organisation("revoke-race")
    customer = factories.customer(org)
    quote = quotes.create_quote(actor=factories.SYSTEM, organisation=org, customer=customer)
    quotes.add_product(actor=factories.SYSTEM, quote=quote, product=factories.product(org))
    quote = quotes.send_quote(actor=factories.SYSTEM, quote=quote)
    invoice = quotes.approve_quote(quote=quote, actor=factories.SYSTEM)
    old = invoice.public_token
    staff = factories.staff(org)
    barrier = threading.Barrier(9)
    answers, errors = [], []

    def approve():
        try:
            barrier.wait()
            response = Client().post(f"/q/{quote.public_token}/approuver/", {"name": "I", "agree": "on"})
            answers.append((response.status_code, response.get("Location", "")))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    def revoke():
        try:
            barrier.wait()
            from acquitte.invoicing.services import revoke_public_link

            revoke_public_link(invoice=invoice, actor=staff)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=approve) for _ in range(8)] + [threading.Thread(target=revoke)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    new = Invoice.objects.get(pk=invoice.pk).public_token
    assert new != old and len(answers) == 8
    assert all(answer in {(302, f"/i/{old}/"), (410, "")} for answer in answers), answers
    assert Client().get(f"/q/{quote.public_token}/").status_code == 410
