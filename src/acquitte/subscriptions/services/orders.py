"""Orders (seed 001): their lines, their moves, the one-time charges they invoice, the subscriptions they start.

Staff move an order draft → in progress → shipped (only with hardware) → completed, or cancel it
from draft or in progress; ``selectors.ORDER_MOVES`` is the one table of moves. Placing invoices the
one-time lines, shipping the hardware: each stage's invoice is written with its ``OrderCharge``
(unique per order and stage) in the transaction that moves the order, and charged to the default
method after commit, outside any transaction, with the key ``order-<pk>-<stage>``. A repeated or
retried move, and every later move, finds the ``OrderCharge`` rows and only runs their charges again
with the same keys, which return the first payments: one invoice and one charge per stage, whatever
is retried, and a charge lost to a crash after commit is made by the next call.

Order numbers are ``CMD-`` and the primary key (six digits at least): unique per organisation with no
series lock, since French law asks gapless numbers of invoices, not of orders, and a rolled-back
order may leave a gap.
"""

import logging
import re
from decimal import Decimal
from typing import TYPE_CHECKING, TypedDict

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from acquitte.catalog.models import Product
from acquitte.core.actors import Actor, Person
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.models import AuditAction
from acquitte.core.money import Amount
from acquitte.core.params import check_text
from acquitte.core.services import record_transition
from acquitte.core.tenancy import check_can_write, check_same_organisation
from acquitte.documents.services import money_text, public_url, send_invoice
from acquitte.invoicing.models import Invoice
from acquitte.invoicing.services import LineInput, create_invoice, finalise_invoice, line_fields
from acquitte.notifications.models import OutboundMessage
from acquitte.notifications.services import queue_email
from acquitte.payments.models import ChargeAttempt, Payment, PaymentMethod
from acquitte.payments.selectors import valid_methods
from acquitte.payments.services import pay_invoice

from ..models import RECURRING_KINDS, Order, OrderCharge, OrderLine, Service, Subscription
from ..periods import anniversary
from ..selectors import PLACED_KINDS, SHIPPED_KINDS, order_has_hardware, order_move_allowed, today_for

if TYPE_CHECKING:
    from acquitte.customers.models import Customer, Organisation, Site

logger = logging.getLogger(__name__)

#: The longest notes kept on an order: longer is refused, not cut.
MAX_NOTES = 5000
MAX_DESCRIPTION = 500
#: What the customer is told when an order's charge is declined (one message per stage).
DECLINED_KIND = "order_charge_declined"
_STAGE_KINDS = {OrderCharge.Stage.PLACED: PLACED_KINDS, OrderCharge.Stage.SHIPPED: SHIPPED_KINDS}


def _locked(order: Order) -> Order:
    return (
        Order.objects.select_for_update(of=("self",))
        .select_related("organisation", "customer")
        .get(pk=order.pk)
    )


def _require_draft(order: Order) -> None:
    if order.status != Order.Status.DRAFT:
        raise BusinessError(
            _("Seule une commande en brouillon peut être modifiée."), code=ErrorCode.INVALID_STATE
        )


def check_can_order(customer: "Customer") -> None:
    """Seed 001: a valid card or bank debit on file before any order."""
    if not valid_methods(customer).exists():
        raise BusinessError(
            _(
                "Ce client n'a ni carte de crédit ni prélèvement automatique valable : "
                "ajoutez un mode de paiement avant de passer la commande."
            ),
            code=ErrorCode.PAYMENT_METHOD_INVALID,
        )


def _audit(order: Order, actor: Actor, action: AuditAction, from_state: str = "") -> None:
    record_transition(
        obj=order,
        organisation=order.organisation,
        actor=actor,
        action=action,
        from_state=from_state,
        to_state=order.status,
    )


@transaction.atomic
def create_order(
    *,
    organisation: "Organisation",
    customer: "Customer",
    actor: Actor,
    kind: Order.Kind | str = Order.Kind.NEW,
    notes: str = "",
) -> Order:
    """Open a draft order for a customer who has a valid method on file (refused otherwise)."""
    check_can_write(actor, organisation)
    check_same_organisation(organisation, customer)
    if kind not in Order.Kind.values:
        raise BusinessError(_("Type de commande inconnu."), code=ErrorCode.INVALID_INPUT)
    notes = (notes or "").strip()
    check_text(notes, max_length=MAX_NOTES, label=_("Les notes"))
    check_can_order(customer)
    order = Order.objects.create(
        organisation=organisation,
        customer=customer,
        kind=kind,
        notes=notes,
        created_by_id=actor.pk if isinstance(actor, Person) else None,
    )
    order.number = f"CMD-{order.pk:06d}"
    order.save(update_fields=["number"])
    _audit(order, actor, AuditAction.CREATE)
    return order


class _LineFields(TypedDict):
    product: Product
    site: "Site"
    description: str
    quantity: Decimal
    unit_price: Decimal


def _checked_line(
    order: Order, *, product: Product, site: "Site", quantity: Amount, unit_price: Amount, description: str
) -> _LineFields:
    """The stored fields of a line, checked by the invoicing line rules (the same limits as an invoice's)."""
    check_same_organisation(order.organisation, product)
    if site.customer_id != order.customer_id:
        raise BusinessError(_("Objet introuvable."), code=ErrorCode.NOT_FOUND)
    if not site.active:
        raise BusinessError(_("Ce site n'est plus actif."), code=ErrorCode.INVALID_STATE)
    if not product.active:
        raise BusinessError(_("Ce produit n'est plus proposé."), code=ErrorCode.INVALID_STATE)
    description = (description or "").strip() or product.name
    check_text(description, max_length=MAX_DESCRIPTION, label=_("La description"))
    if product.kind == Product.Kind.DOMAIN:
        description = domain_name(description)
        _check_domain_free(order.organisation, description)
    fields = line_fields(
        organisation=order.organisation,
        customer=order.customer,
        data=LineInput(
            description=description,
            quantity=quantity,
            unit_price=unit_price,
            tax_category=product.tax_category,
            product=product,
        ),
    )
    return {
        "product": product,
        "site": site,
        "description": fields["description"],
        "quantity": fields["quantity"],
        "unit_price": fields["unit_price"],
    }


@transaction.atomic
def add_order_line(
    *,
    order: Order,
    product: Product,
    site: "Site",
    quantity: Amount,
    actor: Actor,
    unit_price: Amount | None = None,
    description: str = "",
) -> OrderLine:
    """Add a catalogue product on one of the customer's sites, at its price unless one is given."""
    check_can_write(actor, order.organisation)
    order = _locked(order)
    _require_draft(order)
    fields = _checked_line(
        order,
        product=product,
        site=site,
        quantity=quantity,
        unit_price=product.unit_price if unit_price is None else unit_price,
        description=description,
    )
    last = order.lines.aggregate(last=Max("position"))["last"] or 0
    return OrderLine.objects.create(order=order, position=last + 1, **fields)


@transaction.atomic
def update_order_line(
    *,
    line: OrderLine,
    actor: Actor,
    quantity: Amount | None = None,
    site: "Site | None" = None,
    unit_price: Amount | None = None,
) -> OrderLine:
    """Change a draft line's quantity, site or price."""
    check_can_write(actor, line.order.organisation)
    order = _locked(line.order)
    _require_draft(order)
    line = OrderLine.objects.select_related("product", "site").get(pk=line.pk, order=order)
    fields = _checked_line(
        order,
        product=line.product,
        site=line.site if site is None else site,
        quantity=line.quantity if quantity is None else quantity,
        unit_price=line.unit_price if unit_price is None else unit_price,
        description=line.description,
    )
    line.site, line.quantity, line.unit_price = fields["site"], fields["quantity"], fields["unit_price"]
    line.save(update_fields=["site", "quantity", "unit_price"])
    return line


@transaction.atomic
def remove_order_line(*, line: OrderLine, actor: Actor) -> None:
    check_can_write(actor, line.order.organisation)
    order = _locked(line.order)
    _require_draft(order)
    OrderLine.objects.filter(pk=line.pk, order=order).delete()


def _refuse_move(order: Order, to: Order.Status) -> BusinessError:
    current = Order.Status(order.status)
    if to == Order.Status.IN_PROGRESS and current == Order.Status.DRAFT:
        message = _("Ajoutez au moins une ligne avant de mettre la commande en cours.")
    elif to == Order.Status.SHIPPED and current == Order.Status.IN_PROGRESS:
        message = _("Cette commande ne contient pas de matériel à expédier.")
    elif to == Order.Status.COMPLETED and current == Order.Status.IN_PROGRESS:
        message = _("Expédiez d'abord le matériel de cette commande.")
    else:
        message = _("Une commande « %(current)s » ne peut pas passer à « %(to)s ».") % {
            "current": current.label,
            "to": to.label,
        }
    return BusinessError(message, code=ErrorCode.INVALID_STATE)


def _move(order: Order, to: Order.Status, actor: Actor) -> None:
    """Check the move against the table, then record it on the (locked) order."""
    has_lines = order.lines.exists()
    current = Order.Status(order.status)
    allowed = order_move_allowed(
        current, to, has_lines=has_lines, has_hardware=has_lines and order_has_hardware(order)
    )
    if not allowed:
        raise _refuse_move(order, to)
    now = timezone.now()
    stamp = {
        Order.Status.IN_PROGRESS: "placed_at",
        Order.Status.SHIPPED: "shipped_at",
        Order.Status.COMPLETED: "completed_at",
        Order.Status.CANCELLED: "cancelled_at",
    }[to]
    setattr(order, stamp, now)
    order.status = to
    order.save(update_fields=["status", stamp, "completed_on"])
    _audit(order, actor, AuditAction.TRANSITION, from_state=current)


def _invoice_stage(order: Order, stage: OrderCharge.Stage, actor: Actor) -> OrderCharge | None:
    """The stage's lines as one finalised invoice and its ``OrderCharge`` (none without such lines)."""
    lines = list(
        order.lines.filter(product__kind__in=_STAGE_KINDS[stage])
        .select_related("product", "site")
        .order_by("site__name", "position", "id")
    )
    if not lines:
        return None
    invoice = create_invoice(
        organisation=order.organisation,
        customer=order.customer,
        actor=actor,
        online_payment=True,
        lines=[
            LineInput(
                description=_("%(description)s — site : %(site)s")
                % {"description": line.description, "site": line.site.name},
                quantity=line.quantity,
                unit_price=line.unit_price,
                tax_category=line.product.tax_category,
                unit=line.product.unit,
                product=line.product,
                source=line,
            )
            for line in lines
        ],
        notes=_("Commande %(number)s : %(stage)s.") % {"number": order.number, "stage": stage.label},
    )
    invoice = finalise_invoice(invoice=invoice, actor=actor)
    return OrderCharge.objects.create(
        organisation=order.organisation, order=order, stage=stage, invoice=invoice
    )


def _charge_key(order: Order, stage: OrderCharge.Stage) -> str:
    return f"order-{order.pk}-{stage}"


def _default_method(customer: "Customer") -> PaymentMethod | None:
    methods = valid_methods(customer)
    return methods.filter(is_default=True).first() or methods.first()


def _charge_stage(order: Order, stage: OrderCharge.Stage, actor: Actor) -> Payment | None:
    """Charge a stage's invoice after commit, outside any transaction. Once a charge was made with
    the stage's key, its payment is the answer (``pay_invoice`` would return it too, without calling
    the provider). A declined or refused charge leaves the invoice open, to be paid through its link
    (retries belong to dunning); the order has moved all the same."""
    charge = (
        OrderCharge.objects.select_related("invoice__customer", "invoice__organisation")
        .filter(order=order, stage=stage)
        .first()
    )
    if charge is None:
        return None
    key = _charge_key(order, stage)
    invoice = charge.invoice
    attempt = ChargeAttempt.objects.select_related("payment").filter(idempotency_key=key).first()
    if attempt is not None:
        payment = attempt.payment
    else:
        method = _default_method(invoice.customer)
        if invoice.status != Invoice.Status.OPEN or invoice.amount_due <= 0 or method is None:
            return None
        try:
            payment = pay_invoice(invoice=invoice, payment_method=method, idempotency_key=key, actor=actor)
        except BusinessError as refused:
            logger.warning("order %s %s not charged: %s", order.pk, stage, refused.text())
            return None
    _tell_declined(charge, payment, actor)
    return payment


def _charge_stages(order: Order, actor: Actor) -> None:
    for stage in OrderCharge.Stage:
        _charge_stage(order, stage, actor)


def _send(invoice: Invoice, actor: Actor) -> None:
    """Seed 001: an invoice for each order with one-time charges, e-mailed with its link in the
    transaction that issues it (the outbox delivers it after commit, once)."""
    try:
        send_invoice(invoice=invoice, actor=actor, sms=False)
    except BusinessError as refused:  # no e-mail on file: the order's page shows the invoice
        logger.warning("order invoice %s not sent: %s", invoice.pk, refused.text())


@transaction.atomic
def _tell_declined(charge: OrderCharge, payment: Payment, actor: Actor) -> None:
    """A declined charge: the customer is told once per stage, under the charge's row lock, with the
    invoice's link (staff were told by the payments app when it applied the outcome)."""
    charge = OrderCharge.objects.select_for_update(of=("self",)).select_related("invoice").get(pk=charge.pk)
    payment = Payment.objects.select_related("payment_method").get(pk=payment.pk)
    if payment.status not in (Payment.Status.FAILED, Payment.Status.CANCELED):
        return
    invoice = charge.invoice
    if OutboundMessage.objects.filter(
        organisation_id=charge.organisation_id, reference=invoice.number, kind=DECLINED_KIND
    ).exists():
        return
    if invoice.customer.email:
        _send_declined(invoice, payment, actor)


def _send_declined(invoice: Invoice, payment: Payment, actor: Actor) -> None:
    customer, organisation = invoice.customer, invoice.organisation
    method = payment.payment_method
    with translation.override(customer.language):
        subject = _("Paiement refusé : facture %(number)s de %(org)s") % {
            "number": invoice.number,
            "org": organisation.name,
        }
        body = _(
            "Bonjour %(name)s,\n\nLe paiement de la facture %(number)s (%(total)s) par "
            "%(method)s a été refusé : %(reason)s\n\nLa facture reste à payer ; vous pouvez la régler "
            "en ligne en suivant ce lien :\n%(url)s\n\nVous pouvez aussi choisir un autre mode de paiement "
            "par défaut dans votre espace client :\n%(billing)s\n\n%(org)s"
        ) % {
            "name": customer.name,
            "number": invoice.number,
            "total": money_text(
                invoice.amount_due, invoice.currency, lang=customer.language, country=organisation.country
            ),
            "method": str(method) if method is not None else _("votre mode de paiement"),
            "reason": payment.failure_message,
            "url": public_url(invoice),
            "billing": settings.PUBLIC_BASE_URL.rstrip("/") + reverse("portal:billing"),
            "org": organisation.name,
        }
    queue_email(
        organisation=organisation,
        actor=actor,
        to=customer.email,
        kind=DECLINED_KIND,
        subject=subject,
        body=body,
        reference=invoice.number,
        link=public_url(invoice),
    )


def _stage_move(
    order: Order, *, to: Order.Status, stage: OrderCharge.Stage, done: str, actor: Actor
) -> Order:
    """Move the order and write the stage's invoice in one transaction, then charge it.

    An order already past the move (``done`` set) is a repeat: nothing moves, and the charges are
    run again with their keys, which find the first payments.
    """
    check_can_write(actor, order.organisation)
    with transaction.atomic():
        order = _locked(order)
        repeat = getattr(order, done) is not None and order.status != Order.Status.CANCELLED
        if not repeat:
            if to == Order.Status.IN_PROGRESS:
                check_can_order(order.customer)
            _move(order, to, actor)
            charge = _invoice_stage(order, stage, actor)
            if charge is not None:
                _send(charge.invoice, actor)
    _charge_stages(order, actor)
    return order


def place_order(*, order: Order, actor: Actor) -> Order:
    """Draft → in progress: the one-time lines are invoiced and charged to the default method."""
    return _stage_move(
        order, to=Order.Status.IN_PROGRESS, stage=OrderCharge.Stage.PLACED, done="placed_at", actor=actor
    )


def ship_order(*, order: Order, actor: Actor) -> Order:
    """In progress → shipped (hardware only): the hardware is invoiced and charged."""
    return _stage_move(
        order, to=Order.Status.SHIPPED, stage=OrderCharge.Stage.SHIPPED, done="shipped_at", actor=actor
    )


def complete_order(*, order: Order, actor: Actor) -> Order:
    """→ completed: one subscription per recurring line, at the line's price, from today (the
    organisation's date, or its test clock). Completing again starts nothing more."""
    check_can_write(actor, order.organisation)
    with transaction.atomic():
        order = _locked(order)
        if order.status != Order.Status.COMPLETED:
            _start_subscriptions(order, actor)
    _charge_stages(order, actor)
    return order


def _start_subscriptions(order: Order, actor: Actor) -> None:
    """The subscriptions of the recurring lines; a domain or a yearly service gets its ``Service``,
    which expires a year after its start (the renewal run invoices the years after the first)."""
    order.completed_on = today_for(order.organisation)
    _move(order, Order.Status.COMPLETED, actor)
    lines = list(order.lines.filter(product__kind__in=list(RECURRING_KINDS)).select_related("product"))
    subscriptions = Subscription.objects.bulk_create(
        Subscription(
            organisation=order.organisation,
            customer=order.customer,
            site=line.site,
            product=line.product,
            order_line=line,
            description=line.description,
            quantity=line.quantity,
            unit_price=line.unit_price,
            period=Subscription.Period(RECURRING_KINDS[Product.Kind(line.product.kind)]),
            started_on=order.completed_on,
        )
        for line in lines
    )
    services = []
    for line, subscription in zip(lines, subscriptions, strict=True):
        kind = SERVICE_KINDS.get(Product.Kind(line.product.kind))
        if kind is None:
            continue
        if kind == Service.Kind.DOMAIN:
            _check_domain_free(order.organisation, line.description)
        services.append(
            Service(
                organisation=order.organisation,
                customer=order.customer,
                subscription=subscription,
                kind=kind,
                name=line.description,
                expires_on=anniversary(order.completed_on, 1),
            )
        )
    Service.objects.bulk_create(services)


#: The catalogue kinds whose subscriptions are services renewed on their expiry date (seed 002).
SERVICE_KINDS = {Product.Kind.DOMAIN: Service.Kind.DOMAIN, Product.Kind.YEARLY: Service.Kind.SERVICE}
#: A label of a host name: letters, digits and inner hyphens, 1 to 63 characters (RFC 1035, IDNA).
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def domain_name(text: str) -> str:
    """``text`` as a domain name: lower case, IDNA (``café.fr`` → ``xn--caf-dma.fr``), at least two
    labels of 1 to 63 characters, 253 at most in all; a clear error otherwise."""
    refused = BusinessError(
        _("« %(name)s » n'est pas un nom de domaine valable (par exemple : exemple.com).")
        % {"name": text[:80]},
        code=ErrorCode.INVALID_INPUT,
    )
    name = text.strip().rstrip(".").lower()
    try:
        name = name.encode("idna").decode("ascii")
    except UnicodeError:
        raise refused from None
    labels = name.split(".")
    if len(labels) < 2 or len(name) > 253 or labels[-1].isdigit():
        raise refused
    if not all(_LABEL.match(label) for label in labels):
        raise refused
    return name


def _check_domain_free(organisation: "Organisation", name: str) -> None:
    """A domain is one service of the organisation until it is terminated (``service_domain_once``)."""
    taken = Service.objects.filter(organisation=organisation, kind=Service.Kind.DOMAIN, name=name).exclude(
        status=Service.Status.TERMINATED
    )
    if taken.exists():
        raise BusinessError(
            _("Le nom de domaine %(name)s est déjà un service de cette organisation.") % {"name": name},
            code=ErrorCode.DUPLICATE,
        )


@transaction.atomic
def cancel_order(*, order: Order, actor: Actor) -> Order:
    """Draft or in progress → cancelled. An invoice already issued at placing stays: a refund is a
    credit note staff decide on. Cancelling again changes nothing."""
    check_can_write(actor, order.organisation)
    order = _locked(order)
    if order.status == Order.Status.CANCELLED:
        return order
    _move(order, Order.Status.CANCELLED, actor)
    return order
