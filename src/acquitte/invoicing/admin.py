from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.forms import BaseModelForm, BaseModelFormSet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from acquitte.core.admin import OrganisationScopedAdmin, ScopedTabularInline
from acquitte.core.errors import BusinessError
from acquitte.core.http import signed_in_user
from acquitte.customers.admin import CustomerAdmin
from acquitte.customers.models import Customer

from . import services
from .models import Allocation, Invoice, InvoiceLine, InvoiceTax, LedgerEntry
from .selectors import receivables

if TYPE_CHECKING:
    from django_stubs_ext import StrPromise

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


def _is_draft(obj: Invoice | None) -> bool:
    return obj is None or obj.status == Invoice.Status.DRAFT


class InvoiceLineInline(ScopedTabularInline):
    model = InvoiceLine
    fields = [*LINE_FIELDS, "net_amount"]
    readonly_fields = ["net_amount"]

    def has_add_permission(self, request: HttpRequest, obj: Invoice | None = None) -> bool:
        return super().has_add_permission(request, obj) and _is_draft(obj)

    def has_change_permission(self, request: HttpRequest, obj: Invoice | None = None) -> bool:
        return super().has_change_permission(request, obj) and _is_draft(obj)

    def has_delete_permission(self, request: HttpRequest, obj: Invoice | None = None) -> bool:
        return super().has_change_permission(request, obj) and _is_draft(obj)


class InvoiceTaxInline(ScopedTabularInline):
    model = InvoiceTax
    fields = readonly_fields = ("name_fr", "rate", "base", "amount", "legal_mention_fr")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AllocationInline(ScopedTabularInline):
    model = Allocation
    fk_name = "invoice"
    fields = readonly_fields = ("created_at", "amount", "payment", "credit_note")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
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
    computed_fields = ["number", "status_label", "subtotal", "tax_total", "total", "amount_paid", "corrects"]
    #: Read-only links below the totals; payments' admin adds its "record a payment" button.
    link_fields = ["document_links"]
    readonly_fields = link_fields

    def get_fields(self, request: HttpRequest, obj: Invoice | None = None) -> tuple[str, ...]:
        return (*self.draft_fields, *self.computed_fields, *self.link_fields)

    @admin.display(description=_("document"))
    def document_links(self, obj: Invoice | None) -> str:
        if obj is None or obj.pk is None:
            return "—"
        pdf = reverse("documents:staff_pdf", args=[obj.pk, obj.number or f"brouillon-{obj.pk}"])
        printable = reverse("documents:staff_print", args=[obj.pk])
        return format_html(
            '<a href="{}">PDF</a> · <a href="{}">{}</a>', pdf, printable, _("version imprimable")
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Invoice | None = None) -> list[str]:
        if _is_draft(obj):
            return [*self.computed_fields, *self.link_fields]
        return [*self.draft_fields, *self.computed_fields, *self.link_fields]

    def has_change_permission(self, request: HttpRequest, obj: Invoice | None = None) -> bool:
        return super().has_change_permission(request, obj) and _is_draft(obj)

    def has_delete_permission(self, request: HttpRequest, obj: Invoice | None = None) -> bool:
        return obj is not None and obj.is_draft and super().has_change_permission(request, obj)

    @admin.display(description=_("numéro"), ordering="number")
    def number_or_draft(self, obj: Invoice) -> str | Promise:
        return obj.number or _("(brouillon)")

    @admin.display(description=_("statut"), ordering="status")
    def status_label(self, obj: Invoice) -> str:
        return obj.get_display_status_label()

    @admin.display(description=_("reste dû"))
    def amount_due_display(self, obj: Invoice) -> Decimal:
        return obj.amount_due

    def save_model(self, request: HttpRequest, obj: Invoice, form: Any, change: bool) -> None:
        user = signed_in_user(request)
        if change:
            services.update_draft(
                invoice=obj,
                actor=user,
                issue_date=obj.issue_date,
                due_date=obj.due_date,
                billing_contact=obj.billing_contact,
                notes=obj.notes,
                online_payment=obj.online_payment,
            )
            return
        created = services.create_invoice(
            organisation=obj.organisation
            if user.is_superuser or user.organisation is None
            else user.organisation,
            customer=obj.customer,
            actor=user,
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

    def save_formset(
        self,
        request: HttpRequest,
        form: BaseModelForm[Invoice],
        formset: BaseModelFormSet[Any, Any],
        change: bool,
    ) -> None:
        if formset.model is not InvoiceLine:
            super().save_formset(request, form, formset, change)
            return
        kept = [
            f.cleaned_data
            for f in formset.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE") and f.cleaned_data.get("description")
        ]
        lines = [services.LineInput(**{k: data.get(k) for k in LINE_FIELDS}) for data in kept]
        for line in lines:
            line.unit = line.unit or ""
            line.discount_percent = line.discount_percent or 0
        services.replace_draft_lines(invoice=form.instance, actor=signed_in_user(request), lines=lines)
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def _run(
        self,
        request: HttpRequest,
        queryset: QuerySet[Invoice],
        operation: Callable[[Invoice], Model],
        done_message: StrPromise,
    ) -> None:
        done = 0
        for invoice in queryset:
            try:
                operation(invoice)
                done += 1
            except (BusinessError, PermissionDenied) as exc:
                text = exc.text() if isinstance(exc, BusinessError) else str(exc)
                messages.error(request, f"{invoice}: {text}")
        if done:
            messages.success(request, done_message % {"count": done})

    def _require_write(self, request: HttpRequest) -> None:
        if not signed_in_user(request).can_write:
            raise PermissionDenied

    @admin.action(description=_("Finaliser (numéroter et figer)"))
    def finalise_selected(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        self._require_write(request)
        user = signed_in_user(request)
        self._run(
            request,
            queryset.order_by("id"),
            lambda inv: services.finalise_invoice(invoice=inv, actor=user),
            _("%(count)s document(s) finalisé(s)."),
        )

    @admin.action(description=_("Annuler (void)"))
    def void_selected(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        self._require_write(request)
        user = signed_in_user(request)
        self._run(
            request,
            queryset,
            lambda inv: services.void_invoice(invoice=inv, actor=user),
            _("%(count)s document(s) annulé(s)."),
        )

    @admin.action(description=_("Créer un avoir (brouillon)"))
    def credit_note_selected(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        self._require_write(request)
        user = signed_in_user(request)
        self._run(
            request,
            queryset,
            lambda inv: services.create_credit_note(invoice=inv, actor=user),
            _("%(count)s avoir(s) créé(s) en brouillon."),
        )

    @admin.action(description=_("Révoquer le lien public (un nouveau lien le remplace)"))
    def revoke_link_selected(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        self._require_write(request)
        user = signed_in_user(request)
        self._run(
            request,
            queryset,
            lambda inv: services.revoke_public_link(invoice=inv, actor=user),
            _("%(count)s lien(s) public(s) révoqué(s)."),
        )

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        if not signed_in_user(request).can_write:
            return {}
        return actions


@admin.register(LedgerEntry)
class LedgerEntryAdmin(OrganisationScopedAdmin):
    list_display = ["occurred_on", "customer", "kind", "amount", "invoice", "payment"]
    list_filter = ["kind"]
    search_fields = ["customer__name", "invoice__number"]
    list_select_related = ["customer", "invoice", "payment"]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CustomerWithReceivablesAdmin(CustomerAdmin):
    """The customer admin of customers, with the account summary that only invoicing can compute."""

    readonly_fields = [*CustomerAdmin.readonly_fields, "receivables_summary"]
    fields = [*CustomerAdmin.fields, "receivables_summary"]

    @admin.display(description=_("Compte"))
    def receivables_summary(self, obj: Customer | None) -> str:
        if obj is None or obj.pk is None:
            return "—"
        r = receivables(obj)
        return _("solde %(b)s, dû %(d)s, en retard %(o)s, crédit %(c)s %(cur)s") % {
            "b": r.balance,
            "d": r.amount_due,
            "o": r.overdue_amount,
            "c": r.credit_balance,
            "cur": r.currency,
        }


admin.site.unregister(Customer)
admin.site.register(Customer, CustomerWithReceivablesAdmin)
