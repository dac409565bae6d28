"""Every service that changes state says who acts, and refuses an actor from elsewhere.

The services are found by looking at each app's ``services`` package, so a new one without an
``actor`` keyword, or without a case below, fails here. Each case calls the service on the
objects of one organisation, as staff, a customer and a public link of another organisation (and,
where a customer acts, as another customer of the same organisation), and expects a refusal that
changes nothing in the database.
"""

import datetime
import importlib
import inspect
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from acquitte.catalog import services as catalog
from acquitte.catalog.models import Product
from acquitte.core.actors import Actor, PublicLink
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.models import AuditAction, AuditLog
from acquitte.core.services import record_transition
from acquitte.customers import services as customers
from acquitte.customers.models import Customer, Organisation, TermsVersion, User
from acquitte.documents import services as documents
from acquitte.invoicing import services as invoicing
from acquitte.invoicing.models import Invoice
from acquitte.notifications import services as notifications
from acquitte.notifications.models import Notification, OutboundMessage
from acquitte.payments import services as payments
from acquitte.payments.models import ChargeAttempt, Payment, PaymentMethod, RefundAttempt
from acquitte.payments.providers.base import ChargeResult, ChargeStatus
from acquitte.payments.providers.names import OnlineKind, ProviderName
from acquitte.quotes import services as quotes
from acquitte.quotes.models import Quote
from tests import factories

SYSTEM = factories.SYSTEM
PASSWORD = "motdepasse-long-2026"
NEXT_YEAR = f"12/{(datetime.date.today().year + 1) % 100:02d}"

# Public functions of a services package that take no actor: computations, reads, and the
# entry points whose caller is proven by a signature (webhooks) rather than named.
NO_ACTOR = {
    "core.next_number",
    "core.next_numbers",
    "documents.date_text",
    "documents.document_data_for_invoice",
    "documents.invoice_pdf",
    "documents.money_text",
    "documents.pdf_response",
    "documents.public_url",
    "documents.render",
    "documents.render_facturx",
    "documents.render_png",
    "invoicing.catalogue_category",
    "invoicing.check_total",
    "invoicing.compute_totals",
    "invoicing.line_fields",
    "invoicing.line_input",
    "invoicing.product_line",
    "notifications.render_email",
    "notifications.render_sms",
    "payments.bank_account_number",
    "payments.process_webhook_event",
    "payments.receive_webhook",
    "payments.webhook_secret",
    "quotes.is_decidable",
    "quotes.public_url",
}

# The audit trail records whoever the calling service already let through.
RECORDERS = {"core.record_transition", "core.record_transitions"}


def public_services() -> dict[str, Callable[..., Any]]:
    found: dict[str, Callable[..., Any]] = {}
    for app in apps.get_app_configs():
        if not app.name.startswith("acquitte."):
            continue
        try:
            module = importlib.import_module(f"{app.name}.services")
        except ImportError:
            continue
        for name, function in vars(module).items():
            own = getattr(function, "__module__", "").startswith(f"{app.name}.services")
            if not name.startswith("_") and inspect.isfunction(function) and own:
                found[f"{app.label}.{name}"] = function
    return found


SERVICES = public_services()
WITH_ACTOR = sorted(name for name, f in SERVICES.items() if "actor" in inspect.signature(f).parameters)


def test_every_public_service_takes_an_actor_or_is_known_to_change_nothing():
    assert sorted(set(SERVICES) - set(WITH_ACTOR) - NO_ACTOR) == []
    assert set(SERVICES) >= NO_ACTOR, "a name listed here no longer exists"


@pytest.mark.parametrize("name", WITH_ACTOR)
def test_the_actor_is_a_required_keyword(name):
    parameter = inspect.signature(SERVICES[name]).parameters["actor"]
    assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
    assert parameter.default is inspect.Parameter.empty


@dataclass
class World:
    org: Organisation
    customer: Customer
    portal_user: User
    other_customer: Customer
    product: Product
    draft: Invoice
    open_invoice: Invoice
    proforma: Invoice
    card: PaymentMethod
    payment: Payment
    attempt: ChargeAttempt
    refund_attempt: RefundAttempt
    draft_quote: Quote
    sent_quote: Quote
    message: OutboundMessage
    notification: Notification
    terms: TermsVersion
    foreign: list[Actor]
    other_customer_actors: list[Actor]
    #: Objects the app case modules build for their own cases (see ``_app_cases``).
    extra: dict[str, Any] = field(default_factory=dict)


def link(customer: Customer) -> PublicLink:
    return PublicLink(token="t" * 43, organisation_id=customer.organisation_id, customer_id=customer.pk)


def portal_user(customer: Customer, email: str) -> User:
    return User.objects.create_user(email=email, password=PASSWORD, customer=customer)


@pytest.fixture
def world(db, settings) -> World:
    settings.PAYMENTS_SANDBOX = True
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # five users a test
    org = factories.quebec_organisation()
    customer = factories.customer(org)
    other = factories.customer(org, name="Voisin inc.", email="voisin@example.test")
    owner = factories.staff(org)
    product = factories.product(org)
    card = payments.add_card(
        customer=customer,
        holder="Marie Roy",
        number="4242424242424242",
        cvv="123",
        expiry=NEXT_YEAR,
        actor=SYSTEM,
    )
    paid = factories.invoice(org, customer)
    payment = payments.pay_invoice(
        invoice=paid, payment_method=card, idempotency_key=f"k-{uuid.uuid4()}", actor=SYSTEM
    )
    payments.refund(payment=payment, amount="1.00", actor=owner)
    draft_quote = quotes.create_quote(organisation=org, customer=customer, actor=owner)
    quotes.add_product(quote=draft_quote, product=product, actor=owner)
    sent_quote = quotes.create_quote(organisation=org, customer=customer, actor=owner)
    quotes.add_product(quote=sent_quote, product=product, actor=owner)
    sent_quote = quotes.send_quote(quote=sent_quote, actor=owner)
    french = factories.french_organisation()
    french_customer = factories.customer(french, name="Boulangerie Martin", email="martin@example.test")
    w = World(
        org=org,
        customer=customer,
        portal_user=portal_user(customer, "marie@example.test"),
        other_customer=other,
        product=product,
        draft=factories.invoice(org, customer, finalise=False),
        open_invoice=factories.invoice(org, customer),
        proforma=factories.invoice(org, customer, kind=Invoice.Kind.PROFORMA),
        card=card,
        payment=Payment.objects.get(pk=payment.pk),
        attempt=ChargeAttempt.objects.get(payment=payment),
        refund_attempt=RefundAttempt.objects.get(payment=payment),
        draft_quote=draft_quote,
        sent_quote=sent_quote,
        message=OutboundMessage.objects.create(
            organisation=org,
            channel=OutboundMessage.Channel.EMAIL,
            kind="t",
            to="a@example.test",
            subject="s",
            body="b",
            status=OutboundMessage.Status.FAILED,
            attempts=5,
        ),
        notification=Notification.objects.filter(organisation=org).first()
        or Notification.objects.create(organisation=org, kind="t", subject="s"),
        terms=TermsVersion.objects.create(
            organisation=org, version="2026-1", body_fr="Conditions", published_at=timezone.now()
        ),
        foreign=[
            factories.staff(french, email="patron@atelier.example"),
            portal_user(french_customer, "client@martin.example"),
            link(french_customer),
        ],
        other_customer_actors=[portal_user(other, "voisin@example.test"), link(other)],
    )
    for set_up in SET_UPS:
        set_up(w)
    return w


def _line(w: World) -> Any:
    return factories.line(w.org)


ADDRESS = {"line1": "1 rue X", "city": "Laval", "region": "QC", "postal_code": "H7A 1A1", "country": "CA"}

# name → (call on the world's objects as ``actor``, whether a customer acts through it)
CASES: dict[str, tuple[Callable[[World, Actor], Any], bool]] = {
    "catalog.save_product": (lambda w, a: catalog.save_product(product=w.product, actor=a), False),
    "customers.accept_terms": (
        lambda w, a: customers.accept_terms(
            customer=w.customer, terms=w.terms, ip_address="127.0.0.1", actor=a
        ),
        True,
    ),
    "customers.add_address": (
        lambda w, a: customers.add_address(customer=w.customer, actor=a, **ADDRESS),
        False,
    ),
    "customers.add_contact": (
        lambda w, a: customers.add_contact(customer=w.customer, actor=a, name="X"),
        False,
    ),
    "customers.add_site": (
        lambda w, a: customers.add_site(customer=w.customer, actor=a, name="Site X"),
        False,
    ),
    "customers.complete_first_login": (
        lambda w, a: customers.complete_first_login(
            customer=w.customer,
            terms=w.terms,
            ip_address="127.0.0.1",
            new_address=ADDRESS,
            contact={"name": "Marie Roy"},
            actor=a,
        ),
        True,
    ),
    "customers.create_customer": (
        lambda w, a: customers.create_customer(
            organisation=w.org, name="Intrus", email="i@example.test", actor=a
        ),
        False,
    ),
    "customers.create_organisation": (
        lambda w, a: customers.create_organisation(
            name="Intruse", slug="intruse", currency="CAD", locale="fr-CA", country="CA", actor=a
        ),
        False,
    ),
    "customers.create_staff_user": (
        lambda w, a: customers.create_staff_user(
            organisation=w.org, email="intrus@example.test", password=PASSWORD, role="owner", actor=a
        ),
        False,
    ),
    "customers.remove_part": (
        lambda w, a: customers.remove_part(part=w.customer.addresses.first(), actor=a),
        False,
    ),
    "customers.save_customer": (lambda w, a: customers.save_customer(customer=w.customer, actor=a), False),
    "customers.set_default_address": (
        lambda w, a: customers.set_default_address(address=w.customer.addresses.first(), actor=a),
        False,
    ),
    "customers.unlock_account": (
        lambda w, a: customers.unlock_account(organisation=w.org, user=w.portal_user, actor=a),
        False,
    ),
    "customers.update_part": (
        lambda w, a: customers.update_part(part=w.customer.addresses.first(), city="Ailleurs", actor=a),
        False,
    ),
    "documents.send_invoice": (lambda w, a: documents.send_invoice(invoice=w.open_invoice, actor=a), False),
    "invoicing.add_line": (lambda w, a: invoicing.add_line(invoice=w.draft, line=_line(w), actor=a), False),
    "invoicing.add_product": (
        lambda w, a: invoicing.add_product(invoice=w.draft, product=w.product, actor=a),
        False,
    ),
    "invoicing.allocate": (
        lambda w, a: invoicing.allocate(invoice=w.open_invoice, amount="1.00", payment=w.payment, actor=a),
        True,
    ),
    "invoicing.convert_proforma": (
        lambda w, a: invoicing.convert_proforma(proforma=w.proforma, actor=a),
        True,
    ),
    "invoicing.create_credit_note": (
        lambda w, a: invoicing.create_credit_note(invoice=w.open_invoice, actor=a),
        False,
    ),
    "invoicing.create_invoice": (
        lambda w, a: invoicing.create_invoice(
            organisation=w.org, customer=w.customer, lines=[_line(w)], actor=a
        ),
        False,
    ),
    "invoicing.delete_draft": (lambda w, a: invoicing.delete_draft(invoice=w.draft, actor=a), False),
    "invoicing.finalise_invoice": (lambda w, a: invoicing.finalise_invoice(invoice=w.draft, actor=a), False),
    "invoicing.finalise_invoices": (
        lambda w, a: invoicing.finalise_invoices(organisation=w.org, invoices=[w.draft], actor=a),
        False,
    ),
    "invoicing.issue_credit_note": (
        lambda w, a: invoicing.issue_credit_note(invoice=w.open_invoice, actor=a),
        False,
    ),
    "invoicing.remove_line": (lambda w, a: invoicing.remove_line(line=w.draft.lines.first(), actor=a), False),
    "invoicing.replace_draft_lines": (
        lambda w, a: invoicing.replace_draft_lines(invoice=w.draft, lines=[_line(w)], actor=a),
        False,
    ),
    "invoicing.reverse_allocations": (
        lambda w, a: invoicing.reverse_allocations(payment=w.payment, amount=Decimal("1.00"), actor=a),
        False,
    ),
    "invoicing.revoke_public_link": (
        lambda w, a: invoicing.revoke_public_link(invoice=w.open_invoice, actor=a),
        False,
    ),
    "invoicing.set_line_quantity": (
        lambda w, a: invoicing.set_line_quantity(line=w.draft.lines.first(), quantity=3, actor=a),
        False,
    ),
    "invoicing.set_online_payment": (
        lambda w, a: invoicing.set_online_payment(invoice=w.open_invoice, offered=False, actor=a),
        False,
    ),
    "invoicing.settle_oldest_first": (
        lambda w, a: invoicing.settle_oldest_first(
            customer=w.customer, amount=Decimal("1.00"), payment=w.payment, actor=a
        ),
        True,
    ),
    "invoicing.update_draft": (
        lambda w, a: invoicing.update_draft(invoice=w.draft, notes="x", actor=a),
        False,
    ),
    "invoicing.void_invoice": (lambda w, a: invoicing.void_invoice(invoice=w.open_invoice, actor=a), False),
    "notifications.deliver": (lambda w, a: notifications.deliver(message_id=w.message.pk, actor=a), False),
    "notifications.deliver_queued": (lambda w, a: notifications.deliver_queued(actor=a), False),
    "notifications.mark_read": (lambda w, a: notifications.mark_read(organisation=w.org, actor=a), False),
    "notifications.notify_staff": (
        lambda w, a: notifications.notify_staff(organisation=w.org, kind="t", subject="s", actor=a),
        False,
    ),
    "notifications.queue_email": (
        lambda w, a: notifications.queue_email(
            organisation=w.org, to="x@example.test", kind="t", subject="s", body="b", actor=a
        ),
        False,
    ),
    "notifications.queue_sms": (
        lambda w, a: notifications.queue_sms(
            organisation=w.org, to="+15145550199", kind="t", body="b", actor=a
        ),
        False,
    ),
    "notifications.record_sms_status": (
        lambda w, a: notifications.record_sms_status(provider_id="SM1", status="delivered", actor=a),
        False,
    ),
    "notifications.retry_message": (
        lambda w, a: notifications.retry_message(message=w.message, actor=a),
        False,
    ),
    "notifications.send_to_customer": (
        lambda w, a: notifications.send_to_customer(
            organisation=w.org,
            customer=w.customer,
            template="quote_sent",
            context={},
            reference="S-1",
            actor=a,
        ),
        False,
    ),
    "payments.add_bank_account": (
        lambda w, a: payments.add_bank_account(
            customer=w.customer,
            holder="Marie Roy",
            scheme="pad",
            institution="001",
            transit="12345",
            account="1234567",
            actor=a,
        ),
        True,
    ),
    "payments.add_card": (
        lambda w, a: payments.add_card(
            customer=w.customer,
            holder="Marie Roy",
            number="4242424242424242",
            cvv="123",
            expiry=NEXT_YEAR,
            actor=a,
        ),
        True,
    ),
    "payments.apply_charge_result": (
        lambda w, a: payments.apply_charge_result(
            attempt=w.attempt, result=ChargeResult(status=ChargeStatus.FAILED), actor=a
        ),
        False,
    ),
    "payments.apply_refund_result": (
        lambda w, a: payments.apply_refund_result(
            attempt=w.refund_attempt, result=ChargeResult(status=ChargeStatus.FAILED), actor=a
        ),
        False,
    ),
    "payments.connect_provider": (
        lambda w, a: payments.connect_provider(
            organisation=w.org, provider="stripe", credentials={"secret_key": "sk_test_x"}, actor=a
        ),
        False,
    ),
    "payments.declare_transfer": (
        lambda w, a: payments.declare_transfer(
            invoice=w.open_invoice,
            kind="cheque",
            reference="Chèque 1",
            sent_on=datetime.date.today(),
            amount="1.00",
            actor=a,
        ),
        True,
    ),
    "payments.disconnect_provider": (
        lambda w, a: payments.disconnect_provider(organisation=w.org, provider="sandbox", actor=a),
        False,
    ),
    "payments.finish_hosted_payment": (
        lambda w, a: payments.finish_hosted_payment(
            idempotency_key=w.attempt.idempotency_key, cancelled=True, actor=a
        ),
        False,
    ),
    "payments.make_payment": (
        lambda w, a: payments.make_payment(
            customer=w.customer, amount="1.00", payment_method=w.card, idempotency_key="k-make", actor=a
        ),
        True,
    ),
    "payments.pay_invoice": (
        lambda w, a: payments.pay_invoice(
            invoice=w.open_invoice, payment_method=w.card, idempotency_key="k-pay", actor=a
        ),
        True,
    ),
    "payments.pay_invoice_once": (
        lambda w, a: payments.pay_invoice_once(
            invoice=w.open_invoice, token="tok_x", kind=Payment.Method.CARD, idempotency_key="k-once", actor=a
        ),
        True,
    ),
    "payments.reconcile_payments": (lambda w, a: payments.reconcile_payments(actor=a), False),
    "payments.sweep_abandoned_setups": (lambda w, a: payments.sweep_abandoned_setups(actor=a), False),
    "payments.record_payment": (
        lambda w, a: payments.record_payment(
            organisation=w.org, customer=w.customer, amount="1.00", method=Payment.Method.CHEQUE, actor=a
        ),
        False,
    ),
    "payments.refund": (lambda w, a: payments.refund(payment=w.payment, amount="1.00", actor=a), False),
    "payments.remove_method": (lambda w, a: payments.remove_method(method=w.card, actor=a), True),
    "payments.set_default_method": (lambda w, a: payments.set_default_method(method=w.card, actor=a), True),
    "payments.set_online_payment_default": (
        lambda w, a: payments.set_online_payment_default(organisation=w.org, offered=False, actor=a),
        False,
    ),
    "payments.start_checkout": (
        lambda w, a: payments.start_checkout(invoice=w.open_invoice, kind="card", return_path="/", actor=a),
        True,
    ),
    "payments.start_hosted_payment": (
        lambda w, a: payments.start_hosted_payment(
            invoice=w.open_invoice,
            kind=OnlineKind.CARD,
            provider=ProviderName.SANDBOX,
            urls=lambda key: ("/ok", "/ko"),
            actor=a,
        ),
        True,
    ),
    "payments.transition": (
        lambda w, a: payments.transition(payment=w.payment, to=Payment.Status.CHARGED_BACK, actor=a),
        False,
    ),
    "quotes.add_line": (lambda w, a: quotes.add_line(quote=w.draft_quote, line=_line(w), actor=a), False),
    "quotes.add_product": (
        lambda w, a: quotes.add_product(quote=w.draft_quote, product=w.product, actor=a),
        False,
    ),
    "quotes.approve_quote": (lambda w, a: quotes.approve_quote(quote=w.sent_quote, actor=a), True),
    "quotes.create_quote": (
        lambda w, a: quotes.create_quote(organisation=w.org, customer=w.customer, actor=a),
        False,
    ),
    "quotes.decline_quote": (
        lambda w, a: quotes.decline_quote(quote=w.sent_quote, reason="non", actor=a),
        True,
    ),
    "quotes.delete_draft": (lambda w, a: quotes.delete_draft(quote=w.draft_quote, actor=a), False),
    "quotes.expire_quotes": (
        lambda w, a: quotes.expire_quotes(actor=a, today=datetime.date(2099, 1, 1)),
        False,
    ),
    "quotes.mark_viewed": (lambda w, a: quotes.mark_viewed(quote=w.sent_quote, actor=a), True),
    "quotes.remove_line": (lambda w, a: quotes.remove_line(line=w.draft_quote.lines.first(), actor=a), False),
    "quotes.send_quote": (lambda w, a: quotes.send_quote(quote=w.draft_quote, actor=a), False),
    "quotes.set_quantity": (
        lambda w, a: quotes.set_quantity(line=w.draft_quote.lines.first(), quantity=2, actor=a),
        False,
    ),
    "quotes.update_quote": (lambda w, a: quotes.update_quote(quote=w.draft_quote, notes="x", actor=a), False),
}


SET_UPS: list[Callable[[World], None]] = []


def _app_cases() -> None:
    """Apps with many services keep their cases beside their tests, in ``tests/<app>/actor_cases*.py``:
    each module holds ``CASES`` shaped as above and, optionally, ``NO_ACTOR`` names and a
    ``set_up(world)`` that builds the objects its cases need into ``world.extra``."""
    for path in sorted(Path(__file__).parent.glob("*/actor_cases*.py")):
        module = importlib.import_module(f"tests.{path.parent.name}.{path.stem}")
        CASES.update(module.CASES)
        NO_ACTOR.update(getattr(module, "NO_ACTOR", set()))
        if hasattr(module, "set_up"):
            SET_UPS.append(module.set_up)


_app_cases()


def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table of the product, to show that a refusal changed nothing."""
    return {
        model._meta.label: list(model.objects.order_by("pk").values())
        for model in apps.get_models()
        if model._meta.app_label
        in {app.label for app in apps.get_app_configs() if app.name.startswith("acquitte.")}
    }


def test_every_service_with_an_actor_has_a_case():
    assert sorted(set(WITH_ACTOR) - RECORDERS - set(CASES)) == []
    assert sorted(set(CASES) - set(WITH_ACTOR)) == []


@pytest.mark.parametrize("name", sorted(CASES))
def test_an_actor_from_elsewhere_is_refused_and_nothing_changes(name, world):
    call, customer_acts = CASES[name]
    actors = world.foreign + (world.other_customer_actors if customer_acts else [])
    for actor in actors:
        before = snapshot()
        with pytest.raises((PermissionDenied, BusinessError)) as refused:
            call(world, actor)
        if isinstance(refused.value, BusinessError):
            assert refused.value.error_code == ErrorCode.NOT_FOUND, (name, actor, refused.value.messages)
        assert snapshot() == before, (name, actor)


def test_the_audit_trail_names_each_kind_of_actor(world):
    owner = User.objects.get(organisation=world.org)
    rows = [
        (owner, owner.email),
        (SYSTEM, "system:test"),
        (link(world.customer), "link:tttttttt"),
    ]
    for actor, label in rows:
        record_transition(obj=world.draft, organisation=world.org, actor=actor, action=AuditAction.UPDATE)
        assert AuditLog.objects.filter(object_id=str(world.draft.pk)).first().actor_label == label
