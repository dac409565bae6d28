"""Connecting a provider in a few clicks (seed 004): the provider's own consent page, not pasted keys.

``start_connect`` draws a random ``state`` bound to the organisation, the person and the provider,
kept server side (the cache: Redis in production) for ten minutes; ``finish_connect`` takes it back
once, exchanges what the provider sent for the merchant's credentials outside any transaction, then
stores them encrypted in the same ProviderAccount that pasted keys fill. A state that is unknown,
expired, already used, or someone else's connects nothing.
"""

import datetime
import hashlib
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from acquitte.core.actors import Actor, Person
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.models import AuditAction
from acquitte.core.services import record_transition
from acquitte.core.tenancy import check_can_manage_settings

from .. import secrets as stored_secrets
from ..models import ProviderAccount
from ..providers import oauth
from ..providers.names import ProviderName
from .accounts import release_grant, replaced_grant

if TYPE_CHECKING:
    from acquitte.customers.models import Organisation

STATE_LIFETIME = datetime.timedelta(minutes=10)
#: The cache keeps a state (and the mark that it was used) longer than it is valid, so that a late
#: or repeated return is told "expired" or "already used" rather than "unknown".
KEPT_SECONDS = 60 * 60
STATE_KEY = "payments:oauth-state:{}"
USED_KEY = "payments:oauth-state-used:{}"


def oauth_providers() -> list[str]:
    """The providers whose "Connecter avec …" the platform can offer (its credentials are set)."""
    return [
        name
        for name in (ProviderName.STRIPE, ProviderName.GOCARDLESS, ProviderName.PAYPAL)
        if oauth.configured(name)
    ]


def start_connect(
    *, organisation: "Organisation", provider: str, actor: Actor, return_url: str, signup: bool = False
) -> str:
    """The provider's consent page for this organisation's owner, who comes back to ``return_url``
    (registered with the platform's app); ``signup`` opens it on account creation where the
    provider offers it (Stripe, GoCardless; PayPal's page offers both)."""
    check_can_manage_settings(actor, organisation)
    name = _oauth_provider(provider)
    state = secrets.token_urlsafe(32)
    redirect_uri = return_url
    if name == ProviderName.PAYPAL:
        # PayPal gives no state back: it comes back in the return URL we hand it.
        redirect_uri = f"{redirect_uri}?state={state}"
    tracking_id = _tracking_id(organisation)
    url = oauth.authorization_url(
        provider=name,
        state=state,
        redirect_uri=redirect_uri,
        signup=signup and name in oauth.SIGNUP,
        tracking_id=tracking_id,
    )
    cache.set(
        STATE_KEY.format(_digest(state)),
        {
            "organisation": organisation.pk,
            "actor": _actor_key(actor),
            "provider": str(name),
            "redirect_uri": redirect_uri,
            "tracking_id": tracking_id,
            "expires": (timezone.now() + STATE_LIFETIME).timestamp(),
        },
        timeout=KEPT_SECONDS,
    )
    return url


def finish_connect(
    *, organisation: "Organisation", provider: str, state: str, params: Mapping[str, str], actor: Actor
) -> ProviderAccount:
    """Connect the account the merchant consented to; ``params`` is what the provider sent back.

    The state is checked first (and used up), then the provider's answer; the provider is asked
    for the credentials before anything is written, and nothing is written if it refuses.
    """
    check_can_manage_settings(actor, organisation)
    name = _oauth_provider(provider)
    pending = _take_state(state, organisation=organisation, provider=name, actor=actor)
    refused = oauth.refusal(name, params)
    if refused is not None:
        raise BusinessError(refused.message, code=ErrorCode.INVALID_INPUT)
    webhook_url = settings.PUBLIC_BASE_URL.rstrip("/") + reverse(
        "payments:webhook", args=[name, organisation.slug]
    )
    try:
        grant = oauth.exchange(
            provider=name,
            params=params,
            redirect_uri=pending["redirect_uri"],
            webhook_url=webhook_url,
            tracking_id=pending["tracking_id"],
        )
    except oauth.OAuthFailed as exc:
        code = ErrorCode.PROVIDER_UNAVAILABLE if exc.unavailable else ErrorCode.PROVIDER_CREDENTIALS
        raise BusinessError(exc.message, code=code) from exc
    with transaction.atomic():
        replaced = replaced_grant(
            organisation=organisation,
            provider=name,
            external_account_id=grant.external_account_id,
            credentials=grant.credentials,
        )
        account, _created = ProviderAccount.objects.update_or_create(
            organisation=organisation,
            provider=name,
            defaults={
                "mode": grant.mode,
                "account_name": grant.account_name[:200],
                "credentials_encrypted": stored_secrets.encrypt(grant.credentials),
                "connected_by_oauth": True,
                "external_account_id": grant.external_account_id[:100],
            },
        )
        record_transition(
            obj=account,
            organisation=organisation,
            actor=actor,
            action=AuditAction.CONNECT,
            to_state=grant.mode,
            detail={"via": "oauth", "external_account_id": grant.external_account_id},
        )
    release_grant(replaced, organisation_id=organisation.pk)
    return account


def _oauth_provider(provider: str) -> ProviderName:
    if provider not in oauth.PROVIDER_LABELS:
        raise BusinessError(_("Prestataire inconnu."), code=ErrorCode.INVALID_INPUT)
    name = ProviderName(provider)
    if not oauth.configured(name):
        raise BusinessError(
            _("La connexion en quelques clics n'est pas offerte pour %(provider)s : collez vos clés.")
            % {"provider": oauth.PROVIDER_LABELS[name]},
            code=ErrorCode.INVALID_INPUT,
        )
    return name


def _take_state(state: str, *, organisation: "Organisation", provider: str, actor: Actor) -> dict[str, Any]:
    """The pending connection ``state`` names, used up; refused unless it is this person's, for
    this organisation and provider, and still valid. Using it up first means a state that leaked
    serves no one, not even after a refusal."""
    restart = _("Recommencez depuis la page des réglages de paiement.")
    if not state or len(state) > 100:
        raise BusinessError(
            _("Demande de connexion inconnue. %(restart)s") % {"restart": restart},
            code=ErrorCode.INVALID_INPUT,
        )
    digest = _digest(state)
    pending: dict[str, Any] | None = cache.get(STATE_KEY.format(digest))
    if pending is None:
        raise BusinessError(
            _("Demande de connexion inconnue. %(restart)s") % {"restart": restart},
            code=ErrorCode.INVALID_INPUT,
        )
    if not cache.add(USED_KEY.format(digest), True, timeout=KEPT_SECONDS):
        raise BusinessError(
            _("Cette demande de connexion a déjà servi. %(restart)s") % {"restart": restart},
            code=ErrorCode.INVALID_INPUT,
        )
    if timezone.now().timestamp() > pending["expires"]:
        raise BusinessError(
            _("Cette demande de connexion a expiré (elle vaut 10 minutes). %(restart)s")
            % {"restart": restart},
            code=ErrorCode.INVALID_INPUT,
        )
    if (
        pending["organisation"] != organisation.pk
        or pending["actor"] != _actor_key(actor)
        or pending["provider"] != provider
    ):
        raise BusinessError(
            _(
                "Cette demande de connexion a été faite par une autre personne ou pour un autre compte. %(restart)s"
            )
            % {"restart": restart},
            code=ErrorCode.INVALID_INPUT,
        )
    return pending


def _digest(state: str) -> str:
    """Only a digest of the state is a cache key: reading the cache gives no state to replay."""
    return hashlib.sha256(state.encode()).hexdigest()


def _actor_key(actor: Actor) -> str:
    return f"person:{actor.pk}" if isinstance(actor, Person) else "system"


def _tracking_id(organisation: "Organisation") -> str:
    """How PayPal names the seller for us: the organisation, which the status check compares."""
    return f"acquitte-{organisation.pk}"
