from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from acquitte.core.admin import OrganisationScopedAdmin, ReadOnlyMixin, ScopedTabularInline
from acquitte.core.errors import BusinessError
from acquitte.core.http import report, signed_in_user
from acquitte.invoicing.admin import InvoiceAdmin
from acquitte.invoicing.models import Invoice

from . import selectors, services
from .forms import RecordPaymentForm
from .models import ChargeAttempt, Payment, PaymentMethod, ProviderAccount, TransferDeclaration, WebhookEvent


class AttemptInline(ReadOnlyMixin, ScopedTabularInline):
    model = ChargeAttempt
    fields = readonly_fields = (
        "idempotency_key",
        "provider",
        "state",
        "provider_reference",
        "created_at",
        "completed_at",
    )


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
    def refund_selected(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        user = signed_in_user(request)
        if not user.can_write:
            return
        for payment in queryset:
            try:
                services.refund(payment=payment, amount=payment.amount - payment.amount_refunded, actor=user)
                messages.success(request, _("Paiement remboursé : %(p)s") % {"p": payment})
            except BusinessError as exc:
                messages.error(request, f"{payment}: {exc.text()}")


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
    list_display = ["received_at", "provider", "event_type", "event_id", "status", "processed_at", "error"]
    list_filter = ["status", "provider", "event_type"]
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
    def credentials(self, obj: ProviderAccount) -> str:
        return ", ".join(f"{k}: {v}" for k, v in selectors.masked_credentials(obj).items())


class InvoiceWithPaymentsAdmin(InvoiceAdmin):
    """The invoice admin of invoicing, with the "record a payment received" page of payments."""

    link_fields = ["record_payment_link", *InvoiceAdmin.link_fields]
    readonly_fields = link_fields

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<int:pk>/paiement/",
                self.admin_site.admin_view(self.record_payment_view),
                name="invoicing_invoice_record_payment",
            ),
            *super().get_urls(),
        ]

    @admin.display(description=_("paiement reçu"))
    def record_payment_link(self, obj: Invoice | None) -> str:
        if obj is None or not selectors.payable(obj).can_record_payment:
            return "—"
        url = reverse("admin:invoicing_invoice_record_payment", args=[obj.pk])
        return format_html('<a class="button" href="{}">{}</a>', url, _("Enregistrer un paiement reçu"))

    def record_payment_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Record a transfer, cheque or cash received for this invoice, through the payments service."""
        invoice = self.get_queryset(request).filter(pk=pk).first()
        if invoice is None or not self.has_view_permission(request, invoice):
            raise Http404
        user = signed_in_user(request)
        if not user.can_write:
            raise PermissionDenied
        form = RecordPaymentForm(request.POST or None, initial={"amount": invoice.amount_due})
        if request.method == "POST" and form.is_valid():
            try:
                services.record_payment(
                    organisation=invoice.organisation,
                    customer=invoice.customer,
                    invoice=invoice,
                    actor=user,
                    **form.cleaned_data,
                )
            except BusinessError as exc:
                report(request, exc, form)
            else:
                messages.success(request, _("Paiement enregistré et affecté."))
                return redirect("admin:invoicing_invoice_change", invoice.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Enregistrer un paiement reçu — %(number)s") % {"number": invoice.number},
            "form": form,
            "invoice": invoice,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/invoicing/record_payment.html", context)


admin.site.unregister(Invoice)
admin.site.register(Invoice, InvoiceWithPaymentsAdmin)
