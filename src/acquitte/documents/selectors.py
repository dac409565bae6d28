"""Reads of documents: kept PDFs, and the invoices a staff member may print."""

from acquitte.core.actors import Person
from acquitte.invoicing.models import Invoice

from .models import RenderedDocument


def kept_pdf(invoice: Invoice, digest: str) -> bytes | None:
    """The PDF rendered earlier from exactly these inputs, if any."""
    pdf = (
        RenderedDocument.objects.filter(invoice=invoice, sha256=digest).values_list("pdf", flat=True).first()
    )
    return bytes(pdf) if pdf is not None else None


def invoice_for_staff(user: Person, pk: int) -> Invoice | None:
    """An invoice of the user's organisation (any, for a superuser), or None."""
    invoice = Invoice.objects.select_related("organisation", "customer").filter(pk=pk).first()
    if invoice is None or not (user.is_superuser or user.organisation_id == invoice.organisation_id):
        return None
    return invoice
