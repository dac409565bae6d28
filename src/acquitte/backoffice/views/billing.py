"""Facturation: the billing settings, the runs' history, the preview of the next runs, running
the billing now, and the test clock of a test-mode organisation."""

import datetime
from typing import Any

from babel.dates import format_date
from django.contrib import messages
from django.db.models import DurationField, ExpressionWrapper, F, QuerySet
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from acquitte.core.errors import BusinessError
from acquitte.core.http import AuthenticatedHttpRequest, paginate, report
from acquitte.customers.models import Organisation
from acquitte.subscriptions import periods, selectors
from acquitte.subscriptions import services as subscriptions
from acquitte.subscriptions.models import BillingRun, CollectionAttempt
from acquitte.subscriptions.services.clock import ClockResult, time_zones

from ..access import owned, staff_required
from ..forms import BillingSettingsForm, ClockForm


def _timed(runs: QuerySet[BillingRun]) -> QuerySet[BillingRun]:
    """Each run with its ``duration`` (None while it runs), for the history's column."""
    return runs.annotate(
        duration=ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    )


def _settings_form(organisation: Organisation, data: Any = None) -> BillingSettingsForm:
    found = selectors.billing_settings(organisation)
    return BillingSettingsForm(
        data,
        zones=sorted(time_zones()),
        initial={
            "bill_day": found.bill_day,
            "collection_day": found.collection_day,
            "time_zone": found.time_zone,
        },
    )


def _clock(organisation: Organisation) -> dict[str, Any] | None:
    """The test clock panel's dates, or None for a live organisation (it never sees the panel)."""
    if not selectors.in_test_mode(organisation):
        return None
    found = selectors.billing_settings(organisation)
    today = selectors.today_for(organisation)
    return {
        "today": today,
        "moved": found.test_clock is not None,
        "next_bill_day": periods.next_day_of_month(today, found.bill_day),
        "next_collection_day": periods.next_day_of_month(today, found.collection_day),
        "in_a_month": periods.one_month_after(today),
    }


def _page(
    request: AuthenticatedHttpRequest,
    organisation: Organisation,
    *,
    settings_form: BillingSettingsForm | None = None,
    clock_form: ClockForm | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "backoffice/billing_home.html",
        {
            "settings": selectors.billing_settings(organisation),
            "settings_form": settings_form or _settings_form(organisation),
            "clock": _clock(organisation),
            "clock_form": clock_form or ClockForm(),
            "today": selectors.today_for(organisation),
            "runs": _timed(selectors.runs_of(organisation))[:10],
            "can_manage": request.user.can_manage_settings,
        },
        status=status,
    )


@staff_required
def billing_home(request: AuthenticatedHttpRequest, *, organisation: Organisation) -> HttpResponse:
    return _page(request, organisation)


@require_POST
@staff_required
def billing_settings(request: AuthenticatedHttpRequest, *, organisation: Organisation) -> HttpResponse:
    form = _settings_form(organisation, request.POST)
    if form.is_valid():
        try:
            subscriptions.update_billing_settings(
                organisation=organisation, actor=request.user, **form.cleaned_data
            )
        except BusinessError as exc:
            report(request, exc, form)
        else:
            messages.success(request, _("Réglages de facturation enregistrés."))
            return redirect("backoffice:billing")
    return _page(request, organisation, settings_form=form, status=400)


@staff_required
def run_list(request: AuthenticatedHttpRequest, *, organisation: Organisation) -> HttpResponse:
    kind = request.GET.get("kind", "")
    chosen = BillingRun.Kind(kind) if kind in BillingRun.Kind.values else None
    return render(
        request,
        "backoffice/billing_runs.html",
        {
            "page": paginate(request, _timed(selectors.runs_of(organisation, kind=chosen))),
            "kind": chosen.value if chosen else "",
            "kinds": BillingRun.Kind.choices,
        },
    )


@staff_required
def run_detail(request: AuthenticatedHttpRequest, pk: int, *, organisation: Organisation) -> HttpResponse:
    run = owned(_timed(BillingRun.objects.all()), organisation, pk)
    context: dict[str, Any] = {"run": run}
    if run.kind == BillingRun.Kind.BILLING:
        context["periods"] = selectors.periods_billed_by(run)[:200]
    else:
        context["attempts"] = CollectionAttempt.objects.filter(
            organisation=organisation, run=run
        ).select_related("invoice", "invoice__customer")[:200]
    return render(request, "backoffice/billing_run.html", context)


@staff_required
def preview(request: AuthenticatedHttpRequest, *, organisation: Organisation) -> HttpResponse:
    """What the next billing run and the next collection would do, written nowhere."""
    today = selectors.today_for(organisation)
    found = selectors.billing_settings(organisation)
    bill_on = periods.day_of_month_from(today, found.bill_day)
    collect_on = periods.day_of_month_from(today, found.collection_day)
    invoices = selectors.preview_billing(organisation, bill_on)
    return render(
        request,
        "backoffice/billing_preview.html",
        {
            "today": today,
            "bill_on": bill_on,
            "collect_on": collect_on,
            "invoices": invoices,
            "invoices_total": sum((invoice.total for invoice in invoices), start=0),
            "collection": selectors.preview_collection(organisation, collect_on),
        },
    )


@staff_required
def run_now(request: AuthenticatedHttpRequest, *, organisation: Organisation) -> HttpResponse:
    """Run the billing for today (the test clock's date in test mode): GET asks, POST runs."""
    today = selectors.today_for(organisation)
    if request.method != "POST":
        return render(request, "backoffice/billing_run_now.html", {"today": today})
    try:
        summary = subscriptions.run_billing(organisation=organisation, as_of=today, actor=request.user)
    except BusinessError as exc:
        report(request, exc)
        return redirect("backoffice:billing")
    messages.success(
        request,
        _(
            "Facturation du %(date)s : %(invoices)d facture(s) pour %(customers)d client(s), %(failures)d échec(s)."
        )
        % {
            "date": _day(organisation, today),
            "invoices": summary.invoices,
            "customers": summary.customers,
            "failures": summary.failures,
        },
    )
    if summary.run is not None:
        return redirect("backoffice:billing_run", pk=summary.run.pk)
    return redirect("backoffice:billing")


def _day(organisation: Organisation, day: datetime.date) -> str:
    return format_date(day, format="long", locale=organisation.babel_locale)


#: The clock's buttons, and the date of the panel each one goes to.
MOVES = {"bill_day": "next_bill_day", "collection_day": "next_collection_day", "month": "in_a_month"}


@require_POST
@staff_required
def clock_move(request: AuthenticatedHttpRequest, *, organisation: Organisation) -> HttpResponse:
    """Move the test clock forward; the runs of each bill and collection day passed fire, in order.

    A live organisation has no panel: its request still goes to the service, which refuses it."""
    move = request.POST.get("move", "")
    form = ClockForm(request.POST)
    if move in MOVES:
        clock = _clock(organisation)
        to = clock[MOVES[move]] if clock else selectors.today_for(organisation)
    elif form.is_valid():
        to = form.cleaned_data["to"]
    else:
        return _page(request, organisation, clock_form=form, status=400)
    try:
        result = subscriptions.advance_test_clock(organisation=organisation, actor=request.user, to=to)
    except BusinessError as exc:
        if move in MOVES:
            report(request, exc)
            return redirect("backoffice:billing")
        report(request, exc, form)
        return _page(request, organisation, clock_form=form, status=400)
    messages.success(request, _summary(organisation, result))
    return redirect("backoffice:billing")


def _summary(organisation: Organisation, result: ClockResult) -> str:
    return _(
        "Horloge de test avancée au %(date)s : %(runs)d passage(s), %(invoices)d facture(s), "
        "%(charges)d prélèvement(s), %(failures)d échec(s)."
    ) % {
        "date": _day(organisation, result.to),
        "runs": len(result.steps),
        "invoices": result.invoices,
        "charges": result.charges,
        "failures": result.failures,
    }


@require_POST
@staff_required
def clock_reset(request: AuthenticatedHttpRequest, *, organisation: Organisation) -> HttpResponse:
    try:
        subscriptions.reset_test_clock(organisation=organisation, actor=request.user)
    except BusinessError as exc:
        report(request, exc)
    else:
        messages.success(request, _("Retour à la date réelle."))
    return redirect("backoffice:billing")
