"""Every operation that changes invoices, one module per concern; the names are re-exported here."""

from .corrections import convert_proforma, create_credit_note, issue_credit_note, void_invoice
from .draft_lines import add_line, add_product, remove_line, replace_draft_lines, set_line_quantity
from .drafts import create_invoice, delete_draft, set_online_payment, update_draft
from .finalise import finalise_invoice, finalise_invoices
from .lines import (
    MAX_QUANTITY,
    LineFields,
    LineInput,
    Totals,
    catalogue_category,
    check_total,
    compute_totals,
    line_fields,
    line_input,
    product_line,
)
from .links import revoke_public_link
from .settlement import PaymentShare, allocate, allocate_payments, reverse_allocations, settle_oldest_first

__all__ = [
    "MAX_QUANTITY",
    "LineFields",
    "LineInput",
    "PaymentShare",
    "Totals",
    "add_line",
    "add_product",
    "allocate",
    "allocate_payments",
    "catalogue_category",
    "check_total",
    "compute_totals",
    "convert_proforma",
    "create_credit_note",
    "create_invoice",
    "delete_draft",
    "finalise_invoice",
    "finalise_invoices",
    "issue_credit_note",
    "line_fields",
    "line_input",
    "product_line",
    "remove_line",
    "replace_draft_lines",
    "reverse_allocations",
    "revoke_public_link",
    "set_line_quantity",
    "set_online_payment",
    "settle_oldest_first",
    "update_draft",
    "void_invoice",
]
