"""Writing a finalised batch: the invoices' frozen fields, their taxes and their ledger entries."""

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import connection

from acquitte.core.taxes import TaxAmount

from ..models import Invoice, InvoiceTax, LedgerEntry
from .lines import Totals

if TYPE_CHECKING:
    from acquitte.customers.models import Organisation

FINALISED_FIELDS = [
    "number",
    "issue_date",
    "due_date",
    "subtotal",
    "tax_total",
    "total",
    "bill_to",
    "seller",
    "status",
    "finalised_at",
]


@dataclass(frozen=True)
class Frozen:
    """What finalisation computed for one draft before writing it."""

    totals: Totals
    issue_date: datetime.date


def post(organisation: "Organisation", locked: list[Invoice], frozen: dict[int, Frozen]) -> None:
    """The frozen taxes, and one ledger entry per invoice or credit note (pro-formas owe nothing)."""
    InvoiceTax.objects.bulk_create(
        _frozen_tax(invoice, tax) for invoice in locked for tax in frozen[invoice.pk].totals.taxes
    )
    LedgerEntry.objects.bulk_create(
        LedgerEntry(
            organisation_id=organisation.pk,
            customer_id=invoice.customer_id,
            kind=invoice.kind,
            amount=invoice.total if invoice.kind == Invoice.Kind.INVOICE else -invoice.total,
            invoice=invoice,
            occurred_on=frozen[invoice.pk].issue_date,
        )
        for invoice in locked
        if invoice.kind != Invoice.Kind.PROFORMA
    )


def write_finalised(invoices: list[Invoice]) -> None:
    """One parameterised UPDATE executed for many rows.

    ``bulk_update`` builds a CASE expression per field and row, which costs more than the
    whole rest of a batch finalisation; ``executemany`` sends the same statement pipelined.
    """
    fields = [f for f in Invoice._meta.concrete_fields if f.name in FINALISED_FIELDS]
    table = connection.ops.quote_name(Invoice._meta.db_table)
    assignments = ", ".join(f"{connection.ops.quote_name(f.column or f.attname)} = %s" for f in fields)
    rows = [
        [f.get_db_prep_save(getattr(inv, f.attname), connection) for f in fields] + [inv.pk]
        for inv in invoices
    ]
    with connection.cursor() as cursor:
        cursor.executemany(f"UPDATE {table} SET {assignments} WHERE id = %s", rows)


def _frozen_tax(invoice: Invoice, tax: TaxAmount) -> InvoiceTax:
    rate = tax.rate
    return InvoiceTax(
        invoice=invoice,
        tax_rate=rate,
        code=rate.code,
        name_fr=rate.name_fr,
        name_en=rate.name_en,
        rate=rate.rate,
        category_code=rate.category_code,
        base=tax.base,
        amount=tax.amount,
        legal_mention_fr=rate.legal_mention_fr,
        legal_mention_en=rate.legal_mention_en,
    )
