"""Reads of the catalogue, always scoped to one organisation."""

from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet

from .models import Product

if TYPE_CHECKING:
    from acquitte.customers.models import Organisation


def search_products(
    *, organisation: "Organisation", query: str = "", active_only: bool = True
) -> QuerySet[Product]:
    """Products whose name or SKU contains ``query`` (case-insensitive)."""
    qs = Product.objects.filter(organisation=organisation).select_related("tax_category")
    if active_only:
        qs = qs.filter(active=True)
    query = (query or "").strip()
    if query:
        qs = qs.filter(Q(name__icontains=query) | Q(sku__icontains=query))
    return qs.order_by("name")
