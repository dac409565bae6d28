"""The admin for staff: every list, form and choice scoped to the user's organisation.

Permissions follow the staff role (owner, accountant, read-only) instead of Django groups, so a
new organisation works without any group set-up.
"""

from django.contrib import admin, messages
from django.http import HttpResponseRedirect

from .errors import BusinessError
from .models import AuditLog, NumberSeries, TaxRate


def organisation_filter(model, organisation_id) -> dict | None:
    """The lookup that keeps ``model`` rows to one organisation, or None for shared data."""
    names = {f.name for f in model._meta.get_fields()}
    if "organisation" in names:
        return {"organisation_id": organisation_id}
    if "customer" in names:
        return {"customer__organisation_id": organisation_id}
    if "invoice" in names:
        return {"invoice__organisation_id": organisation_id}
    return None


def _is_staff(request) -> bool:
    user = request.user
    return user.is_active and user.is_staff and (user.is_superuser or user.organisation_id is not None)


class ScopedMixin:
    """Shared by model admins and inlines: scoping, choice limiting, role permissions."""

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        lookup = organisation_filter(qs.model, request.user.organisation_id)
        return qs if lookup is None else qs.filter(**lookup)

    def _limit(self, queryset, request):
        if request.user.is_superuser:
            return queryset
        lookup = organisation_filter(queryset.model, request.user.organisation_id)
        return queryset if lookup is None else queryset.filter(**lookup)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and hasattr(field, "queryset"):
            field.queryset = self._limit(field.queryset, request)
        return field

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if field is not None and hasattr(field, "queryset"):
            field.queryset = self._limit(field.queryset, request)
        return field

    def has_module_permission(self, request):
        return _is_staff(request)

    def has_view_permission(self, request, obj=None):
        return _is_staff(request)

    def has_add_permission(self, request, *args):
        return _is_staff(request) and request.user.can_write

    def has_change_permission(self, request, obj=None):
        return _is_staff(request) and request.user.can_write

    def has_delete_permission(self, request, obj=None):
        return False


class OrganisationScopedAdmin(ScopedMixin, admin.ModelAdmin):
    """Base of every tenant model admin; sets the organisation on new rows from the user."""

    def get_exclude(self, request, obj=None):
        excluded = list(super().get_exclude(request, obj) or [])
        if not request.user.is_superuser and "organisation" in {f.name for f in self.model._meta.fields}:
            excluded.append("organisation")
        return excluded

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is None and not request.user.is_superuser and hasattr(self.model, "organisation_id"):
            organisation = request.user.organisation

            class WithOrganisation(form):
                def __init__(self, *args, **kw):
                    super().__init__(*args, **kw)
                    self.instance.organisation = organisation

            return WithOrganisation
        return form

    def changeform_view(self, request, *args, **kwargs):
        """A refused business rule rolls everything back and is shown as a message."""
        try:
            return super().changeform_view(request, *args, **kwargs)
        except BusinessError as exc:
            if request.method != "POST":
                raise
            messages.error(request, " ".join(exc.messages))
            return HttpResponseRedirect(request.get_full_path())


class ScopedTabularInline(ScopedMixin, admin.TabularInline):
    extra = 0


class ScopedStackedInline(ScopedMixin, admin.StackedInline):
    extra = 0


class ReadOnlyMixin:
    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyMixin, OrganisationScopedAdmin):
    list_display = ["at", "object_repr", "action", "from_state", "to_state", "actor_label"]
    list_filter = ["action", "content_type"]
    search_fields = ["object_repr", "actor_label"]
    date_hierarchy = "at"


@admin.register(TaxRate)
class TaxRateAdmin(ReadOnlyMixin, ScopedMixin, admin.ModelAdmin):
    list_display = ["code", "name_fr", "name_en", "rate", "treatment", "country", "region", "active"]
    list_filter = ["country", "treatment", "active"]
    search_fields = ["code", "name_fr", "name_en"]


class NumberSeriesInline(ScopedTabularInline):
    model = NumberSeries
    fields = ["kind", "format", "reset_yearly", "current_year", "last_value", "last_date"]
    readonly_fields = ["kind", "current_year", "last_value", "last_date"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return _is_staff(request) and request.user.can_manage_settings
