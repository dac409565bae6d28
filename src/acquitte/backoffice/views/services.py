"""Domains and yearly services: the list with its filters (state, kind, expiring before a date, a
customer), sorted by expiry date, and one service with its renewals and suspensions."""

import datetime
from typing import Any, cast

from django import forms
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from acquitte.core.http import AuthenticatedHttpRequest, paginate
from acquitte.core.params import int_param
from acquitte.customers.models import Organisation
from acquitte.customers.selectors import customer_of
from acquitte.subscriptions import renewal_selectors
from acquitte.subscriptions.models import Service
from acquitte.subscriptions.selectors import today_for

from ..access import staff_required


class ServiceFilterForm(forms.Form):
    q = forms.CharField(label=_("Recherche"), required=False, max_length=200)
    status = forms.ChoiceField(label=_("État"), required=False)
    kind = forms.ChoiceField(label=_("Type"), required=False)
    expiring_before = forms.DateField(
        label=_("Expire avant le"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    sort = forms.ChoiceField(
        label=_("Tri"),
        required=False,
        choices=[
            ("expiry", _("Expiration, la plus proche d'abord")),
            ("-expiry", _("Expiration, la plus lointaine d'abord")),
            ("name", _("Nom")),
            ("customer", _("Client")),
        ],
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["status"]).choices = [("", _("Tous")), *Service.Status.choices]
        cast(forms.ChoiceField, self.fields["kind"]).choices = [("", _("Tous")), *Service.Kind.choices]


@staff_required
def service_list(request: AuthenticatedHttpRequest, *, organisation: Organisation) -> HttpResponse:
    form = ServiceFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    customer_pk = int_param(request, "customer")
    customer = customer_of(organisation=organisation, pk=customer_pk) if customer_pk else None
    expiring_before: datetime.date | None = filters.get("expiring_before")
    rows = renewal_selectors.services_of(
        organisation,
        status=filters.get("status", ""),
        kind=filters.get("kind", ""),
        expiring_before=expiring_before,
        customer=customer,
        q=filters.get("q", ""),
        sort=filters.get("sort") or "expiry",
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "backoffice/service_list.html",
        {
            "form": form,
            "page": paginate(request, rows),
            "filter_query": query.urlencode(),
            "customer": customer,
            "today": today_for(organisation),
        },
    )


@staff_required
def service_detail(request: AuthenticatedHttpRequest, pk: int, *, organisation: Organisation) -> HttpResponse:
    service = renewal_selectors.service_of(organisation, pk)
    if service is None:
        raise Http404
    return render(
        request,
        "backoffice/service_detail.html",
        {
            "service": service,
            "renewals": renewal_selectors.renewals_of(service),
            "suspensions": renewal_selectors.suspensions_of(service),
            "today": today_for(organisation),
        },
    )
