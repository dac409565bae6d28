"""Set-based writes that the ORM makes costly in Python.

``QuerySet.bulk_update`` builds a ``Case(When(pk=…, then=Value(…)))`` expression per row and
field and compiles each one: on a collection run it took half of the process's CPU (issue 18,
measured with py-spy). ``update_rows`` writes the same UPDATE as plain SQL, one ``CASE`` per field.
"""

from collections.abc import Sequence
from typing import Any

from django.db import connections, router
from django.db.models import Field, Model

#: Rows per UPDATE: a few thousand parameters, well under SQLite's limit.
BATCH_SIZE = 500


def update_rows(rows: Sequence[Model], fields: Sequence[str]) -> int:
    """Write ``fields`` of ``rows`` (instances of one model, each with its pk), as
    ``bulk_update(rows, fields)`` does: no ``save()``, no signals. Returns the rows updated."""
    if not rows or not fields:
        return 0
    model = type(rows[0])
    meta = model._meta
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    pk_field = _concrete(meta.pk)
    columns = [_concrete(meta.get_field(name)) for name in fields]
    cast = connection.features.requires_casted_case_in_updates
    updated = 0
    for start in range(0, len(rows), BATCH_SIZE):
        batch = rows[start : start + BATCH_SIZE]
        pks = [pk_field.get_db_prep_value(row.pk, connection) for row in batch]
        whens = " ".join(["WHEN %s THEN %s"] * len(batch))
        assignments: list[str] = []
        params: list[Any] = []
        for field in columns:
            for pk, row in zip(pks, batch, strict=True):
                params += [pk, field.get_db_prep_save(getattr(row, field.attname), connection)]
            case = f"CASE {quote(str(pk_field.column))} {whens} END"
            if cast:
                case = f"CAST({case} AS {field.db_type(connection)})"
            assignments.append(f"{quote(str(field.column))} = {case}")
        placeholders = ", ".join(["%s"] * len(batch))
        sql = (
            f"UPDATE {quote(meta.db_table)} SET {', '.join(assignments)} "
            f"WHERE {quote(str(pk_field.column))} IN ({placeholders})"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, *pks])
            updated += cursor.rowcount
    return updated


def _concrete(field: object) -> "Field[Any, Any]":
    """A column of the table: a reverse relation or a many-to-many has none to write."""
    if not isinstance(field, Field) or not field.concrete:
        raise ValueError(f"{field} is not a column")
    return field
