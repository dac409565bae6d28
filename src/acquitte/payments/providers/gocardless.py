"""GoCardless: direct debits through Billing Requests and their hosted flow.

One-off: the payer sets up a mandate and approves one payment on GoCardless's page; the debit then
takes days to settle, which GoCardless reports by webhook. Until the payer finishes, our reference is
the billing request ("BRQ…"); once it is fulfilled the payment ("PM…") takes over, since later events
name only the payment — hence ``new_reference``.

Saved: a billing request that asks only for a mandate; the mandate ("MD…") is the saved method, and
payments are then created on it without the payer (``charge``).
"""

import datetime
import hashlib
import hmac
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import gocardless_pro
import requests
from django.conf import settings
from django.utils.translation import gettext as _
from gocardless_pro import errors as gocardless_errors

from acquitte.core.errors import BusinessError, ErrorCode

from .base import (
    ChargeResult,
    ChargeStatus,
    HostedPayment,
    HostedSetup,
    MethodEvent,
    MethodStatus,
    Provider,
    ProviderEvent,
    SavedMethod,
    SetupResult,
    WebhookRejected,
    load_json,
)
from .names import OnlineKind
from .verify import DEFAULT_GOCARDLESS_API_BASES

SIGNATURE_HEADER = "Webhook-Signature"
#: What GoCardless documents as the answer to a webhook whose signature does not match.
INVALID_TOKEN = 498
#: A payer waits on our page while the billing request is opened: better a quick failure than a hang.
TIMEOUT_SECONDS = 10
#: GoCardless refuses metadata values longer than this.
METADATA_VALUE_MAX = 500

#: A payment is only ours once paid out; "confirmed" means collected from the payer, not yet paid to us.
# A billing request's end states, as GoCardless names them.
BILLING_REQUEST_STATUSES = {"fulfilled": ChargeStatus.PENDING, "cancelled": ChargeStatus.UNKNOWN}

PAYMENT_STATUSES = {
    "confirmed": ChargeStatus.PENDING,
    "paid_out": ChargeStatus.SUCCEEDED,
    "failed": ChargeStatus.FAILED,
    "cancelled": ChargeStatus.FAILED,
    "customer_approval_denied": ChargeStatus.FAILED,
    "charged_back": ChargeStatus.REVERSED,
}
PAYMENT_EVENTS = {**PAYMENT_STATUSES, "late_failure_settled": ChargeStatus.REVERSED}
BILLING_REQUEST_EVENTS = {"fulfilled": ChargeStatus.PENDING, "cancelled": ChargeStatus.UNKNOWN}
#: A mandate-only billing request: fulfilled means the mandate exists; cancelled, the payer gave up.
SETUP_STATUSES = {"fulfilled": ChargeStatus.SUCCEEDED, "cancelled": ChargeStatus.FAILED}
#: What becomes of a saved mandate; any other mandate event leaves it usable.
MANDATE_EVENTS = {
    "cancelled": MethodStatus.REVOKED,
    "expired": MethodStatus.EXPIRED,
    "failed": MethodStatus.REVOKED,
}
#: GoCardless's scheme names, in ``PaymentMethod.Scheme`` values where they differ.
SCHEMES = {"sepa_core": "sepa", "sepa_cor1": "sepa"}
#: How far back ``fetch_status`` looks for a payment made with a key: reconciliation asks within
#: minutes, so a month is ample, and it bounds the listing.
FETCH_LOOKBACK = datetime.timedelta(days=31)
#: The most GoCardless returns in one page of a list.
FETCH_PAGE_SIZE = 500
#: Answers that say GoCardless made no payment; anything else (a timeout, its own failure) may hide one.
REFUSALS = (
    gocardless_errors.InvalidStateError,
    gocardless_errors.ValidationFailedError,
    gocardless_errors.InvalidApiUsageError,
    gocardless_errors.AuthenticationError,
    gocardless_errors.PermissionsError,
)
#: A refund GoCardless has not refused is on its way; only these two mean it will not happen.
REFUND_FAILED = {"cancelled", "failed"}


class GoCardlessProvider(Provider):
    name = "gocardless"
    hosted = True

    def start_hosted_payment(
        self,
        *,
        kind: str = "debit",
        amount: Decimal,
        currency: str,
        description: str,
        idempotency_key: str,
        return_url: str,
        cancel_url: str,
        customer_email: str = "",
        customer_name: str = "",
    ) -> HostedPayment:
        """A billing request for one payment plus the mandate it needs, and a flow page for the payer.

        The key goes both as the Idempotency-Key (a retry gets the same billing request back) and in
        the metadata, so that the request can be found from GoCardless's dashboard.
        """
        if kind != OnlineKind.DEBIT:
            raise ValueError(f"GoCardless only takes direct debits, not {kind!r}")
        currency = currency.upper()
        billing_request = self._service("billing_requests").create(
            params={
                "payment_request": {
                    "amount": _minor_units(amount),
                    "currency": currency,
                    "description": description,
                },
                "mandate_request": {"currency": currency},
                "metadata": {"idempotency_key": idempotency_key[:METADATA_VALUE_MAX]},
            },
            headers={"Idempotency-Key": idempotency_key},
        )
        flow: dict[str, Any] = {
            "redirect_uri": return_url,
            "exit_uri": cancel_url,
            "links": {"billing_request": billing_request.id},
        }
        prefilled = _prefilled_customer(customer_email, customer_name)
        if prefilled:
            flow["prefilled_customer"] = prefilled
        page = self._service("billing_request_flows").create(params=flow)
        return HostedPayment(url=page.authorisation_url, reference=billing_request.id)

    def payment_status(self, *, reference: str) -> ChargeResult:
        """Network failures and refusals other than "not found" are raised: they say nothing of the
        payment, and the caller may simply ask again later."""
        try:
            if reference.startswith("PM"):
                return _payment_result(self._service("payments").get(reference))
            return _billing_request_result(self._service("billing_requests").get(reference))
        except gocardless_errors.InvalidApiUsageError as err:
            if err.code == 404:
                return ChargeResult(status=ChargeStatus.UNKNOWN)
            raise

    def cancel_hosted_payment(self, *, reference: str) -> ChargeResult:
        """Cancel the billing request; GoCardless refuses once it is fulfilled (the payer may have
        finished just before following the cancel link), and then the payment says what it is."""
        if not reference.startswith("BRQ"):
            return self.payment_status(reference=reference)
        try:
            self._service("billing_requests").cancel(reference, params={})
        except gocardless_errors.ApiError:
            return self.payment_status(reference=reference)
        return ChargeResult(status=ChargeStatus.UNKNOWN)

    def ensure_customer(self, *, idempotency_key: str, email: str, name: str) -> str:
        """None to make: GoCardless creates the customer with the mandate, in the billing request
        (the payer types their details in its flow); ``setup_result`` gives back its id."""
        return ""

    def start_setup(
        self,
        *,
        kind: str,
        customer_reference: str,
        customer_email: str,
        customer_name: str,
        currency: str,
        idempotency_key: str,
        return_url: str,
        cancel_url: str,
    ) -> HostedSetup:
        """A billing request asking only for a mandate, and its flow page.

        Only the currency is given, as GoCardless recommends: it picks the scheme for it (SEPA Core
        for EUR, PAD for CAD, ACH for USD, Bacs for GBP), which ``setup_result`` reads back. A
        customer GoCardless already knows (an earlier mandate) is linked, so that their mandates
        stay under one customer.
        """
        if kind not in (OnlineKind.DEBIT, "bank_debit"):
            raise ValueError(f"GoCardless only sets up direct debits, not {kind!r}")
        params: dict[str, Any] = {
            "mandate_request": {"currency": currency.upper()},
            "metadata": {"idempotency_key": idempotency_key[:METADATA_VALUE_MAX]},
        }
        if customer_reference:
            params["links"] = {"customer": customer_reference}
        billing_request = self._service("billing_requests").create(
            params=params, headers={"Idempotency-Key": idempotency_key}
        )
        flow: dict[str, Any] = {
            "redirect_uri": return_url,
            "exit_uri": cancel_url,
            "links": {"billing_request": billing_request.id},
        }
        prefilled = {} if customer_reference else _prefilled_customer(customer_email, customer_name)
        if prefilled:
            flow["prefilled_customer"] = prefilled
        page = self._service("billing_request_flows").create(params=flow)
        return HostedSetup(url=page.authorisation_url, reference=billing_request.id)

    def setup_result(self, *, reference: str) -> SetupResult:
        """The billing request's state; once fulfilled, its mandate with the bank account's display
        details (GoCardless gives only the last two digits of the account number)."""
        try:
            billing_request = self._service("billing_requests").get(reference)
        except gocardless_errors.InvalidApiUsageError as err:
            if err.code == 404:
                return SetupResult(status=ChargeStatus.UNKNOWN)
            raise
        data: dict[str, Any] = billing_request.attributes
        status = SETUP_STATUSES.get(data.get("status") or "", ChargeStatus.OPEN)
        links = data.get("links") or {}
        mandate = links.get("mandate_request_mandate") or ""
        if status != ChargeStatus.SUCCEEDED:
            return SetupResult(status=status)
        if not mandate:  # fulfilled yet naming no mandate: not one we asked for, nothing to save
            return SetupResult(status=ChargeStatus.FAILED)
        account = (data.get("resources") or {}).get("customer_bank_account") or {}
        if not account and links.get("customer_bank_account"):
            account = self._service("customer_bank_accounts").get(links["customer_bank_account"]).attributes
        scheme = str((data.get("mandate_request") or {}).get("scheme") or "")
        return SetupResult(
            status=ChargeStatus.SUCCEEDED,
            method=SavedMethod(
                token=str(mandate),
                scheme=SCHEMES.get(scheme, scheme),
                last4=str(account.get("account_number_ending") or ""),
                kind="bank_debit",
                holder=str(account.get("account_holder_name") or ""),
                bank_name=str(account.get("bank_name") or ""),
                customer_reference=str(links.get("customer") or ""),
            ),
        )

    def charge(
        self,
        *,
        token: str,
        amount: Decimal,
        currency: str,
        idempotency_key: str,
        customer_reference: str = "",
    ) -> ChargeResult:
        """A payment on the mandate ``token``, collected on the earliest date the mandate allows:
        GoCardless's reference says a payment without ``charge_date`` is collected as soon as
        possible (a date before the mandate's next_possible_charge_date would be refused), and the
        payment it returns carries the date it chose.

        The key goes as the Idempotency-Key (the same key again returns the same payment: the SDK
        fetches it from the conflict GoCardless answers) and in the metadata, where ``fetch_status``
        finds it. A refusal (an inactive mandate, a bad currency) is a failed charge; a network
        error or a GoCardless failure is raised: the payment may exist, and reconciliation asks.
        """
        try:
            payment = self._service("payments").create(
                params={
                    "amount": _minor_units(amount),
                    "currency": currency.upper(),
                    "links": {"mandate": token},
                    "metadata": {"idempotency_key": idempotency_key[:METADATA_VALUE_MAX]},
                },
                headers={"Idempotency-Key": idempotency_key},
            )
        except REFUSALS as err:
            return ChargeResult(status=ChargeStatus.FAILED, failure_code=_reason(err))
        return _payment_result(payment)

    def fetch_status(self, *, idempotency_key: str) -> ChargeResult:
        """The payment carrying our key in its metadata, among the last month's: GoCardless offers
        no search by key, and no payment there means the create never reached it (``unknown``).
        Hosted one-off payments are reconciled by reference (``payment_status``) instead."""
        since = datetime.datetime.now(datetime.UTC) - FETCH_LOOKBACK
        wanted = idempotency_key[:METADATA_VALUE_MAX]
        payments = self._service("payments").all(
            params={"created_at[gte]": since.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "limit": FETCH_PAGE_SIZE}
        )
        for payment in payments:
            if (payment.metadata or {}).get("idempotency_key") == wanted:
                return _payment_result(payment)
        return ChargeResult(status=ChargeStatus.UNKNOWN)

    def refund(
        self, *, reference: str, amount: Decimal, currency: str = "", idempotency_key: str = ""
    ) -> ChargeResult:
        """Refund part or all of the payment ``reference`` ("PM…").

        GoCardless wants the payment's total refunded amount, this refund included, as a
        confirmation; it is read from the payment itself so that a second partial refund works.
        Our key goes in the refund's metadata too, so that ``refund_status`` can find it.
        """
        cents = _minor_units(amount)
        try:
            payment = self._service("payments").get(reference)
        except gocardless_errors.ApiError as err:
            raise _refused(err) from err
        except (requests.RequestException, gocardless_errors.GoCardlessProError) as err:
            raise BusinessError(
                _(
                    "GoCardless est injoignable ; aucun remboursement n'a été fait. Réessayez dans un instant."
                ),
                code=ErrorCode.PROVIDER_UNAVAILABLE,
            ) from err
        if currency and currency.upper() != payment.currency:
            raise BusinessError(
                _("Ce paiement GoCardless est en %(payment)s, pas en %(refund)s.")
                % {"payment": payment.currency, "refund": currency.upper()},
                code=ErrorCode.CURRENCY_MISMATCH,
            )
        try:
            refund = self._service("refunds").create(
                params={
                    "amount": cents,
                    "total_amount_confirmation": (payment.amount_refunded or 0) + cents,
                    "links": {"payment": reference},
                    **(
                        {"metadata": {"idempotency_key": idempotency_key[:METADATA_VALUE_MAX]}}
                        if idempotency_key
                        else {}
                    ),
                },
                headers={"Idempotency-Key": idempotency_key} if idempotency_key else None,
            )
        except gocardless_errors.ApiError as err:
            raise _refused(err) from err
        except (requests.RequestException, gocardless_errors.GoCardlessProError) as err:
            raise BusinessError(
                _(
                    "GoCardless n'a pas répondu comme prévu : le remboursement a pu être fait ou non. "
                    "Vérifiez-le dans votre tableau de bord GoCardless avant de réessayer."
                ),
                code=ErrorCode.PROVIDER_UNAVAILABLE,
            ) from err
        return ChargeResult(status=ChargeStatus.PENDING, reference=refund.id)

    def refund_status(self, *, reference: str, idempotency_key: str) -> ChargeResult:
        """The refunds of the payment, searched for the one carrying our key in its metadata."""
        refunds = self._service("refunds").all(params={"payment": reference})
        for refund in refunds:
            if (refund.metadata or {}).get("idempotency_key") == idempotency_key[:METADATA_VALUE_MAX]:
                failed = refund.status in REFUND_FAILED
                return ChargeResult(
                    status=ChargeStatus.FAILED if failed else ChargeStatus.PENDING,
                    reference=refund.id,
                    failure_code=refund.status if failed else "",
                )
        return ChargeResult(status=ChargeStatus.UNKNOWN)

    def parse_webhook(
        self, *, body: bytes, headers: Mapping[str, str], secret: str
    ) -> list[ProviderEvent | MethodEvent]:
        """GoCardless signs the raw body, with no timestamp: a replayed delivery is harmless anyway,
        since each event is stored once by its id."""
        given = headers.get(SIGNATURE_HEADER) or ""
        if not secret or not given:
            raise WebhookRejected("missing signature", INVALID_TOKEN)
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), given.strip().encode()):
            raise WebhookRejected("bad signature", INVALID_TOKEN)
        try:
            events = load_json(body)["events"]
        except (ValueError, KeyError, TypeError) as exc:
            raise WebhookRejected("malformed body", 400) from exc
        if not isinstance(events, list):
            raise WebhookRejected("malformed body", 400)
        return [parsed for parsed in map(_normalise, events) if parsed is not None]

    def parse_payload(self, payload: dict[str, Any]) -> ProviderEvent | MethodEvent:
        parsed = _normalise(payload)
        if parsed is None:
            raise WebhookRejected("event not handled", 400)
        return parsed

    def _service(self, name: str) -> Any:
        """One SDK service without its automatic retries: whether to retry is the caller's call."""
        bases = getattr(settings, "GOCARDLESS_API_BASES", DEFAULT_GOCARDLESS_API_BASES)
        client = gocardless_pro.Client(
            access_token=self.credentials.get("access_token", ""),
            base_url=bases[self.mode],
            timeout=TIMEOUT_SECONDS,
        )
        service = getattr(client, name)
        service.max_network_retries = 1
        return service


def _minor_units(amount: Decimal) -> int:
    """GoCardless counts in cents; a fraction of a cent is a bug upstream, not something to round."""
    cents = Decimal(amount) * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"{amount} is not a whole number of cents")
    return int(cents)


def _prefilled_customer(email: str, name: str) -> dict[str, str]:
    """Saves the payer typing what we already know; GoCardless wants the name in two parts."""
    given_name, _space, family_name = name.strip().partition(" ")
    prefilled = {"email": email, "given_name": given_name, "family_name": family_name.strip()}
    return {field: value for field, value in prefilled.items() if value}


def _billing_request_result(billing_request: Any) -> ChargeResult:
    status = BILLING_REQUEST_STATUSES.get(billing_request.status, ChargeStatus.OPEN)
    if status == ChargeStatus.PENDING:
        return ChargeResult(status=status, reference=billing_request.links.payment_request_payment or "")
    return ChargeResult(status=status)


def _payment_result(payment: Any) -> ChargeResult:
    """A failed payment's cause is only in its events; its status says enough to show."""
    status = PAYMENT_STATUSES.get(payment.status, ChargeStatus.PENDING)
    failed = status in (ChargeStatus.FAILED, ChargeStatus.REVERSED)
    return ChargeResult(status=status, reference=payment.id, failure_code=payment.status if failed else "")


def _reason(err: gocardless_errors.ApiError) -> str:
    """GoCardless's machine-readable reason (mandate_is_inactive, validation_failed…)."""
    errors = err.errors or []
    return str((errors[0].get("reason") if errors else "") or err.type or "refused")


def _refused(err: gocardless_errors.ApiError) -> BusinessError:
    return BusinessError(
        _("GoCardless a refusé ce remboursement : %(reason)s") % {"reason": err},
        code=ErrorCode.REFUND_REFUSED,
    )


def _normalise(event: dict[str, Any]) -> ProviderEvent | MethodEvent | None:
    """The event in our terms, None for one the app does not act on; WebhookRejected if malformed.

    A fulfilled billing request with a payment is a one-off payment going on; one without (it
    asked only for a mandate) is a method setup completed, reported under the billing request.
    """
    try:
        resource, action, links = event["resource_type"], event["action"], event.get("links") or {}
        event_id = str(event["id"])
        if resource == "mandates" and action in MANDATE_EVENTS:
            return MethodEvent(
                event_id=event_id,
                event_type=f"{resource}.{action}",
                token=str(links["mandate"]),
                status=MANDATE_EVENTS[action],
                # The event itself is stored, not the delivery of up to 250 that brought it.
                payload=event,
            )
        new_reference = ""
        event_type = f"{resource}.{action}"
        if (
            resource == "billing_requests"
            and action == "fulfilled"
            and not links.get("payment_request_payment")
        ):
            reference, status, event_type = (
                links["billing_request"],
                ChargeStatus.SUCCEEDED,
                "setup.completed",
            )
        elif resource == "billing_requests" and action in BILLING_REQUEST_EVENTS:
            reference, status = links["billing_request"], BILLING_REQUEST_EVENTS[action]
            if action == "fulfilled":
                new_reference = links.get("payment_request_payment") or ""
        elif resource == "payments" and action in PAYMENT_EVENTS:
            reference, status = links["payment"], PAYMENT_EVENTS[action]
        else:
            return None
        return ProviderEvent(
            event_id=event_id,
            event_type=event_type,
            reference=str(reference),
            status=status,
            payload=event,
            new_reference=str(new_reference),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise WebhookRejected("malformed event", 400) from exc
