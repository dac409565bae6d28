"""Webhook endpoints of the organisation, their delivery log and replays: the owner's pages."""

import json
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from acquitte.core.errors import BusinessError
from acquitte.core.http import AuthenticatedHttpRequest, View, paginate, report
from acquitte.customers.models import Organisation
from acquitte.notifications import selectors, services
from acquitte.notifications.models import WebhookDelivery, WebhookEndpoint

from ..access import owned, staff_required

EVENT_LABELS = {
    "service.suspended": gettext_lazy("Service suspendu"),
    "service.unsuspended": gettext_lazy("Service rétabli"),
    "service.renewed": gettext_lazy("Service renouvelé"),
    "service.terminated": gettext_lazy("Service résilié"),
}
#: Where the demo receiver's pages live, when the demo app is installed.
DEMO_RECEIVER_PATH = "/demo/webhooks/"


class EndpointForm(forms.Form):
    url = forms.CharField(
        label=gettext_lazy("Adresse de réception"),
        max_length=500,
        widget=forms.URLInput(attrs={"placeholder": "https://", "autocomplete": "off"}),
    )
    description = forms.CharField(label=gettext_lazy("Description"), max_length=200, required=False)
    event_types = forms.MultipleChoiceField(
        label=gettext_lazy("Événements"),
        choices=[(event, EVENT_LABELS[event]) for event in services.PROVISIONING_EVENTS],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=gettext_lazy("Aucun coché : tous les événements, y compris ceux ajoutés plus tard."),
    )
    active = forms.BooleanField(label=gettext_lazy("Actif"), required=False, initial=True)


def owner_required(view: View) -> View:
    """Endpoints carry a signing secret: only the organisation's owner sees or changes them."""

    @staff_required
    @wraps(view)
    def wrapped(request: AuthenticatedHttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.can_manage_settings:
            raise PermissionDenied(_("Seul le propriétaire peut modifier ces réglages."))
        return view(request, *args, **kwargs)

    return wrapped


def _demo_page(endpoints: list[WebhookEndpoint]) -> str:
    """The demo receiver's log, linked only when an endpoint points at it."""
    if not any(DEMO_RECEIVER_PATH in endpoint.url for endpoint in endpoints):
        return ""
    try:
        return reverse("demo:received_webhooks")
    except NoReverseMatch:
        return ""


def _list_page(
    request: AuthenticatedHttpRequest, organisation: Organisation, form: EndpointForm, status: int = 200
) -> HttpResponse:
    endpoints = list(selectors.webhook_endpoints(organisation=organisation))
    return render(
        request,
        "backoffice/webhook_list.html",
        {"endpoints": endpoints, "form": form, "labels": EVENT_LABELS, "demo_page": _demo_page(endpoints)},
        status=status,
    )


@owner_required
def webhook_list(request: AuthenticatedHttpRequest, *, organisation: Organisation) -> HttpResponse:
    if request.method != "POST":
        return _list_page(request, organisation, EndpointForm())
    form = EndpointForm(request.POST)
    if form.is_valid():
        try:
            endpoint = services.create_webhook_endpoint(
                organisation=organisation,
                url=form.cleaned_data["url"],
                description=form.cleaned_data["description"],
                event_types=form.cleaned_data["event_types"],
                actor=request.user,
            )
        except BusinessError as exc:
            report(request, exc, form)
        else:
            messages.success(request, _("Point de terminaison ajouté : copiez son secret de signature."))
            return redirect("backoffice:webhook_detail", pk=endpoint.pk)
    return _list_page(request, organisation, form, status=400)


def _detail_page(
    request: AuthenticatedHttpRequest, endpoint: WebhookEndpoint, form: EndpointForm, status: int = 200
) -> HttpResponse:
    state = request.GET.get("status", "")
    rows = selectors.webhook_deliveries(endpoint=endpoint, status=state)
    return render(
        request,
        "backoffice/webhook_detail.html",
        {
            "endpoint": endpoint,
            "form": form,
            "page": paginate(request, rows),
            "status": state,
            "statuses": WebhookDelivery.Status.choices,
            "labels": EVENT_LABELS,
            "demo_page": _demo_page([endpoint]),
        },
        status=status,
    )


@owner_required
def webhook_detail(request: AuthenticatedHttpRequest, pk: int, *, organisation: Organisation) -> HttpResponse:
    endpoint = owned(WebhookEndpoint, organisation, pk)
    if request.method != "POST":
        initial = {
            "url": endpoint.url,
            "description": endpoint.description,
            "event_types": endpoint.event_types,
            "active": endpoint.active,
        }
        return _detail_page(request, endpoint, EndpointForm(initial=initial))
    form = EndpointForm(request.POST)
    if form.is_valid():
        try:
            services.update_webhook_endpoint(
                endpoint=endpoint,
                url=form.cleaned_data["url"],
                description=form.cleaned_data["description"],
                event_types=form.cleaned_data["event_types"],
                active=form.cleaned_data["active"],
                actor=request.user,
            )
        except BusinessError as exc:
            report(request, exc, form)
        else:
            messages.success(request, _("Point de terminaison enregistré."))
            return redirect("backoffice:webhook_detail", pk=pk)
    endpoint.refresh_from_db()
    return _detail_page(request, endpoint, form, status=400)


@require_POST
@owner_required
def webhook_action(
    request: AuthenticatedHttpRequest, pk: int, action: str, *, organisation: Organisation
) -> HttpResponse:
    endpoint = owned(WebhookEndpoint, organisation, pk)
    try:
        if action == "test":
            services.send_test_event(endpoint=endpoint, actor=request.user)
            messages.success(request, _("Événement de test envoyé : son résultat s'affiche ci-dessous."))
        elif action == "secret":
            services.rotate_webhook_secret(endpoint=endpoint, actor=request.user)
            messages.success(request, _("Nouveau secret créé : mettez-le à jour chez le destinataire."))
        elif action == "supprimer":
            services.delete_webhook_endpoint(endpoint=endpoint, actor=request.user)
            messages.success(request, _("Point de terminaison supprimé."))
            return redirect("backoffice:webhook_list")
        else:
            raise Http404
    except BusinessError as exc:
        report(request, exc)
    return redirect("backoffice:webhook_detail", pk=pk)


@owner_required
def webhook_delivery(
    request: AuthenticatedHttpRequest, pk: int, *, organisation: Organisation
) -> HttpResponse:
    delivery = owned(WebhookDelivery.objects.select_related("endpoint"), organisation, pk)
    return render(
        request,
        "backoffice/webhook_delivery.html",
        {
            "delivery": delivery,
            "payload": json.dumps(delivery.payload, indent=2, ensure_ascii=False),
            "attempts": delivery.attempt_log.all(),
        },
    )


@require_POST
@owner_required
def webhook_replay(request: AuthenticatedHttpRequest, pk: int, *, organisation: Organisation) -> HttpResponse:
    delivery = owned(WebhookDelivery, organisation, pk)
    try:
        services.replay_webhook_delivery(delivery=delivery, actor=request.user)
    except BusinessError as exc:
        report(request, exc)
    else:
        messages.success(request, _("Envoi relancé avec le même identifiant de message."))
    return redirect("backoffice:webhook_delivery", pk=pk)
