"""Subscriptions: the list with its filters, one subscription with its billed periods, and its
changes (quantity, product, cancellation, pause), each showing the prorated amount before confirming."""

from typing import Any

from babel.numbers import format_currency
from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from acquitte.core.errors import BusinessError
from acquitte.core.http import AuthenticatedHttpRequest, paginate, report
from acquitte.core.params import int_param
from acquitte.customers.models import Organisation, Site
from acquitte.customers.selectors import customer_of
from acquitte.subscriptions import selectors
from acquitte.subscriptions import services as subscriptions
from acquitte.subscriptions.models import Adjustment, Subscription
from acquitte.subscriptions.selectors import ChangePreview

from ..access import owned, staff_required
from ..forms import CancelSubscriptionForm, ChangeProductForm, ChangeQuantityForm, SubscriptionFilterForm

#: The changes a subscription page offers, as the URL names them.
CHANGES = ("quantite", "produit", "resiliation", "pause", "reprise")


@staff_required
def subscription_list(request: AuthenticatedHttpRequest, *, organisation: Organisation) -> HttpResponse:
    form = SubscriptionFilterForm(
        request.GET or None,
        organisation=organisation,
        statuses=Subscription.Status.choices,
        periods=Subscription.Period.choices,
    )
    filters = form.cleaned_data if form.is_valid() else {}
    customer_pk = int_param(request, "customer")
    customer = customer_of(organisation=organisation, pk=customer_pk) if customer_pk else None
    site_pk = int_param(request, "site")
    site = Site.objects.filter(customer__organisation=organisation, pk=site_pk).first() if site_pk else None
    rows = selectors.subscriptions_of(
        organisation,
        status=filters.get("status", ""),
        period=filters.get("period", ""),
        product=filters.get("product"),
        customer=customer,
        site=site,
        q=filters.get("q", ""),
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "backoffice/subscription_list.html",
        {
            "form": form,
            "page": paginate(request, rows),
            "filter_query": query.urlencode(),
            "customer": customer,
            "site": site,
        },
    )


def _forms(organisation: Organisation, subscription: Subscription) -> dict[str, forms.Form]:
    return {
        "quantity_form": ChangeQuantityForm(initial={"quantity": subscription.quantity.normalize()}),
        "product_form": ChangeProductForm(organisation=organisation, period=subscription.period),
        "cancel_form": CancelSubscriptionForm(),
    }


def _detail(
    request: AuthenticatedHttpRequest,
    organisation: Organisation,
    subscription: Subscription,
    *,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    context: dict[str, Any] = {
        "subscription": subscription,
        "periods": selectors.billed_periods_of(subscription),
        "adjustments": subscription.adjustments.select_related("invoice").order_by("-created_at"),
        "today": selectors.today_for(organisation),
        **_forms(organisation, subscription),
    }
    context.update(extra)
    return render(request, "backoffice/subscription_detail.html", context, status=status)


def _subscription(organisation: Organisation, pk: int) -> Subscription:
    return owned(
        Subscription.objects.select_related("customer", "site", "product", "order_line__order"),
        organisation,
        pk,
    )


@staff_required
def subscription_detail(
    request: AuthenticatedHttpRequest, pk: int, *, organisation: Organisation
) -> HttpResponse:
    return _detail(request, organisation, _subscription(organisation, pk))


def preview_text(organisation: Organisation, preview: ChangePreview) -> str:
    """ "Crédit au prorata de 12,34 $ sur la prochaine facture (17 jours sur 31)." """
    if preview.kind is None or not preview.amount:
        return _(
            "Aucun montant au prorata : le changement s'applique à partir de la prochaine période facturée."
        )
    amount = format_currency(preview.amount, organisation.currency, locale=organisation.babel_locale)
    days = ngettext(
        "%(days)d jour sur %(period_days)d", "%(days)d jours sur %(period_days)d", preview.days
    ) % {"days": preview.days, "period_days": preview.period_days}
    if preview.kind == Adjustment.Kind.CREDIT:
        return _("Crédit au prorata de %(amount)s sur la prochaine facture (%(days)s).") % {
            "amount": amount,
            "days": days,
        }
    return _("Supplément au prorata de %(amount)s sur la prochaine facture (%(days)s).") % {
        "amount": amount,
        "days": days,
    }


def _bound(
    organisation: Organisation, subscription: Subscription, change: str, data: Any
) -> tuple[str, forms.Form | None]:
    """The form of a change, bound to what was sent, and the name the detail page knows it by."""
    if change == "quantite":
        return "quantity_form", ChangeQuantityForm(data)
    if change == "produit":
        return "product_form", ChangeProductForm(data, organisation=organisation, period=subscription.period)
    if change == "resiliation":
        return "cancel_form", CancelSubscriptionForm(data)
    return "", None


def _preview(subscription: Subscription, change: str, data: dict[str, Any]) -> ChangePreview | None:
    if change == "quantite":
        return selectors.preview_quantity_change(subscription, data["quantity"])
    if change == "produit":
        return selectors.preview_product_change(subscription, data["product"])
    if change == "resiliation":
        return selectors.preview_cancellation(subscription, data["when"] == "end")
    return None


def _apply(
    request: AuthenticatedHttpRequest, subscription: Subscription, change: str, data: dict[str, Any]
) -> str:
    """Make the change; returns what the page says once it is made."""
    actor = request.user
    if change == "quantite":
        subscriptions.change_quantity(subscription=subscription, quantity=data["quantity"], actor=actor)
        return _("Quantité modifiée.")
    if change == "produit":
        subscriptions.change_product(subscription=subscription, product=data["product"], actor=actor)
        return _("Produit modifié.")
    if change == "resiliation":
        at_end = data["when"] == "end"
        subscriptions.cancel_subscription(subscription=subscription, at_period_end=at_end, actor=actor)
        return _("Résiliation enregistrée pour la fin de la période.") if at_end else _("Abonnement résilié.")
    if change == "pause":
        subscriptions.pause_subscription(subscription=subscription, actor=actor)
        return _("Abonnement mis en pause.")
    subscriptions.resume_subscription(subscription=subscription, actor=actor)
    return _("Abonnement repris.")


@staff_required
def subscription_change(
    request: AuthenticatedHttpRequest, pk: int, change: str, *, organisation: Organisation
) -> HttpResponse:
    """GET (the detail page's form sent) shows the prorated amount and asks to confirm; POST makes it."""
    if change not in CHANGES:
        raise Http404
    subscription = _subscription(organisation, pk)
    data = request.POST if request.method == "POST" else request.GET
    name, form = _bound(organisation, subscription, change, data)
    if form is not None and not form.is_valid():
        return _detail(request, organisation, subscription, status=400, **{name: form}, open_change=change)
    cleaned = form.cleaned_data if form is not None else {}
    if request.method != "POST":
        try:
            preview = _preview(subscription, change, cleaned)
        except BusinessError as exc:
            report(request, exc, form)
            if form is None:
                return redirect("backoffice:subscription_detail", pk=pk)
            return _detail(
                request, organisation, subscription, status=400, **{name: form}, open_change=change
            )
        return render(
            request,
            "backoffice/subscription_confirm.html",
            {
                "subscription": subscription,
                "change": change,
                "form": form,
                "preview": preview,
                "preview_text": preview_text(organisation, preview) if preview else "",
            },
        )
    try:
        done = _apply(request, subscription, change, cleaned)
    except BusinessError as exc:
        report(request, exc)
    else:
        messages.success(request, done)
    return redirect("backoffice:subscription_detail", pk=pk)
