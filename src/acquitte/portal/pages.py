"""What the portal's pages share: the invoice page, signed in or through the public link."""

from typing import Any

from acquitte.invoicing.models import Invoice
from acquitte.payments import selectors as payment_selectors
from acquitte.payments.forms import TransferDeclarationForm


def invoice_page(invoice: Invoice) -> dict[str, Any]:
    """The document and what can be done with it now."""
    return {
        "invoice": invoice,
        "lines": invoice.lines.all(),
        "taxes": invoice.taxes.all(),
        "organisation": invoice.organisation,
        "status": invoice.display_status(),
        "payable": payment_selectors.payable(invoice),
        "declaration_form": TransferDeclarationForm(initial={"amount": invoice.amount_due}),
    }
