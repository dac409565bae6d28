"""Who reaches the back office, and how its lookups stay inside one organisation."""

from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from acquitte.core.http import View
from acquitte.customers.models import Organisation

M = TypeVar("M", bound=Model)


def staff_required(view: View) -> View:
    """Back-office pages are for the staff of one organisation; customers go to their portal.

    The view gets ``organisation`` as a keyword: every lookup it makes is scoped by it.
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("portal:login"))
        if user.customer_id is not None:
            return redirect("portal:home")
        if user.organisation_id is None:
            raise PermissionDenied
        return view(request, *args, organisation=user.organisation, **kwargs)

    return wrapped


def owned(model_or_queryset: type[M] | QuerySet[M], organisation: Organisation, pk: Any, **filters: Any) -> M:
    """The object with ``pk`` in ``organisation``, or 404 (another tenant's id looks missing)."""
    queryset = (
        model_or_queryset
        if isinstance(model_or_queryset, QuerySet)
        else model_or_queryset._default_manager.all()
    )
    obj = queryset.filter(organisation=organisation, pk=pk, **filters).first()
    if obj is None:
        raise Http404
    return obj
