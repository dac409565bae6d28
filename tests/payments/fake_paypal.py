"""A local stand-in for PayPal's Orders v2, captures, refunds, Vault v3 and webhook verification.

It keeps orders the way PayPal does (created, approved by the payer, completed by a capture),
setup tokens (approved by the payer, then vaulted into a payment token), and orders paid with a
vaulted token (completed in the same call); honours PayPal-Request-Id (the same id gives back the
same order, capture, setup or payment token), wants the OAuth bearer token on every API call, and
records each request so tests can see what the SDK sent. Tests play the payer with ``approve`` and
``approve_setup``, and decide what signature verification answers.

A partner app (``partner``: its client id and secret) acts for a seller with the PayPal-Auth-Assertion
header: what it makes then belongs to that seller, and a token vaulted for one seller is unknown to
every other (merchant-level vaulting).
"""

import base64
import contextlib
import json
import secrets
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from http.client import HTTPMessage
from urllib.parse import parse_qs, urlsplit

from tests.fake_server import LocalFake, QuietHandler

CLIENT_ID = "AFakePayPalClientId"
CLIENT_SECRET = "EFakePayPalSecret"
ACCESS_TOKEN = "A21AAFakePayPalAccessToken"
WEBHOOK_ID = "1JE4291016473214C"


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: HTTPMessage
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


def seller_of(assertion: str) -> str:
    """The merchant id a PayPal-Auth-Assertion names ("" for none: the app's own account)."""
    if not assertion:
        return ""
    claims = assertion.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))["payer_id"]


def _paypal_id() -> str:
    return secrets.token_hex(9).upper()[:17]


class _Handler(QuietHandler):
    def _dispatch(self):
        fake = self.server.fake
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = urlsplit(self.path).path
        fake.requests.append(Seen(self.command, path, self.headers, body))
        parts = path.strip("/").split("/")
        if (self.command, path) == ("POST", "/v1/oauth2/token"):
            self._token(body)
            return
        if self.headers.get("Authorization") != f"Bearer {ACCESS_TOKEN}":
            self._reply(
                401, {"error": "invalid_token", "error_description": "Token signature verification failed"}
            )
            return
        self.deferred: tuple[int, dict] | None = None
        with fake.lock:
            self._route(path, parts, body)
        if self.deferred:  # answered late, outside the lock, when the caller may be gone
            time.sleep(fake.stall_orders)
            with contextlib.suppress(OSError):
                self._reply(*self.deferred)

    def _seller(self) -> str:
        return seller_of(self.headers.get("PayPal-Auth-Assertion", ""))

    def _owned(self, resource_id: str | None) -> bool:
        """Whether the caller's seller owns the order or token: another seller's is not found."""
        return self.server.fake.owners.get(resource_id) == self._seller()

    def _route(self, path: str, parts: list[str], body: bytes):
        if (self.command, path) == ("POST", "/v2/checkout/orders"):
            self._create_order(json.loads(body))
        elif (self.command, path) == ("POST", "/v3/vault/setup-tokens"):
            self._create_setup_token(json.loads(body))
        elif self.command == "GET" and parts[:3] == ["v3", "vault", "setup-tokens"] and len(parts) == 4:
            self._show_setup_token(parts[3])
        elif (self.command, path) == ("POST", "/v3/vault/payment-tokens"):
            self._create_payment_token(json.loads(body))
        elif self.command == "GET" and parts[:3] == ["v2", "checkout", "orders"] and len(parts) == 4:
            self._show_order(parts[3])
        elif (
            self.command == "POST" and parts[:3] == ["v2", "checkout", "orders"] and parts[4:] == ["capture"]
        ):
            self._capture(parts[3])
        elif (
            self.command == "POST" and parts[:3] == ["v2", "payments", "captures"] and parts[4:] == ["refund"]
        ):
            self._refund(parts[3], json.loads(body or b"{}"))
        elif (self.command, path) == ("POST", "/v1/notifications/verify-webhook-signature"):
            self._verify(json.loads(body))
        else:
            self._error(404, "RESOURCE_NOT_FOUND", "RESOURCE_NOT_FOUND")

    def _reply(self, status: int, payload: dict):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, name: str, issue: str):
        self._reply(
            status,
            {
                "name": name,
                "message": "The requested action could not be performed.",
                "debug_id": "f00dfeed00000",
                "details": [{"issue": issue, "description": issue.replace("_", " ").lower()}],
            },
        )

    def _token(self, body: bytes):
        header = self.headers.get("Authorization", "")
        pairs = [(CLIENT_ID, CLIENT_SECRET), *filter(None, [self.server.fake.partner])]
        expected = {f"Basic {base64.b64encode(f'{i}:{s}'.encode()).decode()}" for i, s in pairs}
        if parse_qs(body.decode()).get("grant_type") != ["client_credentials"]:
            self._reply(400, {"error": "unsupported_grant_type", "error_description": "Grant Type is NULL"})
        elif header not in expected:
            self._reply(401, {"error": "invalid_client", "error_description": "Client Authentication failed"})
        else:
            self._reply(
                200,
                {
                    "access_token": ACCESS_TOKEN,
                    "token_type": "Bearer",
                    "app_id": "APP-FAKE",
                    "expires_in": 32400,
                },
            )

    def _create_order(self, request: dict):
        fake = self.server.fake
        request_id = self.headers.get("PayPal-Request-Id")
        if request_id and request_id in fake.order_requests:
            order = fake.orders[fake.order_requests[request_id]]
            if fake.stall_orders and fake.stall_repeats:
                self.deferred = (200, order)
                return
            self._reply(200, order)
            return
        if (
            request.get("intent") not in ("CAPTURE", "AUTHORIZE")
            or len(request.get("purchase_units") or []) != 1
        ):
            self._error(400, "INVALID_REQUEST", "MISSING_REQUIRED_PARAMETER")
            return
        vault_id = ((request.get("payment_source") or {}).get("paypal") or {}).get("vault_id")
        if vault_id:
            self._vaulted_order(request, vault_id, request_id)
            return
        order_id = _paypal_id()
        experience = ((request.get("payment_source") or {}).get("paypal") or {}).get("experience_context")
        rel = "payer-action" if experience else "approve"
        order = {
            "id": order_id,
            "intent": request["intent"],
            "status": "PAYER_ACTION_REQUIRED" if experience else "CREATED",
            "purchase_units": [{"reference_id": "default", **request["purchase_units"][0]}],
            "links": [
                {"href": f"{fake.url}/v2/checkout/orders/{order_id}", "rel": "self", "method": "GET"},
                {"href": f"{fake.url}/checkoutnow?token={order_id}", "rel": rel, "method": "GET"},
            ],
        }
        fake.orders[order_id] = order
        fake.owners[order_id] = self._seller()
        if request_id:
            fake.order_requests[request_id] = order_id
        self._reply(201, order)

    def _vaulted_order(self, request: dict, vault_id: str, request_id: str | None):
        """An order paid with a saved PayPal account: PayPal completes it at once, no payer."""
        fake = self.server.fake
        if vault_id not in fake.payment_tokens or not self._owned(vault_id):
            self._error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
            return
        if fake.vault_issue:
            self._error(422, "UNPROCESSABLE_ENTITY", fake.vault_issue)
            return
        order_id = _paypal_id()
        unit = {"reference_id": "default", **request["purchase_units"][0]}
        capture = {
            "id": _paypal_id(),
            "status": fake.capture_status,
            "amount": unit["amount"],
            "custom_id": unit.get("custom_id"),
            "supplementary_data": {"related_ids": {"order_id": order_id}},
        }
        if fake.capture_status == "DECLINED":
            capture["status_details"] = {"reason": "DECLINED_BY_RISK_FRAUD_FILTERS"}
        unit["payments"] = {"captures": [capture]}
        if self._seller():
            unit["payee"] = {"merchant_id": self._seller()}
        order = {
            "id": order_id,
            "intent": request["intent"],
            "status": "COMPLETED",
            "payment_source": {"paypal": {"attributes": {"vault": {"id": vault_id, "status": "VAULTED"}}}},
            "purchase_units": [unit],
            "links": [{"href": f"{fake.url}/v2/checkout/orders/{order_id}", "rel": "self", "method": "GET"}],
        }
        fake.orders[order_id] = order
        fake.owners[order_id] = self._seller()
        fake.captures[capture["id"]] = {"capture": capture, "refunded": Decimal(0)}
        if request_id:
            fake.order_requests[request_id] = order_id
        if fake.stall_orders:
            self.deferred = (201, order)
            return
        self._reply(201, order)

    def _create_setup_token(self, request: dict):
        fake = self.server.fake
        request_id = self.headers.get("PayPal-Request-Id")
        if request_id and request_id in fake.setup_requests:
            self._reply(200, fake.setup_tokens[fake.setup_requests[request_id]])
            return
        wallet = (request.get("payment_source") or {}).get("paypal")
        experience = (wallet or {}).get("experience_context") or {}
        if not wallet or not experience.get("return_url") or not experience.get("cancel_url"):
            self._error(400, "INVALID_REQUEST", "MISSING_REQUIRED_PARAMETER")
            return
        setup_id = _paypal_id()
        customer = (request.get("customer") or {}).get("id") or f"cus_{_paypal_id()}"
        setup = {
            "id": setup_id,
            "customer": {"id": customer},
            "status": "PAYER_ACTION_REQUIRED",
            "payment_source": {"paypal": {"usage_type": wallet.get("usage_type")}},
            "links": [
                {"href": f"{fake.url}/agreements/approve?approval_session_id={setup_id}", "rel": "approve"},
                {"href": f"{fake.url}/v3/vault/setup-tokens/{setup_id}", "rel": "self", "method": "GET"},
            ],
            "experience_context": experience,
        }
        fake.setup_tokens[setup_id] = setup
        fake.owners[setup_id] = self._seller()
        if request_id:
            fake.setup_requests[request_id] = setup_id
        self._reply(201, setup)

    def _show_setup_token(self, setup_id: str):
        setup = self.server.fake.setup_tokens.get(setup_id)
        if setup is None or not self._owned(setup_id):
            self._error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
        else:
            self._reply(200, setup)

    def _create_payment_token(self, request: dict):
        fake = self.server.fake
        request_id = self.headers.get("PayPal-Request-Id")
        if request_id and request_id in fake.payment_token_requests:
            self._reply(200, fake.payment_tokens[fake.payment_token_requests[request_id]])
            return
        source = (request.get("payment_source") or {}).get("token") or {}
        setup = fake.setup_tokens.get(source.get("id"))
        if source.get("type") != "SETUP_TOKEN" or setup is None or not self._owned(source.get("id")):
            self._error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
            return
        if setup["status"] != "APPROVED":
            self._error(422, "UNPROCESSABLE_ENTITY", "SETUP_TOKEN_NOT_APPROVED")
            return
        token = {
            "id": _paypal_id(),
            "customer": setup["customer"],
            "payment_source": {"paypal": {**setup["payment_source"]["paypal"], **setup["payer"]}},
            "links": [{"href": f"{fake.url}/v3/vault/payment-tokens", "rel": "self", "method": "GET"}],
        }
        setup["status"] = "VAULTED"
        fake.payment_tokens[token["id"]] = token
        fake.owners[token["id"]] = self._seller()
        if request_id:
            fake.payment_token_requests[request_id] = token["id"]
        self._reply(201, token)

    def _show_order(self, order_id: str):
        order = self.server.fake.orders.get(order_id)
        if order is None or not self._owned(order_id):
            self._error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
        else:
            self._reply(200, order)

    def _capture(self, order_id: str):
        fake = self.server.fake
        request_id = self.headers.get("PayPal-Request-Id")
        order = fake.orders.get(order_id)
        if request_id and (order_id, request_id) in fake.capture_requests:
            self._reply(200, fake.capture_requests[(order_id, request_id)])
        elif order is None or not self._owned(order_id):
            self._error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
        elif order["status"] == "COMPLETED":
            self._error(422, "UNPROCESSABLE_ENTITY", "ORDER_ALREADY_CAPTURED")
        elif order["status"] != "APPROVED":
            self._error(422, "UNPROCESSABLE_ENTITY", "ORDER_NOT_APPROVED")
        elif fake.capture_issue:
            self._error(422, "UNPROCESSABLE_ENTITY", fake.capture_issue)
        else:
            unit = order["purchase_units"][0]
            capture = {
                "id": _paypal_id(),
                "status": fake.capture_status,
                "amount": unit["amount"],
                "custom_id": unit.get("custom_id"),
                "supplementary_data": {"related_ids": {"order_id": order_id}},
            }
            if fake.capture_status == "PENDING":
                capture["status_details"] = {"reason": "PENDING_REVIEW"}
            unit["payments"] = {"captures": [capture]}
            order["status"] = "COMPLETED"
            fake.captures[capture["id"]] = {"capture": capture, "refunded": Decimal(0)}
            if request_id:
                fake.capture_requests[(order_id, request_id)] = json.loads(json.dumps(order))
            self._reply(201, order)

    def _refund(self, capture_id: str, request: dict):
        held = self.server.fake.captures.get(capture_id)
        if held is None:
            self._error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
            return
        captured = held["capture"]["amount"]
        amount = request.get("amount") or {
            "value": captured["value"],
            "currency_code": captured["currency_code"],
        }
        if amount["currency_code"] != captured["currency_code"]:
            self._error(422, "UNPROCESSABLE_ENTITY", "REFUND_CURRENCY_MISMATCH")
        elif held["refunded"] + Decimal(amount["value"]) > Decimal(captured["value"]):
            self._error(422, "UNPROCESSABLE_ENTITY", "REFUND_AMOUNT_EXCEEDED")
        else:
            held["refunded"] += Decimal(amount["value"])
            self._reply(201, {"id": _paypal_id(), "status": "COMPLETED", "amount": amount})

    def _verify(self, request: dict):
        fake = self.server.fake
        required = (
            "auth_algo",
            "cert_url",
            "transmission_id",
            "transmission_sig",
            "transmission_time",
            "webhook_id",
            "webhook_event",
        )
        if not all(request.get(name) for name in required):
            self._error(400, "VALIDATION_ERROR", "MISSING_REQUIRED_PARAMETER")
            return
        fake.verified.append(request)
        genuine = fake.verification == "SUCCESS" and request["webhook_id"] in fake.webhook_ids
        self._reply(200, {"verification_status": "SUCCESS" if genuine else "FAILURE"})


class FakePayPal(LocalFake):
    """``with FakePayPal() as paypal:`` serves on ``paypal.url`` until the block ends.

    ``capture_status`` is what the next capture becomes (COMPLETED, PENDING, DECLINED),
    ``capture_issue`` makes captures fail with that 422 issue, ``vault_issue`` makes orders paid
    with a vaulted token fail with that 422 issue, ``stall_orders`` makes those orders answer only
    after that many seconds (the order is made at once; ``stall_repeats`` stalls the answers to
    repeated requests too), ``verification`` is what signature checks
    answer (SUCCESS or FAILURE) for the right webhook id.
    """

    handler = _Handler

    def __init__(self):
        self.requests: list[Seen] = []
        self.orders: dict[str, dict] = {}
        self.order_requests: dict[str, str] = {}
        # PayPal answers a repeated capture request with the first answer, whatever happened since.
        self.capture_requests: dict[tuple[str, str], dict] = {}
        self.captures: dict[str, dict] = {}
        self.verified: list[dict] = []
        self.setup_tokens: dict[str, dict] = {}
        self.setup_requests: dict[str, str] = {}
        self.payment_tokens: dict[str, dict] = {}
        self.payment_token_requests: dict[str, str] = {}
        self.vault_issue = ""
        self.stall_orders = 0.0
        self.stall_repeats = False
        self.capture_status = "COMPLETED"
        self.capture_issue = ""
        self.verification = "SUCCESS"
        #: The partner app's (client id, secret), when one acts for sellers.
        self.partner: tuple[str, str] | None = None
        #: Who owns each order and token: a seller's merchant id, "" for the app's own account.
        self.owners: dict[str | None, str] = {}
        #: The webhooks whose deliveries PayPal vouches for (the partner app adds its own).
        self.webhook_ids = {WEBHOOK_ID}
        self.lock = threading.Lock()
        super().__init__()

    def approve(self, order_id: str):
        """The payer logs in and approves the order on PayPal's page."""
        with self.lock:
            self.orders[order_id]["status"] = "APPROVED"

    def approve_setup(
        self,
        setup_id: str,
        *,
        given_name: str = "Marie",
        surname: str = "Curie",
        email: str = "marie@client.example",
    ):
        """The payer logs in and agrees, on PayPal's page, to be charged later."""
        with self.lock:
            setup = self.setup_tokens[setup_id]
            setup["status"] = "APPROVED"
            setup["payer"] = {"email_address": email, "name": {"given_name": given_name, "surname": surname}}

    def set_status(self, order_id: str, status: str):
        """An order PayPal moved on by itself (VOIDED when its approval expired, say)."""
        with self.lock:
            self.orders[order_id]["status"] = status

    def seen(self, method: str, path: str) -> list[Seen]:
        return [request for request in self.requests if (request.method, request.path) == (method, path)]
