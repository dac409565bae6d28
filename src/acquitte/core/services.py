"""Core operations shared by every app: gapless numbers and the audit trail."""

import datetime

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils.translation import gettext as _

from .errors import BusinessError
from .models import AuditLog, NumberSeries


def next_number(*, organisation, kind: str, issue_date: datetime.date) -> str:
    """Take the next number of a series under a row lock; call inside the caller's transaction.

    The lock is held until the caller commits, so two finalisations never share a number and a
    rolled-back one gives its number back: the series stays gapless. Dates may not go backwards,
    which keeps numbers chronological as French law requires.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("next_number must run inside a transaction")
    try:
        series = NumberSeries.objects.select_for_update().get(organisation=organisation, kind=kind)
    except NumberSeries.DoesNotExist as exc:
        raise BusinessError(_("Aucune série de numérotation n'est définie pour ce document.")) from exc
    if series.last_date and issue_date < series.last_date:
        raise BusinessError(
            _("La date d'émission ne peut pas précéder celle du dernier numéro (%(date)s).")
            % {"date": series.last_date.isoformat()}
        )
    if series.reset_yearly and series.current_year != issue_date.year:
        series.current_year = issue_date.year
        series.last_value = 0
    series.last_value += 1
    series.last_date = issue_date
    series.save(update_fields=["current_year", "last_value", "last_date"])
    return series.render(year=issue_date.year, seq=series.last_value)


def record_transition(*, obj, organisation, actor=None, action: str, from_state="", to_state="", detail=None):
    """Write one audit row for a state change of ``obj``."""
    AuditLog.objects.create(
        organisation=organisation,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=(getattr(actor, "email", "") or "system") if actor else "system",
        content_type=ContentType.objects.get_for_model(type(obj)),
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        action=action,
        from_state=from_state,
        to_state=to_state,
        detail=detail or {},
    )
