"""API keys made and revoked by an organisation's owner, and the idempotency keys of POSTs."""

import secrets
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from acquitte.core.actors import Actor, actor_label
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.models import AuditAction
from acquitte.core.services import record_transition
from acquitte.core.tenancy import check_can_manage_settings

from .models import KEY_START, ApiKey, hash_key

if TYPE_CHECKING:
    from acquitte.customers.models import Organisation


def create_api_key(
    *, organisation: "Organisation", actor: Actor, name: str, scope: str
) -> tuple[ApiKey, str]:
    """A new key and its text, which is shown this once and never stored."""
    check_can_manage_settings(actor, organisation)
    name = (name or "").strip()
    errors: dict[str, list[str]] = {}
    if not name or len(name) > 80 or "\x00" in name:
        errors["name"] = [_("Donnez à la clé un nom de 1 à 80 caractères.")]
    if scope not in ApiKey.Scope.values:
        errors["scope"] = [_("Choisissez la lecture seule ou la lecture et l'écriture.")]
    if errors:
        raise BusinessError(errors, code=ErrorCode.INVALID_INPUT)
    prefix = secrets.token_hex(6)
    token = f"{KEY_START}{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        key = ApiKey.objects.create(
            organisation=organisation,
            name=name,
            prefix=prefix,
            key_hash=hash_key(token),
            scope=ApiKey.Scope(scope),
            created_by=actor_label(actor),
        )
        record_transition(obj=key, organisation=organisation, actor=actor, action=AuditAction.CREATE)
    return key, token


def revoke_api_key(*, key: ApiKey, actor: Actor) -> ApiKey:
    """The key stops working at once; its row stays for the history."""
    check_can_manage_settings(actor, key.organisation)
    with transaction.atomic():
        updated = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        if updated:
            record_transition(
                obj=key,
                organisation=key.organisation,
                actor=actor,
                action=AuditAction.UPDATE,
                detail={"revoked": True},
            )
    key.refresh_from_db()
    return key
