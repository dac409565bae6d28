"""Writing a finalised batch: the invoices' frozen fields, their taxes and their ledger entries."""

import datetime
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib.contenttypes.models import ContentType
from django.db import connection, models
from django.utils import timezone

from acquitte.core.actors import Actor, Person, actor_label
from acquitte.core.models import AuditAction, AuditLog
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


def insert_rows(
    model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]], *, ids: bool = False
) -> list[int]:
    """Insert plain rows (values in ``columns`` order, field names or attnames) in one go; with
    ``ids``, give each row a new id and return them in order.

    Batch writers (finalisation, billing runs) write thousands of rows a second: building a model
    instance per row and Django's insert compiler cost more than the database does. On PostgreSQL
    the rows go by COPY, their ids taken from the table's sequence first; elsewhere one prepared
    INSERT is executed for all of them.
    """
    if not rows:
        return []
    meta = model._meta
    fields = [_concrete(meta.get_field(name)) for name in columns]
    names = [connection.ops.quote_name(str(f.column)) for f in fields]
    table = connection.ops.quote_name(meta.db_table)
    new_ids: list[int] = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            json_at = [(i, f) for i, f in enumerate(fields) if isinstance(f, models.JSONField)]
            if ids:
                new_ids = _next_ids(cursor, meta.db_table, len(rows))
            columns_sql = ", ".join((["id"] if ids else []) + names)
            with cursor.cursor.copy(f"COPY {table} ({columns_sql}) FROM STDIN") as copy:
                for n, row in enumerate(rows):
                    values = list(row)
                    for i, f in json_at:
                        values[i] = _json_text(f, values[i])
                    copy.write_row([new_ids[n], *values] if ids else values)
            return new_ids
        sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))})"
        prepared = [
            [f.get_db_prep_save(v, connection) for f, v in zip(fields, row, strict=True)] for row in rows
        ]
        if not ids:
            cursor.executemany(sql, prepared)
            return []
        for values in prepared:
            cursor.execute(sql, values)
            new_ids.append(cursor.lastrowid)
    return new_ids


def _next_ids(cursor: Any, table: str, count: int) -> list[int]:
    """``count`` new ids from the table's sequence (PostgreSQL)."""
    cursor.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count]
    )
    return [row[0] for row in cursor.fetchall()]


def give_ids(drafts: Sequence[Invoice]) -> None:
    """Ids for drafts built in memory, so that their lines can be written beside them.

    On PostgreSQL the ids come from the sequence and the rows stay unwritten (``_state.adding``):
    finalisation inserts them already final, one row version where a draft then an UPDATE made
    two, each with its entry in every index. Elsewhere the drafts are inserted now, and
    finalisation updates them."""
    if not drafts:
        return
    written = connection.vendor != "postgresql"
    if written:
        columns = [f.attname for f in Invoice._meta.concrete_fields if not f.primary_key]
        ids = insert_rows(
            Invoice, columns, [[getattr(d, name) for name in columns] for d in drafts], ids=True
        )
    else:
        with connection.cursor() as cursor:
            ids = _next_ids(cursor, Invoice._meta.db_table, len(drafts))
    for draft, pk in zip(drafts, ids, strict=True):
        draft.pk = pk
        draft._state.adding = not written


def _json_text(field: "models.JSONField[Any]", value: Any) -> str | None:
    """A JSON value as COPY's text format takes it (what the field's own adapter would send)."""
    return None if value is None else json.dumps(value, cls=field.encoder)


def _concrete(field: object) -> "models.Field[Any, Any]":
    if not isinstance(field, models.Field) or not field.column:
        raise TypeError(f"{field} is not a column")
    return field


TAX_COLUMNS = [
    "invoice_id",
    "tax_rate_id",
    "code",
    "name_fr",
    "name_en",
    "rate",
    "category_code",
    "base",
    "amount",
    "legal_mention_fr",
    "legal_mention_en",
]
LEDGER_COLUMNS = [
    "organisation_id",
    "customer_id",
    "kind",
    "amount",
    "invoice_id",
    "occurred_on",
    "created_at",
]


def post(organisation: "Organisation", locked: list[Invoice], frozen: dict[int, Frozen]) -> None:
    """The frozen taxes, and one ledger entry per invoice or credit note (pro-formas owe nothing)."""
    insert_rows(
        InvoiceTax,
        TAX_COLUMNS,
        [_frozen_tax(invoice, tax) for invoice in locked for tax in frozen[invoice.pk].totals.taxes],
    )
    now = timezone.now()
    insert_rows(
        LedgerEntry,
        LEDGER_COLUMNS,
        [
            (
                organisation.pk,
                invoice.customer_id,
                invoice.kind,
                invoice.total if invoice.kind == Invoice.Kind.INVOICE else -invoice.total,
                invoice.pk,
                frozen[invoice.pk].issue_date,
                now,
            )
            for invoice in locked
            if invoice.kind != Invoice.Kind.PROFORMA
        ],
    )


#: From this many invoices on, PostgreSQL gets the frozen fields by COPY into a scratch table and
#: one UPDATE … FROM it; below, the scratch table costs more than it saves.
COPY_UPDATE_FROM = 50


def write_finalised(invoices: list[Invoice]) -> None:
    """The finalised invoices' rows: inserted whole for those ``give_ids`` left unwritten, and the
    frozen fields of the others updated at once."""
    new = [inv for inv in invoices if inv._state.adding]
    _update_finalised([inv for inv in invoices if not inv._state.adding])
    if new:
        columns = [f.attname for f in Invoice._meta.concrete_fields]
        insert_rows(Invoice, columns, [[getattr(inv, name) for name in columns] for inv in new])
        for inv in new:
            inv._state.adding = False


def _update_finalised(invoices: list[Invoice]) -> None:
    """The frozen fields of many invoices, written at once.

    ``bulk_update`` builds a CASE expression per field and row, which costs more than the
    whole rest of a batch finalisation; ``executemany`` sends the same statement pipelined, and on
    PostgreSQL a large batch goes by COPY and a single UPDATE.
    """
    if not invoices:
        return
    fields = [f for f in Invoice._meta.concrete_fields if f.name in FINALISED_FIELDS]
    table = connection.ops.quote_name(Invoice._meta.db_table)
    columns = [connection.ops.quote_name(f.column or f.attname) for f in fields]
    if connection.vendor == "postgresql" and len(invoices) >= COPY_UPDATE_FROM:
        json_fields = {f.attname: f for f in fields if isinstance(f, models.JSONField)}
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMP TABLE finalised_batch ON COMMIT DROP AS "
                f"SELECT id, {', '.join(columns)} FROM {table} WITH NO DATA"
            )
            with cursor.cursor.copy(f"COPY finalised_batch (id, {', '.join(columns)}) FROM STDIN") as copy:
                for inv in invoices:
                    copy.write_row(
                        [inv.pk]
                        + [
                            _json_text(json_fields[f.attname], getattr(inv, f.attname))
                            if f.attname in json_fields
                            else getattr(inv, f.attname)
                            for f in fields
                        ]
                    )
            assignments = ", ".join(f"{c} = b.{c}" for c in columns)
            cursor.execute(f"UPDATE {table} SET {assignments} FROM finalised_batch b WHERE {table}.id = b.id")
            cursor.execute("DROP TABLE finalised_batch")
        return
    assignments = ", ".join(f"{c} = %s" for c in columns)
    rows = [
        [f.get_db_prep_save(getattr(inv, f.attname), connection) for f in fields] + [inv.pk]
        for inv in invoices
    ]
    with connection.cursor() as cursor:
        cursor.executemany(f"UPDATE {table} SET {assignments} WHERE id = %s", rows)


AUDIT_COLUMNS = [
    "organisation_id",
    "actor_id",
    "actor_label",
    "content_type_id",
    "object_id",
    "object_repr",
    "action",
    "from_state",
    "to_state",
    "detail",
    "at",
]


def record_finalised(organisation: "Organisation", invoices: list[Invoice], actor: Actor) -> None:
    """The audit rows of a finalisation (draft → open), as ``core.services.record_transitions``
    writes them, by plain rows: at billing-run rates the model instances cost more than the rest."""
    content_type = ContentType.objects.get_for_model(Invoice).pk
    actor_id = actor.pk if isinstance(actor, Person) else None
    label = actor_label(actor)[:120]
    now = timezone.now()
    kinds = {kind: str(Invoice.Kind(kind).label) for kind in {inv.kind for inv in invoices}}
    insert_rows(
        AuditLog,
        AUDIT_COLUMNS,
        [
            (
                organisation.pk,
                actor_id,
                label,
                content_type,
                str(inv.pk),
                Invoice.named(kinds[inv.kind], inv.number)[:200],
                AuditAction.FINALISE,
                Invoice.Status.DRAFT,
                Invoice.Status.OPEN,
                {},
                now,
            )
            for inv in invoices
        ],
    )


def _frozen_tax(invoice: Invoice, tax: TaxAmount) -> tuple[Any, ...]:
    """An ``InvoiceTax`` row (``TAX_COLUMNS``): the rate as it stood, its base and amount."""
    rate = tax.rate
    return (
        invoice.pk,
        rate.pk,
        rate.code,
        rate.name_fr,
        rate.name_en,
        rate.rate,
        rate.category_code,
        tax.base,
        tax.amount,
        rate.legal_mention_fr,
        rate.legal_mention_en,
    )
