"""Provider credentials are checked with the real SDKs, against local fakes of the providers' APIs."""

import base64
import socket
import urllib.error
import urllib.request

import pytest

from acquitte.payments.providers.verify import CredentialsRejected, Verified, verify_credentials
from tests.payments.fake_providers import (
    GOCARDLESS_CREDITORS,
    GOCARDLESS_TOKENS,
    GOCARDLESS_VERSION,
    PAYPAL_APP_IDS,
    PAYPAL_CLIENTS,
    STRIPE_FAILING_KEY,
    STRIPE_LIVE_KEY,
    STRIPE_RESTRICTED_KEY,
    STRIPE_TEST_KEY,
    FakeProviders,
)

WEBHOOK_SECRET = "whsec_FakeWebhookSecret"


@pytest.fixture
def sandbox():
    with FakeProviders("test") as fake:
        yield fake


@pytest.fixture
def live():
    with FakeProviders("live") as fake:
        yield fake


@pytest.fixture(autouse=True)
def provider_hosts(settings, sandbox, live):
    settings.STRIPE_API_BASE = sandbox.url
    settings.GOCARDLESS_API_BASES = {"test": sandbox.url, "live": live.url}
    settings.PAYPAL_API_BASES = {"test": sandbox.url, "live": live.url}


@pytest.fixture
def closed_url():
    """A local port nobody listens on: connecting fails at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def stripe(secret_key, webhook_secret=WEBHOOK_SECRET):
    return verify_credentials(
        provider="stripe", credentials={"secret_key": secret_key, "webhook_secret": webhook_secret}
    )


def gocardless(access_token):
    return verify_credentials(
        provider="gocardless", credentials={"access_token": access_token, "webhook_secret": "gc-secret"}
    )


def paypal(client, mode):
    client_id, client_secret = client
    return verify_credentials(
        provider="paypal", credentials={"client_id": client_id, "client_secret": client_secret}, mode=mode
    )


class TestStripe:
    def test_a_test_key_names_the_account_by_its_dashboard_name(self, sandbox):
        assert stripe(STRIPE_TEST_KEY) == Verified(mode="test", account_name="Boulangerie Martin")
        [seen] = sandbox.requests
        assert (seen.method, seen.path) == ("GET", "/v1/account")
        assert seen.headers["Authorization"] == f"Bearer {STRIPE_TEST_KEY}"

    def test_a_live_key_without_a_display_name_falls_back_to_the_email(self):
        assert stripe(STRIPE_LIVE_KEY) == Verified(mode="live", account_name="compta@atelier.example")

    def test_an_unknown_key_is_rejected(self, sandbox):
        with pytest.raises(CredentialsRejected, match="Stripe a refusé"):
            stripe("sk_test_51NotAKnownKey000000000000000")
        assert len(sandbox.requests) == 1

    def test_a_restricted_key_that_cannot_read_the_account_is_rejected(self):
        with pytest.raises(CredentialsRejected, match="restreinte"):
            stripe(STRIPE_RESTRICTED_KEY)

    def test_a_failure_on_stripe_side_asks_to_retry_later(self):
        with pytest.raises(CredentialsRejected, match="Réessayez plus tard"):
            stripe(STRIPE_FAILING_KEY)

    @pytest.mark.parametrize("key", ["pk_test_51FakePublishableKey", "sk_51NoMode", "whsec_abc"])
    def test_a_key_that_is_not_a_secret_key_is_rejected_without_asking_stripe(self, sandbox, key):
        with pytest.raises(CredentialsRejected, match="clé secrète Stripe"):
            stripe(key)
        assert sandbox.requests == []

    def test_a_webhook_secret_without_its_prefix_is_rejected_without_asking_stripe(self, sandbox):
        with pytest.raises(CredentialsRejected, match="whsec_"):
            stripe(STRIPE_TEST_KEY, webhook_secret="FakeWebhookSecret")
        assert sandbox.requests == []

    def test_an_unreachable_stripe_is_reported_as_such(self, settings, closed_url):
        settings.STRIPE_API_BASE = closed_url
        with pytest.raises(CredentialsRejected, match="Impossible de joindre Stripe"):
            stripe(STRIPE_TEST_KEY)


class TestGoCardless:
    @pytest.mark.parametrize("mode", ["test", "live"])
    def test_the_token_prefix_picks_the_environment_and_the_creditor_names_the_account(
        self, sandbox, live, mode
    ):
        verified = gocardless(GOCARDLESS_TOKENS[mode])

        assert verified == Verified(mode=mode, account_name=GOCARDLESS_CREDITORS[mode])
        asked, other = (sandbox, live) if mode == "test" else (live, sandbox)
        [seen] = asked.requests
        assert (seen.method, seen.path) == ("GET", "/creditors")
        assert seen.headers["Authorization"] == f"Bearer {GOCARDLESS_TOKENS[mode]}"
        assert seen.headers["GoCardless-Version"] == GOCARDLESS_VERSION
        assert other.requests == []

    def test_an_unknown_token_is_rejected(self):
        with pytest.raises(CredentialsRejected, match="GoCardless a refusé"):
            gocardless("sandbox_NotAKnownToken")

    def test_a_token_without_an_environment_prefix_is_rejected_without_asking_gocardless(self, sandbox, live):
        with pytest.raises(CredentialsRejected, match="sandbox_ ou live_"):
            gocardless("FakeToken000000000000")
        assert sandbox.requests == live.requests == []

    def test_an_unreachable_gocardless_is_reported_as_such(self, settings, closed_url):
        settings.GOCARDLESS_API_BASES = {"test": closed_url, "live": closed_url}
        with pytest.raises(CredentialsRejected, match="Impossible de joindre GoCardless"):
            gocardless(GOCARDLESS_TOKENS["test"])

    def test_the_fake_refuses_a_request_without_the_version_header_like_the_real_api(self, sandbox):
        request = urllib.request.Request(
            f"{sandbox.url}/creditors", headers={"Authorization": f"Bearer {GOCARDLESS_TOKENS['test']}"}
        )
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(request, timeout=5)
        assert error.value.code == 400


class TestPayPal:
    @pytest.mark.parametrize("mode", ["test", "live"])
    def test_a_token_is_granted_and_the_app_names_the_account(self, sandbox, live, mode):
        verified = paypal(PAYPAL_CLIENTS[mode], mode)

        assert verified == Verified(mode=mode, account_name=PAYPAL_APP_IDS[mode])
        [seen] = (sandbox if mode == "test" else live).requests
        assert (seen.method, seen.path) == ("POST", "/v1/oauth2/token")
        expected = base64.b64encode(":".join(PAYPAL_CLIENTS[mode]).encode()).decode()
        assert seen.headers["Authorization"] == f"Basic {expected}"
        assert seen.body == b"grant_type=client_credentials"

    def test_a_wrong_secret_is_rejected(self):
        client_id, _secret = PAYPAL_CLIENTS["test"]
        with pytest.raises(CredentialsRejected, match="PayPal a refusé"):
            paypal((client_id, "EWrongSecret"), "test")

    def test_sandbox_credentials_do_not_work_in_live_mode(self, live):
        with pytest.raises(CredentialsRejected, match="PayPal a refusé"):
            paypal(PAYPAL_CLIENTS["test"], "live")
        assert len(live.requests) == 1

    def test_the_mode_must_be_given(self, sandbox, live):
        with pytest.raises(ValueError):
            paypal(PAYPAL_CLIENTS["test"], "")
        assert sandbox.requests == live.requests == []

    def test_an_unreachable_paypal_is_reported_as_such(self, settings, closed_url):
        settings.PAYPAL_API_BASES = {"test": closed_url, "live": closed_url}
        with pytest.raises(CredentialsRejected, match="Impossible de joindre PayPal"):
            paypal(PAYPAL_CLIENTS["test"], "test")


def test_a_missing_field_is_rejected_without_any_request(sandbox):
    with pytest.raises(CredentialsRejected, match="webhook_secret"):
        verify_credentials(provider="stripe", credentials={"secret_key": STRIPE_TEST_KEY})
    assert sandbox.requests == []


def test_an_unknown_provider_is_a_programming_error():
    with pytest.raises(ValueError):
        verify_credentials(provider="sandbox", credentials={})
