"""A local stand-in for PayPal's Orders v2, captures, refunds and webhook verification.

It keeps orders the way PayPal does (created, approved by the payer, completed by a capture),
honours PayPal-Request-Id (the same id gives back the same order or capture), wants the OAuth
bearer token on every API call, and records each request so tests can see what the SDK sent.
Tests play the payer with ``approve`` and decide what signature verification answers.
"""

import base64
import json
import secrets
import threading
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
        with fake.lock:
            if (self.command, path) == ("POST", "/v2/checkout/orders"):
                self._create_order(json.loads(body))
            elif self.command == "GET" and parts[:3] == ["v2", "checkout", "orders"] and len(parts) == 4:
                self._show_order(parts[3])
            elif (
                self.command == "POST"
                and parts[:3] == ["v2", "checkout", "orders"]
                and parts[4:] == ["capture"]
            ):
                self._capture(parts[3])
            elif (
                self.command == "POST"
                and parts[:3] == ["v2", "payments", "captures"]
                and parts[4:] == ["refund"]
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
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if parse_qs(body.decode()).get("grant_type") != ["client_credentials"]:
            self._reply(400, {"error": "unsupported_grant_type", "error_description": "Grant Type is NULL"})
        elif header != f"Basic {expected}":
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
            self._reply(200, fake.orders[fake.order_requests[request_id]])
            return
        if (
            request.get("intent") not in ("CAPTURE", "AUTHORIZE")
            or len(request.get("purchase_units") or []) != 1
        ):
            self._error(400, "INVALID_REQUEST", "MISSING_REQUIRED_PARAMETER")
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
        if request_id:
            fake.order_requests[request_id] = order_id
        self._reply(201, order)

    def _show_order(self, order_id: str):
        order = self.server.fake.orders.get(order_id)
        if order is None:
            self._error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
        else:
            self._reply(200, order)

    def _capture(self, order_id: str):
        fake = self.server.fake
        request_id = self.headers.get("PayPal-Request-Id")
        order = fake.orders.get(order_id)
        if request_id and (order_id, request_id) in fake.capture_requests:
            self._reply(200, fake.capture_requests[(order_id, request_id)])
        elif order is None:
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
        genuine = fake.verification == "SUCCESS" and request["webhook_id"] == WEBHOOK_ID
        self._reply(200, {"verification_status": "SUCCESS" if genuine else "FAILURE"})


class FakePayPal(LocalFake):
    """``with FakePayPal() as paypal:`` serves on ``paypal.url`` until the block ends.

    ``capture_status`` is what the next capture becomes (COMPLETED, PENDING, DECLINED),
    ``capture_issue`` makes captures fail with that 422 issue, ``verification`` is what signature
    checks answer (SUCCESS or FAILURE) for the right webhook id.
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
        self.capture_status = "COMPLETED"
        self.capture_issue = ""
        self.verification = "SUCCESS"
        self.lock = threading.Lock()
        super().__init__()

    def approve(self, order_id: str):
        """The payer logs in and approves the order on PayPal's page."""
        with self.lock:
            self.orders[order_id]["status"] = "APPROVED"

    def set_status(self, order_id: str, status: str):
        """An order PayPal moved on by itself (VOIDED when its approval expired, say)."""
        with self.lock:
            self.orders[order_id]["status"] = status

    def seen(self, method: str, path: str) -> list[Seen]:
        return [request for request in self.requests if (request.method, request.path) == (method, path)]
