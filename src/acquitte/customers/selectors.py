from django.db.models import Q, QuerySet

from .models import Customer

CUSTOMER_SORTS = {"name", "-name", "number", "-number", "created_at", "-created_at"}


def search_customers(*, organisation, query: str = "", sort: str = "") -> QuerySet[Customer]:
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
