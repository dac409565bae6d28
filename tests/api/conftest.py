import json

import pytest
from django.core.cache import cache

from acquitte.api.services import create_api_key
from tests import factories


class Api:
    """A client of the JSON API with one key: ``get``/``post``/``patch`` return (status, body)."""

    def __init__(self, client, token: str) -> None:
        self.client, self.token = client, token

    def call(self, method: str, path: str, body=None, *, key: str = "", language: str = "fr"):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {self.token}", "HTTP_ACCEPT_LANGUAGE": language}
        if key:
            headers["HTTP_IDEMPOTENCY_KEY"] = key
        data = json.dumps(body) if body is not None else None
        response = getattr(self.client, method)(
            f"/api/v1{path}", data=data, content_type="application/json", **headers
        )
        return response

    def get(self, path: str, **kwargs):
        return self.call("get", path, **kwargs)

    def post(self, path: str, body=None, **kwargs):
        return self.call("post", path, body, **kwargs)

    def patch(self, path: str, body=None, **kwargs):
        return self.call("patch", path, body, **kwargs)


@pytest.fixture(autouse=True)
def _fresh_rate_counts():
    cache.clear()


@pytest.fixture
def org(db):
    return factories.quebec_organisation()


@pytest.fixture
def owner(org):
    return factories.staff(org)


def key_for(org, owner, scope="write"):
    return create_api_key(organisation=org, actor=owner, name=f"ERP {scope}", scope=scope)


@pytest.fixture
def api(client, org, owner):
    _key, token = key_for(org, owner)
    return Api(client, token)


@pytest.fixture
def reader(client, org, owner):
    _key, token = key_for(org, owner, scope="read")
    return Api(client, token)
