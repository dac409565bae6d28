"""The money path: never charge twice, never lose a payment, never store card data."""

import datetime
import io
import json
import logging
import threading
import uuid
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection

from acquitte.core.errors import BusinessError
from acquitte.invoicing.models import Invoice
from acquitte.invoicing.selectors import receivables
from acquitte.notifications.models import Notification
from acquitte.payments import selectors, services
from acquitte.payments.models import ChargeAttempt, Payment, PaymentMethod, SandboxCharge
from acquitte.payments.providers.sandbox import SandboxProvider
from acquitte.payments.services import charges
from tests import factories

GOOD, DECLINED, NO_FUNDS, FAILS = (
    "4242424242424242",
    "4000000000000002",
    "4000000000009995",
    "4000000000000341",
)
NEXT_YEAR = f"12/{(datetime.date.today().year + 1) % 100:02d}"


def card(customer, number=GOOD, cvv="123"):
    return services.add_card(
        actor=factories.SYSTEM,
        customer=customer,
        holder="Isabelle Côté",
        number=number,
        cvv=cvv,
        expiry=NEXT_YEAR,
    )


def key():
    return uuid.uuid4().hex


def test_card_payment_settles_the_invoice_and_notifies_staff(org_qc, customer_qc):
    inv = factories.invoice(org_qc, customer_qc)
    payment = services.pay_invoice(
        actor=factories.SYSTEM, invoice=inv, payment_method=card(customer_qc), idempotency_key=key()
    )
    inv.refresh_from_db()
    assert payment.status == "succeeded" and inv.status == "paid"
    assert Notification.objects.filter(organisation=org_qc, kind="payment_received").exists()
    assert receivables(customer_qc).balance == 0


@pytest.mark.parametrize(
    ("number", "message"), [(DECLINED, "refusée"), (NO_FUNDS, "insuffisants"), (FAILS, "refusée")]
)
def test_failed_cards_leave_the_invoice_unpaid(org_qc, customer_qc, number, message):
    inv = factories.invoice(org_qc, customer_qc)
    payment = services.pay_invoice(
        actor=factories.SYSTEM, invoice=inv, payment_method=card(customer_qc, number), idempotency_key=key()
    )
    inv.refresh_from_db()
    assert payment.status == "failed" and message in payment.failure_message
    assert inv.status == "open" and inv.amount_paid == 0
    assert Notification.objects.filter(kind="payment_failed").exists()
    retry = services.pay_invoice(
        actor=factories.SYSTEM, invoice=inv, payment_method=card(customer_qc), idempotency_key=key()
    )
    assert retry.status == "succeeded"


def test_same_key_charges_once(org_qc, customer_qc):
    inv = factories.invoice(org_qc, customer_qc)
    method, k = card(customer_qc), key()
    first = services.pay_invoice(
        actor=factories.SYSTEM, invoice=inv, payment_method=method, idempotency_key=k
    )
    second = services.pay_invoice(
        actor=factories.SYSTEM, invoice=inv, payment_method=method, idempotency_key=k
    )
    assert first.pk == second.pk
    assert SandboxCharge.objects.count() == 1
    with pytest.raises(BusinessError, match="pas à payer"):
        services.pay_invoice(
            actor=factories.SYSTEM, invoice=inv, payment_method=method, idempotency_key=key()
        )


def test_crash_after_provider_accepted_is_recovered_without_second_charge(org_qc, customer_qc, monkeypatch):
    inv = factories.invoice(org_qc, customer_qc)
    method = card(customer_qc)

    def crash(**kwargs):
        raise ConnectionError("process died before recording the outcome")

    monkeypatch.setattr(charges, "apply_charge_result", crash)
    with pytest.raises(ConnectionError):
        services.pay_invoice(
            actor=factories.SYSTEM, invoice=inv, payment_method=method, idempotency_key="crash-1"
        )
    monkeypatch.undo()
    assert SandboxCharge.objects.count() == 1  # the provider took the money
    attempt = ChargeAttempt.objects.get(idempotency_key="crash-1")
    assert attempt.state == "created"
    with pytest.raises(BusinessError, match="déjà en cours"):
        services.pay_invoice(
            actor=factories.SYSTEM, invoice=inv, payment_method=method, idempotency_key=key()
        )
    counts = services.reconcile_payments(actor=factories.SYSTEM, older_than=datetime.timedelta(0))
    assert counts == {"checked": 1, "settled": 1}
    inv.refresh_from_db()
    assert inv.status == "paid" and SandboxCharge.objects.count() == 1
    assert (
        services.reconcile_payments(actor=factories.SYSTEM, older_than=datetime.timedelta(0))["checked"] == 0
    )


def test_attempt_the_provider_never_saw_is_canceled_by_reconciliation(org_qc, customer_qc, monkeypatch):
    inv = factories.invoice(org_qc, customer_qc)
    monkeypatch.setattr(SandboxProvider, "charge", lambda self, **kw: (_ for _ in ()).throw(TimeoutError()))
    with pytest.raises(TimeoutError):
        services.pay_invoice(
            actor=factories.SYSTEM, invoice=inv, payment_method=card(customer_qc), idempotency_key="lost"
        )
    monkeypatch.undo()
    call_command("reconcile_payments", "--older-than", "0", stdout=io.StringIO())
    assert Payment.objects.get(attempt__idempotency_key="lost").status == "canceled"
    inv.refresh_from_db()
    assert inv.status == "open"


def test_make_payment_settles_oldest_first_and_keeps_credit(org_qc, customer_qc):
    a = factories.invoice(org_qc, customer_qc)
    b = factories.invoice(org_qc, customer_qc)
    services.make_payment(
        actor=factories.SYSTEM,
        customer=customer_qc,
        amount="150.00",
        payment_method=card(customer_qc),
        idempotency_key=key(),
    )
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.status == "paid" and b.amount_paid == Decimal("35.02")
    services.make_payment(
        actor=factories.SYSTEM,
        customer=customer_qc,
        amount="100.00",
        payment_method=card(customer_qc),
        idempotency_key=key(),
    )
    assert receivables(customer_qc).credit_balance == Decimal("20.04")


def test_refund_reopens_the_invoice(org_qc, customer_qc):
    inv = factories.invoice(org_qc, customer_qc)
    payment = services.pay_invoice(
        actor=factories.SYSTEM, invoice=inv, payment_method=card(customer_qc), idempotency_key=key()
    )
    services.refund(actor=factories.SYSTEM, payment=payment, amount="14.98")
    inv.refresh_from_db()
    payment.refresh_from_db()
    assert payment.status == "partly_refunded" and inv.status == "open" and inv.amount_due == Decimal("14.98")
    assert receivables(customer_qc).balance == Decimal("14.98")
    with pytest.raises(BusinessError):
        services.refund(actor=factories.SYSTEM, payment=payment, amount="100.01")
    services.refund(actor=factories.SYSTEM, payment=payment, amount="100.00")
    payment.refresh_from_db()
    assert payment.status == "refunded"


def test_transitions_are_monotonic(org_qc, customer_qc, caplog):
    inv = factories.invoice(org_qc, customer_qc)
    payment = services.pay_invoice(
        actor=factories.SYSTEM, invoice=inv, payment_method=card(customer_qc), idempotency_key=key()
    )
    assert services.transition(actor=factories.SYSTEM, payment=payment, to="succeeded") is False
    with caplog.at_level(logging.WARNING), pytest.raises(BusinessError):
        services.transition(actor=factories.SYSTEM, payment=payment, to="pending")
    assert "refused payment transition" in caplog.text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"number": "4242424242424241"}, "carte invalide"),
        ({"number": "6011111111111117"}, "AMEX, VISA"),
        ({"cvv": "12"}, "3 chiffres"),
        ({"number": "378282246310005", "cvv": "123"}, "4 chiffres"),
        ({"expiry": "01/20"}, "expirée"),
        ({"expiry": "13/40"}, "MM/AA"),
        ({"holder": " "}, "titulaire"),
    ],
)
def test_bad_cards_are_refused_and_nothing_saved(customer_qc, kwargs, message):
    data = {
        "customer": customer_qc,
        "actor": factories.SYSTEM,
        "holder": "A B",
        "number": GOOD,
        "cvv": "123",
        "expiry": NEXT_YEAR,
        **kwargs,
    }
    with pytest.raises(BusinessError, match=message):
        services.add_card(**data)
    assert PaymentMethod.objects.count() == 0


def test_bank_accounts_and_default(customer_qc):
    first = card(customer_qc)
    ach = services.add_bank_account(
        actor=factories.SYSTEM,
        customer=customer_qc,
        holder="A",
        scheme="ach",
        bank_name="Chase",
        routing="021000021",
        account="123456789",
    )
    pad = services.add_bank_account(
        actor=factories.SYSTEM,
        customer=customer_qc,
        holder="A",
        scheme="pad",
        institution="006",
        transit="00123",
        account="1234567",
    )
    sepa = services.add_bank_account(
        actor=factories.SYSTEM,
        customer=customer_qc,
        holder="A",
        scheme="sepa",
        iban="FR7630006000011234567890189",
        bic="AGRIFRPP",
    )
    assert list(PaymentMethod.objects.filter(is_default=True)) == [sepa]
    assert (ach.last4, pad.last4, sepa.last4) == ("6789", "4567", "0189")
    services.set_default_method(actor=factories.SYSTEM, method=first)
    assert PaymentMethod.objects.get(is_default=True) == first
    for bad in [
        {"scheme": "ach", "routing": "021000022", "account": "1234"},
        {"scheme": "pad", "institution": "06", "transit": "00123", "account": "1234567"},
        {"scheme": "sepa", "iban": "FR7630006000011234567890188"},
    ]:
        with pytest.raises(BusinessError):
            services.add_bank_account(actor=factories.SYSTEM, customer=customer_qc, holder="A", **bad)
    assert PaymentMethod.objects.count() == 4


def test_no_card_number_or_cvv_in_database_or_logs(org_qc, customer_qc, caplog):
    caplog.set_level(logging.DEBUG)
    inv = factories.invoice(org_qc, customer_qc)
    for number in (GOOD, DECLINED, "378282246310005"):
        method = services.add_card(
            actor=factories.SYSTEM,
            customer=customer_qc,
            holder="A B",
            number=number,
            cvv="7321" if number.startswith("37") else "987",
            expiry=NEXT_YEAR,
        )
        services.pay_invoice(
            actor=factories.SYSTEM, invoice=inv, payment_method=method, idempotency_key=key()
        ) if inv.status == "open" else None
        inv.refresh_from_db()
    dump = io.StringIO()
    call_command("dumpdata", stdout=dump)
    text = dump.getvalue() + caplog.text
    for secret in (GOOD, DECLINED, "378282246310005", '"987"', '"7321"', "4242 4242"):
        assert secret not in text


def test_tenancy_of_payment_methods(org_qc, customer_qc, org_fr, customer_fr):
    inv_fr = factories.invoice(org_fr, customer_fr)
    with pytest.raises(BusinessError):
        services.pay_invoice(
            actor=factories.SYSTEM, invoice=inv_fr, payment_method=card(customer_qc), idempotency_key=key()
        )
    assert not Payment.objects.filter(customer=customer_fr).exists()


@pytest.mark.postgres
def test_fifty_concurrent_pay_requests_make_exactly_one_charge():
    org = factories.quebec_organisation("fifty")
    customer = factories.customer(org)
    inv = factories.invoice(org, customer)
    method = card(customer)
    barrier = threading.Barrier(50)
    outcomes = []

    def pay():
        try:
            barrier.wait()
            outcomes.append(
                services.pay_invoice(
                    actor=factories.SYSTEM, invoice=inv, payment_method=method, idempotency_key=key()
                ).status
            )
        except BusinessError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=pay) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert SandboxCharge.objects.count() == 1
    assert outcomes.count("succeeded") == 1 and outcomes.count("refused") == 49
    assert Invoice.objects.get(pk=inv.pk).status == "paid"


def test_transfer_declaration_waits_and_is_received(org_qc, customer_qc):
    inv = factories.invoice(org_qc, customer_qc)
    assert selectors.suspension_allowed(invoice=inv)
    services.declare_transfer(
        actor=factories.SYSTEM,
        invoice=inv,
        kind="cheque",
        reference="Chèque 1042",
        sent_on=datetime.date.today(),
        amount=inv.total,
    )
    inv.refresh_from_db()
    assert inv.status == "open"
    assert not selectors.suspension_allowed(invoice=inv)
    assert selectors.suspension_allowed(invoice=inv, today=datetime.date.today() + datetime.timedelta(days=8))
    assert Notification.objects.filter(kind="transfer_declared").exists()
    services.record_payment(
        actor=factories.SYSTEM,
        organisation=org_qc,
        customer=customer_qc,
        amount=inv.total,
        method="cheque",
        invoice=inv,
    )
    assert inv.transfer_declarations.get().status == "received"
    assert selectors.suspension_allowed(invoice=inv)
    with pytest.raises(BusinessError):
        services.declare_transfer(
            actor=factories.SYSTEM,
            invoice=inv,
            kind="cheque",
            reference="x",
            sent_on=datetime.date.today(),
            amount="1",
        )


def test_webhook_payload_is_json(org_qc):
    event = SandboxProvider().settle_debit(reference="none", outcome="paid_out")
    assert json.loads(json.dumps(event))["type"] == "payment.paid_out"


def test_provider_credentials_are_checked_then_encrypted_and_masked(org_qc, settings):
    from acquitte.payments.models import ProviderAccount
    from tests.payments.fake_providers import STRIPE_TEST_KEY, FakeProviders

    with FakeProviders("test") as fake:
        settings.STRIPE_API_BASE = fake.url
        account = services.connect_provider(
            actor=factories.SYSTEM,
            organisation=org_qc,
            provider="stripe",
            credentials={"secret_key": STRIPE_TEST_KEY, "webhook_secret": "whsec_zyx987"},
        )
        with pytest.raises(BusinessError, match="refusé"):
            services.connect_provider(
                actor=factories.SYSTEM,
                organisation=org_qc,
                provider="stripe",
                credentials={"secret_key": "sk_live_wrong", "webhook_secret": "whsec_zyx987"},
            )
    account.refresh_from_db()
    assert account.mode == "test" and account.account_name
    stored = ProviderAccount.objects.get(pk=account.pk).credentials_encrypted
    assert STRIPE_TEST_KEY not in stored and "whsec" not in stored
    assert selectors.masked_credentials(account) == {
        "secret_key": "••••" + STRIPE_TEST_KEY[-4:],
        "webhook_secret": "••••x987",
    }
    with pytest.raises(BusinessError, match="manquants"):
        services.connect_provider(
            actor=factories.SYSTEM,
            organisation=org_qc,
            provider="paypal",
            mode="live",
            credentials={"client_id": "x"},
        )
    with pytest.raises(BusinessError, match="inconnu"):
        services.connect_provider(
            actor=factories.SYSTEM, organisation=org_qc, provider="bitcoin", mode="live", credentials={}
        )


@pytest.mark.postgres
def test_fifty_concurrent_payments_with_one_key_all_get_the_first_ones_outcome():
    """A double-submitted "Effectuer un paiement": every duplicate sees the one payment, none a 500."""
    org = factories.quebec_organisation("same-key")
    customer = factories.customer(org)
    factories.invoice(org, customer)
    method = card(customer)
    shared_key = key()
    barrier = threading.Barrier(50)
    outcomes: list[object] = []

    def pay():
        try:
            barrier.wait()
            outcomes.append(
                services.make_payment(
                    actor=factories.SYSTEM,
                    customer=customer,
                    amount="50.00",
                    payment_method=method,
                    idempotency_key=shared_key,
                ).pk
            )
        except Exception as exc:  # anything but the first payment is a failure here
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=pay) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert SandboxCharge.objects.count() == 1 and Payment.objects.filter(customer=customer).count() == 1
    assert outcomes == [Payment.objects.get(customer=customer).pk] * 50
