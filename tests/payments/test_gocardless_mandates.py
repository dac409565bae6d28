"""GoCardless mandates as saved methods (issue 12, item 2): set up through a mandate-only billing
request and its hosted flow, charged without the payer, followed by webhook. The real SDK runs
against the local fake of GoCardless's API."""

import json
from decimal import Decimal

import pytest
import requests

from acquitte.payments.providers import gocardless
from acquitte.payments.providers.base import (
    ChargeResult,
    ChargeStatus,
    HostedSetup,
    MethodEvent,
    MethodStatus,
    ProviderEvent,
    SavedMethod,
    SetupResult,
    WebhookRejected,
)
from acquitte.payments.providers.gocardless import GoCardlessProvider
from tests.payments.fake_gocardless import NEXT_CHARGE_DATE, FakeGoCardless, event, signed_webhook
from tests.payments.fake_providers import GOCARDLESS_TOKENS

SECRET = "gc-webhook-secret"
RETURN_URL = "https://acquitte.example/portail/moyens/retour/7f3a"
CANCEL_URL = "https://acquitte.example/portail/moyens/annule/7f3a"
SETUP_KEY = "setup-acme-42-1"
CHARGE_KEY = "charge-acme-inv-0007-1"


@pytest.fixture
def fake(settings):
    with FakeGoCardless("test") as server:
        settings.GOCARDLESS_API_BASES = {"test": server.url, "live": server.url}
        yield server


@pytest.fixture
def provider(fake):
    return GoCardlessProvider(
        credentials={"access_token": GOCARDLESS_TOKENS["test"], "webhook_secret": SECRET}, mode="test"
    )


def start(provider, *, currency="EUR", key=SETUP_KEY, customer_reference="") -> HostedSetup:
    return provider.start_setup(
        kind="debit",
        customer_reference=customer_reference,
        customer_email="marie@client.example",
        customer_name="Marie Curie",
        currency=currency,
        idempotency_key=key,
        return_url=RETURN_URL,
        cancel_url=CANCEL_URL,
    )


def sent(seen) -> dict:
    return json.loads(seen.body)


@pytest.fixture
def mandate(provider, fake) -> str:
    return fake.fulfil(start(provider).reference)


def charge(provider, mandate, *, key=CHARGE_KEY, amount="49.90", currency="EUR") -> ChargeResult:
    return provider.charge(token=mandate, amount=Decimal(amount), currency=currency, idempotency_key=key)


class TestSetup:
    def test_a_billing_request_asks_only_for_a_mandate_and_its_flow_comes_back_to_us(self, provider, fake):
        setup = start(provider)

        [created] = fake.seen("POST", "/billing_requests")
        assert created.headers["Idempotency-Key"] == SETUP_KEY
        assert sent(created) == {
            "billing_requests": {
                "mandate_request": {"currency": "EUR"},
                "metadata": {"idempotency_key": SETUP_KEY},
            }
        }
        [flow_request] = fake.seen("POST", "/billing_request_flows")
        flow = sent(flow_request)["billing_request_flows"]
        assert (flow["redirect_uri"], flow["exit_uri"]) == (RETURN_URL, CANCEL_URL)
        assert flow["links"] == {"billing_request": setup.reference}
        assert flow["prefilled_customer"] == {
            "email": "marie@client.example",
            "given_name": "Marie",
            "family_name": "Curie",
        }
        [page] = fake.flows.values()
        assert setup == HostedSetup(url=page["authorisation_url"], reference=setup.reference)
        assert setup.reference.startswith("BRQ")

    @pytest.mark.parametrize(
        ("currency", "scheme"), [("EUR", "sepa"), ("CAD", "pad"), ("USD", "ach"), ("GBP", "bacs")]
    )
    def test_gocardless_picks_the_scheme_for_the_currency(self, provider, fake, currency, scheme):
        setup = start(provider, currency=currency.lower())
        fake.fulfil(setup.reference)

        assert provider.setup_result(reference=setup.reference).method.scheme == scheme
        [created] = fake.seen("POST", "/billing_requests")
        assert sent(created)["billing_requests"]["mandate_request"] == {"currency": currency}

    def test_a_customer_gocardless_already_knows_is_linked_not_prefilled(self, provider, fake):
        start(provider, customer_reference="CU000KNOWN")

        [created] = fake.seen("POST", "/billing_requests")
        assert sent(created)["billing_requests"]["links"] == {"customer": "CU000KNOWN"}
        [flow_request] = fake.seen("POST", "/billing_request_flows")
        assert "prefilled_customer" not in sent(flow_request)["billing_request_flows"]

    def test_a_retry_with_the_same_key_gets_the_same_billing_request(self, provider, fake):
        assert start(provider).reference == start(provider).reference
        assert len(fake.billing_requests) == 1

    def test_no_customer_is_made_beforehand(self, provider, fake):
        assert provider.ensure_customer(idempotency_key="customer-1-2", email="a@b.example", name="A") == ""
        assert fake.requests == []

    def test_a_setup_the_payer_has_not_finished_is_open(self, provider):
        setup = start(provider)
        assert provider.setup_result(reference=setup.reference) == SetupResult(status=ChargeStatus.OPEN)

    def test_a_fulfilled_setup_gives_the_mandate_with_the_bank_account_shown(self, provider, fake):
        setup = start(provider)
        mandate = fake.fulfil(setup.reference, holder="Marie Curie", account_ending="42", bank_name="LCL")

        assert provider.setup_result(reference=setup.reference) == SetupResult(
            status=ChargeStatus.SUCCEEDED,
            method=SavedMethod(
                token=mandate,
                scheme="sepa",
                last4="42",
                kind="bank_debit",
                holder="Marie Curie",
                bank_name="LCL",
                customer_reference=fake.billing_requests[setup.reference]["links"]["customer"],
            ),
        )
        assert mandate.startswith("MD")

    def test_a_cancelled_setup_failed_and_an_unknown_one_is_unknown(self, provider, fake):
        setup = start(provider)
        provider.cancel_hosted_payment(reference=setup.reference)

        assert provider.setup_result(reference=setup.reference).status == ChargeStatus.FAILED
        assert provider.setup_result(reference="BRQ000NOPE").status == ChargeStatus.UNKNOWN

    def test_only_direct_debits_are_set_up(self, provider, fake):
        with pytest.raises(ValueError):
            provider.start_setup(
                kind="card",
                customer_reference="",
                customer_email="",
                customer_name="",
                currency="EUR",
                idempotency_key=SETUP_KEY,
                return_url=RETURN_URL,
                cancel_url=CANCEL_URL,
            )
        assert fake.requests == []


class TestCharge:
    def test_a_payment_on_the_mandate_in_cents_with_our_key_pending_until_it_settles(
        self, provider, fake, mandate
    ):
        result = charge(provider, mandate)

        [created] = fake.seen("POST", "/payments")
        assert created.headers["Idempotency-Key"] == CHARGE_KEY
        assert sent(created) == {
            "payments": {
                "amount": 4990,
                "currency": "EUR",
                "links": {"mandate": mandate},
                "metadata": {"idempotency_key": CHARGE_KEY},
            }
        }
        [payment] = fake.payments.values()
        assert payment["charge_date"] == NEXT_CHARGE_DATE  # the earliest the mandate allows
        assert result == ChargeResult(status=ChargeStatus.PENDING, reference=payment["id"])

    def test_the_same_key_twice_makes_one_payment(self, provider, fake, mandate):
        first = charge(provider, mandate)
        again = charge(provider, mandate)

        assert again == first
        assert len(fake.payments) == 1
        assert len(fake.seen("POST", "/payments")) == 2

    def test_a_cancelled_mandate_is_a_failed_charge_and_nothing_is_debited(self, provider, fake, mandate):
        fake.set_mandate_status(mandate, "cancelled")

        result = charge(provider, mandate)

        assert result == ChargeResult(status=ChargeStatus.FAILED, failure_code="mandate_is_inactive")
        assert fake.payments == {}

    def test_a_currency_the_mandate_does_not_take_is_a_failed_charge(self, provider, fake, mandate):
        assert charge(provider, mandate, currency="CAD").status == ChargeStatus.FAILED
        assert fake.payments == {}

    def test_a_debit_that_fails_later_is_a_failed_payment(self, provider, fake, mandate):
        reference = charge(provider, mandate).reference
        fake.set_payment_status(reference, "failed")

        assert provider.payment_status(reference=reference) == ChargeResult(
            status=ChargeStatus.FAILED, reference=reference, failure_code="failed"
        )

    def test_a_timeout_after_gocardless_took_the_payment_is_found_by_key_not_charged_again(
        self, provider, fake, mandate, monkeypatch
    ):
        monkeypatch.setattr(gocardless, "TIMEOUT_SECONDS", 0.3)
        fake.stall_payments = 1.0
        with pytest.raises(requests.Timeout):
            charge(provider, mandate)
        fake.stall_payments = 0.0
        [payment] = fake.payments.values()

        found = provider.fetch_status(idempotency_key=CHARGE_KEY)

        assert found == ChargeResult(status=ChargeStatus.PENDING, reference=payment["id"])
        assert len(fake.seen("POST", "/payments")) == 1
        [query] = fake.listed
        assert query["created_at[gte]"] < payment["created_at"]

    def test_fetch_status_pages_through_the_payments(self, provider, fake, mandate, monkeypatch):
        for number in range(3):
            charge(provider, mandate, key=f"other-{number}")
        charge(provider, mandate)
        monkeypatch.setattr(gocardless, "FETCH_PAGE_SIZE", 2)

        assert provider.fetch_status(idempotency_key=CHARGE_KEY).reference == (
            next(p["id"] for p in fake.payments.values() if p["metadata"]["idempotency_key"] == CHARGE_KEY)
        )
        assert len(fake.listed) == 2

    def test_a_key_gocardless_never_saw_is_unknown(self, provider, fake, mandate):
        charge(provider, mandate)
        assert provider.fetch_status(idempotency_key="never-sent") == ChargeResult(
            status=ChargeStatus.UNKNOWN
        )


class TestWebhook:
    def parse(self, provider, events, secret=SECRET):
        body, headers = signed_webhook(events, secret)
        return provider.parse_webhook(body=body, headers=headers, secret=SECRET)

    def test_mandate_events_become_method_events(self, provider):
        events = [
            event("mandates", "cancelled", cause="bank_account_closed", mandate="MD0001"),
            event("mandates", "expired", mandate="MD0002"),
            event("mandates", "failed", cause="invalid_bank_details", mandate="MD0003"),
            event("mandates", "active", mandate="MD0004"),
            event("mandates", "submitted", mandate="MD0004"),
        ]

        parsed = self.parse(provider, events)

        assert parsed == [
            MethodEvent(
                event_id=events[0]["id"],
                event_type="mandates.cancelled",
                token="MD0001",
                status=MethodStatus.REVOKED,
                payload=events[0],  # the event, which the inbox stores and applies later
            ),
            MethodEvent(
                event_id=events[1]["id"],
                event_type="mandates.expired",
                token="MD0002",
                status=MethodStatus.EXPIRED,
                payload=events[1],  # the event, which the inbox stores and applies later
            ),
            MethodEvent(
                event_id=events[2]["id"],
                event_type="mandates.failed",
                token="MD0003",
                status=MethodStatus.REVOKED,
                payload=events[2],  # the event, which the inbox stores and applies later
            ),
        ]

    def test_a_mandate_only_billing_request_fulfilled_is_a_setup_completed(self, provider):
        events = [
            event(
                "billing_requests",
                "fulfilled",
                billing_request="BRQ0009",
                mandate_request_mandate="MD0009",
                customer="CU0009",
            ),
            event(
                "billing_requests", "fulfilled", billing_request="BRQ0001", payment_request_payment="PM0001"
            ),
        ]

        setup, payment = self.parse(provider, events)

        assert isinstance(setup, ProviderEvent)
        assert (setup.event_type, setup.reference, setup.status) == (
            "setup.completed",
            "BRQ0009",
            ChargeStatus.SUCCEEDED,
        )
        assert (payment.event_type, payment.reference, payment.new_reference) == (
            "billing_requests.fulfilled",
            "BRQ0001",
            "PM0001",
        )

    def test_payment_events_of_a_charge_keep_their_meaning(self, provider):
        events = [
            event("payments", action, payment="PM0007")
            for action in ("confirmed", "paid_out", "failed", "charged_back")
        ]
        parsed = self.parse(provider, events)
        assert [(p.reference, p.status) for p in parsed] == [
            ("PM0007", ChargeStatus.PENDING),
            ("PM0007", ChargeStatus.SUCCEEDED),
            ("PM0007", ChargeStatus.FAILED),
            ("PM0007", ChargeStatus.REVERSED),
        ]

    def test_a_stored_mandate_event_parses_to_the_same_method_event(self, provider):
        [parsed] = self.parse(provider, [event("mandates", "cancelled", mandate="MD0001")])
        stored = json.loads(json.dumps(event("mandates", "cancelled", mandate="MD0001")))
        stored["id"] = parsed.event_id
        assert GoCardlessProvider().parse_payload(stored) == parsed

    def test_a_forged_mandate_cancellation_is_refused(self, provider):
        with pytest.raises(WebhookRejected) as rejected:
            self.parse(provider, [event("mandates", "cancelled", mandate="MD0001")], secret="not-the-secret")
        assert rejected.value.status == 498

    def test_a_mandate_event_without_its_mandate_is_malformed(self, provider):
        with pytest.raises(WebhookRejected):
            self.parse(provider, [event("mandates", "cancelled")])
