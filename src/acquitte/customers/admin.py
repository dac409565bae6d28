from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from acquitte.core.admin import (
    NumberSeriesInline,
    OrganisationScopedAdmin,
    ScopedStackedInline,
    ScopedTabularInline,
)
from acquitte.core.http import signed_in_user

from . import services
from .models import Address, Contact, Customer, Organisation, Site, TermsAcceptance, TermsVersion, User


class TermsVersionInline(ScopedStackedInline):
    model = TermsVersion

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        user = signed_in_user(request)
        return user.is_superuser or user.can_manage_settings

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
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

    def get_queryset(self, request: HttpRequest) -> QuerySet[Organisation]:
        qs = super().get_queryset(request)
        user = signed_in_user(request)
        return qs if user.is_superuser else qs.filter(pk=user.organisation_id)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return signed_in_user(request).is_superuser

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        user = signed_in_user(request)
        return user.is_active and (user.is_superuser or user.can_manage_settings)


class DefaultAddressFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
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
    fields = readonly_fields = ("terms", "accepted_at", "ip_address", "user")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Customer)
class CustomerAdmin(OrganisationScopedAdmin):
    list_display = ["number", "name", "email", "phone", "language", "created_at"]
    list_filter = ["kind", "language"]
    search_fields = ["name", "number", "email"]
    readonly_fields = ["number"]
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
    ]
    inlines = [AddressInline, ContactInline, SiteInline, TermsAcceptanceInline]

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        user = signed_in_user(request)
        if user.organisation is not None:
            initial.setdefault("currency", user.organisation.currency)
        return initial

    def save_model(self, request: HttpRequest, obj: Customer, form: Any, change: bool) -> None:
        services.save_customer(customer=obj, actor=signed_in_user(request))


@admin.register(User)
class UserAdmin(OrganisationScopedAdmin):
    list_display = ["email", "full_name", "role", "customer", "is_active", "last_login"]
    list_filter = ["role", "is_active"]
    search_fields = ["email", "full_name"]
    fields = ["email", "full_name", "role", "customer", "language", "is_active", "last_login"]
    readonly_fields = ["email", "customer", "last_login"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        qs = super(OrganisationScopedAdmin, self).get_queryset(request)
        user = signed_in_user(request)
        if user.is_superuser:
            return qs
        org = user.organisation_id
        return qs.filter(organisation_id=org) | qs.filter(customer__organisation_id=org)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return signed_in_user(request).is_superuser

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        user = signed_in_user(request)
        return user.is_active and (user.is_superuser or user.can_manage_settings)
