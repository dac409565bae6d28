"""A local stand-in for the three providers' ways of connecting a merchant: Stripe Connect OAuth,
GoCardless partner OAuth and PayPal partner onboarding, on one port, each under its own prefix.

The consent pages answer at once with the redirect the real page sends once the merchant clicks
(or refuses, when ``refuse`` is set); the token endpoints check the platform's credentials and use
each code once, as the real ones do. Every request is recorded, and ``revoked`` lists what was
withdrawn, so tests can see what the app asked for. ``down`` makes the revocation endpoints fail.
"""

import base64
import json
import secrets
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.fake_server import LocalFake, QuietHandler

STRIPE_CLIENT_ID = "ca_FakePlatformClient000"
STRIPE_PLATFORM_KEY = "sk_test_51FakePlatformKey000000000000"
STRIPE_ACCOUNT_ID = "acct_1FakeConnected"
GOCARDLESS_CLIENT_ID = "gc-fake-client-id"
GOCARDLESS_CLIENT_SECRET = "gc-fake-client-secret"
GOCARDLESS_ORGANISATION = "OR000FAKEOAUTH"
PAYPAL_CLIENT_ID = "AFakePartnerClientId"
PAYPAL_CLIENT_SECRET = "EFakePartnerSecret"
PAYPAL_PARTNER_ID = "PARTNERFAKE01"
PAYPAL_MERCHANT_ID = "SELLERFAKE001"


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: str


@dataclass
class Grant:
    redirect_uri: str
    token: str
    used: bool = False


@dataclass
class FakeState:
    requests: list[Seen] = field(default_factory=list)
    codes: dict[str, Grant] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    revoked: list[str] = field(default_factory=list)
    webhook_endpoints: dict[str, dict] = field(default_factory=dict)
    referrals: dict[str, dict] = field(default_factory=dict)
    refuse: bool = False
    down: bool = False
    payments_receivable: bool = True


def _basic(header: str) -> tuple[str, str] | None:
    if not header.startswith("Basic "):
        return None
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return user, password


def _with_query(url: str, params: dict) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"


class _Handler(QuietHandler):
    server: "object"

    def do_DELETE(self):
        self._dispatch()

    def _dispatch(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        split = urlsplit(self.path)
        fake: FakeOAuth = self.server.fake  # type: ignore[attr-defined]
        fake.state.requests.append(Seen(self.command, split.path, dict(self.headers), raw))
        self.query = {k: v[0] for k, v in parse_qs(split.query).items()}
        self.form = {k: v[0] for k, v in parse_qs(raw).items()}
        self.raw = raw
        self.fake = fake.state
        parts = split.path.strip("/").split("/")
        routes = {
            ("GET", "stripe-connect/oauth/authorize"): self._consent,
            ("POST", "stripe-connect/oauth/token"): self._stripe_token,
            ("POST", "stripe-connect/oauth/deauthorize"): self._stripe_deauthorize,
            ("GET", "stripe-api/v1/account"): self._stripe_account,
            ("POST", "stripe-api/v1/webhook_endpoints"): self._stripe_webhook_create,
            ("GET", "gc-connect/oauth/authorize"): self._consent,
            ("POST", "gc-connect/oauth/access_token"): self._gocardless_token,
            ("POST", "gc-connect/oauth/revoke"): self._gocardless_revoke,
            # The GoCardless SDK joins its paths to the host, so its API sits at the root.
            ("GET", "creditors"): self._gocardless_creditors,
            ("POST", "paypal/v1/oauth2/token"): self._paypal_token,
            ("POST", "paypal/v2/customer/partner-referrals"): self._paypal_referral,
            ("GET", "paypal/onboard"): self._paypal_onboard,
        }
        route = routes.get((self.command, "/".join(parts)))
        if route is not None:
            route()
        elif self.command == "DELETE" and parts[:3] == ["stripe-api", "v1", "webhook_endpoints"]:
            self._stripe_webhook_delete(parts[3])
        elif self.command == "GET" and parts[:4] == ["paypal", "v1", "customer", "partners"]:
            self._paypal_status(parts[4], parts[6])
        else:
            self._reply(404, {"error": "not_found"})

    def _reply(self, status: int, payload: dict):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _redirect(self, url: str):
        self.send_response(302)
        self.send_header("Location", url)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _bearer(self) -> str:
        header = self.headers.get("Authorization", "")
        basic = _basic(header)
        return basic[0] if basic else header.removeprefix("Bearer ")

    # --- the consent pages (Stripe and GoCardless share the OAuth 2 shape) ---

    def _consent(self):
        """What the merchant's click on "Authorise" (or "Deny") sends back."""
        redirect_uri, state = self.query.get("redirect_uri", ""), self.query.get("state", "")
        if self.fake.refuse:
            params = {"error": "access_denied", "error_description": "The user denied your request"}
        else:
            stripe = self.path.startswith("/stripe-connect")
            code = ("ac_" if stripe else "gc_code_") + secrets.token_hex(8)
            token = (
                "sk_test_oauth_" + secrets.token_hex(12)
                if stripe
                else "sandbox_oauth_" + secrets.token_hex(12)
            )
            self.fake.codes[code] = Grant(redirect_uri=redirect_uri, token=token)
            params = {"code": code, "scope": "read_write"}
        self._redirect(_with_query(redirect_uri, {**params, "state": state}))

    def _take_code(self) -> Grant | None:
        grant = self.fake.codes.get(self.form.get("code", ""))
        if grant is None or grant.used:
            return None
        grant.used = True
        self.fake.tokens.add(grant.token)
        return grant

    # --- Stripe ---

    def _stripe_token(self):
        if self._bearer() != STRIPE_PLATFORM_KEY:
            self._reply(401, {"error": "invalid_client", "error_description": "No such API key"})
            return
        if self.form.get("grant_type") != "authorization_code":
            self._reply(400, {"error": "unsupported_grant_type", "error_description": "grant_type"})
            return
        grant = self._take_code()
        if grant is None:
            description = f"Authorization code does not exist: {self.form.get('code')}"
            self._reply(400, {"error": "invalid_grant", "error_description": description})
            return
        self._reply(
            200,
            {
                "access_token": grant.token,
                "livemode": False,
                "refresh_token": "rt_" + secrets.token_hex(8),
                "token_type": "bearer",
                "stripe_publishable_key": "pk_test_fake",
                "stripe_user_id": STRIPE_ACCOUNT_ID,
                "scope": "read_write",
            },
        )

    def _stripe_deauthorize(self):
        if self.fake.down:
            self._reply(503, {"error": {"type": "api_error", "message": "Service unavailable"}})
            return
        if self._bearer() != STRIPE_PLATFORM_KEY or self.form.get("client_id") != STRIPE_CLIENT_ID:
            self._reply(401, {"error": "invalid_client", "error_description": "bad client"})
            return
        account = self.form.get("stripe_user_id", "")
        self.fake.revoked.append(account)
        self._reply(200, {"stripe_user_id": account})

    def _stripe_account(self):
        if self._bearer() not in self.fake.tokens:
            self._reply(401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key"}})
            return
        self._reply(
            200,
            {
                "id": STRIPE_ACCOUNT_ID,
                "object": "account",
                "email": "compta@connecte.example",
                "settings": {"dashboard": {"display_name": "Boutique connectée"}},
            },
        )

    def _stripe_webhook_create(self):
        if self._bearer() not in self.fake.tokens:
            self._reply(401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key"}})
            return
        form = parse_qs(self.raw)
        endpoint = {
            "id": "we_" + secrets.token_hex(6),
            "object": "webhook_endpoint",
            "url": form.get("url", [""])[0],
            "enabled_events": [v for k, vs in form.items() if k.startswith("enabled_events") for v in vs],
            "secret": "whsec_" + secrets.token_hex(12),
            "status": "enabled",
        }
        self.fake.webhook_endpoints[endpoint["id"]] = endpoint
        self._reply(200, endpoint)

    def _stripe_webhook_delete(self, endpoint_id: str):
        if self.fake.down:
            self._reply(503, {"error": {"type": "api_error", "message": "Service unavailable"}})
            return
        self.fake.webhook_endpoints.pop(endpoint_id, None)
        self._reply(200, {"id": endpoint_id, "object": "webhook_endpoint", "deleted": True})

    # --- GoCardless ---

    def _gocardless_client_ok(self) -> bool:
        return (
            self.form.get("client_id") == GOCARDLESS_CLIENT_ID
            and self.form.get("client_secret") == GOCARDLESS_CLIENT_SECRET
        )

    def _gocardless_token(self):
        if not self._gocardless_client_ok():
            self._reply(401, {"error": "invalid_client"})
            return
        grant = self.fake.codes.get(self.form.get("code", ""))
        if grant is not None and grant.redirect_uri != self.form.get("redirect_uri"):
            self._reply(400, {"error": "invalid_grant", "error_description": "redirect_uri mismatch"})
            return
        grant = self._take_code()
        if grant is None:
            self._reply(400, {"error": "invalid_grant", "error_description": "code is invalid or used"})
            return
        self._reply(
            200,
            {
                "access_token": grant.token,
                "scope": "read_write",
                "token_type": "bearer",
                "organisation_id": GOCARDLESS_ORGANISATION,
                "email": "compta@connecte.example",
            },
        )

    def _gocardless_revoke(self):
        if self.fake.down:
            self._reply(503, {"error": "temporarily_unavailable"})
            return
        if not self._gocardless_client_ok():
            self._reply(401, {"error": "invalid_client"})
            return
        token = self.form.get("token", "")
        self.fake.tokens.discard(token)
        self.fake.revoked.append(token)
        self._reply(200, {})

    def _gocardless_creditors(self):
        if self.headers.get("Authorization", "").removeprefix("Bearer ") not in self.fake.tokens:
            self._reply(401, {"error": {"message": "Access token not found", "code": 401, "errors": []}})
            return
        creditor = {"id": "CR000OAUTH", "name": "Atelier connecté (sandbox)"}
        self._reply(
            200, {"creditors": [creditor], "meta": {"cursors": {"before": None, "after": None}, "limit": 1}}
        )

    # --- PayPal ---

    def _paypal_token(self):
        if _basic(self.headers.get("Authorization", "")) != (PAYPAL_CLIENT_ID, PAYPAL_CLIENT_SECRET):
            self._reply(401, {"error": "invalid_client", "error_description": "Client Authentication failed"})
            return
        self._reply(
            200, {"access_token": "A21AAFakePartnerToken", "token_type": "Bearer", "expires_in": 32400}
        )

    def _paypal_authorised(self) -> bool:
        if self.headers.get("Authorization") == "Bearer A21AAFakePartnerToken":
            return True
        self._reply(401, {"name": "AUTHENTICATION_FAILURE", "message": "Authentication failed"})
        return False

    def _paypal_referral(self):
        if not self._paypal_authorised():
            return
        body = json.loads(self.raw)
        referral = "RF" + secrets.token_hex(6)
        self.fake.referrals[referral] = body
        base = f"http://{self.headers.get('Host')}"
        self._reply(
            201,
            {
                "links": [
                    {"href": f"{base}/paypal/v2/customer/partner-referrals/{referral}", "rel": "self"},
                    {"href": f"{base}/paypal/onboard?referral={referral}", "rel": "action_url"},
                ]
            },
        )

    def _paypal_onboard(self):
        body = self.fake.referrals[self.query["referral"]]
        return_url = body["partner_config_override"]["return_url"]
        granted = "false" if self.fake.refuse else "true"
        self._redirect(
            _with_query(
                return_url,
                {
                    "merchantId": body["tracking_id"],
                    "merchantIdInPayPal": PAYPAL_MERCHANT_ID,
                    "permissionsGranted": granted,
                    "consentStatus": granted,
                    "productIntentId": "addipmt",
                    "isEmailConfirmed": "true",
                    "accountStatus": "BUSINESS_ACCOUNT",
                },
            )
        )

    def _paypal_status(self, partner: str, merchant: str):
        if not self._paypal_authorised():
            return
        if partner != PAYPAL_PARTNER_ID or merchant != PAYPAL_MERCHANT_ID:
            self._reply(404, {"name": "RESOURCE_NOT_FOUND"})
            return
        tracking = next(iter(self.fake.referrals.values()), {}).get("tracking_id", "")
        self._reply(
            200,
            {
                "merchant_id": merchant,
                "tracking_id": tracking,
                "payments_receivable": self.fake.payments_receivable,
                "primary_email_confirmed": True,
                "primary_email": "vendeur@connecte.example",
                "oauth_integrations": [
                    {
                        "integration_type": "OAUTH_THIRD_PARTY",
                        "integration_method": "PAYPAL",
                        "oauth_third_party": [{"partner_client_id": PAYPAL_CLIENT_ID, "scopes": []}],
                    }
                ],
            },
        )


class FakeOAuth(LocalFake):
    """``with FakeOAuth() as fake:`` serves the three flows on ``fake.url`` until the block ends."""

    handler = _Handler

    def __init__(self):
        self.state = FakeState()
        super().__init__()

    def settings(self, settings) -> None:
        """Point the app at this fake, with the platform's credentials set."""
        settings.STRIPE_CONNECT_CLIENT_ID = STRIPE_CLIENT_ID
        settings.STRIPE_PLATFORM_SECRET_KEY = STRIPE_PLATFORM_KEY
        settings.STRIPE_CONNECT_BASE = f"{self.url}/stripe-connect"
        settings.STRIPE_API_BASE = f"{self.url}/stripe-api"
        settings.GOCARDLESS_CLIENT_ID = GOCARDLESS_CLIENT_ID
        settings.GOCARDLESS_CLIENT_SECRET = GOCARDLESS_CLIENT_SECRET
        settings.GOCARDLESS_PARTNER_MODE = "test"
        settings.GOCARDLESS_CONNECT_BASES = {
            "test": f"{self.url}/gc-connect",
            "live": f"{self.url}/gc-connect",
        }
        settings.GOCARDLESS_API_BASES = {"test": self.url, "live": self.url}
        settings.PAYPAL_PARTNER_CLIENT_ID = PAYPAL_CLIENT_ID
        settings.PAYPAL_PARTNER_CLIENT_SECRET = PAYPAL_CLIENT_SECRET
        settings.PAYPAL_PARTNER_MERCHANT_ID = PAYPAL_PARTNER_ID
        settings.PAYPAL_PARTNER_MODE = "test"
        settings.PAYPAL_API_BASES = {"test": f"{self.url}/paypal", "live": f"{self.url}/paypal"}
