"""Pages a customer reaches without signing in: the invoice behind a public link, and paying it."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from acquitte.core.actors import PublicLink
from acquitte.core.errors import BusinessError
from acquitte.core.http import report
from acquitte.invoicing.models import Invoice
from acquitte.invoicing.selectors import invoice_by_public_token
from acquitte.payments import services as payments
from acquitte.payments.forms import TransferDeclarationForm

from .pages import invoice_page


def _invoice_or_404(token: str) -> Invoice:
    invoice = invoice_by_public_token(token)
    if invoice is None:
        raise Http404
    return invoice


def _link(token: str, invoice: Invoice) -> PublicLink:
    """Who acts through the link: built only once the token has matched the invoice."""
    return PublicLink(token=token, organisation_id=invoice.organisation_id, customer_id=invoice.customer_id)


def public_invoice(request: HttpRequest, token: str) -> HttpResponse:
    invoice = _invoice_or_404(token)
    context = {
        **invoice_page(invoice),
        "token": token,
        "pdf_url": reverse("documents:public_pdf", args=[token]),
    }
    return render(request, "portal/public_invoice.html", context)


@require_POST
def public_pay(request: HttpRequest, token: str, kind: str) -> HttpResponse:
    invoice = _invoice_or_404(token)
    try:
        provider_page = payments.start_checkout(
            invoice=invoice,
            kind=kind,
            return_path=reverse("portal:public_invoice", args=[token]),
            actor=_link(token, invoice),
        )
    except BusinessError as exc:
        report(request, exc)
        return redirect("portal:public_invoice", token=token)
    return redirect(provider_page)


@require_POST
def public_declare(request: HttpRequest, token: str) -> HttpResponse:
    invoice = _invoice_or_404(token)
    form = TransferDeclarationForm(request.POST)
    if form.is_valid():
        try:
            payments.declare_transfer(invoice=invoice, actor=_link(token, invoice), **form.cleaned_data)
        except BusinessError as exc:
            report(request, exc)
        else:
            messages.success(
                request,
                _(
                    "Merci : nous avons noté votre paiement. La facture restera non payée jusqu'à réception des fonds."
                ),
            )
    else:
        messages.error(request, _("Déclaration incomplète : vérifiez la référence, la date et le montant."))
    return redirect("portal:public_invoice", token=token)
