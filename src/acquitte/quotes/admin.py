from django.contrib import admin

from acquitte.core.admin import OrganisationScopedAdmin, ReadOnlyMixin, ScopedTabularInline

from .models import Quote, QuoteLine

LINE_FIELDS = ("description", "quantity", "unit_price", "discount_percent", "tax_category", "net_amount")


class QuoteLineInline(ReadOnlyMixin, ScopedTabularInline):
    model = QuoteLine
    fields = LINE_FIELDS
    readonly_fields = LINE_FIELDS


@admin.register(Quote)
class QuoteAdmin(ReadOnlyMixin, OrganisationScopedAdmin):
    """Quotes are built in the back office; the admin only shows them."""

    list_display = ["number", "customer", "status", "total", "valid_until", "created_at"]
    list_filter = ["status"]
    search_fields = ["number", "customer__name"]
    inlines = [QuoteLineInline]
    exclude = ["public_token", "public_key"]
