"""Pages a customer reaches without signing in: the invoice behind a public link, and paying it."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from acquitte.core.errors import BusinessError
from acquitte.invoicing.selectors import invoice_by_public_token
from acquitte.payments import checkout
from acquitte.payments import services as payments
from acquitte.payments.forms import TransferDeclarationForm


def _invoice_or_404(token: str):
    invoice = invoice_by_public_token(token)
    if invoice is None:
        raise Http404
    return invoice


def public_invoice(request, token: str):
    invoice = _invoice_or_404(token)
    context = {
        "invoice": invoice,
        "lines": invoice.lines.all(),
        "taxes": invoice.taxes.all(),
        "organisation": invoice.organisation,
        "status": invoice.display_status(),
        "payable": invoice.status == "open" and invoice.kind != "credit_note",
        "declaration_form": TransferDeclarationForm(initial={"amount": invoice.amount_due}),
        "token": token,
        "kinds": payments.online_kinds(invoice.organisation),
        "pdf_url": reverse("documents:public_pdf", args=[token]),
    }
    return render(request, "portal/public_invoice.html", context)


@require_POST
def public_pay(request, token: str, kind: str):
    invoice = _invoice_or_404(token)
    try:
        provider_page = checkout.start_checkout(
            invoice=invoice, kind=kind, return_path=reverse("portal:public_invoice", args=[token])
        )
    except BusinessError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("portal:public_invoice", token=token)
    return redirect(provider_page)


@require_POST
def public_declare(request, token: str):
    invoice = _invoice_or_404(token)
    form = TransferDeclarationForm(request.POST)
    if form.is_valid():
        try:
            payments.declare_transfer(invoice=invoice, **form.cleaned_data)
        except BusinessError as exc:
            messages.error(request, " ".join(exc.messages))
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
