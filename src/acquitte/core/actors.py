"""Who acts on the data: a person signed in, a public link, or the system on a stated errand.

Every service that changes state takes one of these as its ``actor`` keyword. There is no
default: a view or a task that forgets to say who acts is refused rather than run with full rights.
"""

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable


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


Actor = Person | System | PublicLink


def actor_label(actor: Actor) -> str:
    """How the audit trail names an actor."""
    if isinstance(actor, System | PublicLink):
        return actor.label
    return actor.email
