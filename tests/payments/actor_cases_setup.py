"""Foreign-actor cases for saving a method on a provider's page (``tests/test_actors.py`` loads them)."""

from collections.abc import Callable
from typing import Any

from acquitte.core.actors import Actor
from acquitte.payments import services as payments
from acquitte.payments.models import MethodSetup
from acquitte.payments.providers.base import MethodEvent, MethodStatus


def set_up(w: Any) -> None:
    w.extra["setup"] = MethodSetup.objects.create(
        organisation=w.org,
        customer=w.customer,
        provider="sandbox",
        kind="card",
        reference="sbx_seti_actors",
        idempotency_key="setup-actors",
    )


CASES: dict[str, tuple[Callable[[Any, Actor], Any], bool]] = {
    "payments.start_method_setup": (
        lambda w, a: payments.start_method_setup(customer=w.customer, kind="card", actor=a),
        True,
    ),
    "payments.complete_method_setup": (
        lambda w, a: payments.complete_method_setup(setup=w.extra["setup"], actor=a),
        True,
    ),
    "payments.apply_method_event": (
        lambda w, a: payments.apply_method_event(
            organisation_id=w.org.pk,
            provider=w.card.provider,
            event=MethodEvent(event_id="e", event_type="t", token=w.card.token, status=MethodStatus.REVOKED),
            actor=a,
        ),
        True,
    ),
}
