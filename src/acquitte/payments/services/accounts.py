"""An organisation's provider accounts and payment settings: its owner's to change."""

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils.translation import gettext as _

from acquitte.core.actors import Actor
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.models import AuditAction
from acquitte.core.services import record_transition
from acquitte.core.tenancy import check_can_manage_settings

from .. import secrets
from ..models import ProviderAccount
from ..providers import PROVIDER_FIELDS, ProviderName, oauth
from ..providers.verify import CredentialsRejected, Verified, verify_credentials

if TYPE_CHECKING:
    from acquitte.customers.models import Organisation

logger = logging.getLogger(__name__)


def connect_provider(
    *, organisation: "Organisation", provider: str, credentials: dict[str, str], actor: Actor, mode: str = ""
) -> ProviderAccount:
    """Check credentials with the provider, then store (or replace) them encrypted.

    Webhooks are verified with the account's own secret: the one the provider issued (Stripe,
    GoCardless; PayPal signs with a certificate), or a random one drawn here for the sandbox.

    The mode comes from the credentials themselves (sk_test_/sk_live_, sandbox_/live_) except for
    PayPal, whose credentials do not say it. The provider is asked before anything is written.
    """
    check_can_manage_settings(actor, organisation)
    if provider not in PROVIDER_FIELDS:
        raise BusinessError(_("Prestataire inconnu."), code=ErrorCode.INVALID_INPUT)
    name = ProviderName(provider)
    clean = {f: str(credentials.get(f, "")).strip() for f in PROVIDER_FIELDS[name]}
    missing = [f for f, value in clean.items() if not value]
    if missing:
        raise BusinessError(
            _("Champs manquants : %(fields)s.") % {"fields": ", ".join(missing)}, code=ErrorCode.INVALID_INPUT
        )
    if name == ProviderName.SANDBOX:
        verified = Verified(mode=ProviderAccount.Mode.TEST, account_name=_("Bac à sable Acquitte"))
        # The sandbox issues no secret of its own: a random one per account, stored encrypted with
        # the credentials (never derived from SECRET_KEY). Connecting again draws a new one.
        clean["webhook_secret"] = secrets.new_webhook_secret()
    else:
        if name == ProviderName.PAYPAL and mode not in ProviderAccount.Mode.values:
            raise BusinessError(_("Mode inconnu."), code=ErrorCode.INVALID_INPUT)
        try:
            verified = verify_credentials(provider=name, credentials=clean, mode=mode)
        except CredentialsRejected as exc:
            raise BusinessError(exc.message, code=ErrorCode.PROVIDER_CREDENTIALS) from exc
    with transaction.atomic():
        replaced = replaced_grant(
            organisation=organisation, provider=name, external_account_id="", credentials=clean
        )
        account, _created = ProviderAccount.objects.update_or_create(
            organisation=organisation,
            provider=name,
            defaults={
                "mode": verified.mode,
                "account_name": verified.account_name[:200],
                "credentials_encrypted": secrets.encrypt(clean),
                "connected_by_oauth": False,
                "external_account_id": "",
            },
        )
        record_transition(
            obj=account,
            organisation=organisation,
            actor=actor,
            action=AuditAction.CONNECT,
            to_state=verified.mode,
        )
    release_grant(replaced, organisation_id=organisation.pk)
    return account


@dataclass(frozen=True)
class ReplacedGrant:
    """An OAuth grant that a new connection of the same provider replaces."""

    provider: str
    credentials: dict[str, str] = field(repr=False)
    external_account_id: str
    keep_account: bool


def replaced_grant(
    *, organisation: "Organisation", provider: str, external_account_id: str, credentials: Mapping[str, str]
) -> ReplacedGrant | None:
    """The OAuth grant the connection being written replaces (its row locked until the commit),
    to be revoked once the new one is stored: left alone, it would keep the platform's access and
    its webhook endpoint alive, signing events with a secret we no longer hold."""
    account = (
        ProviderAccount.objects.select_for_update()
        .filter(organisation=organisation, provider=provider, connected_by_oauth=True)
        .first()
    )
    if account is None:
        return None
    previous = secrets.decrypt(account.credentials_encrypted)
    if previous == dict(credentials):  # the provider handed the same grant back
        return None
    return ReplacedGrant(
        provider=provider,
        credentials=previous,
        external_account_id=account.external_account_id,
        keep_account=bool(external_account_id) and external_account_id == account.external_account_id,
    )


def release_grant(grant: ReplacedGrant | None, *, organisation_id: int) -> None:
    """Revoke a replaced grant, after the commit; a provider that is down leaves it to its dashboard."""
    if grant is None:
        return
    try:
        oauth.revoke(
            provider=grant.provider,
            credentials=grant.credentials,
            external_account_id=grant.external_account_id,
            keep_account=grant.keep_account,
        )
    except oauth.OAuthFailed:
        logger.warning("replaced %s access of organisation %s not revoked", grant.provider, organisation_id)


def disconnect_provider(*, organisation: "Organisation", provider: str, actor: Actor) -> bool:
    """Forget a provider's credentials; its past payments stay, no new one goes through it.

    An account connected by OAuth also has its access revoked at the provider, after the commit
    (never inside the transaction). A provider that is down does not keep the account connected:
    the merchant asked to stop, and once our copy of the token is gone nothing here can use it.
    Returns False when the revocation could not be made, so that the merchant is told to revoke
    the access from the provider's dashboard; True otherwise.
    """
    check_can_manage_settings(actor, organisation)
    with transaction.atomic():
        account = (
            ProviderAccount.objects.select_for_update()
            .filter(organisation=organisation, provider=provider)
            .first()
        )
        if account is None:
            raise BusinessError(
                _("Ce prestataire n'est pas connecté."), code=ErrorCode.PROVIDER_NOT_CONNECTED
            )
        granted = secrets.decrypt(account.credentials_encrypted) if account.connected_by_oauth else None
        external_account_id = account.external_account_id
        record_transition(
            obj=account,
            organisation=organisation,
            actor=actor,
            action=AuditAction.DISCONNECT,
            from_state=account.mode,
        )
        account.delete()
    if granted is None:
        return True
    try:
        oauth.revoke(provider=provider, credentials=granted, external_account_id=external_account_id)
    except oauth.OAuthFailed:
        logger.warning("%s access of organisation %s not revoked", provider, organisation.pk, exc_info=True)
        return False
    return True


@transaction.atomic
def set_online_payment_default(
    *, organisation: "Organisation", offered: bool, actor: Actor
) -> "Organisation":
    """Offer online payment on every new invoice by default (seed 004); each invoice can differ."""
    check_can_manage_settings(actor, organisation)
    organisation.online_payment_default = offered
    organisation.save(update_fields=["online_payment_default"])
    record_transition(
        obj=organisation,
        organisation=organisation,
        actor=actor,
        action=AuditAction.ONLINE_PAYMENT_DEFAULT,
        to_state="on" if offered else "off",
    )
    return organisation
