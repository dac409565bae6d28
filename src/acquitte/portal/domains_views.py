"""The customer's "Domaines" (seed 002): renew early by pro-forma, turn recurring payment on for
some or all domains with a card and a billing sub-contact, and each domain's own page."""

from collections.abc import Sequence
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.http import AuthenticatedHttpRequest, report
from acquitte.core.params import int_param, parse_id
from acquitte.customers.models import Contact, Customer
from acquitte.payments.models import PaymentMethod
from acquitte.subscriptions import service_selectors as selectors
from acquitte.subscriptions import services
from acquitte.subscriptions.models import Service

from .account_views import customer_required

RENEW, RENEW_ALL, RECURRING, RECURRING_ALL = "renew", "renew_all", "recurring", "recurring_all"
CONFIRM = "recurring_confirm"


def _invalid(message: str) -> BusinessError:
    return BusinessError(message, code=ErrorCode.INVALID_INPUT)


def _chosen(request: AuthenticatedHttpRequest, customer: Customer, *, every: bool) -> list[Service]:
    """The checked domains ("tout": every one of them); an id that is not one of the customer's
    live services is refused, never skipped."""
    if every:
        return list(selectors.customer_services(customer))
    raw = request.POST.getlist("service")
    ids = [parse_id(value) for value in raw]
    if any(pk is None for pk in ids):
        raise _invalid(_("Sélection invalide."))
    if not ids:
        raise _invalid(_("Cochez au moins un domaine ou service."))
    found = selectors.services_by_ids(customer, (pk for pk in ids if pk is not None))
    if len(found) != len(set(ids)):
        raise BusinessError(_("Objet introuvable."), code=ErrorCode.NOT_FOUND)
    return found


def _card(request: AuthenticatedHttpRequest, customer: Customer) -> PaymentMethod:
    method = selectors.customer_method(customer, int_param(request, "card", source=request.POST))
    if method is None:
        raise _invalid(_("Choisissez la carte du paiement récurrent."))
    return method


def _contact(request: AuthenticatedHttpRequest, customer: Customer) -> Contact | None:
    """The chosen sub-contact; empty is the account's own details."""
    raw = request.POST.get("contact", "")
    if not raw:
        return None
    contact = selectors.customer_contact(customer, parse_id(raw))
    if contact is None:
        raise BusinessError(_("Objet introuvable."), code=ErrorCode.NOT_FOUND)
    return contact


def _page(customer: Customer, **extra: Any) -> dict[str, Any]:
    return {
        "rows": selectors.service_rows(customer),
        "has_card": selectors.has_valid_card(customer),
        "actions": [
            (RENEW, _("Renouveler")),
            (RENEW_ALL, _("Renouveler tout")),
            (RECURRING, _("Paiement récurrent")),
            (RECURRING_ALL, _("Paiement récurrent tout")),
        ],
        **extra,
    }


def _recurring_step(
    request: AuthenticatedHttpRequest,
    customer: Customer,
    chosen: Sequence[Service],
    *,
    card: PaymentMethod | None = None,
    contact: Contact | None = None,
    mismatch: str = "",
    error: str = "",
) -> HttpResponse:
    choices = selectors.card_choices(customer, chosen)
    context = {
        "chosen": chosen,
        "choices": choices,
        "contacts": selectors.billing_contacts(customer),
        "card": card or (choices[0].method if choices else None),
        "contact": contact,
        "mismatch": mismatch,
        "error": error,
    }
    return render(
        request, "portal/domains_recurring.html", context, status=400 if (mismatch or error) else 200
    )


def _warn_expiring(request: AuthenticatedHttpRequest, card: PaymentMethod, chosen: Sequence[Service]) -> None:
    """Seed 002: a card that expires before a renewal cannot be charged for it; say so at once."""
    late = selectors.expiring_before_renewal(card, chosen)
    if late:
        messages.warning(
            request,
            _(
                "Votre carte %(card)s expire avant le renouvellement de : %(names)s. "
                "Ajoutez une carte valide d'ici là pour éviter une suspension."
            )
            % {
                "card": card,
                "names": ", ".join(
                    f"{s.name} ({date_format(s.expires_on, 'SHORT_DATE_FORMAT')})" for s in late
                ),
            },
        )


def _confirm_recurring(request: AuthenticatedHttpRequest, customer: Customer) -> HttpResponse:
    chosen: list[Service] = []
    card: PaymentMethod | None = None
    contact: Contact | None = None
    try:
        chosen = _chosen(request, customer, every=False)
        card = _card(request, customer)
        contact = _contact(request, customer)
        services.set_recurring(
            customer=customer,
            services=chosen,
            payment_method=card,
            billing_contact=contact,
            confirm_mismatch=request.POST.get("confirm_mismatch") == "1",
            actor=request.user,
        )
    except BusinessError as exc:
        if not chosen:
            report(request, exc)
            return redirect("portal:domains")
        if exc.error_code == ErrorCode.HOLDER_MISMATCH:
            return _recurring_step(request, customer, chosen, card=card, contact=contact, mismatch=exc.text())
        return _recurring_step(request, customer, chosen, card=card, contact=contact, error=exc.text())
    messages.success(
        request,
        ngettext(
            "Paiement récurrent activé pour %(count)d domaine.",
            "Paiement récurrent activé pour %(count)d domaines.",
            len(chosen),
        )
        % {"count": len(chosen)},
    )
    _warn_expiring(request, card, chosen)
    return redirect("portal:domains")


@customer_required
def domains(request: AuthenticatedHttpRequest, customer: Customer) -> HttpResponse:
    if request.method != "POST":
        return render(request, "portal/domains.html", _page(customer))
    action = request.POST.get("action", "")
    if action == CONFIRM:
        return _confirm_recurring(request, customer)
    try:
        if action in (RENEW, RENEW_ALL):
            chosen = _chosen(request, customer, every=action == RENEW_ALL)
            issued = services.request_renewals(customer=customer, services=chosen, actor=request.user)
            renewals = list(zip(chosen, issued, strict=True))
            return render(request, "portal/domains.html", _page(customer, renewals=renewals))
        if action in (RECURRING, RECURRING_ALL):
            chosen = _chosen(request, customer, every=action == RECURRING_ALL)
            if not selectors.has_valid_card(customer):
                raise BusinessError(
                    _("Ajoutez d'abord une carte valide pour activer le paiement récurrent."),
                    code=ErrorCode.PAYMENT_METHOD_INVALID,
                )
            return _recurring_step(request, customer, chosen)
        raise _invalid(_("Action inconnue."))
    except BusinessError as exc:
        report(request, exc)
    return redirect("portal:domains")


def _detail_action(request: AuthenticatedHttpRequest, customer: Customer, service: Service) -> str:
    """Apply the domain page's form; returns the "Attention !" text when it must be confirmed."""
    action = request.POST.get("action", "")
    confirm = request.POST.get("confirm_mismatch") == "1"
    try:
        if action == "stop":
            services.stop_recurring(service=service, actor=request.user)
            messages.success(
                request, _("Paiement récurrent désactivé pour %(name)s.") % {"name": service.name}
            )
        elif action == "card":
            card = _card(request, customer)
            services.change_recurring(
                service=service, payment_method=card, confirm_mismatch=confirm, actor=request.user
            )
            messages.success(request, _("Carte du paiement récurrent enregistrée."))
            _warn_expiring(request, card, [service])
        elif action == "contact":
            contact = _contact(request, customer)
            services.change_recurring(
                service=service,
                billing_contact=contact,
                clear_contact=contact is None,
                confirm_mismatch=confirm,
                actor=request.user,
            )
            messages.success(request, _("Sous-contact de facturation enregistré."))
        else:
            raise _invalid(_("Action inconnue."))
    except BusinessError as exc:
        if exc.error_code == ErrorCode.HOLDER_MISMATCH:
            return exc.text()
        report(request, exc)
    return ""


@customer_required
def domain_detail(request: AuthenticatedHttpRequest, customer: Customer, pk: int) -> HttpResponse:
    detail = selectors.service_detail(customer, pk)
    if detail is None:
        raise Http404
    mismatch = ""
    if request.method == "POST":
        mismatch = _detail_action(request, customer, detail.service)
        if not mismatch:
            return redirect("portal:domain_detail", pk=pk)
    context = {
        "detail": detail,
        "service": detail.service,
        "choices": selectors.card_choices(customer, [detail.service]),
        "contacts": selectors.billing_contacts(customer),
        "mismatch": mismatch,
        "posted": request.POST if mismatch else {},
    }
    return render(request, "portal/domain_detail.html", context, status=400 if mismatch else 200)
