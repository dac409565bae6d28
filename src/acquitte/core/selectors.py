"""Reads of core data shared by every app's pages."""

from typing import TYPE_CHECKING

from django.contrib.contenttypes.models import ContentType
from django.db.models import Model, QuerySet

from .models import AuditLog

if TYPE_CHECKING:
    from acquitte.customers.models import Organisation


def history(*, organisation: "Organisation", obj: Model) -> QuerySet[AuditLog]:
    """The audit trail of one object of an organisation, oldest first."""
    return AuditLog.objects.filter(
        organisation=organisation,
        content_type=ContentType.objects.get_for_model(type(obj)),
        object_id=str(obj.pk),
    ).order_by("at", "pk")
