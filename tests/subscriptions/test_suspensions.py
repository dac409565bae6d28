"""Suspending and reactivating services (seeds 000 and 002, issue 13 item 5): by hand with a reason,
never lifted by a payment; for an unpaid invoice, lifted at once when it and its reactivation fee
are paid; each change heard by the merchant's systems (webhooks) and told to the customer."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied

from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.invoicing.models import Invoice
from acquitte.notifications.models import OutboundMessage, WebhookDelivery, WebhookEndpoint
from acquitte.payments import services as payments
from acquitte.subscriptions import services
from acquitte.subscriptions.models import Service, ServiceSuspension
from tests import factories
from tests.subscriptions import builders
from tests.subscriptions.domain_builders import domain_product, service

SYSTEM = builders.SYSTEM
Reason = Service.SuspensionReason


@pytest.fixture
def org(org_qc):
    factories.staff(org_qc)
    WebhookEndpoint.objects.create(
        organisation=org_qc, url="https://hooks.example/acquitte", secret="whsec_x"
    )
    return org_qc


@pytest.fixture
def owner(org):
    return org.staff.get()


@pytest.fixture
def customer(org):
    return factories.customer(org, email="client@exemple.ca")


@pytest.fixture
def domain(org, customer):
    return service(customer, domain_product(org), name="exemple.ca", expires_on=datetime.date(2027, 3, 1))


def events(org) -> list[str]:
    return list(
        WebhookDelivery.objects.filter(organisation=org).order_by("id").values_list("event_type", flat=True)
    )


def pay(org, customer, invoice):
    payments.record_payment(
        organisation=org,
        customer=customer,
        amount=invoice.amount_due,
        method="cheque",
        actor=SYSTEM,
        invoice=invoice,
    )


def test_a_manual_suspension_needs_its_reason_and_changes_nothing_without_it(domain, owner):
    for note in ("", "   "):
        with pytest.raises(BusinessError) as refused:
            services.suspend_service(service=domain, reason=Reason.MANUAL, note=note, actor=owner)
        assert "note" in refused.value.message_dict
    domain.refresh_from_db()
    assert domain.status == Service.Status.ACTIVE and not ServiceSuspension.objects.exists()


def test_a_manual_suspension_is_recorded_heard_and_told_and_lifted_by_staff_only(
    org, customer, domain, owner
):
    suspended = services.suspend_service(
        service=domain, reason=Reason.MANUAL, note="Abus signalé", actor=owner
    )
    assert (suspended.status, suspended.suspension_reason, suspended.suspension_note) == (
        Service.Status.SUSPENDED,
        Reason.MANUAL,
        "Abus signalé",
    )
    suspension = suspended.suspensions.get()
    assert suspension.reason == Reason.MANUAL and suspension.reactivation_invoice is None
    assert suspension.suspended_by == owner.email
    told = OutboundMessage.objects.get(kind="service_suspended")
    assert "exemple.ca" in told.subject and "Abus signalé" in told.body
    # Paying whatever the customer owes does not lift a suspension made by hand.
    invoice = factories.invoice(org, customer)
    pay(org, customer, invoice)
    domain.refresh_from_db()
    assert domain.status == Service.Status.SUSPENDED
    lifted = services.unsuspend_service(service=domain, actor=owner)
    assert (lifted.status, lifted.suspension_reason) == (Service.Status.ACTIVE, "")
    assert suspension.__class__.objects.get(pk=suspension.pk).lifted_by == owner.email
    assert events(org) == ["service.suspended", "service.unsuspended"]
    payload = WebhookDelivery.objects.get(event_type="service.suspended").payload
    assert "exemple.ca" in str(payload) and "manual" in str(payload)


def test_a_service_suspended_or_terminated_is_not_suspended_again(domain, owner):
    services.suspend_service(service=domain, reason=Reason.MANUAL, note="Abus", actor=owner)
    with pytest.raises(BusinessError) as refused:
        services.suspend_service(service=domain, reason=Reason.MANUAL, note="Encore", actor=owner)
    assert refused.value.error_code == ErrorCode.INVALID_STATE
    services.terminate_service(service=domain, actor=owner)
    with pytest.raises(BusinessError):
        services.terminate_service(service=domain, actor=owner)
    with pytest.raises(BusinessError):
        services.unsuspend_service(service=domain, actor=owner)


def test_an_overdue_suspension_names_its_invoice_and_is_lifted_when_both_are_paid(org, customer, domain):
    fee = factories.product(org, sku="REACT", price="20.00", name="Frais de réactivation")
    services.update_dunning_settings(organisation=org, actor=SYSTEM, reactivation_fee=fee)
    invoice = factories.invoice(org, customer, prices=("50.00",))
    with pytest.raises(BusinessError):
        services.suspend_service(service=domain, reason=Reason.OVERDUE, note="", actor=SYSTEM)
    services.suspend_service(service=domain, reason=Reason.OVERDUE, note="", actor=SYSTEM, invoice=invoice)
    suspension = domain.suspensions.get()
    react = suspension.reactivation_invoice
    assert react.status == Invoice.Status.OPEN and react.due_date == react.issue_date
    assert react.total == Decimal("23.00")  # 20 $ + TPS 1,00 + TVQ 2,00 (1,995 half-up)
    pay(org, customer, react)
    domain.refresh_from_db()
    assert domain.status == Service.Status.SUSPENDED
    pay(org, customer, invoice)
    domain.refresh_from_db()
    assert domain.status == Service.Status.ACTIVE
    assert events(org) == ["service.suspended", "service.unsuspended"]


def test_an_overdue_invoice_of_another_customer_is_refused(org, domain):
    other = factories.customer(org, name="Voisin", email="voisin@exemple.ca")
    invoice = factories.invoice(org, other)
    with pytest.raises(BusinessError) as refused:
        services.suspend_service(
            service=domain, reason=Reason.OVERDUE, note="", actor=SYSTEM, invoice=invoice
        )
    assert refused.value.error_code == ErrorCode.NOT_FOUND


def test_termination_ends_the_subscription_and_is_heard(org, domain, owner):
    ended = services.terminate_service(service=domain, actor=owner)
    assert ended.status == Service.Status.TERMINATED and ended.terminated_at is not None
    ended.subscription.refresh_from_db()
    assert ended.subscription.status == "ended" and ended.subscription.ends_on is not None
    assert events(org) == ["service.terminated"]


def test_a_read_only_role_may_not_suspend(org, domain):
    viewer = factories.staff(org, email="lecture@example.test", role="read_only")
    with pytest.raises(PermissionDenied):
        services.suspend_service(service=domain, reason=Reason.MANUAL, note="Abus", actor=viewer)
