"""Connecting a provider in a few clicks (seed 004, issue 12 item 6), through the back office's own
URLs, with the real SDKs against a local fake of each provider's consent and token endpoints."""

import datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.db import connection
from django.test import Client
from django.utils import timezone

from acquitte.core.errors import BusinessError
from acquitte.payments import secrets as stored_secrets
from acquitte.payments import services as payments
from acquitte.payments.models import ProviderAccount
from acquitte.payments.providers import get_provider
from acquitte.payments.providers.oauth import OAuthFailed
from acquitte.payments.services import oauth as oauth_service
from tests import factories
from tests.payments import fake_oauth
from tests.payments.fake_oauth import FakeOAuth

SETTINGS = "/gestion/reglages/paiement/"
PROVIDERS = ["stripe", "gocardless", "paypal"]


@pytest.fixture
def fake(settings):
    with FakeOAuth() as server:
        server.settings(settings)
        yield server


@pytest.fixture
def owner(org_qc):
    return factories.staff(org_qc)


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


def start(client: Client, provider: str, **data) -> str:
    """POST the "Connecter avec …" button; the provider's consent page it sends us to."""
    response = client.post(f"{SETTINGS}{provider}/autoriser/", data)
    assert response.status_code == 302, response.content
    return response["Location"]


def consent(url: str) -> str:
    """What the provider's page sends the merchant back to: our return path and its query."""
    answer = requests.get(url, allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    back = urlsplit(answer.headers["Location"])
    return f"{back.path}?{back.query}"


def come_back(client: Client, path: str) -> list[str]:
    response = client.get(path, follow=True)
    assert response.redirect_chain[-1][0] == SETTINGS
    return [str(m) for m in response.context["messages"]]


def stored_row(org, provider: str) -> dict:
    with connection.cursor() as cursor:
        cursor.execute(
            "select credentials_encrypted from payments_provideraccount where organisation_id = %s and provider = %s",
            [org.pk, provider],
        )
        (encrypted,) = cursor.fetchone()
    return {"raw": encrypted}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_connect_in_a_few_clicks_stores_the_token_encrypted(provider, fake, owner_client, org_qc):
    page = owner_client.get(SETTINGS).content.decode()
    assert "Connecter avec Stripe" in page and "Créer un compte GoCardless" in page
    url = start(owner_client, provider)
    query = parse_qs(urlsplit(url).query)
    if provider != "paypal":
        assert query["scope"] == ["read_write"] and query["response_type"] == ["code"]
        assert len(query["state"][0]) >= 43
        assert urlsplit(query["redirect_uri"][0]).path == f"{SETTINGS}{provider}/retour/"
    messages = come_back(owner_client, consent(url))
    assert any("est connecté" in m for m in messages), messages
    account = ProviderAccount.objects.get(organisation=org_qc, provider=provider)
    assert account.connected_by_oauth and account.mode == ProviderAccount.Mode.TEST
    credentials = stored_secrets.decrypt(account.credentials_encrypted)
    raw = stored_row(org_qc, provider)["raw"]
    if provider == "stripe":
        assert account.external_account_id == fake_oauth.STRIPE_ACCOUNT_ID
        assert credentials["secret_key"].startswith("sk_test_oauth_")
        assert credentials["webhook_secret"].startswith("whsec_")
        endpoint = fake.state.webhook_endpoints[credentials["webhook_endpoint_id"]]
        assert endpoint["url"].endswith(f"/webhooks/stripe/{org_qc.slug}/") or org_qc.slug in endpoint["url"]
        assert "checkout.session.completed" in endpoint["enabled_events"]
        assert account.account_name == "Boutique connectée"
        secret = credentials["secret_key"]
        # The provider reads the token the way it reads a pasted key.
        assert get_provider("stripe", account).credentials["secret_key"] == secret
    elif provider == "gocardless":
        assert account.external_account_id == fake_oauth.GOCARDLESS_ORGANISATION
        secret = credentials["access_token"]
        assert secret.startswith("sandbox_oauth_")
        assert account.account_name == "Atelier connecté (sandbox)"
        assert get_provider("gocardless", account).credentials["access_token"] == secret
    else:
        assert account.external_account_id == fake_oauth.PAYPAL_MERCHANT_ID
        secret = credentials["merchant_id"]
        referral = next(iter(fake.state.referrals.values()))
        assert referral["tracking_id"] == f"acquitte-{org_qc.pk}"
        assert (
            referral["operations"][0]["api_integration_preference"]["rest_api_integration"][
                "integration_type"
            ]
            == "THIRD_PARTY"
        )
    assert secret not in raw
    if provider != "paypal":  # a PayPal merchant id is no secret: the page shows it
        assert secret not in owner_client.get(SETTINGS).content.decode()


def test_signup_opens_the_providers_account_creation(fake, owner_client):
    stripe_url = start(owner_client, "stripe", signup="1")
    assert parse_qs(urlsplit(stripe_url).query)["stripe_landing"] == ["register"]
    assert parse_qs(urlsplit(start(owner_client, "stripe")).query)["stripe_landing"] == ["login"]
    gocardless_url = start(owner_client, "gocardless", signup="1")
    assert parse_qs(urlsplit(gocardless_url).query)["initial_view"] == ["signup"]
    assert gocardless_url.startswith(f"{fake.url}/gc-connect/oauth/authorize?")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_refused_consent_connects_nothing(provider, fake, owner_client, org_qc):
    fake.state.refuse = True
    messages = come_back(owner_client, consent(start(owner_client, provider)))
    assert any("refusé l'accès" in m for m in messages), messages
    assert not ProviderAccount.objects.filter(organisation=org_qc, provider=provider).exists()


@pytest.mark.parametrize("provider", ["stripe", "gocardless"])
def test_a_replayed_state_connects_nothing_more(provider, fake, owner_client, org_qc):
    back = consent(start(owner_client, provider))
    come_back(owner_client, back)
    ProviderAccount.objects.filter(organisation=org_qc, provider=provider).delete()
    messages = come_back(owner_client, back)
    assert any("déjà servi" in m for m in messages), messages
    assert not ProviderAccount.objects.filter(organisation=org_qc, provider=provider).exists()


def test_an_expired_state_connects_nothing(fake, owner_client, org_qc, monkeypatch):
    back = consent(start(owner_client, "gocardless"))
    later = timezone.now() + datetime.timedelta(minutes=11)
    monkeypatch.setattr(oauth_service.timezone, "now", lambda: later)
    messages = come_back(owner_client, back)
    assert any("expiré" in m for m in messages), messages
    assert not ProviderAccount.objects.filter(organisation=org_qc).exclude(provider="sandbox").exists()
    # The code was never exchanged: the fake still holds it unused.
    assert not any(r.path.endswith("/access_token") for r in fake.state.requests)


def test_an_unknown_state_connects_nothing(fake, owner_client, org_qc):
    back = consent(start(owner_client, "stripe"))
    forged = back.replace("state=", "state=x")
    messages = come_back(owner_client, forged)
    assert any("inconnue" in m for m in messages), messages
    assert not ProviderAccount.objects.filter(organisation=org_qc, provider="stripe").exists()


def test_another_organisations_state_connects_nothing(fake, owner_client, org_qc, org_fr):
    back = consent(start(owner_client, "stripe"))
    other = Client()
    other.force_login(factories.staff(org_fr, email="patron@atelier.example"))
    messages = come_back(other, back)
    assert any("autre personne" in m for m in messages), messages
    assert not ProviderAccount.objects.filter(provider="stripe").exists()
    assert not any(r.path.endswith("/oauth/token") for r in fake.state.requests)


def test_another_users_state_connects_nothing(fake, owner_client, org_qc):
    back = consent(start(owner_client, "gocardless"))
    colleague = Client()
    colleague.force_login(factories.staff(org_qc, email="associe@example.test"))
    messages = come_back(colleague, back)
    assert any("autre personne" in m for m in messages), messages
    assert not ProviderAccount.objects.filter(provider="gocardless").exists()


def test_a_non_owner_can_neither_start_nor_finish(fake, owner_client, org_qc):
    back = consent(start(owner_client, "stripe"))
    accountant = Client()
    accountant.force_login(factories.staff(org_qc, email="compta@example.test", role="accountant"))
    assert "Connecter avec Stripe" not in accountant.get(SETTINGS).content.decode()
    assert accountant.post(f"{SETTINGS}stripe/autoriser/").status_code == 403
    assert accountant.get(back).status_code == 403
    assert not ProviderAccount.objects.filter(provider="stripe").exists()


def test_the_start_is_a_post_checked_against_csrf(fake, owner, org_qc):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(owner)
    assert browser.get(f"{SETTINGS}stripe/autoriser/").status_code == 405
    assert browser.post(f"{SETTINGS}stripe/autoriser/").status_code == 403


def test_without_platform_credentials_only_key_pasting_is_offered(owner_client, settings):
    settings.STRIPE_CONNECT_CLIENT_ID = ""
    settings.GOCARDLESS_CLIENT_ID = ""
    settings.PAYPAL_PARTNER_CLIENT_ID = ""
    page = owner_client.get(SETTINGS).content.decode()
    assert "Connecter avec" not in page and "Vérifier et connecter" in page
    messages = [
        str(m) for m in owner_client.post(f"{SETTINGS}stripe/autoriser/", follow=True).context["messages"]
    ]
    assert any("collez vos clés" in m for m in messages), messages


@pytest.mark.parametrize("provider", ["stripe", "gocardless"])
def test_disconnect_revokes_at_the_provider(provider, fake, owner_client, org_qc):
    come_back(owner_client, consent(start(owner_client, provider)))
    account = ProviderAccount.objects.get(organisation=org_qc, provider=provider)
    credentials = stored_secrets.decrypt(account.credentials_encrypted)
    response = owner_client.post(f"{SETTINGS}{provider}/deconnecter/", follow=True)
    assert any(str(m) == "Prestataire déconnecté." for m in response.context["messages"])
    assert not ProviderAccount.objects.filter(organisation=org_qc, provider=provider).exists()
    if provider == "stripe":
        assert fake.state.revoked == [fake_oauth.STRIPE_ACCOUNT_ID]
        assert credentials["webhook_endpoint_id"] not in fake.state.webhook_endpoints
    else:
        assert fake.state.revoked == [credentials["access_token"]]


def test_a_provider_down_does_not_block_the_disconnection(fake, owner_client, org_qc):
    come_back(owner_client, consent(start(owner_client, "stripe")))
    fake.state.down = True
    response = owner_client.post(f"{SETTINGS}stripe/deconnecter/", follow=True)
    messages = [str(m) for m in response.context["messages"]]
    assert any("tableau de bord Stripe" in m for m in messages), messages
    assert not ProviderAccount.objects.filter(organisation=org_qc, provider="stripe").exists()


def test_paypal_seller_who_cannot_take_payments_yet_is_told(fake, owner_client, org_qc):
    fake.state.payments_receivable = False
    messages = come_back(owner_client, consent(start(owner_client, "paypal")))
    assert any("ne peut pas encore recevoir" in m for m in messages), messages
    assert not ProviderAccount.objects.filter(organisation=org_qc, provider="paypal").exists()


def test_pasting_keys_after_oauth_clears_the_oauth_marks(fake, owner_client, org_qc, owner):
    come_back(owner_client, consent(start(owner_client, "gocardless")))
    account = ProviderAccount.objects.get(organisation=org_qc, provider="gocardless")
    oauth_token = stored_secrets.decrypt(account.credentials_encrypted)["access_token"]
    fake.state.tokens.add("sandbox_Pasted000")
    payments.connect_provider(
        organisation=org_qc,
        provider="gocardless",
        credentials={"access_token": "sandbox_Pasted000", "webhook_secret": "s"},
        actor=owner,
    )
    account.refresh_from_db()
    assert not account.connected_by_oauth and account.external_account_id == ""
    # The platform's access that the pasted keys replace is revoked.
    assert fake.state.revoked == [oauth_token]


def test_the_service_refuses_a_missing_code(fake, org_qc, owner):
    url = payments.start_connect(
        organisation=org_qc, provider="stripe", actor=owner, return_url="https://app.example/retour/"
    )
    state = parse_qs(urlsplit(url).query)["state"][0]
    with pytest.raises(BusinessError, match="code d'autorisation"):
        payments.finish_connect(organisation=org_qc, provider="stripe", state=state, params={}, actor=owner)
    assert not ProviderAccount.objects.filter(provider="stripe").exists()


def test_connecting_stripe_again_drops_the_old_endpoint_but_keeps_the_account(fake, owner_client, org_qc):
    come_back(owner_client, consent(start(owner_client, "stripe")))
    first = stored_secrets.decrypt(ProviderAccount.objects.get(provider="stripe").credentials_encrypted)
    come_back(owner_client, consent(start(owner_client, "stripe")))
    second = stored_secrets.decrypt(ProviderAccount.objects.get(provider="stripe").credentials_encrypted)
    assert second["secret_key"] != first["secret_key"]
    # Deauthorising the account would undo the new grant: only the old endpoint goes.
    assert fake.state.revoked == []
    assert set(fake.state.webhook_endpoints) == {second["webhook_endpoint_id"]}


def test_connecting_gocardless_again_revokes_the_old_token(fake, owner_client, org_qc):
    come_back(owner_client, consent(start(owner_client, "gocardless")))
    first = stored_secrets.decrypt(ProviderAccount.objects.get(provider="gocardless").credentials_encrypted)
    come_back(owner_client, consent(start(owner_client, "gocardless")))
    second = stored_secrets.decrypt(ProviderAccount.objects.get(provider="gocardless").credentials_encrypted)
    assert fake.state.revoked == [first["access_token"]] and second["access_token"] != first["access_token"]


def test_a_provider_down_does_not_block_the_new_connection(fake, owner_client, org_qc, owner, monkeypatch):
    come_back(owner_client, consent(start(owner_client, "gocardless")))

    def down(**kwargs):
        raise OAuthFailed("GoCardless est injoignable.", unavailable=True)

    monkeypatch.setattr("acquitte.payments.providers.oauth.revoke", down)
    fake.state.tokens.add("sandbox_Pasted001")
    account = payments.connect_provider(
        organisation=org_qc,
        provider="gocardless",
        credentials={"access_token": "sandbox_Pasted001", "webhook_secret": "s"},
        actor=owner,
    )
    assert stored_secrets.decrypt(account.credentials_encrypted)["access_token"] == "sandbox_Pasted001"
