import datetime
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Max, Q, QuerySet, Sum
from django.utils import timezone

from .models import Customer, Organisation, TermsVersion, User

CUSTOMER_SORTS = {"name", "-name", "number", "-number", "created_at", "-created_at"}


def search_customers(*, organisation: Organisation, query: str = "", sort: str = "") -> QuerySet[Customer]:
    """An organisation's customers matching a name, number, e-mail or phone fragment."""
    rows = Customer.objects.filter(organisation=organisation)
    query = (query or "").strip()
    if query:
        rows = rows.filter(
            Q(name__icontains=query)
            | Q(number__icontains=query)
            | Q(email__icontains=query)
            | Q(phone__icontains=query)
        )
    return rows.order_by(sort if sort in CUSTOMER_SORTS else "name", "pk")


def customer_of(*, organisation: Organisation, pk: str | int) -> Customer | None:
    """The organisation's customer with this id (from a URL or a form), or None."""
    return Customer.objects.filter(organisation=organisation, pk=pk).first()


def current_terms(organisation: Organisation) -> TermsVersion | None:
    return organisation.terms_versions.order_by("-published_at").first()


def terms_to_accept(customer: Customer) -> TermsVersion | None:
    """The current terms if this customer has not accepted them yet."""
    terms = current_terms(customer.organisation)
    if terms is None or customer.terms_acceptances.filter(terms=terms).exists():
        return None
    return terms


def terms_block(customer: Customer) -> TermsVersion | None:
    """The terms a customer must accept before saving a method, paying online or ordering, if any.

    Seed 001 puts the terms first for the customer's account: they apply to a customer with a
    portal account (who accepts them there), whichever way they then pay, a public link included.
    A customer without a portal account, or an organisation that published no terms, is not held.
    """
    if not customer.portal_users.exists():
        return None
    return terms_to_accept(customer)


@dataclass(frozen=True)
class Lockout:
    """An account of the organisation that cannot sign in until ``until`` (or until staff lift it)."""

    user: User
    failures: int
    addresses: list[str]
    last_attempt: datetime.datetime
    until: datetime.datetime


def lockouts(organisation: Organisation) -> list[Lockout]:
    """Sign-in lockouts of the organisation's staff and of its customers' portal users, newest first.

    Read from django-axes' recent failures (within the cool-off); an account is locked once its
    failures reach ``AXES_FAILURE_LIMIT``. Other organisations' accounts never appear.
    """
    from axes.helpers import get_cool_off
    from axes.models import AccessAttempt

    cool_off = get_cool_off() or datetime.timedelta(minutes=15)
    recent = AccessAttempt.objects.filter(attempt_time__gte=timezone.now() - cool_off, username__isnull=False)
    counts = {
        row["username"]: row
        for row in recent.order_by()
        .values("username")
        .annotate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
        if row["failures"] >= settings.AXES_FAILURE_LIMIT
    }
    if not counts:
        return []
    users = User.objects.filter(email__in=list(counts)).filter(
        Q(organisation=organisation) | Q(customer__organisation=organisation)
    )
    found = []
    for user in users.select_related("customer"):
        row = counts[user.email]
        addresses = sorted(
            {a for a in recent.filter(username=user.email).values_list("ip_address", flat=True) if a}
        )
        found.append(
            Lockout(
                user=user,
                failures=row["failures"],
                addresses=addresses,
                last_attempt=row["last"],
                until=row["last"] + cool_off,
            )
        )
    return sorted(found, key=lambda lockout: lockout.last_attempt, reverse=True)


def account_of(*, organisation: Organisation, pk: int) -> User | None:
    """A sign-in account of the organisation: one of its staff or a portal user of its customers."""
    return (
        User.objects.filter(pk=pk)
        .filter(Q(organisation=organisation) | Q(customer__organisation=organisation))
        .first()
    )
