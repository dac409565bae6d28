from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from acquitte.core.actors import Person
from acquitte.invoicing.models import Invoice
from acquitte.invoicing.selectors import invoice_by_public_token

from . import services
from .selectors import invoice_for_staff


def _staff_invoice(request: HttpRequest, pk: int) -> Invoice:
    user = request.user
    invoice = invoice_for_staff(user, pk) if isinstance(user, Person) else None
    if invoice is None:
        raise Http404
    return invoice


@staff_member_required
def staff_pdf(request: HttpRequest, pk: int, filename: str) -> HttpResponse:
    return services.pdf_response(_staff_invoice(request, pk))


@staff_member_required
def staff_print(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = _staff_invoice(request, pk)
    document = services.document_data_for_invoice(invoice)
    return render(request, "documents/print.html", {"d": document.data, "invoice": invoice})


def public_pdf(request: HttpRequest, token: str) -> HttpResponse:
    invoice = invoice_by_public_token(token)
    if invoice is None:
        raise Http404
    return services.pdf_response(invoice)
