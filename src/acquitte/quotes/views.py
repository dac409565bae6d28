"""The page behind a quote's link: the customer reads it, approves or declines it, then pays."""

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from acquitte.core.actors import PublicLink
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.http import client_ip
from acquitte.documents.services import render as render_pdf

from . import services
from .documents import document_data_for_quote
from .forms import ApproveForm, DeclineForm
from .models import Quote
from .selectors import link_replaced, quote_by_public_token, quote_taxes


def _replaced_page(request: HttpRequest, quote: Quote) -> HttpResponse:
    """No number, no amount, no link: only who to contact."""
    return render(request, "quotes/replaced.html", {"organisation": quote.organisation}, status=410)


PublicView = Callable[[HttpRequest, Quote, str], HttpResponse]


def _by_token(view: PublicView) -> Callable[[HttpRequest, str], HttpResponse]:
    """The quote behind the link (else 404); a quote whose invoice link was revoked reveals nothing."""

    @wraps(view)
    def wrapped(request: HttpRequest, token: str) -> HttpResponse:
        quote = quote_by_public_token(token)
        if quote is None:
            raise Http404
        if link_replaced(quote):
            return _replaced_page(request, quote)
        return view(request, quote, token)

    return wrapped


def _link(quote: Quote, token: str, name: str = "") -> PublicLink:
    """The customer holding the link; built only once the token matched the quote."""
    return PublicLink(
        token=token, organisation_id=quote.organisation_id, customer_id=quote.customer_id, name=name
    )


@_by_token
def public_quote(request: HttpRequest, quote: Quote, token: str) -> HttpResponse:
    if quote.invoice is not None:
        return redirect("portal:public_invoice", token=quote.invoice.public_token)
    if getattr(request.user, "organisation_id", None) != quote.organisation_id:  # staff previewing
        services.mark_viewed(quote=quote, actor=_link(quote, token))
    return _page(request, quote, token, ApproveForm(), DeclineForm())


def _page(
    request: HttpRequest,
    quote: Quote,
    token: str,
    approve_form: ApproveForm,
    decline_form: DeclineForm,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "quotes/public_quote.html",
        {
            "quote": quote,
            "organisation": quote.organisation,
            "lines": quote.lines.all(),
            "taxes": quote_taxes(quote),
            "token": token,
            "decidable": services.is_decidable(quote),
            "approve_form": approve_form,
            "decline_form": decline_form,
        },
        status=status,
    )


@require_POST
@_by_token
def public_approve(request: HttpRequest, quote: Quote, token: str) -> HttpResponse:
    form = ApproveForm(request.POST)
    if not form.is_valid():
        return _page(request, quote, token, form, DeclineForm(), status=400)
    try:
        invoice = services.approve_quote(
            quote=quote, actor=_link(quote, token, form.cleaned_data["name"]), ip_address=client_ip(request)
        )
    except BusinessError as exc:
        if exc.error_code == ErrorCode.LINK_REPLACED:
            return _replaced_page(request, quote)
        messages.error(request, exc.text())
        return redirect("quotes:public", token=token)
    return redirect("portal:public_invoice", token=invoice.public_token)


@require_POST
@_by_token
def public_decline(request: HttpRequest, quote: Quote, token: str) -> HttpResponse:
    form = DeclineForm(request.POST)
    if not form.is_valid():
        return _page(request, quote, token, ApproveForm(), form, status=400)
    try:
        services.decline_quote(
            quote=quote,
            actor=_link(quote, token),
            reason=form.cleaned_data["reason"],
            ip_address=client_ip(request),
        )
    except BusinessError as exc:
        messages.error(request, exc.text())
    return redirect("quotes:public", token=token)


@_by_token
def public_pdf(request: HttpRequest, quote: Quote, token: str) -> HttpResponse:
    return pdf_response(quote)


def pdf_response(quote: Quote) -> HttpResponse:
    response = HttpResponse(render_pdf(document_data_for_quote(quote)), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{quote.number or "soumission"}.pdf"'
    return response
