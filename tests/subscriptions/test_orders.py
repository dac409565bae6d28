"""Orders (seed 001): one-time charges invoiced and charged once per stage, whatever is retried;
no order without a valid method; subscriptions from the recurring lines at completion."""

import datetime
import threading
from decimal import Decimal

import pytest
from django.db import connection

from acquitte.catalog.models import Product
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.models import AuditAction, AuditLog
from acquitte.invoicing.models import Invoice
from acquitte.notifications.models import Notification, OutboundMessage
from acquitte.payments import services as payments
from acquitte.payments.models import ChargeAttempt, Payment, SandboxCharge
from acquitte.payments.providers.sandbox import SandboxProvider
from acquitte.subscriptions import selectors, services
from acquitte.subscriptions.models import BillingSettings, Order, OrderCharge, OrderLine, Subscription
from acquitte.subscriptions.services import orders as orders_module
from tests import factories
from tests.subscriptions.builders import customer_with_card

SYSTEM = factories.SYSTEM
DECLINED = "4000000000000002"


@pytest.fixture
def staff(org_qc):
    return factories.staff(org_qc)


@pytest.fixture
def catalogue(org_qc):
    return {
        "setup": factories.product(org_qc, sku="INST", price="50.00", kind=Product.Kind.ONE_TIME),
        "phone": factories.product(org_qc, sku="TEL-HW", price="120.00", kind=Product.Kind.HARDWARE),
        "line": factories.product(org_qc, sku="TEL-1", price="30.00", kind=Product.Kind.MONTHLY),
        "backup": factories.product(org_qc, sku="BAK-Y", price="99.00", kind=Product.Kind.YEARLY),
        "domain": factories.product(org_qc, sku="DOM", price="15.00", kind=Product.Kind.DOMAIN),
    }


@pytest.fixture
def customer(org_qc):
    return customer_with_card(org_qc)


def order_with(customer, staff, lines):
    """A draft order of ``lines``: (product, site index, quantity)."""
    order = services.create_order(organisation=customer.organisation, customer=customer, actor=staff)
    sites = list(customer.sites.order_by("name"))
    for product, site, quantity in lines:
        services.add_order_line(
            order=order, product=product, site=sites[site], quantity=quantity, actor=staff
        )
    return order


def full_order(customer, staff, catalogue):
    return order_with(
        customer,
        staff,
        [
            (catalogue["setup"], 0, "1"),
            (catalogue["setup"], 1, "2"),
            (catalogue["phone"], 0, "3"),
            (catalogue["line"], 0, "2"),
            (catalogue["line"], 1, "1"),
            (catalogue["backup"], 1, "1"),
        ],
    )


def charges_of(order):
    return {c.stage: c.invoice for c in OrderCharge.objects.filter(order=order).select_related("invoice")}


def test_placed_then_shipped_invoices_each_stage_once_and_charges_the_default_card(
    customer, staff, catalogue
):
    order = full_order(customer, staff, catalogue)
    assert order.number == f"CMD-{order.pk:06d}"
    default = customer.payment_methods.get(is_default=True)

    services.place_order(order=order, actor=staff)
    services.place_order(order=order, actor=staff)
    placed = charges_of(order)[OrderCharge.Stage.PLACED]
    assert [line.quantity for line in placed.lines.order_by("position")] == [Decimal("1"), Decimal("2")]
    assert all("site : Site" in line.description for line in placed.lines.all())
    assert placed.subtotal == Decimal("150.00")
    placed.refresh_from_db()
    assert placed.status == Invoice.Status.PAID
    assert placed.number

    services.ship_order(order=order, actor=staff)
    services.ship_order(order=order, actor=staff)
    services.place_order(order=order, actor=staff)
    shipped = charges_of(order)[OrderCharge.Stage.SHIPPED]
    assert shipped.subtotal == Decimal("360.00")
    shipped.refresh_from_db()
    assert shipped.status == Invoice.Status.PAID

    order.refresh_from_db()
    assert order.status == Order.Status.SHIPPED
    assert Invoice.objects.filter(customer=customer).count() == 2
    assert SandboxCharge.objects.count() == 2
    payments_made = Payment.objects.filter(customer=customer)
    assert payments_made.count() == 2
    assert {p.payment_method_id for p in payments_made} == {default.pk}
    assert set(ChargeAttempt.objects.values_list("idempotency_key", flat=True)) == {
        f"order-{order.pk}-placed",
        f"order-{order.pk}-shipped",
    }
    sent = OutboundMessage.objects.filter(kind="invoice_sent", to=customer.email)
    assert sorted(sent.values_list("reference", flat=True)) == sorted([placed.number, shipped.number])


def test_a_crash_between_commit_and_charge_is_retried_with_the_same_key(
    customer, staff, catalogue, monkeypatch
):
    order = full_order(customer, staff, catalogue)

    def crash(*args, **kwargs):
        raise RuntimeError("worker killed after commit")

    monkeypatch.setattr(orders_module, "pay_invoice", crash)
    with pytest.raises(RuntimeError):
        services.place_order(order=order, actor=staff)
    order.refresh_from_db()
    assert order.status == Order.Status.IN_PROGRESS
    assert charges_of(order)[OrderCharge.Stage.PLACED].status == Invoice.Status.OPEN
    assert SandboxCharge.objects.count() == 0

    monkeypatch.undo()
    services.place_order(order=order, actor=staff)
    services.place_order(order=order, actor=staff)
    assert OrderCharge.objects.filter(order=order).count() == 1
    assert Invoice.objects.filter(customer=customer).count() == 1
    assert SandboxCharge.objects.count() == 1
    assert charges_of(order)[OrderCharge.Stage.PLACED].status == Invoice.Status.PAID


def test_a_charge_lost_to_a_crash_is_made_by_the_next_move(customer, staff, catalogue, monkeypatch):
    order = full_order(customer, staff, catalogue)
    monkeypatch.setattr(orders_module, "pay_invoice", lambda **kwargs: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        services.place_order(order=order, actor=staff)
    monkeypatch.undo()
    services.ship_order(order=order, actor=staff)
    services.complete_order(order=order, actor=staff)
    assert {stage: inv.status for stage, inv in charges_of(order).items()} == {
        OrderCharge.Stage.PLACED: Invoice.Status.PAID,
        OrderCharge.Stage.SHIPPED: Invoice.Status.PAID,
    }
    assert SandboxCharge.objects.count() == 2


def test_a_crash_after_the_provider_call_charges_nothing_more(customer, staff, catalogue, monkeypatch):
    """The attempt is committed before the call: a second pass finds it and calls nobody."""
    order = full_order(customer, staff, catalogue)
    real = orders_module.pay_invoice

    def charge_then_crash(**kwargs):
        real(**kwargs)
        raise RuntimeError("lost the answer")

    monkeypatch.setattr(orders_module, "pay_invoice", charge_then_crash)
    with pytest.raises(RuntimeError):
        services.place_order(order=order, actor=staff)
    monkeypatch.undo()
    services.place_order(order=order, actor=staff)
    assert SandboxCharge.objects.count() == 1
    assert Payment.objects.filter(customer=customer).count() == 1


def test_hardware_only_order_invoices_nothing_at_placing(customer, staff, catalogue):
    order = order_with(customer, staff, [(catalogue["phone"], 0, "1"), (catalogue["line"], 0, "1")])
    order = services.place_order(order=order, actor=staff)
    assert OrderCharge.objects.filter(order=order).count() == 0
    assert selectors.next_statuses(order) == [Order.Status.SHIPPED, Order.Status.CANCELLED]
    with pytest.raises(BusinessError) as refused:
        services.complete_order(order=order, actor=staff)
    assert refused.value.error_code == ErrorCode.INVALID_STATE
    assert "Expédiez" in refused.value.text()
    order = services.ship_order(order=order, actor=staff)
    assert list(charges_of(order)) == [OrderCharge.Stage.SHIPPED]
    assert selectors.next_statuses(order) == [Order.Status.COMPLETED]


def test_a_declined_card_leaves_the_invoice_open_moves_the_order_and_tells_both(org_qc, staff, catalogue):
    customer = customer_with_card(org_qc, card=DECLINED)
    order = order_with(customer, staff, [(catalogue["setup"], 0, "1")])
    services.place_order(order=order, actor=staff)
    services.place_order(order=order, actor=staff)
    order.refresh_from_db()
    assert order.status == Order.Status.IN_PROGRESS
    invoice = charges_of(order)[OrderCharge.Stage.PLACED]
    assert invoice.status == Invoice.Status.OPEN
    assert Payment.objects.get(invoice=invoice).status == Payment.Status.FAILED
    assert Notification.objects.filter(organisation=org_qc, kind="payment_failed").count() == 1
    told = OutboundMessage.objects.filter(to=customer.email, reference=invoice.number)
    assert sorted(told.values_list("kind", flat=True)) == ["invoice_sent", orders_module.DECLINED_KIND]
    declined = told.get(kind=orders_module.DECLINED_KIND)
    assert "refusé" in declined.body
    assert "/i/" in declined.body


def test_a_customer_without_a_valid_method_cannot_order(org_qc, staff, catalogue):
    bare = factories.customer(org_qc, name="Sans carte", email="sans@example.test")
    before = Order.objects.count()
    with pytest.raises(BusinessError) as refused:
        services.create_order(organisation=org_qc, customer=bare, actor=staff)
    assert refused.value.error_code == ErrorCode.PAYMENT_METHOD_INVALID
    assert "mode de paiement" in refused.value.text()
    assert Order.objects.count() == before


def test_a_method_removed_before_placing_refuses_the_order_and_saves_nothing(customer, staff, catalogue):
    order = full_order(customer, staff, catalogue)
    for method in customer.payment_methods.all():
        payments.remove_method(method=method, actor=SYSTEM)
    audit_rows = AuditLog.objects.count()
    with pytest.raises(BusinessError) as refused:
        services.place_order(order=order, actor=staff)
    assert refused.value.error_code == ErrorCode.PAYMENT_METHOD_INVALID
    order.refresh_from_db()
    assert order.status == Order.Status.DRAFT
    assert not Invoice.objects.filter(customer=customer).exists()
    assert AuditLog.objects.count() == audit_rows


def test_completion_starts_one_subscription_per_recurring_line_at_the_line_price(
    org_qc, customer, staff, catalogue
):
    BillingSettings.objects.update_or_create(organisation=org_qc, defaults={"test_clock": None})
    order = full_order(customer, staff, catalogue)
    services.update_order_line(
        line=order.lines.get(product=catalogue["line"], quantity=1), unit_price="25.00", actor=staff
    )
    services.place_order(order=order, actor=staff)
    services.ship_order(order=order, actor=staff)
    catalogue["line"].unit_price = Decimal("35.00")
    catalogue["line"].save()
    services.complete_order(order=order, actor=staff)
    services.complete_order(order=order, actor=staff)
    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED
    assert order.completed_on == selectors.today_for(org_qc)
    subs = Subscription.objects.filter(customer=customer).order_by("order_line__position")
    assert [(s.product.sku, s.site.name, s.quantity, s.unit_price, s.period) for s in subs] == [
        ("TEL-1", "Site 1", Decimal("2"), Decimal("30.00"), Subscription.Period.MONTHLY),
        ("TEL-1", "Site 2", Decimal("1"), Decimal("25.00"), Subscription.Period.MONTHLY),
        ("BAK-Y", "Site 2", Decimal("1"), Decimal("99.00"), Subscription.Period.YEARLY),
    ]
    assert all(s.started_on == order.completed_on and s.order_line_id for s in subs)
    assert selectors.next_statuses(order) == []
    moves = AuditLog.objects.filter(
        content_type__model="order", object_id=str(order.pk), action=AuditAction.TRANSITION
    )
    assert list(moves.order_by("pk").values_list("from_state", "to_state")) == [
        ("draft", "in_progress"),
        ("in_progress", "shipped"),
        ("shipped", "completed"),
    ]


def test_completion_uses_the_test_clock_and_yearly_domains(org_qc, customer, staff, catalogue):
    BillingSettings.objects.update_or_create(
        organisation=org_qc, defaults={"test_clock": datetime.date(2027, 2, 28)}
    )
    order = services.create_order(organisation=org_qc, customer=customer, actor=staff)
    services.add_order_line(
        order=order,
        product=catalogue["domain"],
        site=customer.sites.order_by("name").first(),
        quantity="1",
        actor=staff,
        description="cafebonjour.ca",
    )
    services.place_order(order=order, actor=staff)
    services.complete_order(order=order, actor=staff)
    sub = Subscription.objects.get(order_line__order=order)
    assert (sub.started_on, sub.period) == (datetime.date(2027, 2, 28), Subscription.Period.YEARLY)
    # The domain it names, expiring a year after its start.
    assert (sub.service.name, sub.service.expires_on) == ("cafebonjour.ca", datetime.date(2028, 2, 28))
    assert OrderCharge.objects.filter(order=order).count() == 0


@pytest.mark.parametrize(
    ("moves", "refused"),
    [
        ([], "ship_order"),
        ([], "complete_order"),
        (["place_order"], "place_order_on_cancelled"),
        (["cancel_order"], "place_order"),
        (["cancel_order"], "complete_order"),
        (["place_order", "ship_order"], "cancel_order"),
        (["place_order", "ship_order", "complete_order"], "cancel_order"),
    ],
)
def test_wrong_moves_are_refused_and_change_nothing(customer, staff, catalogue, moves, refused):
    order = full_order(customer, staff, catalogue)
    for move in moves:
        getattr(services, move)(order=order, actor=staff)
    if refused == "place_order_on_cancelled":
        services.cancel_order(order=order, actor=staff)
        refused = "place_order"
    order.refresh_from_db()
    state = (order.status, Invoice.objects.count(), AuditLog.objects.count(), SandboxCharge.objects.count())
    with pytest.raises(BusinessError) as error:
        getattr(services, refused)(order=order, actor=staff)
    assert error.value.error_code == ErrorCode.INVALID_STATE
    order.refresh_from_db()
    assert state == (
        order.status,
        Invoice.objects.count(),
        AuditLog.objects.count(),
        SandboxCharge.objects.count(),
    )


def test_an_empty_order_cannot_be_placed(customer, staff):
    order = services.create_order(organisation=customer.organisation, customer=customer, actor=staff)
    assert selectors.next_statuses(order) == [Order.Status.CANCELLED]
    with pytest.raises(BusinessError) as refused:
        services.place_order(order=order, actor=staff)
    assert "au moins une ligne" in refused.value.text()


def test_lines_are_editable_in_draft_only(customer, staff, catalogue):
    order = full_order(customer, staff, catalogue)
    line = order.lines.first()
    services.place_order(order=order, actor=staff)
    for call in (
        lambda: services.update_order_line(line=line, quantity="5", actor=staff),
        lambda: services.remove_order_line(line=line, actor=staff),
        lambda: services.add_order_line(
            order=order, product=catalogue["setup"], site=line.site, quantity="1", actor=staff
        ),
    ):
        with pytest.raises(BusinessError) as refused:
            call()
        assert refused.value.error_code == ErrorCode.INVALID_STATE
    assert order.lines.count() == 6


def test_a_site_of_another_customer_and_an_inactive_product_are_refused(org_qc, customer, staff, catalogue):
    other = customer_with_card(org_qc, name="Voisin", email="voisin@example.test", sites=1)
    order = services.create_order(organisation=org_qc, customer=customer, actor=staff)
    with pytest.raises(BusinessError) as refused:
        services.add_order_line(
            order=order, product=catalogue["line"], site=other.sites.get(), quantity="1", actor=staff
        )
    assert refused.value.error_code == ErrorCode.NOT_FOUND
    line = services.add_order_line(
        order=order, product=catalogue["line"], site=customer.sites.first(), quantity="1", actor=staff
    )
    with pytest.raises(BusinessError) as refused:
        services.update_order_line(line=line, site=other.sites.get(), actor=staff)
    assert refused.value.error_code == ErrorCode.NOT_FOUND
    line.refresh_from_db()
    assert line.site == customer.sites.first()
    services.remove_order_line(line=line, actor=staff)
    foreign_product = factories.product(factories.french_organisation(), sku="FR-1")
    with pytest.raises(BusinessError) as refused:
        services.add_order_line(
            order=order, product=foreign_product, site=customer.sites.first(), quantity="1", actor=staff
        )
    assert refused.value.error_code == ErrorCode.NOT_FOUND
    catalogue["line"].active = False
    catalogue["line"].save()
    with pytest.raises(BusinessError):
        services.add_order_line(
            order=order, product=catalogue["line"], site=customer.sites.first(), quantity="1", actor=staff
        )
    assert not order.lines.exists()


@pytest.mark.parametrize("quantity", ["0", "-1", "1e20", "NaN", "abc", "1.0001", "", "Infinity"])
def test_hostile_quantities_are_refused(customer, staff, catalogue, quantity):
    order = full_order(customer, staff, catalogue)
    line = order.lines.first()
    before = list(OrderLine.objects.order_by("pk").values())
    with pytest.raises(BusinessError):
        services.add_order_line(
            order=order, product=catalogue["line"], site=line.site, quantity=quantity, actor=staff
        )
    with pytest.raises(BusinessError):
        services.update_order_line(line=line, quantity=quantity, actor=staff)
    assert list(OrderLine.objects.order_by("pk").values()) == before


@pytest.mark.parametrize("price", ["-1", "1e20", "NaN", "abc", "0.001"])
def test_hostile_prices_are_refused(customer, staff, catalogue, price):
    order = full_order(customer, staff, catalogue)
    line = order.lines.first()
    before = list(OrderLine.objects.order_by("pk").values())
    with pytest.raises(BusinessError):
        services.add_order_line(
            order=order,
            product=catalogue["line"],
            site=line.site,
            quantity="1",
            unit_price=price,
            actor=staff,
        )
    with pytest.raises(BusinessError):
        services.update_order_line(line=line, unit_price=price, actor=staff)
    assert list(OrderLine.objects.order_by("pk").values()) == before


@pytest.mark.parametrize(
    "fields", [{"notes": "a\x00b"}, {"notes": "x" * 5001}, {"kind": "gratuit"}], ids=["nul", "long", "kind"]
)
def test_hostile_order_fields_are_refused_and_nothing_saved(customer, staff, fields):
    before = (Order.objects.count(), AuditLog.objects.count())
    with pytest.raises(BusinessError) as refused:
        services.create_order(organisation=customer.organisation, customer=customer, actor=staff, **fields)
    assert refused.value.error_code == ErrorCode.INVALID_INPUT
    assert (Order.objects.count(), AuditLog.objects.count()) == before


def test_a_nul_byte_in_a_line_description_is_refused(customer, staff, catalogue):
    order = services.create_order(organisation=customer.organisation, customer=customer, actor=staff)
    with pytest.raises(BusinessError):
        services.add_order_line(
            order=order,
            product=catalogue["line"],
            site=customer.sites.first(),
            quantity="1",
            description="Ligne\x00",
            actor=staff,
        )
    assert not order.lines.exists()


def test_a_read_only_staff_member_cannot_order(org_qc, customer):
    reader = factories.staff(org_qc, email="lecture@example.test", role="read_only")
    with pytest.raises(Exception) as refused:
        services.create_order(organisation=org_qc, customer=customer, actor=reader)
    assert "consultation" in str(refused.value)
    assert not Order.objects.exists()


def test_totals_and_listing(org_qc, customer, staff, catalogue):
    order = full_order(customer, staff, catalogue)
    assert selectors.order_totals(order) == {
        "one_time": Decimal("150.00"),
        "hardware": Decimal("360.00"),
        "upfront": Decimal("510.00"),
        "monthly": Decimal("90.00"),
        "yearly": Decimal("99.00"),
    }
    groups = selectors.order_lines_by_site(order)
    assert [(site.name, len(lines)) for site, lines in groups] == [("Site 1", 3), ("Site 2", 3)]
    other = customer_with_card(org_qc, name="Autre client", email="autre@example.test", sites=1)
    second = services.create_order(organisation=org_qc, customer=other, actor=staff, kind=Order.Kind.ADD_ON)
    services.cancel_order(order=second, actor=staff)
    assert list(selectors.orders_of(org_qc)) == [second, order]
    assert list(selectors.orders_of(org_qc, status=Order.Status.DRAFT)) == [order]
    assert list(selectors.orders_of(org_qc, customer=other)) == [second]
    assert list(selectors.orders_of(org_qc, q=order.number)) == [order]
    assert list(selectors.orders_of(org_qc, q="autre")) == [second]
    assert list(selectors.orders_of(factories.french_organisation())) == []


@pytest.mark.postgres
def test_concurrent_moves_invoice_and_charge_each_stage_once(monkeypatch):
    """Eight staff tabs place, then ship, the same order at once: one invoice and one charge a
    stage, and the provider is never called inside a transaction."""
    real_charge = SandboxProvider.charge
    in_transaction: list[bool] = []

    def charge(self, **kwargs):
        in_transaction.append(connection.in_atomic_block)
        return real_charge(self, **kwargs)

    monkeypatch.setattr(SandboxProvider, "charge", charge)
    org = factories.quebec_organisation("commandes-pg")
    owner = factories.staff(org)
    customer = customer_with_card(org)
    catalogue = {
        "setup": factories.product(org, sku="INST", price="50.00", kind=Product.Kind.ONE_TIME),
        "phone": factories.product(org, sku="TEL-HW", price="120.00", kind=Product.Kind.HARDWARE),
        "line": factories.product(org, sku="TEL-1", price="30.00", kind=Product.Kind.MONTHLY),
        "backup": factories.product(org, sku="BAK-Y", price="99.00", kind=Product.Kind.YEARLY),
    }
    order = full_order(customer, owner, catalogue)
    for move in (services.place_order, services.ship_order, services.complete_order):
        barrier = threading.Barrier(8)
        errors: list[BaseException] = []

        def call(move=move, barrier=barrier, errors=errors):
            try:
                barrier.wait()
                move(order=order, actor=owner)
            except BaseException as exc:
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=call) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
    assert OrderCharge.objects.filter(order=order).count() == 2
    assert Invoice.objects.filter(customer=customer).count() == 2
    assert SandboxCharge.objects.count() == 2
    assert Payment.objects.filter(customer=customer, status=Payment.Status.SUCCEEDED).count() == 2
    assert Subscription.objects.filter(customer=customer).count() == 3
    assert OutboundMessage.objects.filter(kind="invoice_sent", to=customer.email).count() == 2
    assert in_transaction == [False, False]
