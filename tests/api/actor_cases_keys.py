"""Foreign-actor cases for the API keys (``tests/test_actors.py`` loads them)."""

from collections.abc import Callable
from typing import Any

from acquitte.api import services
from acquitte.api.models import ApiKey
from acquitte.core.actors import Actor


def set_up(w: Any) -> None:
    w.extra["api_key"] = ApiKey.objects.create(
        organisation=w.org,
        name="Panneau",
        prefix="0123456789ab",
        key_hash="0" * 64,
        scope=ApiKey.Scope.WRITE,
        created_by="system:test",
    )


CASES: dict[str, tuple[Callable[[Any, Actor], Any], bool]] = {
    "api.create_api_key": (
        lambda w, a: services.create_api_key(
            organisation=w.org, actor=a, name="Intrus", scope=ApiKey.Scope.WRITE
        ),
        False,
    ),
    "api.revoke_api_key": (
        lambda w, a: services.revoke_api_key(key=w.extra["api_key"], actor=a),
        False,
    ),
}
