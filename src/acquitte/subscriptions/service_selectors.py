"""Reads of a customer's domains and yearly services, as the portal's "Domaines" pages show them."""

import datetime
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db.models import QuerySet

from acquitte.customers.models import Contact, Customer
from acquitte.invoicing.models import Invoice
from acquitte.payments.models import PaymentMethod
from acquitte.payments.selectors import valid_methods

from .models import Service, ServiceRenewal, ServiceSuspension
from .periods import month_end
from .selectors import today_for

#: The states a customer acts on: a terminated service is gone from the account.
LIVE = (Service.Status.ACTIVE, Service.Status.SUSPENDED, Service.Status.EXPIRED)


def card_expires_on(method: PaymentMethod) -> datetime.date | None:
    """The last day a card can be charged: the end of its expiry month (MM/YY)."""
    if method.kind != PaymentMethod.Kind.CARD or not method.exp_year or not method.exp_month:
        return None
    return month_end(datetime.date(method.exp_year, method.exp_month, 1))


def _normalised(name: str) -> str:
    """Case, accents and spacing aside: « Marie  ROY » is « marie roy », as is « Marie Roy »."""
    decomposed = unicodedata.normalize("NFKD", name)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


def holder_matches(contact: Contact, method: PaymentMethod) -> bool:
    """Seed 002's check: the sub-contact (its name or its company) is the card holder."""
    holder = _normalised(method.holder)
    return bool(holder) and holder in {_normalised(contact.name), _normalised(contact.company)}


def customer_services(customer: Customer) -> QuerySet[Service]:
    """The customer's live domains and services, the soonest to expire first."""
    return (
        Service.objects.filter(organisation_id=customer.organisation_id, customer=customer, status__in=LIVE)
        .select_related("payment_method", "billing_contact", "subscription__product")
        .order_by("expires_on", "name", "id")
    )


def services_by_ids(customer: Customer, ids: Iterable[int]) -> list[Service]:
    """Those of ``ids`` that are the customer's live services (the caller refuses the rest)."""
    return list(customer_services(customer).filter(pk__in=set(ids)))


def recurring_cards(customer: Customer) -> list[PaymentMethod]:
    """The cards recurring payment may use: the customer's own, valid, not past their expiry."""
    today = today_for(customer.organisation)
    return [
        method
        for method in valid_methods(customer)
        .filter(kind=PaymentMethod.Kind.CARD)
        .order_by("-is_default", "pk")
        if (card_expires_on(method) or today) >= today
    ]


def has_valid_card(customer: Customer) -> bool:
    """Seed 002: the recurring options appear only once a valid card is on file."""
    return bool(recurring_cards(customer))


def billing_contacts(customer: Customer) -> QuerySet[Contact]:
    """The sub-contacts invoices may be issued to ("Contact")."""
    return Contact.objects.filter(customer=customer, is_billing=True).order_by("name", "pk")


def expiring_before_renewal(method: PaymentMethod, services: Iterable[Service]) -> list[Service]:
    """The services whose renewal date comes after the card's last usable day: the charge would fail."""
    expires = card_expires_on(method)
    if expires is None:
        return []
    return [service for service in services if service.expires_on > expires]


@dataclass(frozen=True)
class CardChoice:
    """A card offered for recurring payment, with the chosen services it would not reach."""

    method: PaymentMethod
    expires_on: datetime.date | None
    too_early_for: list[Service]


def card_choices(customer: Customer, services: Sequence[Service]) -> list[CardChoice]:
    return [
        CardChoice(
            method=method,
            expires_on=card_expires_on(method),
            too_early_for=expiring_before_renewal(method, services),
        )
        for method in recurring_cards(customer)
    ]


@dataclass(frozen=True)
class ServiceRow:
    """One line of the "Domaines" table."""

    service: Service
    #: The recurring card expires before this renewal.
    card_too_early: bool


def service_rows(customer: Customer) -> list[ServiceRow]:
    return [
        ServiceRow(
            service=service,
            card_too_early=bool(
                service.recurring
                and service.payment_method is not None
                and expiring_before_renewal(service.payment_method, [service])
            ),
        )
        for service in customer_services(customer)
    ]


@dataclass
class ServiceDetail:
    """A domain's own page: its state, its recurring card and sub-contact, its renewals, and what
    to pay (its open renewal documents; when suspended, the invoices whose payment lifts it)."""

    service: Service
    renewals: list[ServiceRenewal]
    open_documents: list[Invoice]
    suspension: ServiceSuspension | None
    to_reactivate: list[Invoice] = field(default_factory=list)
    card_too_early: bool = False


def service_detail(customer: Customer, pk: int) -> ServiceDetail | None:
    service = customer_services(customer).filter(pk=pk).first()
    if service is None:
        return None
    renewals = list(
        ServiceRenewal.objects.filter(organisation_id=customer.organisation_id, service=service)
        .select_related("proforma", "invoice", "proforma__converted_to")
        .order_by("-period_start")
    )
    open_documents = [
        document
        for renewal in renewals
        for document in (renewal.invoice, renewal.proforma)
        if document is not None and document.status == Invoice.Status.OPEN
    ]
    suspension = None
    to_reactivate: list[Invoice] = []
    if service.status == Service.Status.SUSPENDED:
        suspension = (
            ServiceSuspension.objects.filter(
                organisation_id=customer.organisation_id, service=service, lifted_at__isnull=True
            )
            .select_related("invoice", "reactivation_invoice")
            .first()
        )
        if suspension is not None:
            to_reactivate = [
                invoice
                for invoice in (suspension.invoice, suspension.reactivation_invoice)
                if invoice is not None and invoice.status == Invoice.Status.OPEN
            ]
    return ServiceDetail(
        service=service,
        renewals=renewals,
        open_documents=open_documents,
        suspension=suspension,
        to_reactivate=to_reactivate,
        card_too_early=bool(
            service.recurring
            and service.payment_method is not None
            and expiring_before_renewal(service.payment_method, [service])
        ),
    )


def customer_method(customer: Customer, pk: int | None) -> PaymentMethod | None:
    """One of the customer's saved methods, whatever its state (the service says why it is refused)."""
    if pk is None:
        return None
    return PaymentMethod.objects.filter(
        organisation_id=customer.organisation_id, customer=customer, pk=pk
    ).first()


def customer_contact(customer: Customer, pk: int | None) -> Contact | None:
    if pk is None:
        return None
    return Contact.objects.filter(customer=customer, pk=pk).first()
