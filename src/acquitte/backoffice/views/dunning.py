"""The dunning view (who is at which step, what comes next, a preview of it), the renewal and
dunning settings, and the manual suspension (with its reason, confirmed first) and unsuspension."""

from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from acquitte.catalog.models import Product
from acquitte.core.errors import BusinessError
from acquitte.core.http import AuthenticatedHttpRequest, paginate, report
from acquitte.customers.models import Organisation
from acquitte.subscriptions import dunning_selectors, renewal_selectors
from acquitte.subscriptions import services as subscriptions
from acquitte.subscriptions.models import DunningStep, Service
from acquitte.subscriptions.selectors import today_for

from ..access import staff_required


class DaysField(forms.Field):
    """A list of days written "1, 7, 14"; the service checks order and range."""

    widget = forms.TextInput

    def to_python(self, value: Any) -> list[int]:
        text = str(value or "")
        parts = [part for part in text.replace(";", ",").replace(" ", ",").split(",") if part]
        try:
            return [int(part) for part in parts]
        except ValueError:
            raise forms.ValidationError(
                gettext_lazy("Des nombres de jours séparés par des virgules.")
            ) from None

    def prepare_value(self, value: Any) -> Any:
        return ", ".join(str(day) for day in value) if isinstance(value, list) else value


class DunningSettingsForm(forms.Form):
    renewal_notice_days = forms.IntegerField(
        label=gettext_lazy("Facture de renouvellement (jours avant l'expiration)")
    )
    reminder_before_days = forms.IntegerField(
        label=gettext_lazy("Rappel avant l'échéance (jours, 0 : aucun)")
    )
    overdue_reminder_days = DaysField(label=gettext_lazy("Relances après l'échéance (jours)"), required=False)
    card_retry_days = DaysField(
        label=gettext_lazy("Nouvelles tentatives sur la carte (jours)"), required=False
    )
    late_fee_after_days = forms.IntegerField(
        label=gettext_lazy("Frais de retard après (jours, vide : aucun)"), required=False
    )
    suspend_after_days = forms.IntegerField(
        label=gettext_lazy("Suspension après (jours, vide : jamais)"), required=False
    )
    terminate_after_days = forms.IntegerField(
        label=gettext_lazy("Résiliation après (jours, vide : jamais)"), required=False
    )
    card_expiry_notice_days = DaysField(
        label=gettext_lazy("Avis d'expiration de carte (jours avant)"), required=False
    )
    reactivation_fee = forms.ModelChoiceField(
        label=gettext_lazy("Produit des frais de réactivation"),
        queryset=Product.objects.none(),
        required=False,
    )

    def __init__(self, *args: Any, organisation: Organisation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["reactivation_fee"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Product.objects.filter(organisation=organisation, active=True).order_by("name")


def _settings_form(organisation: Organisation, data: Any = None) -> DunningSettingsForm:
    found = dunning_selectors.dunning_settings(organisation)
    initial = {name: getattr(found, name) for name in DunningSettingsForm.base_fields}
    return DunningSettingsForm(data, initial=initial, organisation=organisation)


STEP_FILTERS = [
    ("", gettext_lazy("Toutes")),
    (dunning_selectors.NO_STEP, gettext_lazy("Aucune étape encore")),
]


@staff_required
def dunning(request: AuthenticatedHttpRequest, *, organisation: Organisation) -> HttpResponse:
    today = today_for(organisation)
    step = request.GET.get("step", "")
    page = paginate(request, dunning_selectors.dunning_invoices(organisation, today, step=step))
    return render(
        request,
        "backoffice/dunning_list.html",
        {
            "rows": dunning_selectors.dunning_overview(organisation, today, invoices=list(page)),
            "page": page,
            "step": step,
            "steps": [*STEP_FILTERS, *DunningStep.Kind.choices],
            "filter_query": f"step={step}" if step else "",
            "today": today,
            "organisation": organisation,
        },
    )


@staff_required
def dunning_settings(request: AuthenticatedHttpRequest, *, organisation: Organisation) -> HttpResponse:
    form = _settings_form(organisation, request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                subscriptions.update_dunning_settings(
                    organisation=organisation, actor=request.user, **form.cleaned_data
                )
            except BusinessError as exc:
                report(request, exc, form)
            else:
                messages.success(request, _("Réglages des renouvellements et relances enregistrés."))
                return redirect("backoffice:dunning_settings")
    return render(
        request,
        "backoffice/dunning_settings.html",
        {"form": form, "can_manage": request.user.can_manage_settings, "organisation": organisation},
        status=status,
    )


class SuspendForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("Motif de la suspension"), max_length=300, widget=forms.Textarea(attrs={"rows": 3})
    )


def _service(organisation: Organisation, pk: int) -> Service:
    service = renewal_selectors.service_of(organisation, pk)
    if service is None:
        raise Http404
    return service


@staff_required
def service_suspend(
    request: AuthenticatedHttpRequest, pk: int, *, organisation: Organisation
) -> HttpResponse:
    """A confirmation page with the reason to write, then the suspension."""
    service = _service(organisation, pk)
    form = SuspendForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                subscriptions.suspend_service(
                    service=service,
                    reason=Service.SuspensionReason.MANUAL,
                    note=form.cleaned_data["note"],
                    actor=request.user,
                )
            except BusinessError as exc:
                report(request, exc, form)
            else:
                messages.success(request, _("Service suspendu."))
                return redirect("backoffice:service_detail", service.pk)
    return render(
        request, "backoffice/dunning_suspend.html", {"service": service, "form": form}, status=status
    )


@staff_required
@require_POST
def service_unsuspend(
    request: AuthenticatedHttpRequest, pk: int, *, organisation: Organisation
) -> HttpResponse:
    service = _service(organisation, pk)
    try:
        subscriptions.unsuspend_service(service=service, actor=request.user)
    except BusinessError as exc:
        report(request, exc)
    else:
        messages.success(request, _("Service réactivé."))
    return redirect("backoffice:service_detail", service.pk)
