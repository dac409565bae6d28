"""How a change in the middle of a period is priced: one computation for the preview staff see
before confirming (``selectors.preview_*``) and for the adjustments the service writes
(``services.changes``), so that the two can never disagree. Reads only.

Rules:

- A change takes effect on a day ``d`` (today by default): not before the subscription's start,
  not before a change already recorded, not after the end of the current period or the
  subscription's last day. So changes apply in date order, and the subscription's quantity and
  product are those in force from the last change on.
- If a billed period (a ``BilledPeriod``) covers days from ``d`` on, those days were billed at the
  old terms: an ``Adjustment`` charges (increase) or credits (decrease) the difference for them,
  priced by the day with ``periods.prorated_unit_price``. A period not yet billed needs none: the
  next run bills it on the new terms.
- A billed period keeps the price it was billed at, whatever the catalogue does since; after a
  product change in it, the new product's price (the change's audit row records both the price and
  the billed periods it corrected).
- A change of product credits the old product and charges the new one for the rest of the billed
  period (nothing when both come to the same amount).
- Cancelling now: ``d`` is the last day of service; the billed days after it are credited, and the
  subscription is cancelled. Cancelling at the end of the period: the last day of service is the
  end of the period that holds ``d``; nothing is credited, the subscription stays active and is
  billed up to that day and not after (``periods.due_slices`` stops at ``ends_on``).
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from acquitte.catalog.models import Product
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.models import AuditLog
from acquitte.core.money import MAX_AMOUNT, ZERO, Amount, round_money, to_decimal
from acquitte.invoicing.services import MAX_QUANTITY

from .models import RECURRING_KINDS, Adjustment, BilledPeriod, Subscription
from .periods import Slice, current_period, prorated_unit_price

#: What ``detail["change"]`` says in a change's audit row.
QUANTITY, PRODUCT, CANCEL_NOW, CANCEL_AT_PERIOD_END = (
    "quantity",
    "product",
    "cancel_now",
    "cancel_at_period_end",
)
CHANGEABLE = (Subscription.Status.ACTIVE, Subscription.Status.PAUSED)


@dataclass(frozen=True)
class ChangePreview:
    """What a change comes to: a charge, a credit or nothing (``kind`` None), for ``days`` of the
    period ``period_start``–``period_end`` (``period_days`` long)."""

    kind: Adjustment.Kind | None
    amount: Decimal
    days: int
    period_days: int
    period_start: datetime.date
    period_end: datetime.date


@dataclass(frozen=True)
class PlannedAdjustment:
    kind: Adjustment.Kind
    #: What the line bills or credits, and so its tax: a product change credits the old product.
    product: Product
    corrects: BilledPeriod
    slice: Slice
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    description: str


@dataclass(frozen=True)
class ChangePlan:
    effective_on: datetime.date
    #: The new last day of service, for a cancellation.
    ends_on: datetime.date | None
    adjustments: list[PlannedAdjustment]
    #: The billed periods the change corrects (recorded in the audit row, whatever the amounts).
    corrected: list[BilledPeriod]
    preview: ChangePreview


def _date_error(message: str) -> BusinessError:
    return BusinessError(message, code=ErrorCode.INVALID_DATE)


def _day(value: datetime.date) -> str:
    return date_format(value, "SHORT_DATE_FORMAT")


def change_history(subscription: Subscription) -> list[dict[str, object]]:
    """The details of the changes recorded for this subscription, oldest first."""
    rows = AuditLog.objects.filter(
        content_type=ContentType.objects.get_for_model(Subscription), object_id=str(subscription.pk)
    ).order_by("at", "id")
    changes = {QUANTITY, PRODUCT, CANCEL_NOW, CANCEL_AT_PERIOD_END}
    return [
        row.detail
        for row in rows
        if isinstance(row.detail, dict)
        and row.detail.get("change") in changes
        and "effective_on" in row.detail
    ]


def check_changeable(subscription: Subscription) -> None:
    if subscription.status not in CHANGEABLE:
        raise BusinessError(
            _("Cet abonnement est résilié ou terminé : il ne peut plus être modifié."),
            code=ErrorCode.INVALID_STATE,
        )


def effective_date(
    subscription: Subscription,
    on: datetime.date | None,
    today: datetime.date,
    history: list[dict[str, object]],
) -> datetime.date:
    """The day a change takes effect, checked against the rules of the module docstring."""
    day = today if on is None else on
    if not isinstance(day, datetime.date) or isinstance(day, datetime.datetime):
        raise _date_error(_("La date d'effet n'est pas une date valide."))
    if day < subscription.started_on:
        raise _date_error(
            _("La date d'effet ne peut pas précéder le début de l'abonnement (%(date)s).")
            % {"date": _day(subscription.started_on)}
        )
    last = max((str(d["effective_on"]) for d in history), default="")
    if last and day.isoformat() < last:
        raise _date_error(
            _("Une modification prend déjà effet le %(date)s : la date d'effet ne peut pas la précéder.")
            % {"date": _day(datetime.date.fromisoformat(last))}
        )
    _start, period_end = current_period(
        period=subscription.period, started_on=subscription.started_on, on=today
    )
    if day > period_end:
        raise _date_error(
            _("La date d'effet doit tomber au plus tard à la fin de la période en cours (%(date)s).")
            % {"date": _day(period_end)}
        )
    if subscription.ends_on is not None and day > subscription.ends_on:
        raise _date_error(
            _("L'abonnement se termine le %(date)s : la date d'effet ne peut pas être plus tard.")
            % {"date": _day(subscription.ends_on)}
        )
    return day


def check_quantity(value: Amount) -> Decimal:
    quantity = to_decimal(value)
    if quantity <= 0:
        raise BusinessError(_("La quantité doit être positive."), code=ErrorCode.INVALID_INPUT)
    if quantity > MAX_QUANTITY or quantity != quantity.quantize(Decimal("0.001")):
        raise BusinessError(_("Quantité invalide (au plus 3 décimales)."), code=ErrorCode.INVALID_INPUT)
    return quantity


def _check_line_amount(quantity: Decimal, unit_price: Decimal) -> None:
    if round_money(quantity * unit_price) > MAX_AMOUNT:
        raise BusinessError(
            _("Le montant d'une période dépasserait %(max)s.") % {"max": MAX_AMOUNT},
            code=ErrorCode.INVALID_AMOUNT,
        )


def check_product(subscription: Subscription, product: Product) -> None:
    """Another recurring product of the same organisation, period and currency, still sold."""
    if product.organisation_id != subscription.organisation_id:
        raise BusinessError(_("Objet introuvable."), code=ErrorCode.NOT_FOUND)
    if RECURRING_KINDS.get(Product.Kind(product.kind)) != subscription.period:
        raise BusinessError(
            _("Choisissez un service récurrent de même périodicité (%(period)s).")
            % {"period": subscription.get_period_display()},
            code=ErrorCode.INVALID_INPUT,
        )
    if not product.active:
        raise BusinessError(_("Ce produit n'est plus au catalogue."), code=ErrorCode.INVALID_INPUT)
    if product.currency != subscription.product.currency:
        raise BusinessError(_("Ce produit n'est pas dans la même devise."), code=ErrorCode.CURRENCY_MISMATCH)


def _billed_from(subscription: Subscription, first_day: datetime.date) -> list[tuple[BilledPeriod, Slice]]:
    """The billed periods that hold days from ``first_day`` on, with the slice of those days."""
    found = []
    for billed in BilledPeriod.objects.filter(subscription=subscription, period_end__gte=first_day).order_by(
        "period_start"
    ):
        period_start, period_end = current_period(
            period=subscription.period, started_on=subscription.started_on, on=billed.period_start
        )
        start = max(first_day, billed.period_start)
        found.append(
            (
                billed,
                Slice(start=start, end=billed.period_end, period_start=period_start, period_end=period_end),
            )
        )
    return found


def _price_in_force(billed: BilledPeriod, history: list[dict[str, object]]) -> Decimal:
    price = billed.unit_price
    for detail in history:
        corrected = detail.get("corrects")
        if detail.get("change") == PRODUCT and isinstance(corrected, list) and billed.pk in corrected:
            price = Decimal(str(detail["unit_price"]))
    return price


def _planned(
    kind: Adjustment.Kind,
    product: Product,
    billed: BilledPeriod,
    part: Slice,
    quantity: Decimal,
    price: Decimal,
    text: str,
) -> PlannedAdjustment | None:
    unit_price = prorated_unit_price(price, part)
    amount = round_money(quantity * unit_price)
    if amount <= 0:
        return None
    description = _("%(change)s, du %(start)s au %(end)s (prorata %(days)s/%(period_days)s jours)") % {
        "change": text,
        "start": _day(part.start),
        "end": _day(part.end),
        "days": part.days,
        "period_days": part.period_days,
    }
    return PlannedAdjustment(
        kind=kind,
        product=product,
        corrects=billed,
        slice=part,
        quantity=quantity,
        unit_price=unit_price,
        amount=amount,
        description=description[:500],
    )


def _plan(
    subscription: Subscription,
    day: datetime.date,
    first_day: datetime.date,
    adjustments: list[PlannedAdjustment],
    corrected: list[BilledPeriod],
    ends_on: datetime.date | None = None,
) -> ChangePlan:
    net = sum((a.amount if a.kind == Adjustment.Kind.CHARGE else -a.amount for a in adjustments), ZERO)
    kind = Adjustment.Kind.CHARGE if net > 0 else Adjustment.Kind.CREDIT if net < 0 else None
    if adjustments:
        part = adjustments[0].slice
        start, end, days = part.period_start, part.period_end, part.days
    else:
        start, end = current_period(period=subscription.period, started_on=subscription.started_on, on=day)
        last = end if subscription.ends_on is None else min(end, subscription.ends_on)
        days = max(0, (last - first_day).days + 1)
    preview = ChangePreview(
        kind=kind,
        amount=abs(net),
        days=days,
        period_days=(end - start).days + 1,
        period_start=start,
        period_end=end,
    )
    return ChangePlan(
        effective_on=day, ends_on=ends_on, adjustments=adjustments, corrected=corrected, preview=preview
    )


def _quantity_text(value: Decimal) -> str:
    return f"{value.normalize():f}"


def plan_quantity_change(
    subscription: Subscription, quantity: Amount, *, on: datetime.date | None, today: datetime.date
) -> ChangePlan:
    check_changeable(subscription)
    new = check_quantity(quantity)
    _check_line_amount(new, subscription.unit_price)
    history = change_history(subscription)
    day = effective_date(subscription, on, today, history)
    delta = new - subscription.quantity
    kind = Adjustment.Kind.CHARGE if delta > 0 else Adjustment.Kind.CREDIT
    text = _("%(service)s : quantité %(old)s → %(new)s") % {
        "service": subscription.description,
        "old": _quantity_text(subscription.quantity),
        "new": _quantity_text(new),
    }
    billed = _billed_from(subscription, day)
    product = subscription.product
    planned = [
        _planned(kind, product, b, part, abs(delta), _price_in_force(b, history), text) for b, part in billed
    ]
    return _plan(subscription, day, day, [p for p in planned if p], [b for b, _part in billed])


def plan_product_change(
    subscription: Subscription, product: Product, *, on: datetime.date | None, today: datetime.date
) -> ChangePlan:
    check_changeable(subscription)
    check_product(subscription, product)
    _check_line_amount(subscription.quantity, product.unit_price)
    history = change_history(subscription)
    day = effective_date(subscription, on, today, history)
    names = {"old": subscription.description, "new": product.name}
    credit_text = _("%(old)s : remplacé par %(new)s") % names
    charge_text = _("%(new)s : remplace %(old)s") % names
    billed = _billed_from(subscription, day)
    planned: list[PlannedAdjustment] = []
    for b, part in billed:
        credit = _planned(
            Adjustment.Kind.CREDIT,
            subscription.product,
            b,
            part,
            subscription.quantity,
            _price_in_force(b, history),
            credit_text,
        )
        charge = _planned(
            Adjustment.Kind.CHARGE, product, b, part, subscription.quantity, product.unit_price, charge_text
        )
        if (credit.amount if credit else ZERO) != (charge.amount if charge else ZERO):
            planned += [p for p in (credit, charge) if p]
    return _plan(subscription, day, day, planned, [b for b, _part in billed])


def plan_cancellation(
    subscription: Subscription, *, at_period_end: bool, on: datetime.date | None, today: datetime.date
) -> ChangePlan:
    """``on`` is the last day of service when cancelling now; any day of the period to end otherwise."""
    check_changeable(subscription)
    history = change_history(subscription)
    day = effective_date(subscription, on, today, history)
    if at_period_end:
        _start, end = current_period(period=subscription.period, started_on=subscription.started_on, on=day)
        if subscription.ends_on is not None and subscription.ends_on <= end:
            raise BusinessError(
                _("La résiliation est déjà prévue : le service se termine le %(date)s.")
                % {"date": _day(subscription.ends_on)},
                code=ErrorCode.INVALID_STATE,
            )
        return _plan(subscription, day, end + datetime.timedelta(days=1), [], [], ends_on=end)
    first_day = day + datetime.timedelta(days=1)
    text = _("%(service)s : résiliation") % {"service": subscription.description}
    billed = _billed_from(subscription, first_day)
    planned = [
        _planned(
            Adjustment.Kind.CREDIT,
            subscription.product,
            b,
            part,
            subscription.quantity,
            _price_in_force(b, history),
            text,
        )
        for b, part in billed
    ]
    return _plan(
        subscription, day, first_day, [p for p in planned if p], [b for b, _part in billed], ends_on=day
    )
