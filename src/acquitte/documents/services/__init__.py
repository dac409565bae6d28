"""Documents: their data in the customer's language, rendering with Typst, Factur-X, sending."""

from .blocks import DocumentData
from .data import document_data_for_invoice
from .formatting import date_text, money_text, public_url
from .rendering import TEMPLATE, invoice_pdf, pdf_response, render, render_facturx, render_png
from .sending import send_invoice

__all__ = [
    "TEMPLATE",
    "DocumentData",
    "date_text",
    "document_data_for_invoice",
    "invoice_pdf",
    "money_text",
    "pdf_response",
    "public_url",
    "render",
    "render_facturx",
    "render_png",
    "send_invoice",
]
