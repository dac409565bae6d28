"""A local stand-in for the part of Stripe's API that Checkout payments and saved cards use, for
the real SDK offline.

Saved cards: Customers, Checkout Sessions in setup mode (``complete_setup`` plays the customer on
Stripe's page, with a test card number whose behaviour Stripe documents: 4000002760003184 needs
authentication off-session, 4000000000009995 is declined for insufficient funds), off-session
PaymentIntents (``off_session=true&confirm=true``) and their search by metadata.

A session's ``url`` is a page a browser can use, as on Stripe: the setup page takes a card and
sends the customer to ``success_url`` (``{CHECKOUT_SESSION_ID}`` filled in), the payment page
(also where a customer authenticates an off-session charge) pays the session; both link to
``cancel_url``. They need no API key, like Stripe's own pages.

Like Stripe it wants the secret key as a bearer token, replays a POST repeated with the same
Idempotency-Key (and refuses one whose parameters changed), refuses an expiry under 30 minutes,
and answers errors in Stripe's shape. Tests move sessions along with ``mark_paid`` and friends,
build the events Stripe would send with ``event`` and sign them with ``signed_event``.
"""

import hashlib
import hmac
import html
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from http.client import HTTPMessage
from urllib.parse import parse_qsl, urlsplit

from tests.fake_server import LocalFake, QuietHandler

SECRET_KEY = "sk_test_51FakeCheckoutKey000000000000"
WEBHOOK_SECRET = "whsec_FakeCheckoutWebhookSecret"

_KEY_PART = re.compile(r"\[([^\]]*)\]")


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: HTTPMessage
    params: dict


class StripeFailure(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", **extra):
        super().__init__(message)
        self.status = status
        self.body = {"error": {"message": message, "type": kind, **extra}}


def decode_form(body: str) -> dict:
    """Stripe's form encoding (``line_items[0][price_data][currency]=cad``) back into nested data."""
    data: dict = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        head = key.split("[", 1)[0]
        path = [head, *_KEY_PART.findall(key[len(head) :])]
        node = data
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return _lists(data)


def _lists(node):
    if not isinstance(node, dict):
        return node
    if node and all(key.isdigit() for key in node):
        return [_lists(node[key]) for key in sorted(node, key=int)]
    return {key: _lists(value) for key, value in node.items()}


def signature_headers(body: bytes, secret: str, timestamp: int | None = None) -> dict:
    """Stripe's signature of any body: HMAC-SHA256 of "<t>.<body>" under the whsec_ secret."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={timestamp},v1={digest}"}


def signed_event(event: dict, secret: str, timestamp: int | None = None) -> tuple[bytes, dict]:
    """The body and headers Stripe would post for ``event``."""
    body = json.dumps(event).encode()
    return body, signature_headers(body, secret, timestamp)


class _DropAnswer(Exception):
    """Stripe did the work; the connection closes before the answer."""


class _Handler(QuietHandler):
    def _dispatch(self):
        fake = self.server.fake
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        path = urlsplit(self.path).path
        params = decode_form(raw)
        fake.requests.append(Seen(self.command, path, self.headers, params))
        page = path.strip("/").split("/")
        if len(page) == 2 and page[0] in ("setup", "pay"):
            with fake.lock:
                status, headers, text = fake.hosted_page(page[0], page[1], self.command, params)
            self._send_page(status, headers, text)
            return
        key = self.headers.get("Idempotency-Key") if self.command == "POST" else None
        with fake.lock:
            try:
                if key and key in fake.replies:
                    status, body = self._replay(fake.replies[key], path, params)
                else:
                    status, body = self._answer(path, params)
                    if key:
                        fake.replies[key] = (path, params, status, body)
            except _DropAnswer:
                self.close_connection = True
                return
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if key:
            self.send_header("Idempotency-Key", key)
        self.end_headers()
        self.wfile.write(data)

    def _send_page(self, status: int, headers: dict, text: str):
        data = text.encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    @staticmethod
    def _replay(first, path: str, params: dict) -> tuple[int, dict]:
        first_path, first_params, status, body = first
        if (first_path, first_params) != (path, params):
            return 400, {
                "error": {
                    "message": "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with. Try using a key other than the one used for the "
                    "original request.",
                    "type": "idempotency_error",
                }
            }
        return status, body

    def _answer(self, path: str, params: dict) -> tuple[int, dict]:
        fake = self.server.fake
        try:
            self._authenticate()
            parts = path.strip("/").split("/")
            query = decode_form(urlsplit(self.path).query)
            if self.command == "POST" and parts == ["v1", "checkout", "sessions"]:
                return 200, fake.create_session(params)
            if parts[:3] == ["v1", "checkout", "sessions"] and len(parts) == 4 and self.command == "GET":
                return 200, fake.session(parts[3], expand=query.get("expand", []))
            if self.command == "POST" and parts == ["v1", "customers"]:
                return 200, fake.create_customer(params)
            if self.command == "POST" and parts == ["v1", "payment_intents"]:
                return fake.create_payment_intent(params)
            if self.command == "GET" and parts == ["v1", "payment_intents", "search"]:
                return 200, fake.search_payment_intents(query)
            if self.command == "GET" and parts[:2] == ["v1", "payment_intents"] and len(parts) == 3:
                return 200, fake.payment_intent(parts[2])
            if parts[:3] == ["v1", "checkout", "sessions"] and parts[4:] == ["expire"]:
                return 200, fake.expire(parts[3])
            if self.command == "POST" and parts == ["v1", "refunds"]:
                return 200, fake.create_refund(params)
            if self.command == "GET" and parts == ["v1", "refunds"]:
                return 200, fake.list_refunds(decode_form(urlsplit(self.path).query))
            raise StripeFailure(404, f"Unrecognized request URL ({self.command}: {path}).")
        except StripeFailure as failure:
            return failure.status, failure.body

    def _authenticate(self):
        header = self.headers.get("Authorization", "")
        key = header.removeprefix("Bearer ")
        if not header:
            raise StripeFailure(401, "You did not provide an API key.")
        if key != self.server.fake.secret_key:
            raise StripeFailure(401, f"Invalid API Key provided: {key[:8]}****{key[-4:]}")


class FakeStripe(LocalFake):
    """``with FakeStripe() as fake:`` serves on ``fake.url`` until the block ends."""

    handler = _Handler

    def __init__(self, secret_key: str = SECRET_KEY):
        self.secret_key = secret_key
        self.requests: list[Seen] = []
        self.sessions: dict[str, dict] = {}
        self.payment_intents: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.customers: dict[str, dict] = {}
        self.payment_methods: dict[str, dict] = {}
        self.setup_intents: dict[str, dict] = {}
        #: A charge accepted by Stripe whose answer never reaches us (the network cut after it).
        self.drop_next_charge_answer = False
        self.replies: dict[str, tuple] = {}
        #: The status (and failure reason) the next refunds are given, as a card refund is at once.
        self.refund_outcome: tuple[str, str] = ("succeeded", "")
        self.lock = threading.Lock()
        super().__init__()

    # The API ------------------------------------------------------------------------------------

    def create_session(self, params: dict) -> dict:
        if params.get("mode") == "setup":
            return self._create_setup_session(params)
        if params.get("mode") != "payment":
            raise StripeFailure(400, "This fake only opens sessions in payment or setup mode.", param="mode")
        try:
            (item,) = params["line_items"]
            price = item["price_data"]
            amount = int(price["unit_amount"]) * int(item.get("quantity", 1))
            currency = price["currency"]
            named = bool(price["product_data"]["name"])
        except (KeyError, ValueError, TypeError) as exc:
            raise StripeFailure(400, "Invalid line_items.", param="line_items") from exc
        if not named:
            raise StripeFailure(400, "Missing required param: line_items[0][price_data][product_data][name].")
        now = int(time.time())
        expires_at = int(params.get("expires_at", now + 86400))
        if not now + 30 * 60 <= expires_at <= now + 24 * 3600:
            raise StripeFailure(
                400,
                "The `expires_at` timestamp must be between 30 minutes and 24 hours after the "
                "Checkout Session is created.",
                param="expires_at",
            )
        session_id = f"cs_test_{secrets.token_hex(16)}"
        self.sessions[session_id] = {
            "id": session_id,
            "object": "checkout.session",
            "mode": "payment",
            "url": f"{self.url}/pay/{session_id}",
            "status": "open",
            "payment_status": "unpaid",
            # Stripe creates the payment intent when the payer confirms, not before.
            "payment_intent": None,
            "amount_total": amount,
            "currency": currency,
            "customer_email": params.get("customer_email"),
            "success_url": params.get("success_url"),
            "cancel_url": params.get("cancel_url"),
            "metadata": params.get("metadata", {}),
            "payment_method_types": params.get("payment_method_types", ["card"]),
            "created": now,
            "expires_at": expires_at,
            "livemode": False,
            "_intent_metadata": params.get("payment_intent_data", {}).get("metadata", {}),
        }
        return self.session(session_id)

    def _create_setup_session(self, params: dict) -> dict:
        customer = params.get("customer")
        if customer not in self.customers:
            raise StripeFailure(
                404, f"No such customer: '{customer}'", code="resource_missing", param="customer"
            )
        if not params.get("currency") and not params.get("payment_method_types"):
            raise StripeFailure(400, "currency is required in setup mode.", param="currency")
        now = int(time.time())
        session_id = f"cs_test_{secrets.token_hex(16)}"
        intent_id = f"seti_{secrets.token_hex(12)}"
        self.setup_intents[intent_id] = {
            "id": intent_id,
            "object": "setup_intent",
            "status": "requires_payment_method",
            "usage": "off_session",
            "customer": customer,
            "payment_method": None,
            "metadata": params.get("setup_intent_data", {}).get("metadata", {}),
        }
        self.sessions[session_id] = {
            "id": session_id,
            "object": "checkout.session",
            "mode": "setup",
            "url": f"{self.url}/setup/{session_id}",
            "status": "open",
            "payment_status": "no_payment_required",
            "setup_intent": intent_id,
            "customer": customer,
            "currency": params.get("currency"),
            "success_url": params.get("success_url"),
            "cancel_url": params.get("cancel_url"),
            "metadata": params.get("metadata", {}),
            "payment_method_types": params.get("payment_method_types", ["card"]),
            "created": now,
            "expires_at": now + 86400,
            "livemode": False,
        }
        return self.session(session_id)

    def session(self, session_id: str, expand: list | None = None) -> dict:
        if session_id not in self.sessions:
            raise StripeFailure(
                404, f"No such checkout.session: '{session_id}'", code="resource_missing", param="session"
            )
        session = {k: v for k, v in self.sessions[session_id].items() if not k.startswith("_")}
        expand = expand or []
        if session.get("setup_intent") and any(e.startswith("setup_intent") for e in expand):
            intent = dict(self.setup_intents[session["setup_intent"]])
            if "setup_intent.payment_method" in expand and intent["payment_method"]:
                intent["payment_method"] = self.payment_methods[intent["payment_method"]]
            session["setup_intent"] = intent
        return session

    def create_customer(self, params: dict) -> dict:
        customer = {
            "id": f"cus_{secrets.token_hex(7)}",
            "object": "customer",
            "email": params.get("email"),
            "name": params.get("name"),
            "metadata": params.get("metadata", {}),
        }
        self.customers[customer["id"]] = customer
        return customer

    def create_payment_intent(self, params: dict) -> tuple[int, dict]:
        """An off-session PaymentIntent confirmed at once: its outcome is the saved card's behaviour."""
        if params.get("off_session") != "true" or params.get("confirm") != "true":
            raise StripeFailure(400, "This fake only confirms off-session payment intents.")
        method = self.payment_methods.get(params.get("payment_method", ""))
        if method is None:
            raise StripeFailure(
                404, f"No such PaymentMethod: '{params.get('payment_method')}'", code="resource_missing"
            )
        if method["customer"] != params.get("customer"):
            raise StripeFailure(
                400,
                "The provided PaymentMethod was previously used with a PaymentIntent without Customer "
                "attachment, shared with a connected account without Customer attachment, or was "
                "detached from a Customer.",
            )
        intent_id = f"pi_{secrets.token_hex(12)}"
        behaviour = method["_behaviour"]
        status = {"succeed": "succeeded", "authenticate": "requires_payment_method"}.get(
            behaviour, "requires_payment_method"
        )
        amount = int(params["amount"])
        intent = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_received": amount if status == "succeeded" else 0,
            "amount_refunded": 0,
            "currency": params["currency"],
            "customer": params.get("customer"),
            "payment_method": method["id"],
            "status": status,
            "latest_charge": f"ch_{secrets.token_hex(12)}",
            "metadata": params.get("metadata", {}),
            "created": int(time.time()),
        }
        self.payment_intents[intent_id] = intent
        if status == "succeeded":
            if self.drop_next_charge_answer:
                self.drop_next_charge_answer = False
                raise _DropAnswer
            return 200, intent
        code = "authentication_required" if behaviour == "authenticate" else "card_declined"
        error = {
            "message": "Your card was declined."
            if code == "card_declined"
            else "This payment requires authentication.",
            "type": "card_error",
            "code": code,
            "payment_intent": intent,
        }
        if code == "card_declined":
            error["decline_code"] = behaviour
        intent["last_payment_error"] = {"code": code}
        return 402, {"error": error}

    def payment_intent(self, intent_id: str) -> dict:
        if intent_id not in self.payment_intents:
            raise StripeFailure(404, f"No such payment_intent: '{intent_id}'", code="resource_missing")
        return self.payment_intents[intent_id]

    def search_payment_intents(self, params: dict) -> dict:
        """Only the query the app sends: ``metadata['idempotency_key']:'<key>'``."""
        match = re.fullmatch(r"metadata\['idempotency_key'\]:'([^']*)'", params.get("query", ""))
        if match is None:
            raise StripeFailure(400, "This fake only searches by metadata['idempotency_key'].")
        found = [i for i in self.payment_intents.values() if i["metadata"].get("idempotency_key") == match[1]]
        return {
            "object": "search_result",
            "url": "/v1/payment_intents/search",
            "has_more": False,
            "data": found,
        }

    def expire(self, session_id: str) -> dict:
        session = self.session(session_id)
        if session["status"] != "open":
            raise StripeFailure(400, 'Only Checkout Sessions with a status in ["open"] can be expired.')
        self.sessions[session_id]["status"] = "expired"
        return self.session(session_id)

    def create_refund(self, params: dict) -> dict:
        intent = self.payment_intents.get(params.get("payment_intent", ""))
        if intent is None:
            raise StripeFailure(
                404,
                f"No such payment_intent: '{params.get('payment_intent', '')}'",
                code="resource_missing",
                param="payment_intent",
            )
        left = intent["amount_received"] - intent["amount_refunded"]
        amount = int(params.get("amount", left))
        if left == 0:
            raise StripeFailure(
                400,
                f"Charge {intent['latest_charge']} has already been refunded.",
                code="charge_already_refunded",
            )
        if amount > left:
            raise StripeFailure(
                400,
                f"Refund amount (${amount / 100:.2f}) is greater than unrefunded amount on charge "
                f"(${left / 100:.2f})",
                param="amount",
            )
        status, reason = self.refund_outcome
        if status != "failed":
            intent["amount_refunded"] += amount
        refund = {
            "id": f"re_{secrets.token_hex(12)}",
            "object": "refund",
            "amount": amount,
            "currency": intent["currency"],
            "payment_intent": intent["id"],
            "charge": intent["latest_charge"],
            "status": status,
            "created": int(time.time()),
            "metadata": params.get("metadata", {}),
        }
        if reason:
            refund["failure_reason"] = reason
        self.refunds[refund["id"]] = refund
        return refund

    def list_refunds(self, params: dict) -> dict:
        """``GET /v1/refunds?payment_intent=…``, newest first, as Stripe lists them."""
        intent = params.get("payment_intent")
        found = [r for r in self.refunds.values() if intent is None or r["payment_intent"] == intent]
        return {"object": "list", "url": "/v1/refunds", "has_more": False, "data": found[::-1]}

    # What the payer does on Stripe's page ----------------------------------------------------------

    #: Test card numbers and what Stripe documents they do once saved.
    CARD_BEHAVIOURS = {
        "4242424242424242": ("visa", "succeed"),
        "5555555555554444": ("mastercard", "succeed"),
        "4000002760003184": ("visa", "authenticate"),
        "4000000000009995": ("visa", "insufficient_funds"),
        "4000000000000002": ("visa", "generic_decline"),
    }

    def complete_setup(
        self, session_id: str, number: str = "4242424242424242", holder: str = "Marie Roy", exp=(12, 2031)
    ) -> dict:
        """The customer saves a card on Stripe's setup page: a PaymentMethod attached to the customer."""
        session = self.sessions[session_id]
        brand, behaviour = self.CARD_BEHAVIOURS[number]
        method_id = f"pm_{secrets.token_hex(12)}"
        self.payment_methods[method_id] = {
            "id": method_id,
            "object": "payment_method",
            "type": "card",
            "customer": session["customer"],
            "billing_details": {"name": holder, "email": None},
            "card": {"brand": brand, "last4": number[-4:], "exp_month": exp[0], "exp_year": exp[1]},
            "_behaviour": behaviour,
        }
        intent = self.setup_intents[session["setup_intent"]]
        intent.update(status="succeeded", payment_method=method_id)
        session["status"] = "complete"
        return self.session(session_id)

    # The pages a browser sees -------------------------------------------------------------------

    def hosted_page(self, kind: str, session_id: str, method: str, form: dict) -> tuple[int, dict, str]:
        """(status, headers, HTML) of the setup (``kind`` "setup") or payment ("pay") page of a
        session; a POST is the customer pressing its button, answered 303 to ``success_url``."""
        session = self.sessions.get(session_id)
        expected = "setup" if kind == "setup" else "payment"
        if session is None or session["mode"] != expected:
            return 404, {}, _page("Page introuvable", "<p>Cette page de paiement n'existe pas.</p>")
        if session["status"] != "open":
            return 410, {}, _page("Session expirée", "<p>Cette session n'est plus ouverte.</p>")
        error = ""
        if method == "POST":
            error = self._submit(session, form)
            if not error:
                back = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id)
                return 303, {"Location": back}, ""
        return (400 if error else 200), {}, self._form_page(session, form, error)

    def _submit(self, session: dict, form: dict) -> str:
        """What Stripe's page says of the card typed, or "" once the session is complete."""
        number = re.sub(r"\D", "", form.get("number", ""))
        expiry = re.fullmatch(r"\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*", form.get("expiry", ""))
        holder = form.get("holder", "").strip()
        if number not in self.CARD_BEHAVIOURS:
            return "Votre numéro de carte est invalide."
        if expiry is None or not 1 <= int(expiry[1]) <= 12:
            return "La date d'expiration de votre carte est incomplète."
        month, year = int(expiry[1]), int(expiry[2]) % 100 + 2000
        if (year, month) < time.gmtime()[:2]:
            return "L'année d'expiration de votre carte est passée."
        if not re.fullmatch(r"\d{3,4}", form.get("cvc", "").strip()):
            return "Le code de sécurité de votre carte est incomplet."
        if not holder:
            return "Le nom du titulaire est obligatoire."
        if session["mode"] == "setup":
            self.complete_setup(session["id"], number=number, holder=holder, exp=(month, year))
            return ""
        if self.CARD_BEHAVIOURS[number][1] not in ("succeed", "authenticate"):
            return "Votre carte a été refusée."
        self.mark_paid(session["id"])  # on the page, an authentication card is authenticated
        return ""

    @staticmethod
    def _form_page(session: dict, form: dict, error: str) -> str:
        setup = session["mode"] == "setup"
        if setup:
            title, button = "Enregistrer une carte", "Enregistrer"
            intro = "Votre carte sera enregistrée pour les prochains paiements."
        else:
            amount = f"{session['amount_total'] / 100:.2f} {session['currency'].upper()}"
            title, button, intro = "Payer", f"Payer {amount}", f"Montant : {amount}"

        def field(name: str, label: str, autocomplete: str, placeholder: str = "") -> str:
            value = html.escape(form.get(name, "")) if name == "holder" else ""
            return (
                f'<label for="{name}">{label}</label>'
                f'<input id="{name}" name="{name}" autocomplete="{autocomplete}" '
                f'placeholder="{placeholder}" value="{value}">'
            )

        body = (
            f"<p>{html.escape(intro)}</p>"
            + (f'<p class="error" role="alert">{html.escape(error)}</p>' if error else "")
            + '<form method="post">'
            + field("number", "Numéro de carte", "cc-number", "1234 1234 1234 1234")
            + field("expiry", "Date d'expiration", "cc-exp", "MM / AA")
            + field("cvc", "CVC", "cc-csc", "CVC")
            + field("holder", "Nom du titulaire de la carte", "cc-name")
            + f"<button>{button}</button></form>"
            + f'<p><a href="{html.escape(session["cancel_url"] or "")}">Annuler</a></p>'
        )
        return _page(title, body)

    def authenticate(self, session_id: str) -> dict:
        """The customer authenticates on the Checkout page opened for an off-session charge: paid."""
        return self.mark_paid(session_id)

    def update_card(self, method_id: str, *, last4: str, exp=(1, 2033)) -> None:
        """The network gave the bank's new card details (Stripe's card automatic updater)."""
        self.payment_methods[method_id]["card"].update(last4=last4, exp_month=exp[0], exp_year=exp[1])

    def detach(self, method_id: str) -> None:
        self.payment_methods[method_id]["customer"] = None

    def method_event(self, event_type: str, method_id: str) -> dict:
        method = {k: v for k, v in self.payment_methods[method_id].items() if not k.startswith("_")}
        return self._event(event_type, method)

    def setup_intent_event(self, session_id: str) -> dict:
        return self._event(
            "setup_intent.succeeded", self.setup_intents[self.sessions[session_id]["setup_intent"]]
        )

    def intent_event(self, event_type: str, intent_id: str) -> dict:
        return self._event(event_type, self.payment_intents[intent_id])

    def mark_paid(self, session_id: str) -> dict:
        return self._complete(session_id, "paid")

    def mark_pending(self, session_id: str) -> dict:
        """Completed with a payment method that settles later (a bank debit): not paid yet."""
        return self._complete(session_id, "unpaid")

    def mark_expired(self, session_id: str) -> dict:
        self.sessions[session_id]["status"] = "expired"
        return self.session(session_id)

    def _complete(self, session_id: str, payment_status: str) -> dict:
        session = self.sessions[session_id]
        intent_id = f"pi_{secrets.token_hex(12)}"
        self.payment_intents[intent_id] = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": session["amount_total"],
            "amount_received": session["amount_total"] if payment_status == "paid" else 0,
            "amount_refunded": 0,
            "currency": session["currency"],
            "latest_charge": f"ch_{secrets.token_hex(12)}",
            "metadata": session["_intent_metadata"],
        }
        session.update(status="complete", payment_status=payment_status, payment_intent=intent_id)
        return self.session(session_id)

    def event(self, event_type: str, session_id: str) -> dict:
        """The event Stripe would send now about this session."""
        return self._event(event_type, self.session(session_id))

    @staticmethod
    def _event(event_type: str, obj: dict) -> dict:
        return {
            "id": f"evt_{secrets.token_hex(12)}",
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": int(time.time()),
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
            "data": {"object": obj},
        }


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="fr"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)} – Stripe (test)</title></head>"
        f"<body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>"
    )
