"""Payment providers behind one interface; ``get_provider`` builds one for an organisation's account."""

from typing import TYPE_CHECKING

from django.utils.module_loading import import_string

from ..secrets import decrypt
from .base import ChargeResult, ChargeStatus, Provider
from .names import PROVIDER_FIELDS, PROVIDER_FOR_KIND, OnlineKind, ProviderName

if TYPE_CHECKING:
    from ..models import ProviderAccount

__all__ = [
    "PROVIDERS",
    "PROVIDER_FIELDS",
    "PROVIDER_FOR_KIND",
    "ChargeResult",
    "ChargeStatus",
    "OnlineKind",
    "Provider",
    "ProviderName",
    "get_provider",
]

PROVIDERS = {
    ProviderName.SANDBOX: "acquitte.payments.providers.sandbox.SandboxProvider",
    ProviderName.STRIPE: "acquitte.payments.providers.stripe.StripeProvider",
    ProviderName.GOCARDLESS: "acquitte.payments.providers.gocardless.GoCardlessProvider",
    ProviderName.PAYPAL: "acquitte.payments.providers.paypal.PayPalProvider",
}


def get_provider(name: str, account: "ProviderAccount | None" = None) -> Provider:
    """The provider ``name``, with the decrypted credentials and mode of ``account`` when given."""
    if name not in PROVIDERS:
        raise LookupError(name)
    provider_class: type[Provider] = import_string(PROVIDERS[ProviderName(name)])
    if account is None:
        return provider_class()
    return provider_class(credentials=decrypt(account.credentials_encrypted), mode=account.mode)
