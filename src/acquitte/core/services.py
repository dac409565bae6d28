"""Core operations shared by every app: gapless numbers and the audit trail."""

import datetime
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Model
from django.utils.translation import gettext as _

from .actors import Actor, Person, actor_label
from .errors import BusinessError, ErrorCode
from .models import AuditAction, AuditLog, NumberSeries

if TYPE_CHECKING:
    from acquitte.customers.models import Organisation


def next_numbers(*, organisation: "Organisation", kind: str, issue_dates: list[datetime.date]) -> list[str]:
    """Take consecutive numbers of a series under its row lock, one per date, in date order.

    Call inside the caller's transaction: the lock is held until it commits, so two
    finalisations never share a number and a rolled-back one gives its numbers back — the series
    stays gapless. Dates may not go backwards, which keeps numbers chronological (French law).
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("next_numbers must run inside a transaction")
    try:
        series = NumberSeries.objects.select_for_update().get(organisation=organisation, kind=kind)
    except NumberSeries.DoesNotExist as exc:
        raise BusinessError(
            _("Aucune série de numérotation n'est définie pour ce document."), code=ErrorCode.NUMBERING
        ) from exc
    numbers: list[str] = []
    for issue_date in issue_dates:
        if series.last_date and issue_date < series.last_date:
            raise BusinessError(
                _("La date d'émission ne peut pas précéder celle du dernier numéro (%(date)s).")
                % {"date": series.last_date.isoformat()},
                code=ErrorCode.NUMBERING,
            )
        if series.reset_yearly and series.current_year != issue_date.year:
            series.current_year = issue_date.year
            series.last_value = 0
        series.last_value += 1
        series.last_date = issue_date
        numbers.append(series.render(year=issue_date.year, seq=series.last_value))
    series.save(update_fields=["current_year", "last_value", "last_date"])
    return numbers


def next_number(*, organisation: "Organisation", kind: str, issue_date: datetime.date) -> str:
    return next_numbers(organisation=organisation, kind=kind, issue_dates=[issue_date])[0]


def _audit_row(
    *,
    obj: Model,
    organisation: "Organisation",
    actor: Actor,
    action: AuditAction,
    from_state: str,
    to_state: str,
    detail: dict[str, Any] | None,
) -> AuditLog:
    return AuditLog(
        organisation=organisation,
        actor_id=actor.pk if isinstance(actor, Person) else None,
        actor_label=actor_label(actor)[:120],
        content_type=ContentType.objects.get_for_model(type(obj)),
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        action=action,
        from_state=from_state,
        to_state=to_state,
        detail=detail or {},
    )


def record_transition(
    *,
    obj: Model,
    organisation: "Organisation",
    actor: Actor,
    action: AuditAction,
    from_state: str = "",
    to_state: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """Write one audit row for a state change of ``obj``."""
    _audit_row(
        obj=obj,
        organisation=organisation,
        actor=actor,
        action=action,
        from_state=from_state,
        to_state=to_state,
        detail=detail,
    ).save()


def record_transitions(
    *,
    objs: Iterable[Model],
    organisation: "Organisation",
    actor: Actor,
    action: AuditAction,
    from_state: str = "",
    to_state: str = "",
) -> None:
    """The same state change of many objects, in one insert (billing runs, batch finalisation)."""
    AuditLog.objects.bulk_create(
        _audit_row(
            obj=obj,
            organisation=organisation,
            actor=actor,
            action=action,
            from_state=from_state,
            to_state=to_state,
            detail=None,
        )
        for obj in objs
    )
