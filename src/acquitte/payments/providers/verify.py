"""Check a merchant's provider credentials with the provider itself before we store them.

A mistyped key, or one from another account, would otherwise only show up at the first charge, in
front of a payer. Stripe keys and GoCardless tokens say which mode they belong to (``sk_test_``,
``sandbox_``…), so the mode is read from them rather than from a form field that could disagree;
PayPal credentials do not, so for PayPal the caller says which environment to ask.
"""

import json
import logging
from dataclasses import dataclass
from typing import Any

import gocardless_pro
import requests
import stripe
from django.conf import settings
from django.utils.translation import gettext as _
from gocardless_pro import errors as gocardless_errors
from paypalserversdk.configuration import Configuration, Environment, Server
from paypalserversdk.exceptions.api_exception import ApiException
from paypalserversdk.exceptions.o_auth_provider_exception import OAuthProviderException
from paypalserversdk.http.auth.o_auth_2 import ClientCredentialsAuthCredentials
from paypalserversdk.paypal_serversdk_client import PaypalServersdkClient

from ..models import ProviderAccount
from ..secrets import masked
from .names import ProviderName

logger = logging.getLogger(__name__)

# A merchant is waiting on the form: better a quick "try again" than a hung request.
TIMEOUT_SECONDS = 5

DEFAULT_STRIPE_API_BASE = "https://api.stripe.com"
DEFAULT_GOCARDLESS_API_BASES = {
    "test": "https://api-sandbox.gocardless.com",
    "live": "https://api.gocardless.com",
}
DEFAULT_PAYPAL_API_BASES = {"test": "https://api-m.sandbox.paypal.com", "live": "https://api-m.paypal.com"}

STRIPE_KEY_MODES = {"sk_test_": "test", "rk_test_": "test", "sk_live_": "live", "rk_live_": "live"}
GOCARDLESS_TOKEN_MODES = {"sandbox_": "test", "live_": "live"}
MODES = ("test", "live")


@dataclass(frozen=True)
class Verified:
    mode: str
    account_name: str


class CredentialsRejected(Exception):
    """The credentials cannot be stored; the message says why, in words for the merchant."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def verify_credentials(*, provider: str, credentials: dict[str, str], mode: str = "") -> Verified:
    """Ask the provider whether the credentials work; ``mode`` is only read for PayPal."""
    if provider == ProviderName.STRIPE:
        return _verify_stripe(credentials)
    if provider == ProviderName.GOCARDLESS:
        return _verify_gocardless(credentials)
    if provider == ProviderName.PAYPAL:
        return _verify_paypal(credentials, mode)
    raise ValueError(f"no credential check for provider {provider!r}")


def _field(credentials: dict[str, str], name: str) -> str:
    value = str(credentials.get(name, "")).strip()
    if not value:
        raise CredentialsRejected(_("Champs manquants : %(fields)s.") % {"fields": name})
    return value


def _mode_from_prefix(value: str, modes: dict[str, str]) -> str:
    return next((mode for prefix, mode in modes.items() if value.startswith(prefix)), "")


def _unreachable(provider: str) -> CredentialsRejected:
    return CredentialsRejected(
        _(
            "Impossible de joindre %(provider)s pour vérifier ces identifiants ; rien n'a été "
            "enregistré. Réessayez dans un instant."
        )
        % {"provider": provider}
    )


def _unexpected(provider: str) -> CredentialsRejected:
    logger.warning("%s answered a credential check unexpectedly", provider, exc_info=True)
    return CredentialsRejected(
        _("%(provider)s n'a pas pu vérifier ces identifiants ; rien n'a été enregistré. Réessayez plus tard.")
        % {"provider": provider}
    )


def _verify_stripe(credentials: dict[str, str]) -> Verified:
    secret_key = _field(credentials, "secret_key")
    webhook_secret = _field(credentials, "webhook_secret")
    mode = _mode_from_prefix(secret_key, STRIPE_KEY_MODES)
    if not mode:
        raise CredentialsRejected(
            _(
                "Collez la clé secrète Stripe : elle commence par sk_test_ ou sk_live_ (rk_test_ ou "
                "rk_live_ pour une clé restreinte), pas par pk_ comme la clé publiable."
            )
        )
    if not webhook_secret.startswith("whsec_"):
        raise CredentialsRejected(_("Le secret de signature des webhooks Stripe commence par whsec_."))
    client = stripe.StripeClient(
        secret_key,
        base_addresses={"api": getattr(settings, "STRIPE_API_BASE", DEFAULT_STRIPE_API_BASE)},
        http_client=stripe.RequestsClient(timeout=TIMEOUT_SECONDS),
        max_network_retries=0,
    )
    try:
        account = client.v1.accounts.retrieve_current().to_dict()
    except stripe.AuthenticationError as err:
        raise CredentialsRejected(_("Stripe a refusé cette clé secrète.")) from err
    except stripe.PermissionError as err:
        raise CredentialsRejected(
            _("Cette clé restreinte Stripe n'a pas le droit de lire le compte : ajoutez-lui ce droit.")
        ) from err
    except stripe.APIConnectionError as err:
        raise _unreachable("Stripe") from err
    except stripe.StripeError as err:
        raise _unexpected("Stripe") from err
    dashboard = (account.get("settings") or {}).get("dashboard") or {}
    profile = account.get("business_profile") or {}
    name = dashboard.get("display_name") or profile.get("name") or account.get("email") or account.get("id")
    return Verified(mode=mode, account_name=name or "")


def _verify_gocardless(credentials: dict[str, str]) -> Verified:
    access_token = _field(credentials, "access_token")
    _field(credentials, "webhook_secret")
    return gocardless_account(access_token)


def gocardless_account(access_token: str) -> Verified:
    """The mode and creditor name of a GoCardless access token, pasted or issued by OAuth."""
    mode = _mode_from_prefix(access_token, GOCARDLESS_TOKEN_MODES)
    if not mode:
        raise CredentialsRejected(_("Le jeton d'accès GoCardless commence par sandbox_ ou live_."))
    bases = getattr(settings, "GOCARDLESS_API_BASES", DEFAULT_GOCARDLESS_API_BASES)
    client = gocardless_pro.Client(access_token=access_token, base_url=bases[mode], timeout=TIMEOUT_SECONDS)
    creditors = client.creditors
    creditors.max_network_retries = 1
    try:
        page = creditors.list(params={"limit": 1})
    except (gocardless_errors.AuthenticationError, gocardless_errors.PermissionsError) as err:
        raise CredentialsRejected(_("GoCardless a refusé ce jeton d'accès.")) from err
    except requests.RequestException as err:
        raise _unreachable("GoCardless") from err
    except gocardless_errors.GoCardlessProError as err:
        raise _unexpected("GoCardless") from err
    name = page.records[0].name if page.records else ""
    return Verified(mode=mode, account_name=name or masked(access_token))


class _PayPalConfiguration(Configuration):  # type: ignore[misc]  # its base comes from untyped apimatic_core
    """The SDK only knows PayPal's two hosts; this lets settings point it elsewhere."""

    def __init__(self, *, base_uri: str, **kwargs: Any):
        self._base_uri = base_uri
        super().__init__(**kwargs)

    def get_base_uri(self, server: Server = Server.DEFAULT) -> str:
        return self._base_uri


def _verify_paypal(credentials: dict[str, str], mode: str) -> Verified:
    if mode not in MODES:
        raise ValueError(f"PayPal needs mode 'test' or 'live', not {mode!r}")
    client_id = _field(credentials, "client_id")
    client_secret = _field(credentials, "client_secret")
    bases = getattr(settings, "PAYPAL_API_BASES", DEFAULT_PAYPAL_API_BASES)
    client = PaypalServersdkClient(
        config=_PayPalConfiguration(
            base_uri=bases[mode],
            timeout=TIMEOUT_SECONDS,
            environment=Environment.SANDBOX if mode == ProviderAccount.Mode.TEST else Environment.PRODUCTION,
            client_credentials_auth_credentials=ClientCredentialsAuthCredentials(client_id, client_secret),
        )
    )
    try:
        response = client.o_auth_authorization.request_token(
            {"authorization": client.oauth_2.build_basic_auth_header()}
        )
    except OAuthProviderException as err:
        raise CredentialsRejected(
            _(
                "PayPal a refusé cet identifiant client et ce secret. Les identifiants de test "
                "(sandbox) ne fonctionnent qu'en mode test, ceux de production qu'en production."
            )
        ) from err
    except requests.RequestException as err:
        raise _unreachable("PayPal") from err
    except ApiException as err:
        raise _unexpected("PayPal") from err
    if not getattr(response.body, "access_token", None):
        raise _unexpected("PayPal")
    app_id = json.loads(response.text).get("app_id")
    return Verified(mode=mode, account_name=app_id or masked(client_id))
