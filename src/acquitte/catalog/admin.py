from django.contrib import admin

from acquitte.core.admin import OrganisationScopedAdmin

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

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        if request.user.organisation_id:
            initial.setdefault("currency", request.user.organisation.currency)
        return initial
