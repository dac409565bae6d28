"""A local stand-in for Stripe, GoCardless and PayPal, for tests that run the real SDKs offline.

It answers the three calls a credential check makes, with each provider's auth scheme and error
shapes, and records every request so tests can see what the SDK actually sent. One server plays
one environment: like the real hosts, the sandbox one refuses live credentials and the other way
round (Stripe has a single host for both modes, so its keys work on either).
"""

import base64
import json
from dataclasses import dataclass
from http.client import HTTPMessage
from urllib.parse import parse_qs, urlsplit

from tests.fake_server import LocalFake, QuietHandler

STRIPE_TEST_KEY = "sk_test_51FakeTestKey0000000000000000"
STRIPE_LIVE_KEY = "sk_live_51FakeLiveKey0000000000000000"
# A restricted key that was not given the right to read the account.
STRIPE_RESTRICTED_KEY = "rk_test_51FakeRestrictedKey00000000000"
# A key for which Stripe itself fails (its documented 500 "api_error").
STRIPE_FAILING_KEY = "sk_test_51FakeFailingKey000000000000000"
STRIPE_ACCOUNTS = {
    STRIPE_TEST_KEY: {
        "id": "acct_1FakeTest",
        "object": "account",
        "email": "compta@boulangerie.example",
        "business_profile": {"name": "Boulangerie Martin SARL"},
        "settings": {"dashboard": {"display_name": "Boulangerie Martin", "timezone": "Europe/Paris"}},
    },
    STRIPE_LIVE_KEY: {
        "id": "acct_1FakeLive",
        "object": "account",
        "email": "compta@atelier.example",
        "business_profile": {"name": None},
        "settings": {"dashboard": {"display_name": None}},
    },
}

GOCARDLESS_VERSION = "2015-07-06"
GOCARDLESS_TOKENS = {"test": "sandbox_FakeToken000000000000", "live": "live_FakeToken000000000000"}
GOCARDLESS_CREDITORS = {"test": "Boulangerie Martin (sandbox)", "live": "Boulangerie Martin"}

PAYPAL_CLIENTS = {
    "test": ("AFakeSandboxClientId", "EFakeSandboxSecret"),
    "live": ("AFakeLiveClientId", "EFakeLiveSecret"),
}
PAYPAL_APP_IDS = {"test": "APP-80W284485P519543T", "live": "APP-3TS46380HB829954H"}


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: HTTPMessage
    body: bytes


def _basic_credentials(header: str) -> tuple[str, str] | None:
    if not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return None
    return user, password


class _Handler(QuietHandler):
    def _dispatch(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = urlsplit(self.path).path
        self.server.fake.requests.append(Seen(self.command, path, self.headers, body))
        routes = {
            ("GET", "/v1/account"): self._stripe_account,
            ("GET", "/creditors"): self._gocardless_creditors,
            ("POST", "/v1/oauth2/token"): self._paypal_token,
        }
        route = routes.get((self.command, path))
        if route is None:
            self._reply(404, {"error": "not_found"})
        else:
            route(body)

    def _reply(self, status: int, payload: dict):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stripe_account(self, body: bytes):
        """Stripe takes the key as a bearer token or as the basic-auth user name."""
        header = self.headers.get("Authorization", "")
        basic = _basic_credentials(header)
        key = basic[0] if basic else header.removeprefix("Bearer ")
        if key in STRIPE_ACCOUNTS:
            self._reply(200, STRIPE_ACCOUNTS[key])
            return
        if not header:
            status, kind, message = 401, "invalid_request_error", "You did not provide an API key."
        elif key == STRIPE_RESTRICTED_KEY:
            status, kind = 403, "invalid_request_error"
            message = "The provided key does not have the required permissions for this endpoint."
        elif key == STRIPE_FAILING_KEY:
            status, kind, message = 500, "api_error", "An unknown error occurred"
        else:
            status, kind = 401, "invalid_request_error"
            message = f"Invalid API Key provided: {key[:8]}****{key[-4:]}"
        self._reply(status, {"error": {"message": message, "type": kind}})

    def _gocardless_error(self, status: int, reason: str, message: str):
        self._reply(
            status,
            {
                "error": {
                    "message": message,
                    "errors": [{"reason": reason, "message": message}],
                    "documentation_url": f"https://developer.gocardless.com/api-reference#{reason}",
                    "type": "invalid_api_usage",
                    "request_id": "fake-request",
                    "code": status,
                }
            },
        )

    def _gocardless_creditors(self, body: bytes):
        environment = self.server.fake.environment
        version = self.headers.get("GoCardless-Version")
        if version is None:
            self._gocardless_error(400, "missing_version_header", "GoCardless-Version header missing")
        elif version != GOCARDLESS_VERSION:
            self._gocardless_error(400, "version_not_found", "Version not found")
        elif self.headers.get("Authorization") != f"Bearer {GOCARDLESS_TOKENS[environment]}":
            self._gocardless_error(401, "access_token_not_found", "Access token not found")
        else:
            creditor = {"id": "CR000FAKE", "name": GOCARDLESS_CREDITORS[environment]}
            self._reply(
                200,
                {"creditors": [creditor], "meta": {"cursors": {"before": None, "after": None}, "limit": 1}},
            )

    def _paypal_token(self, body: bytes):
        environment = self.server.fake.environment
        form = parse_qs(body.decode())
        if form.get("grant_type") != ["client_credentials"]:
            self._reply(400, {"error": "unsupported_grant_type", "error_description": "Grant Type is NULL"})
        elif _basic_credentials(self.headers.get("Authorization", "")) != PAYPAL_CLIENTS[environment]:
            self._reply(401, {"error": "invalid_client", "error_description": "Client Authentication failed"})
        else:
            self._reply(
                200,
                {
                    "scope": "https://uri.paypal.com/services/payments/payment",
                    "access_token": "A21AAFakeAccessToken",
                    "token_type": "Bearer",
                    "app_id": PAYPAL_APP_IDS[environment],
                    "expires_in": 32400,
                    "nonce": "2026-01-01T00:00:00ZFakeNonce",
                },
            )


class FakeProviders(LocalFake):
    """``with FakeProviders("test") as fake:`` serves on ``fake.url`` until the block ends."""

    handler = _Handler

    def __init__(self, environment: str):
        self.environment = environment
        self.requests: list[Seen] = []
        super().__init__()
