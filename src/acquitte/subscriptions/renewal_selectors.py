"""Reads of the renewal run (what is due on a day) and of the back office's services pages.

A service's next period starts on its expiry date: ``ServiceRenewal`` (service, period start) is
that period asked for or invoiced, so a service "to invoice" is one with no such row yet.
"""

import datetime
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from django.db.models import Exists, F, Min, OuterRef, Q, QuerySet
from django.db.models.functions import Lower

from acquitte.invoicing.models import Invoice
from acquitte.payments.models import ChargeAttempt, PaymentMethod

from .dunning_selectors import dunning_settings
from .models import (
    CardExpiryNotice,
    CollectionAttempt,
    DunningSettings,
    Service,
    ServiceRenewal,
    ServiceSuspension,
)
from .periods import add_days, anniversary
from .service_selectors import card_expires_on

if TYPE_CHECKING:
    from acquitte.customers.models import Customer, Organisation

#: The states of a service the run renews, charges and lets expire (a suspended one waits for staff).
RENEWED = Service.Status.ACTIVE


def renewal_settings(organisation: "Organisation") -> DunningSettings:
    """The notice days of the renewal invoice and of a card's expiry (the dunning settings)."""
    return dunning_settings(organisation)


def renewal_end(start: datetime.date) -> datetime.date | None:
    """The end of the one-year period from ``start`` (its next expiry date), or ``None`` when the
    calendar stops before it (year 9999): such a service is never renewed, rather than failing."""
    if start.year >= datetime.MAXYEAR:
        return None
    return anniversary(start, 1)


def horizon(as_of: datetime.date, days: int) -> datetime.date:
    """``as_of`` + ``days``, or the last date there is."""
    if (datetime.date.max - as_of).days < days:
        return datetime.date.max
    return as_of + datetime.timedelta(days=days)


def _in_range(queryset: QuerySet, field: str, span: tuple[int, int] | None) -> QuerySet:
    if span is None:
        return queryset
    return queryset.filter(**{f"{field}__gte": span[0], f"{field}__lte": span[1]})


def services_to_invoice(
    organisation: "Organisation", as_of: datetime.date, notice_days: int, span: tuple[int, int] | None = None
) -> QuerySet[Service]:
    """Active services whose renewal invoice is due by ``as_of`` (``notice_days`` before they
    expire) and whose next period has no renewal row yet."""
    asked = ServiceRenewal.objects.filter(service=OuterRef("pk"), period_start=OuterRef("expires_on"))
    due = Service.objects.filter(
        organisation=organisation,
        status=RENEWED,
        expires_on__lte=horizon(as_of, notice_days),
        expires_on__lt=datetime.date(datetime.MAXYEAR, 1, 1),
    )
    return _in_range(due, "customer_id", span).filter(~Exists(asked))


def proformas_to_replace(
    organisation: "Organisation", as_of: datetime.date, notice_days: int, span: tuple[int, int] | None = None
) -> QuerySet[ServiceRenewal]:
    """Next periods asked for early whose pro-forma is still unpaid on the renewal invoice's day:
    the run issues their invoice and cancels the pro-forma."""
    due = ServiceRenewal.objects.filter(
        organisation=organisation,
        invoice__isnull=True,
        proforma__status=Invoice.Status.OPEN,
        proforma__amount_paid=0,
        service__status=RENEWED,
        period_start=F("service__expires_on"),
        period_start__lte=horizon(as_of, notice_days),
    )
    return _in_range(due, "service__customer_id", span)


def renewals_to_charge(
    organisation: "Organisation", as_of: datetime.date, span: tuple[int, int] | None = None
) -> QuerySet[ServiceRenewal]:
    """The open renewal invoices of active services on recurring payment whose due date has come,
    with a valid chosen card, never charged yet: the run charges that card once; a declined charge
    is the dunning schedule's to retry."""
    charged = CollectionAttempt.objects.filter(invoice_id=OuterRef("invoice_id"))
    due = ServiceRenewal.objects.filter(
        ~Exists(charged),
        organisation=organisation,
        invoice__status=Invoice.Status.OPEN,
        invoice__total__gt=F("invoice__amount_paid"),
        service__status=RENEWED,
        service__recurring=True,
        service__payment_method__status=PaymentMethod.Status.VALID,
        period_start=F("service__expires_on"),
        period_start__lte=as_of,
    )
    return _in_range(due, "service__customer_id", span)


def services_to_expire(
    organisation: "Organisation", as_of: datetime.date, span: tuple[int, int] | None = None
) -> QuerySet[Service]:
    """Active services whose expiry date has passed unpaid (paying renews them: its receiver moves
    the expiry date on, so an unpaid one is one still expiring before ``as_of``)."""
    due = Service.objects.filter(organisation=organisation, status=RENEWED, expires_on__lt=as_of)
    return _in_range(due, "customer_id", span)


def notices_due(method: PaymentMethod, as_of: datetime.date, notice_days: Sequence[int]) -> list[int]:
    """The notices (days before) a card is due by ``as_of``: expiring within those days, not
    expired. A card found within 7 days that never had its 30-day notice gets both rows, one e-mail."""
    expires = card_expires_on(method)
    if expires is None or expires < as_of:
        return []
    left = (expires - as_of).days
    return sorted({days for days in notice_days if 0 <= left <= days})


#: A card's expiry month as one number, to compare with a date's ``year * 12 + month``.
CARD_MONTH = F("exp_year") * 12 + F("exp_month")


def _valid_cards(organisation: "Organisation") -> QuerySet[PaymentMethod]:
    """The organisation's valid cards with an expiry date (``.alias(month=CARD_MONTH)`` numbers
    their expiry month)."""
    return PaymentMethod.objects.filter(
        organisation=organisation,
        kind=PaymentMethod.Kind.CARD,
        status=PaymentMethod.Status.VALID,
        exp_year__isnull=False,
        exp_month__isnull=False,
    )


def cards_expiring(
    organisation: "Organisation",
    as_of: datetime.date,
    notice_days: Sequence[int],
    span: tuple[int, int] | None = None,
) -> QuerySet[PaymentMethod]:
    """Valid cards on file expiring (end of their month) between ``as_of`` and the longest notice:
    a candidate set, ``notices_due`` says which notices each is due."""
    if not notice_days:
        return PaymentMethod.objects.none()
    last = horizon(as_of, max(notice_days))
    first_month, last_month = as_of.year * 12 + as_of.month, last.year * 12 + last.month
    cards = (
        _valid_cards(organisation)
        .alias(month=CARD_MONTH)
        .filter(month__gte=first_month, month__lte=last_month)
    )
    return _in_range(cards, "customer_id", span)


def cards_to_notify(
    organisation: "Organisation",
    as_of: datetime.date,
    notice_days: Sequence[int],
    span: tuple[int, int] | None = None,
) -> list[tuple[PaymentMethod, list[int]]]:
    """The cards due a notice by ``as_of`` that was not sent, each with the notices (days before)
    to record: one e-mail however many fall due at once."""
    cards = list(
        cards_expiring(organisation, as_of, notice_days, span).select_related("customer__organisation")
    )
    if not cards:
        return []
    sent = set(
        CardExpiryNotice.objects.filter(payment_method__in=cards).values_list(
            "payment_method_id", "days_before"
        )
    )
    found = []
    for card in cards:
        new = [d for d in notices_due(card, as_of, notice_days) if (card.pk, d) not in sent]
        if new:
            found.append((card, new))
    return found


def renewal_customers(organisation: "Organisation", as_of: datetime.date) -> list[int]:
    """The customers the run of ``as_of`` has something for, in id order (its chunks)."""
    settings = renewal_settings(organisation)
    notice = settings.renewal_notice_days
    found: set[int] = set()
    found.update(services_to_invoice(organisation, as_of, notice).values_list("customer_id", flat=True))
    found.update(
        proformas_to_replace(organisation, as_of, notice).values_list("service__customer_id", flat=True)
    )
    found.update(renewals_to_charge(organisation, as_of).values_list("service__customer_id", flat=True))
    found.update(services_to_expire(organisation, as_of).values_list("customer_id", flat=True))
    cards = cards_to_notify(organisation, as_of, list(settings.card_expiry_notice_days))
    found.update(card.customer_id for card, _days in cards)
    return sorted(found)


def renewal_due(organisation: "Organisation", as_of: datetime.date) -> bool:
    """Whether the renewal run of ``as_of`` has anything to do (the half-hourly task asks first)."""
    return bool(renewal_customers(organisation, as_of))


def _next_card_notice(
    organisation: "Organisation", tomorrow: datetime.date, notice_days: Sequence[int]
) -> datetime.date | None:
    """The first day from ``tomorrow`` on which a card not expired yet is due a notice not sent."""
    if not notice_days:
        return None
    cards = (
        _valid_cards(organisation)
        .alias(month=CARD_MONTH)
        .filter(month__gte=tomorrow.year * 12 + tomorrow.month)
        .order_by("exp_year", "exp_month", "pk")
        .only("pk", "kind", "exp_year", "exp_month")
    )
    sent = set(
        CardExpiryNotice.objects.filter(payment_method__in=cards.values("pk")).values_list(
            "payment_method_id", "days_before"
        )
    )
    longest = max(notice_days)
    found: datetime.date | None = None
    for card in cards.iterator(chunk_size=500):
        expires = card_expires_on(card)
        if expires is None:
            continue
        earliest = add_days(expires, -longest)
        if found is not None and earliest is not None and earliest > found:
            break  # the cards come by expiry month: none after this one is due sooner
        for days in notice_days:
            day = max(add_days(expires, -days) or datetime.date.min, tomorrow)
            if (card.pk, days) not in sent:
                found = day if found is None else min(found, day)
    return found


def next_renewal_day(organisation: "Organisation", after: datetime.date) -> datetime.date | None:
    """The first day after ``after`` on which the renewal run has something to do, as things stand
    (the test clock jumps to it rather than asking every day); ``None`` when nothing is to come.
    What a run does can bring a day nearer (a paid renewal, a new card): ask again after each."""
    if after == datetime.date.max:
        return None
    tomorrow = after + datetime.timedelta(days=1)
    settings = renewal_settings(organisation)
    notice = settings.renewal_notice_days
    every = datetime.date.max
    firsts = [
        (services_to_invoice(organisation, every, notice).aggregate(day=Min("expires_on"))["day"], -notice),
        (
            proformas_to_replace(organisation, every, notice).aggregate(day=Min("period_start"))["day"],
            -notice,
        ),
        (renewals_to_charge(organisation, every).aggregate(day=Min("period_start"))["day"], 0),
        (services_to_expire(organisation, every).aggregate(day=Min("expires_on"))["day"], 1),
    ]
    # Before the calendar's start is due already; past its end, never.
    days = [
        add_days(first, shift) or (datetime.date.min if shift < 0 else None)
        for first, shift in firsts
        if first
    ]
    days.append(_next_card_notice(organisation, tomorrow, list(settings.card_expiry_notice_days)))
    found = [max(day, tomorrow) for day in days if day is not None]
    return min(found, default=None)


def chargeable_invoices(organisation: "Organisation", invoice_ids: Iterable[int]) -> QuerySet[Invoice]:
    """Those of the invoices still owed, payable online, with no charge in flight."""
    in_flight = ChargeAttempt.objects.filter(
        payment__invoice_id=OuterRef("pk"),
        state__in=[ChargeAttempt.State.CREATED, ChargeAttempt.State.PENDING],
    )
    return Invoice.objects.filter(
        ~Exists(in_flight),
        organisation=organisation,
        pk__in=list(invoice_ids),
        kind=Invoice.Kind.INVOICE,
        status=Invoice.Status.OPEN,
        online_payment=True,
        total__gt=F("amount_paid"),
    )


# --- the back office ---

#: How the back office's list may be sorted (by expiry date by default).
SERVICE_SORTS = {
    "expiry": ("expires_on", "name", "id"),
    "-expiry": ("-expires_on", "name", "id"),
    "name": ("name", "id"),
    "customer": ("customer__name", "expires_on", "id"),
}


def services_of(
    organisation: "Organisation",
    *,
    status: str = "",
    kind: str = "",
    expiring_before: datetime.date | None = None,
    customer: "Customer | None" = None,
    q: str = "",
    sort: str = "expiry",
) -> QuerySet[Service]:
    """The organisation's services and domains, filtered as the back-office list asks."""
    rows = Service.objects.filter(organisation=organisation).select_related("customer", "payment_method")
    if status:
        rows = rows.filter(status=status)
    if kind:
        rows = rows.filter(kind=kind)
    if expiring_before is not None:
        rows = rows.filter(expires_on__lt=expiring_before)
    if customer is not None:
        rows = rows.filter(customer=customer)
    q = q.strip()
    if q:
        rows = rows.filter(
            Q(name__icontains=q.lower()) | Q(customer__name__icontains=q) | Q(customer__number__icontains=q)
        )
    order = SERVICE_SORTS.get(sort, SERVICE_SORTS["expiry"])
    if sort == "name":
        return rows.order_by(Lower("name"), "id")
    return rows.order_by(*order)


def service_of(organisation: "Organisation", pk: int) -> Service | None:
    return (
        Service.objects.filter(organisation=organisation, pk=pk)
        .select_related(
            "customer", "subscription__product", "subscription__site", "payment_method", "billing_contact"
        )
        .first()
    )


def renewals_of(service: Service) -> QuerySet[ServiceRenewal]:
    """A service's periods, newest first, with their documents."""
    return (
        ServiceRenewal.objects.filter(organisation_id=service.organisation_id, service=service)
        .select_related("proforma", "invoice", "proforma__converted_to")
        .order_by("-period_start")
    )


def suspensions_of(service: Service) -> QuerySet[ServiceSuspension]:
    return ServiceSuspension.objects.filter(
        organisation_id=service.organisation_id, service=service
    ).select_related("invoice", "reactivation_invoice")


def expiring_services(method: PaymentMethod, after: datetime.date) -> list[Service]:
    """The services renewing on a card after it can no longer be charged (the card-expiry notice)."""
    return list(
        Service.objects.filter(
            organisation_id=method.organisation_id,
            payment_method=method,
            recurring=True,
            expires_on__gt=after,
        )
        .exclude(status=Service.Status.TERMINATED)
        .order_by("expires_on", "name")
    )
