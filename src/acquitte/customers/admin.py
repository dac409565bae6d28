from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from acquitte.core.admin import (
    NumberSeriesInline,
    OrganisationScopedAdmin,
    ScopedStackedInline,
    ScopedTabularInline,
)
from acquitte.invoicing.selectors import receivables

from . import services
from .models import Address, Contact, Customer, Organisation, Site, TermsAcceptance, TermsVersion, User


class TermsVersionInline(ScopedStackedInline):
    model = TermsVersion

    def has_add_permission(self, request, obj=None):
        return request.user.is_superuser or request.user.can_manage_settings

    def has_change_permission(self, request, obj=None):
        return self.has_add_permission(request, obj)


@admin.register(Organisation)
class OrganisationAdmin(OrganisationScopedAdmin):
    list_display = ["name", "currency", "locale", "country"]
    inlines = [NumberSeriesInline, TermsVersionInline]
    fieldsets = [
        (None, {"fields": ["name", "slug", "currency", "locale", "legal_form"]}),
        (_("Adresse"), {"fields": ["line1", "line2", "city", "region", "postal_code", "country"]}),
        (
            _("Identifiants fiscaux"),
            {"fields": ["gst_number", "qst_number", "siren", "siret", "vat_number"]},
        ),
        (
            _("Paiement"),
            {
                "fields": [
                    "payment_terms_days",
                    "late_penalty_rate",
                    "online_payment_default",
                    "transfer_grace_days",
                    "bank_details",
                    "iban",
                    "bic",
                    "cheque_payee",
                ]
            },
        ),
        (_("Support"), {"fields": ["support_email", "support_phone"]}),
    ]

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return qs if request.user.is_superuser else qs.filter(pk=request.user.organisation_id)

    def has_add_permission(self, request, *args):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_active and (request.user.is_superuser or request.user.can_manage_settings)


class DefaultAddressFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        defaults = [
            f for f in self.forms if f.cleaned_data.get("is_default") and not f.cleaned_data.get("DELETE")
        ]
        if len(defaults) > 1:
            raise forms.ValidationError(_("Un client ne peut avoir qu'une seule adresse par défaut."))


class AddressInline(ScopedTabularInline):
    model = Address
    formset = DefaultAddressFormSet
    fields = ["label", "name", "line1", "line2", "city", "region", "postal_code", "country", "is_default"]


class ContactInline(ScopedTabularInline):
    model = Contact
    fields = ["name", "company", "email", "phone", "is_primary", "is_billing", "address"]


class SiteInline(ScopedTabularInline):
    model = Site
    fields = ["name", "line1", "city", "region", "postal_code", "country", "active"]


class TermsAcceptanceInline(ScopedTabularInline):
    model = TermsAcceptance
    fields = ["terms", "accepted_at", "ip_address", "user"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Customer)
class CustomerAdmin(OrganisationScopedAdmin):
    list_display = ["number", "name", "email", "phone", "language", "created_at"]
    list_filter = ["kind", "language"]
    search_fields = ["name", "number", "email"]
    readonly_fields = ["number", "receivables_summary"]
    fields = [
        "number",
        "kind",
        "name",
        "email",
        "phone",
        "language",
        "currency",
        "vat_number",
        "tax_category",
        "receivables_summary",
    ]
    inlines = [AddressInline, ContactInline, SiteInline, TermsAcceptanceInline]

    @admin.display(description=_("Compte"))
    def receivables_summary(self, obj):
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

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        if request.user.organisation_id:
            initial.setdefault("currency", request.user.organisation.currency)
        return initial

    def save_model(self, request, obj, form, change):
        services.save_customer(customer=obj, actor=request.user)


@admin.register(User)
class UserAdmin(OrganisationScopedAdmin):
    list_display = ["email", "full_name", "role", "customer", "is_active", "last_login"]
    list_filter = ["role", "is_active"]
    search_fields = ["email", "full_name"]
    fields = ["email", "full_name", "role", "customer", "language", "is_active", "last_login"]
    readonly_fields = ["email", "customer", "last_login"]

    def get_queryset(self, request):
        qs = super(OrganisationScopedAdmin, self).get_queryset(request)
        if request.user.is_superuser:
            return qs
        org = request.user.organisation_id
        return qs.filter(organisation_id=org) | qs.filter(customer__organisation_id=org)

    def has_add_permission(self, request, *args):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_active and (request.user.is_superuser or request.user.can_manage_settings)
