"""A local stand-in for GoCardless's Billing Request API, for running the real SDK offline.

It keeps its own billing requests, mandates, payments and refunds, checks what GoCardless checks
(bearer token, API version header, idempotency keys, refund confirmation, an active mandate),
answers in GoCardless's JSON shapes, and records every request. Tests move things on as the payer
and the banks would, with ``fulfil``, ``set_payment_status`` and ``set_mandate_status``, and sign
webhooks with ``signed_webhook``. ``stall_payments`` makes payment creates answer only after that
many seconds (the payment is made at once), to play a timeout after GoCardless accepted.
"""

import contextlib
import datetime
import hashlib
import hmac
import json
import re
import secrets
import string
import threading
import time
from urllib.parse import parse_qsl, urlsplit

from tests.fake_server import LocalFake, QuietHandler
from tests.payments.fake_providers import GOCARDLESS_TOKENS, GOCARDLESS_VERSION, Seen

CREATED_AT = "2026-03-02T10:00:00.000Z"
#: The scheme GoCardless picks for a mandate in each currency when none is asked for.
SCHEMES = {"EUR": "sepa_core", "GBP": "bacs", "USD": "ach", "CAD": "pad"}
#: Mandates payments can be created on, as GoCardless documents.
CHARGEABLE = {"pending_customer_approval", "pending_submission", "submitted", "active"}
NEXT_CHARGE_DATE = "2026-03-09"


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(12))


def event(resource_type: str, action: str, cause: str = "", **links) -> dict:
    """One event as GoCardless puts it in a webhook."""
    return {
        "id": new_id("EV"),
        "created_at": CREATED_AT,
        "resource_type": resource_type,
        "action": action,
        "links": links,
        "details": {
            "origin": "gocardless",
            "cause": cause or action,
            "description": f"{resource_type} {action}",
        },
        "metadata": {},
    }


def signed_webhook(events: list[dict], secret: str) -> tuple[bytes, dict]:
    """(body, headers) of a webhook delivery: the hex HMAC-SHA256 of the raw body."""
    body = json.dumps({"events": events, "meta": {"webhook_id": new_id("WB")}}).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return body, {
        "Webhook-Signature": signature,
        "Content-Type": "application/json",
        "Origin": "https://api-sandbox.gocardless.com",
    }


class _Handler(QuietHandler):
    def _dispatch(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = urlsplit(self.path).path
        fake = self.server.fake
        fake.requests.append(Seen(self.command, path, self.headers, body))
        version = self.headers.get("GoCardless-Version")
        if version is None:
            return self._error(
                400, "invalid_api_usage", "missing_version_header", "GoCardless-Version missing"
            )
        if version != GOCARDLESS_VERSION:
            return self._error(400, "invalid_api_usage", "version_not_found", "Version not found")
        if self.headers.get("Authorization") != f"Bearer {fake.access_token}":
            return self._error(401, "invalid_api_usage", "access_token_not_found", "Access token not found")
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            return self._error(400, "invalid_api_usage", "invalid_document_structure", "Invalid JSON")
        self.deferred: tuple[int, dict] | None = None
        for (method, pattern), route in self.ROUTES.items():
            match = re.fullmatch(pattern, path)
            if method == self.command and match:
                with fake.lock:
                    route(self, data or {}, *match.groups())
                if self.deferred:  # answered late, outside the lock, when the caller may be gone
                    time.sleep(fake.stall_payments)
                    with contextlib.suppress(OSError):
                        self._reply(*self.deferred)
                return None
        return self._not_found()

    def _reply(self, status: int, payload: dict):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, kind: str, reason: str, message: str, **extra):
        error = {"reason": reason, "message": message, **extra}
        self._reply(
            status,
            {
                "error": {
                    "message": message,
                    "errors": [error],
                    "documentation_url": f"https://developer.gocardless.com/api-reference#{reason}",
                    "type": kind,
                    "request_id": "fake-request",
                    "code": status,
                }
            },
        )

    def _not_found(self):
        self._error(404, "invalid_api_usage", "resource_not_found", "Resource not found")

    def _idempotent(self, scope: str) -> str | None:
        """The resource an earlier request with the same Idempotency-Key created, if any."""
        key = self.headers.get("Idempotency-Key")
        return self.server.fake.idempotency.get((scope, key)) if key else None

    def _remember(self, scope: str, resource_id: str):
        key = self.headers.get("Idempotency-Key")
        if key:
            self.server.fake.idempotency[(scope, key)] = resource_id

    def _conflict(self, resource_id: str):
        self._error(
            409,
            "invalid_state",
            "idempotent_creation_conflict",
            "A resource has already been created with this idempotency key",
            links={"conflicting_resource_id": resource_id},
        )

    def _create_billing_request(self, data: dict):
        existing = self._idempotent("billing_requests")
        if existing:
            return self._conflict(existing)
        params = data.get("billing_requests") or {}
        payment = params.get("payment_request")
        mandate = params.get("mandate_request")
        if payment is None and mandate is None:
            return self._error(
                422, "validation_failed", "validation_failed", "Either payment_request or mandate_request"
            )
        amount = (payment or {}).get("amount")
        if payment is not None and (not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0):
            return self._error(
                422,
                "validation_failed",
                "validation_failed",
                "Validation failed",
                field="amount",
                request_pointer="/billing_requests/payment_request/amount",
            )
        metadata = params.get("metadata") or {}
        if any(len(k) > 50 or len(str(v)) > 500 for k, v in metadata.items()):
            return self._error(422, "validation_failed", "validation_failed", "Metadata too long")
        currency = ((mandate or {}).get("currency") or (payment or {}).get("currency") or "").upper()
        scheme = (mandate or {}).get("scheme") or SCHEMES.get(currency, "sepa_core")
        customer = (params.get("links") or {}).get("customer") or new_id("CU")
        billing_request = {
            "id": new_id("BRQ"),
            "created_at": CREATED_AT,
            "status": "pending",
            "payment_request": {**payment, "scheme": "sepa_core", "links": {}} if payment else None,
            "mandate_request": {**(mandate or {}), "scheme": scheme},
            "metadata": metadata,
            "links": {
                "customer": customer,
                "mandate_request": new_id("MRQ"),
                **({"payment_request": new_id("PRQ")} if payment else {}),
            },
            "resources": {"customer": {"id": customer}},
            "actions": [],
        }
        self.server.fake.billing_requests[billing_request["id"]] = billing_request
        self._remember("billing_requests", billing_request["id"])
        self._reply(201, {"billing_requests": billing_request})

    def _get_billing_request(self, data: dict, identity: str):
        billing_request = self.server.fake.billing_requests.get(identity)
        if billing_request is None:
            return self._not_found()
        self._reply(200, {"billing_requests": billing_request})

    def _cancel_billing_request(self, data: dict, identity: str):
        billing_request = self.server.fake.billing_requests.get(identity)
        if billing_request is None:
            return self._not_found()
        if billing_request["status"] in ("fulfilling", "fulfilled", "cancelled"):
            return self._error(
                422, "invalid_state", "billing_request_not_cancellable", "Billing request cannot be cancelled"
            )
        billing_request["status"] = "cancelled"
        self._reply(200, {"billing_requests": billing_request})

    def _create_flow(self, data: dict):
        existing = self._idempotent("billing_request_flows")
        if existing:
            return self._conflict(existing)
        params = data.get("billing_request_flows") or {}
        billing_request = self.server.fake.billing_requests.get(
            (params.get("links") or {}).get("billing_request")
        )
        if billing_request is None:
            return self._error(422, "validation_failed", "validation_failed", "Billing request not found")
        if billing_request["status"] in ("fulfilled", "cancelled"):
            return self._error(
                422, "invalid_state", "billing_request_not_pending", "Billing request is closed"
            )
        flow_id = new_id("BRF")
        flow = {
            "id": flow_id,
            "created_at": CREATED_AT,
            "authorisation_url": f"https://pay-sandbox.gocardless.com/billing/static/flow?id={flow_id}",
            "redirect_uri": params.get("redirect_uri"),
            "exit_uri": params.get("exit_uri"),
            "prefilled_customer": params.get("prefilled_customer") or {},
            "links": {"billing_request": billing_request["id"]},
        }
        self.server.fake.flows[flow_id] = flow
        self._remember("billing_request_flows", flow_id)
        self._reply(201, {"billing_request_flows": flow})

    def _get_mandate(self, data: dict, identity: str):
        mandate = self.server.fake.mandates.get(identity)
        if mandate is None:
            return self._not_found()
        self._reply(200, {"mandates": mandate})

    def _get_bank_account(self, data: dict, identity: str):
        account = self.server.fake.bank_accounts.get(identity)
        if account is None:
            return self._not_found()
        self._reply(200, {"customer_bank_accounts": account})

    def _create_payment(self, data: dict):
        """A payment on a mandate; collected on the mandate's earliest date unless one is given."""
        existing = self._idempotent("payments")
        if existing:
            return self._conflict(existing)
        fake = self.server.fake
        params = data.get("payments") or {}
        amount = params.get("amount")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            return self._error(
                422, "validation_failed", "validation_failed", "Validation failed", field="amount"
            )
        mandate = fake.mandates.get((params.get("links") or {}).get("mandate"))
        if mandate is None:
            return self._error(
                422, "invalid_api_usage", "invalid_document_structure", "Mandate not found", field="mandate"
            )
        if mandate["status"] not in CHARGEABLE:
            return self._error(422, "invalid_state", "mandate_is_inactive", "The mandate is not active")
        if params.get("currency") != mandate["currency"]:
            return self._error(
                422, "validation_failed", "validation_failed", "Currency does not match the mandate"
            )
        payment = {
            "id": new_id("PM"),
            "created_at": now(),
            "amount": amount,
            "amount_refunded": 0,
            "currency": params["currency"],
            "description": params.get("description"),
            "status": "pending_submission",
            "charge_date": params.get("charge_date") or mandate["next_possible_charge_date"],
            "metadata": params.get("metadata") or {},
            "links": {"mandate": mandate["id"], "creditor": "CR000FAKE"},
        }
        fake.payments[payment["id"]] = payment
        self._remember("payments", payment["id"])
        if fake.stall_payments:
            self.deferred = (201, {"payments": payment})
            return None
        self._reply(201, {"payments": payment})

    def _list_payments(self, data: dict):
        """``GET /payments`` with the ``created_at[gte]`` and ``mandate`` filters, cursor-paginated."""
        query = dict(parse_qsl(urlsplit(self.path).query))
        found = [
            payment
            for payment in self.server.fake.payments.values()
            if payment["created_at"] >= query.get("created_at[gte]", "")
            and query.get("mandate") in (None, payment["links"]["mandate"])
        ]
        self.server.fake.listed.append(query)
        ids = [payment["id"] for payment in found]
        start = ids.index(query["after"]) + 1 if query.get("after") in ids else 0
        limit = int(query.get("limit") or 50)
        page = found[start : start + limit]
        after = page[-1]["id"] if start + limit < len(found) else None
        self._reply(
            200, {"payments": page, "meta": {"cursors": {"before": None, "after": after}, "limit": limit}}
        )

    def _get_payment(self, data: dict, identity: str):
        payment = self.server.fake.payments.get(identity)
        if payment is None:
            return self._not_found()
        self._reply(200, {"payments": payment})

    def _create_refund(self, data: dict):
        existing = self._idempotent("refunds")
        if existing:
            return self._conflict(existing)
        params = data.get("refunds") or {}
        payment = self.server.fake.payments.get((params.get("links") or {}).get("payment"))
        amount = params.get("amount")
        if payment is None or not isinstance(amount, int) or amount <= 0:
            return self._error(422, "validation_failed", "validation_failed", "Validation failed")
        if params.get("total_amount_confirmation") != payment["amount_refunded"] + amount:
            return self._error(
                422,
                "invalid_state",
                "total_amount_confirmation_invalid",
                "The total amount confirmation given did not equal the actual total amount",
            )
        if payment["amount_refunded"] + amount > payment["amount"]:
            return self._error(422, "invalid_state", "refund_amount_exceeds_payment", "Refund too large")
        refund = {
            "id": new_id("RF"),
            "created_at": CREATED_AT,
            "amount": amount,
            "currency": payment["currency"],
            "status": "created",
            "metadata": params.get("metadata") or {},
            "links": {"payment": payment["id"], "mandate": payment["links"]["mandate"]},
        }
        payment["amount_refunded"] += amount
        self.server.fake.refunds[refund["id"]] = refund
        self._remember("refunds", refund["id"])
        self._reply(201, {"refunds": refund})

    def _list_refunds(self, data: dict):
        """``GET /refunds?payment=PM…``, with GoCardless's cursor envelope (one page here)."""
        wanted = dict(parse_qsl(urlsplit(self.path).query)).get("payment")
        found = [r for r in self.server.fake.refunds.values() if wanted in (None, r["links"]["payment"])]
        self._reply(
            200, {"refunds": found, "meta": {"cursors": {"before": None, "after": None}, "limit": 50}}
        )

    ROUTES = {
        ("POST", r"/billing_requests"): _create_billing_request,
        ("GET", r"/billing_requests/([^/]+)"): _get_billing_request,
        ("POST", r"/billing_requests/([^/]+)/actions/cancel"): _cancel_billing_request,
        ("POST", r"/billing_request_flows"): _create_flow,
        ("GET", r"/mandates/([^/]+)"): _get_mandate,
        ("GET", r"/customer_bank_accounts/([^/]+)"): _get_bank_account,
        ("POST", r"/payments"): _create_payment,
        ("GET", r"/payments"): _list_payments,
        ("GET", r"/payments/([^/]+)"): _get_payment,
        ("POST", r"/refunds"): _create_refund,
        ("GET", r"/refunds"): _list_refunds,
    }


class FakeGoCardless(LocalFake):
    """``with FakeGoCardless() as fake:`` serves on ``fake.url`` until the block ends."""

    handler = _Handler

    def __init__(self, environment: str = "test"):
        self.access_token = GOCARDLESS_TOKENS[environment]
        self.requests: list[Seen] = []
        self.billing_requests: dict[str, dict] = {}
        self.flows: dict[str, dict] = {}
        self.payments: dict[str, dict] = {}
        self.mandates: dict[str, dict] = {}
        self.bank_accounts: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.listed: list[dict] = []
        self.stall_payments = 0.0
        self.idempotency: dict[tuple[str, str], str] = {}
        self.lock = threading.Lock()
        super().__init__()

    def fulfil(
        self,
        billing_request_id: str,
        *,
        holder: str = "Marie Curie",
        account_ending: str = "11",
        bank_name: str = "BNP PARIBAS",
    ) -> str:
        """The payer finished the flow: the mandate (and the payment, if one was asked) exist.
        Returns the payment id, or the mandate id for a billing request that asked only for one."""
        with self.lock:
            billing_request = self.billing_requests[billing_request_id]
            mandate_request = billing_request["mandate_request"]
            customer = billing_request["links"]["customer"]
            account = {
                "id": new_id("BA"),
                "account_holder_name": holder,
                "account_number_ending": account_ending,
                "bank_name": bank_name,
                "currency": mandate_request.get("currency"),
                "enabled": True,
                "links": {"customer": customer},
            }
            self.bank_accounts[account["id"]] = account
            mandate = {
                "id": new_id("MD"),
                "created_at": now(),
                "status": "pending_submission",
                "scheme": mandate_request["scheme"],
                "currency": mandate_request.get("currency"),
                "next_possible_charge_date": NEXT_CHARGE_DATE,
                "metadata": {},
                "links": {
                    "customer": customer,
                    "customer_bank_account": account["id"],
                    "creditor": "CR000FAKE",
                },
            }
            self.mandates[mandate["id"]] = mandate
            billing_request["status"] = "fulfilled"
            billing_request["links"].update(
                mandate_request_mandate=mandate["id"], customer_bank_account=account["id"]
            )
            billing_request["resources"]["customer_bank_account"] = account
            requested = billing_request["payment_request"]
            if requested is None:
                return mandate["id"]
            payment = {
                "id": new_id("PM"),
                "created_at": CREATED_AT,
                "amount": requested["amount"],
                "amount_refunded": 0,
                "currency": requested["currency"],
                "description": requested.get("description"),
                "status": "pending_submission",
                "charge_date": "2026-03-06",
                "metadata": {},
                "links": {"mandate": mandate["id"], "creditor": "CR000FAKE"},
            }
            self.payments[payment["id"]] = payment
            billing_request["links"]["payment_request_payment"] = payment["id"]
            return payment["id"]

    def set_mandate_status(self, mandate_id: str, status: str):
        """The bank or the payer moved the mandate on (cancelled, expired, failed…)."""
        with self.lock:
            self.mandates[mandate_id]["status"] = status

    def set_payment_status(self, payment_id: str, status: str):
        with self.lock:
            self.payments[payment_id]["status"] = status

    def seen(self, method: str, path: str) -> list[Seen]:
        return [r for r in self.requests if (r.method, r.path) == (method, path)]
