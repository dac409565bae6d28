from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404
from django.shortcuts import render

from acquitte.invoicing.models import Invoice
from acquitte.invoicing.selectors import invoice_by_public_token

from . import services


def _staff_invoice(request, pk: int) -> Invoice:
    invoice = Invoice.objects.select_related("organisation", "customer").filter(pk=pk).first()
    if invoice is None or not (
        request.user.is_superuser or request.user.organisation_id == invoice.organisation_id
    ):
        raise Http404
    return invoice


@staff_member_required
def staff_pdf(request, pk: int, filename: str):
    return services.pdf_response(_staff_invoice(request, pk))


@staff_member_required
def staff_print(request, pk: int):
    invoice = _staff_invoice(request, pk)
    document = services.document_data_for_invoice(invoice)
    return render(request, "documents/print.html", {"d": document.data, "invoice": invoice})


def public_pdf(request, token: str):
    invoice = invoice_by_public_token(token)
    if invoice is None:
        raise Http404
    return services.pdf_response(invoice)
