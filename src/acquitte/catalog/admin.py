from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from acquitte.core.admin import OrganisationScopedAdmin
from acquitte.core.http import signed_in_user

from .models import Product, TaxCategory


@admin.register(TaxCategory)
class TaxCategoryAdmin(OrganisationScopedAdmin):
    list_display = ["name", "code"]
    search_fields = ["name", "code"]
    filter_horizontal = ["rates"]


@admin.register(Product)
class ProductAdmin(OrganisationScopedAdmin):
    list_display = ["sku", "name", "kind", "unit_price", "currency", "tax_category", "active"]
    list_filter = ["kind", "active", "tax_category"]
    search_fields = ["name", "sku"]

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        organisation = signed_in_user(request).organisation
        if organisation is not None:
            initial.setdefault("currency", organisation.currency)
        return initial
