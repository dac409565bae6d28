"""Changes to a subscription in the middle of a period: quantity, product, cancellation, pause.

The pricing rules are in ``change_plan`` (shared with the previews staff see before confirming).
Each service locks the subscription row, so two changes of one subscription apply one after the
other, and writes the prorated ``Adjustment`` rows the next billing run bills.

A pause holds the billing: the runs skip a paused subscription, and nothing is credited or
waived; once resumed, the next run bills every period due since. To stop the charges, cancel.
"""

from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from acquitte.catalog.models import Product
from acquitte.core.actors import Actor, actor_label
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.models import AuditAction
from acquitte.core.money import Amount
from acquitte.core.services import record_transition
from acquitte.core.tenancy import check_can_write

from ..change_plan import (
    CANCEL_AT_PERIOD_END,
    CANCEL_NOW,
    CHANGEABLE,
    PRODUCT,
    QUANTITY,
    ChangePlan,
    check_quantity,
    plan_cancellation,
    plan_product_change,
    plan_quantity_change,
)
from ..models import Adjustment, Subscription
from ..selectors import today_for

if TYPE_CHECKING:
    import datetime


def _lock(subscription: Subscription) -> Subscription:
    return (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("organisation", "product")
        .get(pk=subscription.pk)
    )


def _apply(plan: ChangePlan, subscription: Subscription, actor: Actor) -> list[int]:
    """Write the plan's adjustments; return the ids of the billed periods it corrects."""
    Adjustment.objects.bulk_create(
        Adjustment(
            organisation_id=subscription.organisation_id,
            subscription=subscription,
            product=planned.product,
            kind=planned.kind,
            description=planned.description,
            quantity=planned.quantity,
            unit_price=planned.unit_price,
            amount=planned.amount,
            period_start=planned.slice.start,
            period_end=planned.slice.end,
            corrects=planned.corrects,
            created_by=actor_label(actor)[:120],
        )
        for planned in plan.adjustments
    )
    return [billed.pk for billed in plan.corrected]


@transaction.atomic
def change_quantity(
    *,
    subscription: Subscription,
    quantity: Amount,
    actor: Actor,
    effective_on: "datetime.date | None" = None,
) -> Subscription:
    """The new quantity from ``effective_on`` (today by default); the same quantity changes nothing."""
    check_can_write(actor, subscription.organisation)
    locked = _lock(subscription)
    plan = plan_quantity_change(locked, quantity, on=effective_on, today=today_for(locked.organisation))
    new = check_quantity(quantity)
    if new == locked.quantity:
        return locked
    old = locked.quantity
    corrects = _apply(plan, locked, actor)
    locked.quantity = new
    locked.save(update_fields=["quantity"])
    record_transition(
        obj=locked,
        organisation=locked.organisation,
        actor=actor,
        action=AuditAction.UPDATE,
        detail={
            "change": QUANTITY,
            "effective_on": plan.effective_on.isoformat(),
            "from": str(old),
            "to": str(new),
            "corrects": corrects,
        },
    )
    return locked


@transaction.atomic
def change_product(
    *,
    subscription: Subscription,
    product: Product,
    actor: Actor,
    effective_on: "datetime.date | None" = None,
) -> Subscription:
    """Another product of the same period, at its catalogue price, from ``effective_on``."""
    check_can_write(actor, subscription.organisation)
    locked = _lock(subscription)
    plan = plan_product_change(locked, product, on=effective_on, today=today_for(locked.organisation))
    if product.pk == locked.product_id:
        return locked
    old = locked.product_id
    corrects = _apply(plan, locked, actor)
    locked.product = product
    locked.unit_price = product.unit_price
    locked.description = product.name[:500]
    locked.save(update_fields=["product", "unit_price", "description"])
    record_transition(
        obj=locked,
        organisation=locked.organisation,
        actor=actor,
        action=AuditAction.UPDATE,
        detail={
            "change": PRODUCT,
            "effective_on": plan.effective_on.isoformat(),
            "from": old,
            "to": product.pk,
            "unit_price": str(product.unit_price),
            "corrects": corrects,
        },
    )
    return locked


@transaction.atomic
def cancel_subscription(
    *,
    subscription: Subscription,
    actor: Actor,
    at_period_end: bool,
    effective_on: "datetime.date | None" = None,
) -> Subscription:
    """Cancel now (``effective_on``, today by default, is the last day of service; the billed days
    after it are credited; status cancelled) or at the end of the current period (no credit; the
    subscription stays active, billed up to its last day and not after)."""
    check_can_write(actor, subscription.organisation)
    locked = _lock(subscription)
    plan = plan_cancellation(
        locked, at_period_end=at_period_end, on=effective_on, today=today_for(locked.organisation)
    )
    before = locked.status
    corrects = _apply(plan, locked, actor)
    locked.ends_on = plan.ends_on
    locked.cancelled_at = timezone.now()
    if not at_period_end:
        locked.status = Subscription.Status.CANCELLED
    locked.save(update_fields=["ends_on", "cancelled_at", "status"])
    record_transition(
        obj=locked,
        organisation=locked.organisation,
        actor=actor,
        action=AuditAction.UPDATE if at_period_end else AuditAction.TRANSITION,
        from_state=before,
        to_state=locked.status,
        detail={
            "change": CANCEL_AT_PERIOD_END if at_period_end else CANCEL_NOW,
            "effective_on": plan.effective_on.isoformat(),
            "ends_on": locked.ends_on.isoformat() if locked.ends_on else None,
            "corrects": corrects,
        },
    )
    return locked


def _move(
    subscription: Subscription,
    actor: Actor,
    source: Subscription.Status,
    target: Subscription.Status,
    refusal: str,
) -> Subscription:
    locked = _lock(subscription)
    if locked.status != source:
        raise BusinessError(refusal, code=ErrorCode.INVALID_STATE)
    locked.status = target
    locked.save(update_fields=["status"])
    record_transition(
        obj=locked,
        organisation=locked.organisation,
        actor=actor,
        action=AuditAction.TRANSITION,
        from_state=source,
        to_state=target,
    )
    return locked


@transaction.atomic
def pause_subscription(*, subscription: Subscription, actor: Actor) -> Subscription:
    """Hold the billing of an active subscription (see the module docstring)."""
    check_can_write(actor, subscription.organisation)
    return _move(
        subscription,
        actor,
        Subscription.Status.ACTIVE,
        Subscription.Status.PAUSED,
        _("Seul un abonnement actif peut être mis en pause."),
    )


@transaction.atomic
def resume_subscription(*, subscription: Subscription, actor: Actor) -> Subscription:
    """Bill a paused subscription again, from the next run on."""
    check_can_write(actor, subscription.organisation)
    return _move(
        subscription,
        actor,
        Subscription.Status.PAUSED,
        Subscription.Status.ACTIVE,
        _("Seul un abonnement en pause peut être repris."),
    )


@transaction.atomic
def follow_catalogue_price(*, product: Product, actor: Actor) -> int:
    """Give the product's current price to its active and paused subscriptions, for the periods not
    yet billed (a billed period keeps its price in its ``BilledPeriod``). Returns how many changed.

    One set-based update and one audit row on the product: a product may have many subscriptions."""
    check_can_write(actor, product.organisation)
    price = Product.objects.values_list("unit_price", flat=True).get(pk=product.pk)
    changed = (
        Subscription.objects.filter(organisation_id=product.organisation_id, product_id=product.pk)
        .filter(status__in=CHANGEABLE)
        .exclude(unit_price=price)
        .update(unit_price=price)
    )
    if changed:
        record_transition(
            obj=product,
            organisation=product.organisation,
            actor=actor,
            action=AuditAction.UPDATE,
            detail={"subscriptions_price": str(price), "subscriptions": changed},
        )
    return changed
