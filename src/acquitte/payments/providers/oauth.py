"""The providers' own ways for a platform to connect a merchant's account without pasted keys.

Stripe Connect OAuth (Standard accounts), GoCardless's partner OAuth and PayPal's partner
onboarding. Each gives back what the providers read as if it had been pasted: a Stripe secret key
(the OAuth access token), a GoCardless access token, a PayPal merchant id. The platform's own
client ids and secrets come from settings; hosts are settings too, so tests point them at a fake.
Nothing here touches the database: the caller decides what to store, outside any transaction.
"""

import base64
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import requests
import stripe
from django.conf import settings
from django.utils.translation import gettext as _

from .names import ProviderName
from .verify import (
    DEFAULT_PAYPAL_API_BASES,
    DEFAULT_STRIPE_API_BASE,
    TIMEOUT_SECONDS,
    CredentialsRejected,
    Verified,
    gocardless_account,
    verify_credentials,
)

logger = logging.getLogger(__name__)

DEFAULT_STRIPE_CONNECT_BASE = "https://connect.stripe.com"
DEFAULT_GOCARDLESS_CONNECT_BASES = {
    "test": "https://connect-sandbox.gocardless.com",
    "live": "https://connect.gocardless.com",
}
SCOPE = "read_write"
PROVIDER_LABELS = {
    ProviderName.STRIPE: "Stripe",
    ProviderName.GOCARDLESS: "GoCardless",
    ProviderName.PAYPAL: "PayPal",
}
#: Providers whose consent page can open on "create an account" rather than on "sign in".
SIGNUP = {ProviderName.STRIPE, ProviderName.GOCARDLESS}
#: The Stripe events the app acts on (payments, saved methods), subscribed on the merchant's account.
STRIPE_EVENTS = [
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
    "setup_intent.succeeded",
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_method.automatically_updated",
    "payment_method.detached",
]
#: What the seller lets the platform do for them through PayPal's partner onboarding: take and
#: refund payments, and save PayPal accounts in the seller's vault to charge them later.
PAYPAL_FEATURES = ["PAYMENT", "REFUND", "VAULT", "BILLING_AGREEMENT"]


@dataclass(frozen=True)
class Grant:
    """A merchant's consent turned into credentials, with what the settings page shows of it."""

    mode: str
    account_name: str
    external_account_id: str
    credentials: dict[str, str] = field(repr=False)


class OAuthFailed(Exception):
    """The connection cannot be made or undone; the message says why, in words for the merchant.
    ``refused``: the merchant themself declined; ``unavailable``: the provider could not be reached."""

    def __init__(self, message: str, *, refused: bool = False, unavailable: bool = False):
        super().__init__(message)
        self.message = message
        self.refused = refused
        self.unavailable = unavailable


#: The settings each provider's flow needs, read from the environment (settings.py).
PLATFORM_SETTINGS: dict[str, tuple[str, ...]] = {
    ProviderName.STRIPE: ("STRIPE_CONNECT_CLIENT_ID", "STRIPE_PLATFORM_SECRET_KEY"),
    ProviderName.GOCARDLESS: ("GOCARDLESS_CLIENT_ID", "GOCARDLESS_CLIENT_SECRET"),
    ProviderName.PAYPAL: (
        "PAYPAL_PARTNER_CLIENT_ID",
        "PAYPAL_PARTNER_CLIENT_SECRET",
        "PAYPAL_PARTNER_MERCHANT_ID",
    ),
}


def configured(provider: str) -> bool:
    """Whether the platform has the credentials this provider's flow needs."""
    needed = PLATFORM_SETTINGS.get(provider, ())
    return bool(needed) and all(getattr(settings, name, "") for name in needed)


def authorization_url(
    *, provider: str, state: str, redirect_uri: str, signup: bool = False, tracking_id: str = ""
) -> str:
    """Where to send the merchant to give their consent (PayPal: asks PayPal for a referral)."""
    if provider == ProviderName.STRIPE:
        return _stripe_platform().oauth.authorize_url(
            params={
                "response_type": "code",
                "scope": SCOPE,
                "state": state,
                "redirect_uri": redirect_uri,
                "stripe_landing": "register" if signup else "login",
            }
        )
    if provider == ProviderName.GOCARDLESS:
        query = {
            "response_type": "code",
            "client_id": settings.GOCARDLESS_CLIENT_ID,
            "scope": SCOPE,
            "redirect_uri": redirect_uri,
            "state": state,
            "initial_view": "signup" if signup else "login",
        }
        return f"{_gocardless_connect_base()}/oauth/authorize?{urlencode(query)}"
    if provider == ProviderName.PAYPAL:
        return _paypal_referral(return_url=redirect_uri, tracking_id=tracking_id)
    raise ValueError(f"no OAuth flow for provider {provider!r}")


def exchange(
    *, provider: str, params: Mapping[str, str], redirect_uri: str, webhook_url: str, tracking_id: str = ""
) -> Grant:
    """The merchant's credentials from what the provider sent back (a code, or PayPal's ids)."""
    if provider == ProviderName.STRIPE:
        return _stripe_exchange(_code(params, "Stripe"), webhook_url)
    if provider == ProviderName.GOCARDLESS:
        return _gocardless_exchange(_code(params, "GoCardless"), redirect_uri)
    if provider == ProviderName.PAYPAL:
        return _paypal_exchange(params, tracking_id)
    raise ValueError(f"no OAuth flow for provider {provider!r}")


def revoke(
    *, provider: str, credentials: Mapping[str, str], external_account_id: str, keep_account: bool = False
) -> None:
    """Withdraw the platform's access at the provider; OAuthFailed when it cannot be reached.

    ``keep_account``: a new grant of the same account replaces this one. Stripe deauthorises a
    whole account, which would undo the new grant too, so only the old webhook endpoint goes.

    PayPal offers partners no call to undo an onboarding: the seller withdraws the permissions from
    their own PayPal account, and forgetting the merchant id is all the platform can do.
    """
    if provider == ProviderName.STRIPE:
        _stripe_revoke(credentials, "" if keep_account else external_account_id)
    elif provider == ProviderName.GOCARDLESS:
        _gocardless_revoke(credentials)


def refusal(provider: str, params: Mapping[str, str]) -> OAuthFailed | None:
    """The provider's answer when the merchant declined or the provider failed, else None."""
    label = PROVIDER_LABELS.get(ProviderName(provider), provider)
    error = params.get("error", "")
    if provider == ProviderName.PAYPAL and params.get("permissionsGranted", "true").lower() == "false":
        error = "access_denied"
    if not error:
        return None
    if error == "access_denied":
        return OAuthFailed(
            _("Vous avez refusé l'accès à %(provider)s : rien n'a été connecté.") % {"provider": label},
            refused=True,
        )
    logger.warning("%s OAuth answered %s: %s", label, error, params.get("error_description", ""))
    return OAuthFailed(
        _("%(provider)s n'a pas autorisé la connexion (%(reason)s) : rien n'a été connecté.")
        % {"provider": label, "reason": error[:100]}
    )


def _code(params: Mapping[str, str], label: str) -> str:
    code = str(params.get("code", "")).strip()
    if not code or len(code) > 500:
        raise OAuthFailed(
            _("%(provider)s n'a pas renvoyé de code d'autorisation : rien n'a été connecté.")
            % {"provider": label}
        )
    return code


def _unreachable(label: str) -> OAuthFailed:
    return OAuthFailed(
        _("Impossible de joindre %(provider)s ; rien n'a été connecté. Réessayez dans un instant.")
        % {"provider": label},
        unavailable=True,
    )


def _rejected(label: str) -> OAuthFailed:
    return OAuthFailed(
        _(
            "%(provider)s a refusé ce code d'autorisation (expiré ou déjà utilisé) : rien n'a été "
            "connecté. Recommencez la connexion."
        )
        % {"provider": label}
    )


# --- Stripe ---------------------------------------------------------------------------------------


def _stripe_platform() -> stripe.StripeClient:
    return _stripe_client(settings.STRIPE_PLATFORM_SECRET_KEY)


def _stripe_client(secret_key: str) -> stripe.StripeClient:
    return stripe.StripeClient(
        secret_key,
        client_id=settings.STRIPE_CONNECT_CLIENT_ID,
        base_addresses={
            "api": getattr(settings, "STRIPE_API_BASE", DEFAULT_STRIPE_API_BASE),
            "connect": getattr(settings, "STRIPE_CONNECT_BASE", DEFAULT_STRIPE_CONNECT_BASE),
        },
        http_client=stripe.RequestsClient(timeout=TIMEOUT_SECONDS),
        max_network_retries=0,
    )


def _stripe_exchange(code: str, webhook_url: str) -> Grant:
    """The access token is a secret key of the merchant's account; a webhook endpoint made with it
    gives the account its own signing secret, as a pasted whsec_ would."""
    try:
        token = _stripe_platform().oauth.token(params={"grant_type": "authorization_code", "code": code})
    except stripe.oauth_error.OAuthError as err:
        raise _rejected("Stripe") from err
    except stripe.APIConnectionError as err:
        raise _unreachable("Stripe") from err
    except stripe.StripeError as err:
        logger.warning("Stripe refused an OAuth code exchange", exc_info=True)
        raise _rejected("Stripe") from err
    secret_key, account_id = token.access_token or "", token.stripe_user_id or ""
    if not secret_key or not account_id:
        raise _rejected("Stripe")
    try:
        endpoint = _stripe_client(secret_key).v1.webhook_endpoints.create(
            params={"url": webhook_url, "enabled_events": STRIPE_EVENTS},  # type: ignore[typeddict-item]
        )
    except stripe.StripeError as err:
        logger.warning("Stripe refused a webhook endpoint for %s", account_id, exc_info=True)
        _undo_stripe(account_id)
        raise (
            _unreachable("Stripe") if isinstance(err, stripe.APIConnectionError) else _stripe_no_webhook()
        ) from err
    credentials = {
        "secret_key": secret_key,
        "webhook_secret": endpoint.secret or "",
        "webhook_endpoint_id": endpoint.id,
    }
    try:
        verified = verify_credentials(provider=ProviderName.STRIPE, credentials=credentials)
    except CredentialsRejected as err:
        _undo_stripe(account_id)
        raise OAuthFailed(err.message) from err
    return Grant(
        mode=verified.mode,
        account_name=verified.account_name,
        external_account_id=account_id,
        credentials=credentials,
    )


def _stripe_no_webhook() -> OAuthFailed:
    return OAuthFailed(
        _(
            "Stripe a refusé l'adresse des webhooks de ce site : rien n'a été connecté. Vérifiez "
            "qu'elle est publique et en HTTPS, ou collez vos clés."
        )
    )


def _undo_stripe(account_id: str) -> None:
    """A half-made connection is undone at once, so no access stays granted without a record."""
    try:
        _stripe_platform().oauth.deauthorize(params={"stripe_user_id": account_id})
    except stripe.StripeError:
        logger.warning("Stripe deauthorization of %s failed", account_id, exc_info=True)


def _stripe_revoke(credentials: Mapping[str, str], account_id: str) -> None:
    """The webhook endpoint goes first, while the token still works; then the access itself,
    unless ``account_id`` is empty (the account stays connected by a newer grant)."""
    endpoint = credentials.get("webhook_endpoint_id", "")
    if endpoint:
        try:
            _stripe_client(credentials.get("secret_key", "")).v1.webhook_endpoints.delete(endpoint)
        except stripe.StripeError:
            logger.warning("Stripe webhook endpoint %s not deleted", endpoint, exc_info=True)
    if not account_id:
        return
    try:
        _stripe_platform().oauth.deauthorize(params={"stripe_user_id": account_id})
    except stripe.oauth_error.OAuthError:
        logger.info("Stripe account %s was already disconnected", account_id)
    except stripe.StripeError as err:
        raise _unreachable("Stripe") from err


# --- GoCardless -----------------------------------------------------------------------------------


def _gocardless_mode() -> str:
    mode = str(getattr(settings, "GOCARDLESS_PARTNER_MODE", "test"))
    return mode if mode in DEFAULT_GOCARDLESS_CONNECT_BASES else "test"


def _gocardless_connect_base() -> str:
    bases = getattr(settings, "GOCARDLESS_CONNECT_BASES", DEFAULT_GOCARDLESS_CONNECT_BASES)
    return str(bases[_gocardless_mode()])


def _gocardless_post(path: str, data: dict[str, str]) -> dict[str, Any]:
    """GoCardless's OAuth endpoints take a form with the app's credentials and answer JSON."""
    form = {
        "client_id": settings.GOCARDLESS_CLIENT_ID,
        "client_secret": settings.GOCARDLESS_CLIENT_SECRET,
        **data,
    }
    try:
        response = requests.post(f"{_gocardless_connect_base()}{path}", data=form, timeout=TIMEOUT_SECONDS)
    except requests.RequestException as err:
        raise _unreachable("GoCardless") from err
    if response.status_code >= 500:
        raise _unreachable("GoCardless")
    try:
        answer: dict[str, Any] = response.json()
    except ValueError:
        answer = {}
    if not response.ok:
        logger.warning("GoCardless %s answered %s: %s", path, response.status_code, answer.get("error"))
        raise _rejected("GoCardless")
    return answer


def _gocardless_exchange(code: str, redirect_uri: str) -> Grant:
    answer = _gocardless_post(
        "/oauth/access_token",
        {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
    )
    access_token = str(answer.get("access_token") or "")
    if not access_token:
        raise _rejected("GoCardless")
    try:
        verified: Verified = gocardless_account(access_token)
    except CredentialsRejected as err:
        raise OAuthFailed(err.message) from err
    return Grant(
        mode=verified.mode,
        account_name=verified.account_name or str(answer.get("email") or ""),
        external_account_id=str(answer.get("organisation_id") or ""),
        credentials={"access_token": access_token},
    )


def _gocardless_revoke(credentials: Mapping[str, str]) -> None:
    try:
        _gocardless_post("/oauth/revoke", {"token": credentials.get("access_token", "")})
    except OAuthFailed as err:
        if err.unavailable:
            raise
        logger.info("GoCardless token was already revoked")


# --- PayPal ---------------------------------------------------------------------------------------


def paypal_mode() -> str:
    mode = str(getattr(settings, "PAYPAL_PARTNER_MODE", "test"))
    return mode if mode in DEFAULT_PAYPAL_API_BASES else "test"


def _paypal_base() -> str:
    return str(getattr(settings, "PAYPAL_API_BASES", DEFAULT_PAYPAL_API_BASES)[paypal_mode()])


def _paypal_token() -> str:
    """The partner's own access token (client credentials)."""
    credentials = f"{settings.PAYPAL_PARTNER_CLIENT_ID}:{settings.PAYPAL_PARTNER_CLIENT_SECRET}"
    try:
        response = requests.post(
            f"{_paypal_base()}/v1/oauth2/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()},
            timeout=TIMEOUT_SECONDS,
        )
    except requests.RequestException as err:
        raise _unreachable("PayPal") from err
    try:
        token = response.json().get("access_token") if response.ok else None
    except ValueError:
        token = None
    if not token:
        logger.warning("PayPal refused the partner credentials (%s)", response.status_code)
        raise _unreachable("PayPal")
    return str(token)


def _paypal_call(method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    token = _paypal_token()
    try:
        response = requests.request(
            method,
            f"{_paypal_base()}{path}",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=TIMEOUT_SECONDS,
        )
    except requests.RequestException as err:
        raise _unreachable("PayPal") from err
    if not response.ok:
        logger.warning("PayPal %s %s answered %s", method, path, response.status_code)
        raise _unreachable("PayPal") if response.status_code >= 500 else _rejected("PayPal")
    try:
        answer: dict[str, Any] = response.json()
    except ValueError as err:
        raise _unreachable("PayPal") from err
    return answer


def _paypal_referral(*, return_url: str, tracking_id: str) -> str:
    """A partner referral (v2) asking for third-party payments and refunds; its action_url is the
    page where the seller signs in, or signs up, and consents."""
    answer = _paypal_call(
        "POST",
        "/v2/customer/partner-referrals",
        {
            "tracking_id": tracking_id,
            "operations": [
                {
                    "operation": "API_INTEGRATION",
                    "api_integration_preference": {
                        "rest_api_integration": {
                            "integration_method": "PAYPAL",
                            "integration_type": "THIRD_PARTY",
                            "third_party_details": {"features": PAYPAL_FEATURES},
                        }
                    },
                }
            ],
            "products": ["EXPRESS_CHECKOUT", "ADVANCED_VAULTING"],
            "capabilities": ["PAYPAL_WALLET_VAULTING_ADVANCED"],
            "legal_consents": [{"type": "SHARE_DATA_CONSENT", "granted": True}],
            "partner_config_override": {"return_url": return_url},
        },
    )
    links = answer.get("links") or []
    url = next((link.get("href") for link in links if link.get("rel") == "action_url"), None)
    if not url:
        raise _unreachable("PayPal")
    return str(url)


def _paypal_exchange(params: Mapping[str, str], tracking_id: str) -> Grant:
    """PayPal sends the seller back with their merchant id; the seller's integration status (asked
    of PayPal, not taken from the URL) says whether they can take payments yet."""
    merchant_id = str(params.get("merchantIdInPayPal", "")).strip()
    if not merchant_id or len(merchant_id) > 100 or not merchant_id.isalnum():
        raise OAuthFailed(_("PayPal n'a pas renvoyé d'identifiant de marchand : rien n'a été connecté."))
    partner = settings.PAYPAL_PARTNER_MERCHANT_ID
    status = _paypal_call("GET", f"/v1/customer/partners/{partner}/merchant-integrations/{merchant_id}")
    if status.get("merchant_id") != merchant_id or (tracking_id and status.get("tracking_id") != tracking_id):
        raise OAuthFailed(_("PayPal a renvoyé un autre compte que celui attendu : rien n'a été connecté."))
    if not status.get("payments_receivable"):
        raise OAuthFailed(
            _(
                "Votre compte PayPal ne peut pas encore recevoir de paiements : terminez son "
                "ouverture chez PayPal, puis reconnectez-le."
            )
        )
    if not status.get("primary_email_confirmed"):
        raise OAuthFailed(
            _("Confirmez d'abord l'adresse courriel de votre compte PayPal, puis reconnectez-le.")
        )
    return Grant(
        mode=paypal_mode(),
        account_name=str(status.get("primary_email") or merchant_id),
        external_account_id=merchant_id,
        credentials={"merchant_id": merchant_id},
    )
