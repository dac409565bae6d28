from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from acquitte.core.errors import BusinessError
from acquitte.core.http import AuthenticatedHttpRequest, client_ip, paginate, report
from acquitte.core.params import search_param
from acquitte.core.selectors import history
from acquitte.customers.models import Organisation
from acquitte.notifications.selectors import messages_about
from acquitte.quotes import services
from acquitte.quotes.models import Quote
from acquitte.quotes.selectors import quote_taxes, quotes_for_organisation
from acquitte.quotes.views import pdf_response

from ..access import owned, staff_required
from ..builders import BUILDERS
from ..forms import QuoteDetailsForm
from .builder import pick_customer


@staff_required
def quote_list(request: AuthenticatedHttpRequest, *, organisation: Organisation) -> HttpResponse:
    status = request.GET.get("status", "")
    query = search_param(request)
    rows = quotes_for_organisation(organisation, status=status, query=query, sort=request.GET.get("sort", ""))
    return render(
        request,
        "backoffice/quote_list.html",
        {
            "page": paginate(request, rows),
            "status": status,
            "q": query,
            "statuses": [c for c in Quote.Status.choices if c[0] != Quote.Status.APPROVED],
        },
    )


@staff_required
def quote_new(request: AuthenticatedHttpRequest, *, organisation: Organisation) -> HttpResponse:
    return pick_customer(request, organisation, BUILDERS["soumissions"])


@staff_required
def quote_review(request: AuthenticatedHttpRequest, pk: int, *, organisation: Organisation) -> HttpResponse:
    """ "Montant total": review, then view the PDF, save, send, or approve and take payment now."""
    quote = owned(Quote.objects.select_related("customer"), organisation, pk)
    if not quote.is_draft:
        return redirect("backoffice:quote_detail", pk=pk)
    form = QuoteDetailsForm(
        request.POST or None, initial={"valid_until": quote.valid_until, "notes": quote.notes}
    )
    if request.method == "POST" and form.is_valid():
        action = request.POST.get("action", "save")
        try:
            services.update_quote(quote=quote, actor=request.user, **form.cleaned_data)
            if action == "send":
                services.send_quote(quote=quote, actor=request.user)
                messages.success(request, _sent_message(quote))
                return redirect("backoffice:quote_detail", pk=pk)
            if action == "pay":
                invoice = services.approve_quote(
                    quote=quote, actor=request.user, ip_address=client_ip(request)
                )
                return redirect("portal:public_invoice", token=invoice.public_token)
        except BusinessError as exc:
            report(request, exc, form)
        else:
            messages.success(request, _("Soumission enregistrée (brouillon)."))
            return redirect("backoffice:quote_review", pk=pk)
    return render(request, "backoffice/quote_review.html", _quote_context(quote, form=form))


def _sent_message(quote: Quote) -> str:
    customer = quote.customer
    channels = [c for c, ok in ((_("par courriel"), customer.email), (_("par SMS"), customer.phone)) if ok]
    return _("Soumission %(number)s envoyée %(channels)s.") % {
        "number": quote.number,
        "channels": _(" et ").join(channels),
    }


def _quote_context(quote: Quote, **extra: Any) -> dict[str, Any]:
    context = {
        "quote": quote,
        "lines": quote.lines.all(),
        "taxes": quote_taxes(quote),
        "public_url": services.public_url(quote),
    }
    context.update(extra)
    return context


@staff_required
def quote_detail(request: AuthenticatedHttpRequest, pk: int, *, organisation: Organisation) -> HttpResponse:
    quote = owned(Quote.objects.select_related("customer", "invoice"), organisation, pk)
    return render(
        request,
        "backoffice/quote_detail.html",
        _quote_context(
            quote,
            history=history(organisation=organisation, obj=quote),
            outbound=messages_about(organisation=organisation, reference=quote.number),
            decidable=services.is_decidable(quote, by_staff=True),
        ),
    )


@require_POST
@staff_required
def quote_action(
    request: AuthenticatedHttpRequest, pk: int, action: str, *, organisation: Organisation
) -> HttpResponse:
    quote = owned(Quote, organisation, pk)
    try:
        if action == "send":
            services.send_quote(quote=quote, actor=request.user)
            messages.success(request, _sent_message(quote))
        elif action == "approve":
            invoice = services.approve_quote(quote=quote, actor=request.user, ip_address=client_ip(request))
            messages.success(
                request, _("Soumission approuvée : facture %(number)s émise.") % {"number": invoice.number}
            )
        elif action == "decline":
            services.decline_quote(
                quote=quote,
                actor=request.user,
                reason=request.POST.get("reason", ""),
                ip_address=client_ip(request),
            )
            messages.success(request, _("Soumission marquée comme refusée."))
        elif action == "delete":
            services.delete_draft(quote=quote, actor=request.user)
            messages.success(request, _("Brouillon supprimé."))
            return redirect("backoffice:quotes")
    except BusinessError as exc:
        report(request, exc)
    return redirect("backoffice:quote_detail", pk=pk)


@staff_required
def quote_pdf(request: AuthenticatedHttpRequest, pk: int, *, organisation: Organisation) -> HttpResponse:
    return pdf_response(owned(Quote, organisation, pk))
