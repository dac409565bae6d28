"""Who acts on the data: a person signed in, a public link, or the system on a stated errand.

Every service that changes state takes one of these as its ``actor`` keyword. There is no
default: a view or a task that forgets to say who acts is refused rather than run with full rights.
"""

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy


@runtime_checkable
class Person(Protocol):
    """A signed-in user: staff of one organisation, or a customer's portal user."""

    pk: Any
    email: str
    is_superuser: bool
    organisation_id: int | None
    customer_id: int | None

    @property
    def can_write(self) -> bool: ...

    @property
    def can_manage_settings(self) -> bool: ...


@dataclass(frozen=True)
class System:
    """A scheduled run, a webhook, a worker: says why it acts, for the audit trail."""

    reason: str

    @property
    def label(self) -> str:
        return f"system:{self.reason}"


@dataclass(frozen=True)
class PublicLink:
    """Someone holding a document's public link (a quote to approve, an invoice to pay).

    Built only after the token was matched in constant time; it speaks for that one customer.
    """

    token: str
    organisation_id: int
    customer_id: int
    name: str = ""

    @property
    def label(self) -> str:
        return f"link:{self.token[:8]}"


@dataclass
class ApiClient:
    """A merchant's program calling the JSON API with one of the organisation's keys: a ``Person``
    by its shape, so the checks treat it as staff; it writes only with a read-write key, and is
    never the owner. ``email`` is ``api:<prefix>``, what the audit trail records."""

    pk: Any
    email: str
    organisation_id: int | None
    writes: bool
    customer_id: int | None = None
    is_superuser: bool = False

    @property
    def can_write(self) -> bool:
        return self.writes

    @property
    def can_manage_settings(self) -> bool:
        return False


Actor = Person | System | PublicLink


def actor_label(actor: Actor) -> str:
    """How the audit trail names an actor."""
    if isinstance(actor, System | PublicLink):
        return actor.label
    return actor.email


#: What the system was doing, by the reasons its errands give, in words for the history's reader.
_ERRANDS = {
    "billing_run": gettext_lazy("facturation périodique"),
    "collection_run": gettext_lazy("prélèvement périodique"),
    "reconcile_payments": gettext_lazy("rapprochement des paiements"),
    "hosted-return": gettext_lazy("retour du paiement en ligne"),
    "checkout:sandbox": gettext_lazy("paiement en ligne (bac à sable)"),
    "expire_quotes": gettext_lazy("expiration des devis"),
    "quote_approval": gettext_lazy("acceptation du devis"),
    "outbox delivery": gettext_lazy("envoi des messages"),
    "sweep_abandoned_setups": gettext_lazy("suivi des moyens de paiement en attente"),
    "stalled runs": gettext_lazy("suivi des campagnes interrompues"),
    "demo data": gettext_lazy("données de démonstration"),
}

_PROVIDERS = {
    "stripe": "Stripe",
    "gocardless": "GoCardless",
    "paypal": "PayPal",
    "sandbox": gettext_lazy("bac à sable"),
}


def describe_actor_label(label: str) -> str:
    """A stored ``actor_label`` as the history shows it, in the reader's language: a person by
    e-mail, a public link as the customer, the system by its errand rather than ``system:…``."""
    if label.startswith("link:"):
        return _("Client, par le lien public")
    if label.startswith("api:"):
        return _("API · clé %(prefix)s…") % {"prefix": label.removeprefix("api:")}
    if not label.startswith("system:"):
        return label
    reason = label.removeprefix("system:")
    if reason.startswith("webhook:"):
        provider = reason.removeprefix("webhook:")
        errand = _("notification de %(provider)s") % {"provider": str(_PROVIDERS.get(provider, provider))}
    else:
        errand = str(_ERRANDS.get(reason, gettext_lazy("traitement automatique")))
    return _("Automatique · %(errand)s") % {"errand": errand}
