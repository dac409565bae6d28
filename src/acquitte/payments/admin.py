from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from acquitte.core.admin import OrganisationScopedAdmin, ReadOnlyMixin, ScopedTabularInline
from acquitte.core.errors import BusinessError

from . import services
from .models import ChargeAttempt, Payment, PaymentMethod, ProviderAccount, TransferDeclaration, WebhookEvent


class AttemptInline(ReadOnlyMixin, ScopedTabularInline):
    model = ChargeAttempt
    fields = ["idempotency_key", "provider", "state", "provider_reference", "created_at", "completed_at"]
    readonly_fields = fields


@admin.register(Payment)
class PaymentAdmin(ReadOnlyMixin, OrganisationScopedAdmin):
    list_display = [
        "received_on",
        "customer",
        "method",
        "status",
        "amount",
        "amount_refunded",
        "currency",
        "invoice",
    ]
    list_filter = ["method", "status", "provider"]
    search_fields = ["customer__name", "reference", "provider_reference", "invoice__number"]
    list_select_related = ["customer", "invoice"]
    inlines = [AttemptInline]
    actions = ["refund_selected"]

    @admin.action(description=_("Rembourser intégralement"))
    def refund_selected(self, request, queryset):
        if not request.user.can_write:
            return
        for payment in queryset:
            try:
                services.refund(
                    payment=payment, amount=payment.amount - payment.amount_refunded, actor=request.user
                )
                messages.success(request, _("Paiement remboursé : %(p)s") % {"p": payment})
            except BusinessError as exc:
                messages.error(request, f"{payment}: {' '.join(exc.messages)}")


@admin.register(PaymentMethod)
class PaymentMethodAdmin(ReadOnlyMixin, OrganisationScopedAdmin):
    list_display = ["customer", "__str__", "kind", "holder", "status", "is_default", "created_at"]
    list_filter = ["kind", "scheme", "status"]
    search_fields = ["customer__name", "holder", "last4"]
    exclude = ["token"]


@admin.register(ChargeAttempt)
class ChargeAttemptAdmin(ReadOnlyMixin, OrganisationScopedAdmin):
    list_display = ["created_at", "idempotency_key", "provider", "state", "provider_reference", "payment"]
    list_filter = ["state", "provider"]
    search_fields = ["idempotency_key", "provider_reference"]


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyMixin, OrganisationScopedAdmin):
    list_display = ["received_at", "provider", "event_type", "event_id", "processed_at", "error"]
    list_filter = ["provider", "event_type"]
    search_fields = ["event_id"]


@admin.register(TransferDeclaration)
class TransferDeclarationAdmin(ReadOnlyMixin, OrganisationScopedAdmin):
    list_display = ["declared_at", "invoice", "kind", "reference", "sent_on", "amount", "status"]
    list_filter = ["kind", "status"]
    search_fields = ["reference", "invoice__number"]


@admin.register(ProviderAccount)
class ProviderAccountAdmin(ReadOnlyMixin, OrganisationScopedAdmin):
    list_display = ["provider", "mode", "credentials", "connected_at"]
    exclude = ["credentials_encrypted"]
    readonly_fields = ["credentials"]

    @admin.display(description=_("identifiants"))
    def credentials(self, obj):
        return ", ".join(f"{k}: {v}" for k, v in services.masked_credentials(obj).items())
