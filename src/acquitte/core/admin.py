"""The admin for staff: every list, form and choice scoped to the user's organisation.

Permissions follow the staff role (owner, accountant, read-only) instead of Django groups, so a
new organisation works without any group set-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import BaseModelAdmin
from django.contrib.admin.utils import get_fields_from_path
from django.db.models import ForeignKey, ManyToManyField, Model, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from .errors import BusinessError
from .http import signed_in_user
from .models import AuditLog, NumberSeries, TaxRate

if TYPE_CHECKING:
    from django.contrib.admin.options import _ListFilterT
    from django.utils.functional import _StrOrPromise

    _BaseAdmin = BaseModelAdmin[Any]
    _ModelAdmin = admin.ModelAdmin[Any]
    _TabularInline = admin.TabularInline[Any, Any]
    _StackedInline = admin.StackedInline[Any, Any]
else:  # the admin classes are generic in django-stubs only
    _BaseAdmin, _ModelAdmin = BaseModelAdmin, admin.ModelAdmin
    _TabularInline, _StackedInline = admin.TabularInline, admin.StackedInline


#: Fields through which a row belongs to an organisation, tried in order.
_OWNERS = ("organisation", "customer", "invoice", "quote", "payment")


def organisation_filter(model: type[Model], organisation_id: int | None) -> Q | None:
    """The condition that keeps ``model`` rows to one organisation, or None for shared data."""
    label = model._meta.label_lower
    if label == "customers.organisation":
        return Q(pk=organisation_id)
    if label == "customers.user":  # staff belong to the organisation, portal users to a customer of it
        return Q(organisation_id=organisation_id) | Q(customer__organisation_id=organisation_id)
    names = {f.name for f in model._meta.get_fields()}
    owner = next((name for name in _OWNERS if name in names), None)
    if owner is None:
        return None
    path = "organisation_id" if owner == "organisation" else f"{owner}__organisation_id"
    return Q(**{path: organisation_id})


def _is_staff(request: HttpRequest) -> bool:
    if not request.user.is_authenticated:
        return False
    user = signed_in_user(request)
    return user.is_active and user.is_staff and (user.is_superuser or user.organisation_id is not None)


def _limit(queryset: QuerySet[Any], request: HttpRequest) -> QuerySet[Any]:
    user = signed_in_user(request)
    if user.is_superuser:
        return queryset
    lookup = organisation_filter(queryset.model, user.organisation_id)
    return queryset if lookup is None else queryset.filter(lookup)


class ScopedRelatedFieldListFilter(admin.RelatedFieldListFilter):
    """A sidebar filter on a relation that offers only the user's organisation's rows.

    Django's own lists every row of the related model, whichever organisation owns it.
    """

    def field_choices(
        self, field: Any, request: HttpRequest, model_admin: Any
    ) -> list[tuple[str, _StrOrPromise]]:
        user = signed_in_user(request)
        condition = (
            None if user.is_superuser else organisation_filter(field.related_model, user.organisation_id)
        )
        if condition is None:
            return super().field_choices(field, request, model_admin)
        own = field.get_limit_choices_to() if hasattr(field, "get_limit_choices_to") else None
        if own:
            condition &= own if isinstance(own, Q) else Q(**own)
        ordering = self.field_admin_ordering(field, request, model_admin)
        choices: list[tuple[str, _StrOrPromise]] = field.get_choices(
            include_blank=False, ordering=ordering, limit_choices_to=condition
        )
        return choices


def scoped_list_filter(model: type[Model], list_filter: Sequence[_ListFilterT]) -> list[_ListFilterT]:
    """``list_filter`` with every filter on a relation made a ``ScopedRelatedFieldListFilter``."""
    scoped: list[_ListFilterT] = []
    for entry in list_filter:
        name: object = entry
        filter_class: object = None
        if isinstance(entry, tuple | list):
            name, filter_class = entry[0], entry[1]
        relation = isinstance(name, str) and get_fields_from_path(model, name)[-1].is_relation
        if relation and filter_class in (None, admin.RelatedFieldListFilter):
            scoped.append((str(name), ScopedRelatedFieldListFilter))
        else:
            scoped.append(entry)
    return scoped


class ScopedMixin(_BaseAdmin):
    """Shared by model admins and inlines: scoping, choice limiting, role permissions."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return _limit(super().get_queryset(request), request)

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> forms.ModelChoiceField[Any] | None:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and field.queryset is not None:
            field.queryset = _limit(field.queryset, request)
        return field

    def formfield_for_manytomany(
        self, db_field: ManyToManyField[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> forms.ModelMultipleChoiceField[Any] | None:
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if field is not None and field.queryset is not None:
            field.queryset = _limit(field.queryset, request)
        return field

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _is_staff(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_staff(request)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return _is_staff(request) and signed_in_user(request).can_write

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_staff(request) and signed_in_user(request).can_write

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SafeLookupsAdmin(_ModelAdmin):
    """Two hand-made query strings on which Django's admin answers 500 get what a bad filter gets."""

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        # ?_to_field= (empty) names no field: look the object up by its primary key.
        return super().get_object(request, object_id, from_field or None)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        try:
            return super().changelist_view(request, extra_context)
        except OverflowError:  # a date-hierarchy year such as ?at__year=99999999999999999999
            return HttpResponseRedirect(f"{request.path}?e=1")


class OrganisationScopedAdmin(ScopedMixin, SafeLookupsAdmin):
    """Base of every tenant model admin; sets the organisation on new rows from the user."""

    def get_list_filter(self, request: HttpRequest) -> list[_ListFilterT]:
        return scoped_list_filter(self.model, super().get_list_filter(request))

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> list[str]:
        excluded = list(super().get_exclude(request, obj) or [])
        if not signed_in_user(request).is_superuser and "organisation" in {
            f.name for f in self.model._meta.fields
        }:
            excluded.append("organisation")
        return excluded

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[Any]]:
        form = super().get_form(request, obj, change, **kwargs)
        user = signed_in_user(request)
        if obj is None and not user.is_superuser and hasattr(self.model, "organisation_id"):
            organisation = user.organisation

            class WithOrganisation(form):  # type: ignore[valid-type,misc]  # a class made at run time
                def __init__(self, *args: Any, **kw: Any) -> None:
                    super().__init__(*args, **kw)
                    self.instance.organisation = organisation

            return WithOrganisation
        return form

    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """A refused business rule rolls everything back and is shown as a message."""
        try:
            return super().changeform_view(request, *args, **kwargs)
        except BusinessError as exc:
            if request.method != "POST":
                raise
            messages.error(request, exc.text())
            return HttpResponseRedirect(request.get_full_path())


class ScopedTabularInline(ScopedMixin, _TabularInline):
    extra = 0


class ScopedStackedInline(ScopedMixin, _StackedInline):
    extra = 0


class ReadOnlyMixin(_BaseAdmin):
    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyMixin, OrganisationScopedAdmin):
    list_display = ["at", "object_repr", "action", "from_state", "to_state", "actor_label"]
    list_filter = ["action", "content_type"]
    search_fields = ["object_repr", "actor_label"]
    date_hierarchy = "at"


@admin.register(TaxRate)
class TaxRateAdmin(ReadOnlyMixin, ScopedMixin, SafeLookupsAdmin):
    list_display = ["code", "name_fr", "name_en", "rate", "treatment", "country", "region", "active"]
    list_filter = ["country", "treatment", "active"]
    search_fields = ["code", "name_fr", "name_en"]


class NumberSeriesInline(ScopedTabularInline):
    model = NumberSeries
    fields = ["kind", "format", "reset_yearly", "current_year", "last_value", "last_date"]
    readonly_fields = ["kind", "current_year", "last_value", "last_date"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_staff(request) and signed_in_user(request).can_manage_settings
