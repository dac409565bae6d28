from django.contrib import admin

from acquitte.core.admin import OrganisationScopedAdmin

from .models import Payment


@admin.register(Payment)
class PaymentAdmin(OrganisationScopedAdmin):
    list_display = ["received_on", "customer", "method", "status", "amount", "currency", "reference"]
    list_filter = ["method", "status"]
    search_fields = ["customer__name", "reference"]
    list_select_related = ["customer"]

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False
