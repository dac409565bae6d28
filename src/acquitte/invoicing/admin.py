from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from acquitte.core.admin import OrganisationScopedAdmin, ScopedTabularInline
from acquitte.core.errors import BusinessError
from acquitte.payments import services as payments
from acquitte.payments.forms import RecordPaymentForm

from . import services
from .models import Allocation, Invoice, InvoiceLine, InvoiceTax, LedgerEntry

LINE_FIELDS = [
    "product",
    "description",
    "quantity",
    "unit",
    "unit_price",
    "discount_percent",
    "tax_category",
    "period_start",
    "period_end",
]


def _is_draft(obj) -> bool:
    return obj is None or obj.status == Invoice.Status.DRAFT


class InvoiceLineInline(ScopedTabularInline):
    model = InvoiceLine
    fields = [*LINE_FIELDS, "net_amount"]
    readonly_fields = ["net_amount"]

    def has_add_permission(self, request, obj=None):
        return super().has_add_permission(request, obj) and _is_draft(obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and _is_draft(obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and _is_draft(obj)


class InvoiceTaxInline(ScopedTabularInline):
    model = InvoiceTax
    fields = ["name_fr", "rate", "base", "amount", "legal_mention_fr"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class AllocationInline(ScopedTabularInline):
    model = Allocation
    fk_name = "invoice"
    fields = ["created_at", "amount", "payment", "credit_note"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Invoice)
class InvoiceAdmin(OrganisationScopedAdmin):
    list_display = [
        "number_or_draft",
        "customer",
        "kind",
        "status_label",
        "issue_date",
        "due_date",
        "total",
        "amount_due_display",
    ]
    list_filter = ["kind", "status", "issue_date"]
    search_fields = ["number", "customer__name", "customer__number"]
    list_select_related = ["customer"]
    date_hierarchy = "issue_date"
    inlines = [InvoiceLineInline, InvoiceTaxInline, AllocationInline]
    actions = ["finalise_selected", "void_selected", "credit_note_selected", "revoke_link_selected"]
    draft_fields = [
        "customer",
        "kind",
        "billing_contact",
        "billing_address",
        "issue_date",
        "due_date",
        "online_payment",
        "notes",
    ]
    readonly_fields = ["record_payment_link", "document_links"]
    computed_fields = ["number", "status_label", "subtotal", "tax_total", "total", "amount_paid", "corrects"]

    def get_fields(self, request, obj=None):
        return [*self.draft_fields, *self.computed_fields, "record_payment_link", "document_links"]

    def get_urls(self):
        return [
            path(
                "<int:pk>/paiement/",
                self.admin_site.admin_view(self.record_payment_view),
                name="invoicing_invoice_record_payment",
            ),
            *super().get_urls(),
        ]

    @admin.display(description=_("document"))
    def document_links(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        pdf = reverse("documents:staff_pdf", args=[obj.pk, obj.number or f"brouillon-{obj.pk}"])
        printable = reverse("documents:staff_print", args=[obj.pk])
        return format_html(
            '<a href="{}">PDF</a> · <a href="{}">{}</a>', pdf, printable, _("version imprimable")
        )

    @admin.display(description=_("paiement reçu"))
    def record_payment_link(self, obj):
        if obj is None or obj.status != Invoice.Status.OPEN or obj.kind == Invoice.Kind.CREDIT_NOTE:
            return "—"
        url = reverse("admin:invoicing_invoice_record_payment", args=[obj.pk])
        return format_html('<a class="button" href="{}">{}</a>', url, _("Enregistrer un paiement reçu"))

    def record_payment_view(self, request, pk: int):
        """Record a transfer, cheque or cash received for this invoice, through the payments service."""
        invoice = self.get_queryset(request).filter(pk=pk).first()
        if invoice is None or not self.has_view_permission(request, invoice):
            raise Http404
        if not request.user.can_write:
            raise PermissionDenied
        form = RecordPaymentForm(request.POST or None, initial={"amount": invoice.amount_due})
        if request.method == "POST" and form.is_valid():
            try:
                payments.record_payment(
                    organisation=invoice.organisation,
                    customer=invoice.customer,
                    invoice=invoice,
                    actor=request.user,
                    **form.cleaned_data,
                )
            except BusinessError as exc:
                form.add_error(None, " ".join(exc.messages))
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

    def get_readonly_fields(self, request, obj=None):
        if _is_draft(obj):
            return [*self.computed_fields, "record_payment_link", "document_links"]
        return [*self.draft_fields, *self.computed_fields, "record_payment_link", "document_links"]

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and _is_draft(obj)

    def has_delete_permission(self, request, obj=None):
        return obj is not None and obj.is_draft and super().has_change_permission(request, obj)

    @admin.display(description=_("numéro"), ordering="number")
    def number_or_draft(self, obj):
        return obj.number or _("(brouillon)")

    @admin.display(description=_("statut"), ordering="status")
    def status_label(self, obj):
        return obj.get_display_status_label()

    @admin.display(description=_("reste dû"))
    def amount_due_display(self, obj):
        return obj.amount_due

    def save_model(self, request, obj, form, change):
        if change:
            services.update_draft(
                invoice=obj,
                actor=request.user,
                issue_date=obj.issue_date,
                due_date=obj.due_date,
                billing_contact=obj.billing_contact,
                notes=obj.notes,
                online_payment=obj.online_payment,
            )
            return
        created = services.create_invoice(
            organisation=request.user.organisation if not request.user.is_superuser else obj.organisation,
            customer=obj.customer,
            actor=request.user,
            kind=obj.kind,
            billing_contact=obj.billing_contact,
            billing_address=obj.billing_address,
            issue_date=obj.issue_date,
            due_date=obj.due_date,
            online_payment=obj.online_payment,
            notes=obj.notes,
        )
        obj.pk = created.pk
        obj._state.adding = False

    def save_formset(self, request, form, formset, change):
        if formset.model is not InvoiceLine:
            return super().save_formset(request, form, formset, change)
        kept = [
            f.cleaned_data
            for f in formset.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE") and f.cleaned_data.get("description")
        ]
        lines = [services.LineInput(**{k: data.get(k) for k in LINE_FIELDS}) for data in kept]
        for line in lines:
            line.unit = line.unit or ""
            line.discount_percent = line.discount_percent or 0
        services.replace_draft_lines(invoice=form.instance, actor=request.user, lines=lines)
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def _run(self, request, queryset, operation, done_message):
        done = 0
        for invoice in queryset:
            try:
                operation(invoice)
                done += 1
            except (BusinessError, PermissionDenied) as exc:
                text = " ".join(exc.messages) if isinstance(exc, BusinessError) else str(exc)
                messages.error(request, f"{invoice}: {text}")
        if done:
            messages.success(request, done_message % {"count": done})

    def _require_write(self, request):
        if not request.user.can_write:
            raise PermissionDenied

    @admin.action(description=_("Finaliser (numéroter et figer)"))
    def finalise_selected(self, request, queryset):
        self._require_write(request)
        self._run(
            request,
            queryset.order_by("id"),
            lambda inv: services.finalise_invoice(invoice=inv, actor=request.user),
            _("%(count)s document(s) finalisé(s)."),
        )

    @admin.action(description=_("Annuler (void)"))
    def void_selected(self, request, queryset):
        self._require_write(request)
        self._run(
            request,
            queryset,
            lambda inv: services.void_invoice(invoice=inv, actor=request.user),
            _("%(count)s document(s) annulé(s)."),
        )

    @admin.action(description=_("Créer un avoir (brouillon)"))
    def credit_note_selected(self, request, queryset):
        self._require_write(request)
        self._run(
            request,
            queryset,
            lambda inv: services.create_credit_note(invoice=inv, actor=request.user),
            _("%(count)s avoir(s) créé(s) en brouillon."),
        )

    @admin.action(description=_("Révoquer le lien public (un nouveau lien le remplace)"))
    def revoke_link_selected(self, request, queryset):
        self._require_write(request)
        self._run(
            request,
            queryset,
            lambda inv: services.revoke_public_link(invoice=inv, actor=request.user),
            _("%(count)s lien(s) public(s) révoqué(s)."),
        )

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.can_write:
            return {}
        return actions


@admin.register(LedgerEntry)
class LedgerEntryAdmin(OrganisationScopedAdmin):
    list_display = ["occurred_on", "customer", "kind", "amount", "invoice", "payment"]
    list_filter = ["kind"]
    search_fields = ["customer__name", "invoice__number"]
    list_select_related = ["customer", "invoice", "payment"]

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False
