import logging
from collections.abc import Callable
from functools import partial

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from acquitte.core.actors import System
from acquitte.core.errors import BusinessError
from acquitte.core.http import report
from acquitte.invoicing.models import Invoice

from . import services, tasks
from .forms import CardForm, DebitMandateForm
from .models import Payment, SandboxSetup
from .providers.base import WebhookRejected
from .services import checkout, platform_webhooks, setup

logger = logging.getLogger(__name__)

MAX_BODY = 256 * 1024


@csrf_exempt
@require_POST
def webhook(request: HttpRequest, provider: str, organisation: str) -> HttpResponse:
    """Provider webhooks: verified and stored once, answered at once, applied by a task."""
    if len(request.body) > MAX_BODY:
        return HttpResponse(status=413)
    try:
        stored = services.receive_webhook(
            provider=provider, organisation_slug=organisation, body=request.body, headers=request.headers
        )
    except WebhookRejected as exc:
        logger.warning("webhook %s/%s rejected: %s", provider, organisation, exc)
        return HttpResponse(status=exc.status)
    for event in stored:
        transaction.on_commit(partial(tasks.process_webhook_event.delay, event.pk))
    return HttpResponse(status=200)


@csrf_exempt
@require_POST
def platform_webhook(request: HttpRequest, provider: str) -> HttpResponse:
    """The platform app's webhooks, for every merchant it connected (GoCardless OAuth)."""
    if len(request.body) > MAX_BODY:
        return HttpResponse(status=413)
    try:
        stored = platform_webhooks.receive_platform_webhook(
            provider=provider, body=request.body, headers=request.headers
        )
    except WebhookRejected as exc:
        logger.warning("platform webhook %s rejected: %s", provider, exc)
        return HttpResponse(status=exc.status)
    for event in stored:
        transaction.on_commit(partial(tasks.process_webhook_event.delay, event.pk))
    return HttpResponse(status=200)


def _session_or_404(session: str, kind: str) -> tuple[Invoice, str]:
    try:
        invoice, session_kind, _key, return_path = checkout.read_checkout(session)
    except BusinessError:
        raise Http404 from None
    if session_kind != kind:
        raise Http404
    return invoice, return_path


def _hosted_form(
    request: HttpRequest,
    session: str,
    *,
    kind: str,
    form_class: type[forms.Form],
    complete: Callable[..., Payment],
    template: str,
) -> HttpResponse:
    """A sandbox hosted page with a form: on success, back to the payer's page with the outcome."""
    invoice, return_path = _session_or_404(session, kind)
    form = form_class(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            payment = complete(session=session, **form.cleaned_data)
        except BusinessError as exc:
            report(request, exc, form)
        else:
            report_payment(request, payment)
            return redirect(return_path)
    return render(request, template, {"form": form, "invoice": invoice, "return_path": return_path})


@sensitive_post_parameters("number", "cvv")
def sandbox_card(request: HttpRequest, session: str) -> HttpResponse:
    """The sandbox's hosted card page (a real provider serves this on its own domain)."""
    return _hosted_form(
        request,
        session,
        kind="card",
        form_class=CardForm,
        complete=checkout.complete_card_checkout,
        template="payments/sandbox_card.html",
    )


@sensitive_post_parameters("routing", "account", "iban", "institution", "transit")
def sandbox_debit(request: HttpRequest, session: str) -> HttpResponse:
    """The sandbox's direct-debit mandate page: the payer authorises, the debit settles later."""
    return _hosted_form(
        request,
        session,
        kind="debit",
        form_class=DebitMandateForm,
        complete=checkout.complete_debit_checkout,
        template="payments/sandbox_debit.html",
    )


def sandbox_paypal(request: HttpRequest, session: str) -> HttpResponse:
    """A PayPal-style approval page: approve or cancel, then back to where the payer came from."""
    invoice, return_path = _session_or_404(session, "paypal")
    if request.method == "POST":
        approved = request.POST.get("decision") == "approve"
        try:
            payment = checkout.complete_paypal_checkout(session=session, approved=approved)
        except BusinessError as exc:
            report(request, exc)
        else:
            if payment is None:
                messages.info(request, _("Paiement PayPal annulé ; la facture reste à payer."))
            else:
                report_payment(request, payment)
        return redirect(return_path)
    return render(request, "payments/sandbox_paypal.html", {"invoice": invoice, "return_path": return_path})


def hosted_return(request: HttpRequest, ticket: str) -> HttpResponse:
    """The payer is back from a provider's payment page (paid, or through its cancel link)."""
    try:
        key, return_path = checkout.read_return_ticket(ticket)
    except BusinessError:
        raise Http404 from None
    try:
        payment = services.finish_hosted_payment(
            idempotency_key=key, cancelled="annule" in request.GET, actor=System(reason="hosted-return")
        )
    except BusinessError as exc:
        report(request, exc)
    else:
        report_payment(request, payment)
    return redirect(return_path)


def report_payment(request: HttpRequest, payment: Payment) -> None:
    """Tell the payer, in their language, what became of their payment."""
    if payment.status == Payment.Status.CANCELED:
        messages.info(request, _("Paiement annulé ; la facture reste à payer."))
    elif payment.status == Payment.Status.PROCESSING and payment.method != Payment.Method.DIRECT_DEBIT:
        messages.info(
            request, _("Paiement en cours de confirmation : la facture sera marquée payée dès sa réception.")
        )
    elif payment.status == Payment.Status.PROCESSING:
        messages.info(
            request,
            _(
                "Prélèvement autorisé : la facture sera marquée payée dès que votre banque aura réglé le montant."
            ),
        )
    elif payment.status == Payment.Status.SUCCEEDED:
        messages.success(request, _("Paiement accepté. Merci !"))
    else:
        messages.error(
            request,
            _("Paiement refusé : %(reason)s La facture reste à payer.") % {"reason": payment.failure_message},
        )


@sensitive_post_parameters("number", "cvv", "routing", "account", "iban", "institution", "transit")
def sandbox_setup(request: HttpRequest, reference: str) -> HttpResponse:
    """The sandbox's hosted setup page: a card or an account saved for later charges."""
    sandbox = SandboxSetup.objects.filter(reference=reference, status="open").first()
    if sandbox is None:
        raise Http404
    is_card = sandbox.kind == "card"
    form: forms.Form = (CardForm if is_card else DebitMandateForm)(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        holder = data.pop("holder")
        try:
            back = setup.fill_sandbox_setup(
                reference=reference, holder=holder, card=data if is_card else {}, bank={} if is_card else data
            )
        except BusinessError as exc:
            report(request, exc, form)
        else:
            return redirect(back)
    return render(
        request,
        "payments/sandbox_setup.html",
        {"form": form, "is_card": is_card, "cancel_url": sandbox.cancel_url},
    )
