from django.db.models import Q, QuerySet

from .models import Customer, Organisation, TermsVersion

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
