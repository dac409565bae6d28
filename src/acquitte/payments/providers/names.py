"""The providers the app knows, the credentials each needs, and who takes which kind of payment."""

from enum import StrEnum


class ProviderName(StrEnum):
    SANDBOX = "sandbox"
    STRIPE = "stripe"
    GOCARDLESS = "gocardless"
    PAYPAL = "paypal"


class OnlineKind(StrEnum):
    """What a payer picks on the payment page; each kind is taken by one provider."""

    CARD = "card"
    DEBIT = "debit"
    PAYPAL = "paypal"


#: The credentials ``connect_provider`` asks for, per provider (the sandbox needs none).
PROVIDER_FIELDS: dict[ProviderName, tuple[str, ...]] = {
    ProviderName.SANDBOX: (),
    ProviderName.STRIPE: ("secret_key", "webhook_secret"),
    ProviderName.PAYPAL: ("client_id", "client_secret", "webhook_id"),
    ProviderName.GOCARDLESS: ("access_token", "webhook_secret"),
}

#: The provider that takes each kind of online payment once connected; the sandbox stands in otherwise.
PROVIDER_FOR_KIND: dict[OnlineKind, ProviderName] = {
    OnlineKind.CARD: ProviderName.STRIPE,
    OnlineKind.DEBIT: ProviderName.GOCARDLESS,
    OnlineKind.PAYPAL: ProviderName.PAYPAL,
}
