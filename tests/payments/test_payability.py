"""One rule for what an invoice allows now: the pages show it, the services enforce it."""

import datetime
import uuid

import pytest
from django.core.exceptions import PermissionDenied

from acquitte.core.actors import PublicLink
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.customers.models import User
from acquitte.invoicing import services as invoicing
from acquitte.invoicing.models import Invoice
from acquitte.payments import selectors, services
from acquitte.payments.models import TransferDeclaration
from tests import factories

NEXT_YEAR = f"12/{(datetime.date.today().year + 1) % 100:02d}"
PASSWORD = "motdepasse-long-2026"


def card(customer, actor=factories.SYSTEM):
    return services.add_card(
        customer=customer, holder="A B", number="4242424242424242", cvv="123", expiry=NEXT_YEAR, actor=actor
    )


def link_of(invoice: Invoice) -> PublicLink:
    return PublicLink(
        token=invoice.public_token, organisation_id=invoice.organisation_id, customer_id=invoice.customer_id
    )


def test_an_open_invoice_can_be_paid_every_way(org_qc, customer_qc):
    payability = selectors.payable(factories.invoice(org_qc, customer_qc))
    assert payability.can_pay_online and payability.saved_methods
    assert payability.online_kinds == ("card", "debit", "paypal")
    assert payability.can_declare_transfer and payability.can_record_payment and payability.any


def test_a_pro_forma_is_paid_online_but_not_declared(client, org_qc, customer_qc):
    proforma = factories.invoice(org_qc, customer_qc, kind=Invoice.Kind.PROFORMA)
    payability = selectors.payable(proforma)
    assert payability.can_pay_online and not payability.can_declare_transfer
    page = client.get(f"/i/{proforma.public_token}/").content.decode()
    assert "Déclarer mon paiement" not in page and "Carte de crédit" in page
    with pytest.raises(BusinessError) as refused:
        services.declare_transfer(
            invoice=proforma,
            kind="cheque",
            reference="Chèque 1",
            sent_on=datetime.date.today(),
            amount="1.00",
            actor=link_of(proforma),
        )
    assert refused.value.error_code == ErrorCode.NOT_PAYABLE


def test_online_payment_off_is_refused_by_every_way_to_pay_online(client, org_qc, customer_qc):
    invoice = factories.invoice(org_qc, customer_qc, online_payment=False)
    payability = selectors.payable(invoice)
    assert not payability.can_pay_online and payability.online_kinds == () and not payability.saved_methods
    assert payability.can_declare_transfer
    method = card(customer_qc)
    attempts = [
        lambda: services.pay_invoice(
            invoice=invoice, payment_method=method, idempotency_key=uuid.uuid4().hex, actor=factories.SYSTEM
        ),
        lambda: services.make_payment(
            customer=customer_qc,
            amount="10.00",
            payment_method=method,
            idempotency_key=uuid.uuid4().hex,
            actor=factories.SYSTEM,
        ),
        lambda: services.start_checkout(
            invoice=invoice, kind="card", return_path="/", actor=link_of(invoice)
        ),
    ]
    for attempt in attempts:
        with pytest.raises(BusinessError) as refused:
            attempt()
        assert refused.value.error_code == ErrorCode.ONLINE_PAYMENT_OFF
    page = client.get(f"/i/{invoice.public_token}/").content.decode()
    assert "Carte de crédit" not in page and "Déclarer mon paiement" in page
    assert not invoice.payments.exists()


def test_nothing_is_payable_on_a_paid_invoice_or_a_credit_note(org_qc, customer_qc):
    invoice = factories.invoice(org_qc, customer_qc)
    credit = invoicing.issue_credit_note(invoice=invoice, actor=factories.SYSTEM)
    paid = factories.invoice(org_qc, customer_qc)
    services.record_payment(
        organisation=org_qc,
        customer=customer_qc,
        amount=paid.total,
        method="cheque",
        invoice=paid,
        actor=factories.SYSTEM,
    )
    for closed in (Invoice.objects.get(pk=paid.pk), credit):
        assert not selectors.payable(closed).any and not selectors.payable(closed).can_record_payment


def test_saved_methods_are_managed_by_their_customer_only(org_qc, customer_qc):
    other = factories.customer(org_qc, name="Autre", email="autre@example.test")
    mine = User.objects.create_user("client@cafe.test", PASSWORD, customer=customer_qc)
    theirs = User.objects.create_user("client@autre.test", PASSWORD, customer=other)
    method = card(customer_qc, actor=mine)
    for action in (services.set_default_method, services.remove_method):
        with pytest.raises(PermissionDenied):
            action(method=method, actor=theirs)
    services.remove_method(method=method, actor=mine)


def test_a_transfer_is_declared_through_that_customers_link_only(org_qc, customer_qc):
    invoice = factories.invoice(org_qc, customer_qc)
    other = factories.invoice(org_qc, factories.customer(org_qc, name="Autre", email="autre@example.test"))
    declare = {"kind": "cheque", "reference": "Chèque 1", "sent_on": datetime.date.today(), "amount": "1.00"}
    with pytest.raises(PermissionDenied):
        services.declare_transfer(invoice=invoice, actor=link_of(other), **declare)
    services.declare_transfer(invoice=invoice, actor=link_of(invoice), **declare)
    assert TransferDeclaration.objects.get().invoice == invoice
