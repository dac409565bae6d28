"""Payment providers behind one interface; ``get_provider`` builds one for an organisation's account."""

from django.utils.module_loading import import_string

from .base import Provider

PROVIDERS = {
    "sandbox": "acquitte.payments.providers.sandbox.SandboxProvider",
    "stripe": "acquitte.payments.providers.stripe.StripeProvider",
    "gocardless": "acquitte.payments.providers.gocardless.GoCardlessProvider",
    "paypal": "acquitte.payments.providers.paypal.PayPalProvider",
}


def get_provider(name: str, account=None) -> Provider:
    """The provider ``name``, with the decrypted credentials and mode of ``account`` when given."""
    if name not in PROVIDERS:
        raise LookupError(name)
    provider_class = import_string(PROVIDERS[name])
    if account is None:
        return provider_class()
    from ..secrets import decrypt

    return provider_class(credentials=decrypt(account.credentials_encrypted), mode=account.mode)
