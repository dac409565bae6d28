"""Seed 001's first login ends in « Autoriser » (issue 12): after « J'accepte », the customer picks a
card or a direct debit among what the connected providers save, « Autoriser » opens the page where
it is saved, and the billing page shows it as the default; « Plus tard » skips the step."""

import datetime
import urllib.parse

import pytest
import requests
from django.utils import timezone

from acquitte.customers.models import TermsVersion, User
from acquitte.payments.models import MethodSetup, PaymentMethod, ProviderAccount
from tests.payments import fake_stripe
from tests.payments.test_hosted_payments import connect

PASSWORD = "un-mot-de-passe-solide-42"
NEXT_YEAR = f"12/{(datetime.date.today().year + 1) % 100:02d}"
STEP = "/conditions/paiement/"


@pytest.fixture
def terms(org_qc):
    return TermsVersion.objects.create(
        organisation=org_qc, version="2026-01", body_fr="Conditions…", published_at=timezone.now()
    )


@pytest.fixture
def signed_in(client, customer_qc, terms):
    user = User.objects.create_user("client@cafe.test", PASSWORD, customer=customer_qc)
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.fixture
def stripe_only(settings, org_qc):
    """Stripe connected to the local fake, the sandbox disconnected."""
    with fake_stripe.FakeStripe() as fake:
        settings.STRIPE_API_BASE = fake.url
        connect(
            org_qc,
            "stripe",
            {"secret_key": fake_stripe.SECRET_KEY, "webhook_secret": fake_stripe.WEBHOOK_SECRET},
        )
        ProviderAccount.objects.filter(organisation=org_qc, provider="sandbox").delete()
        yield fake


def local(url):
    parts = urllib.parse.urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def accept(client):
    return client.post(
        "/conditions/",
        {
            "address": "new",
            "line1": "9 rue Neuve",
            "city": "Laval",
            "region": "QC",
            "postal_code": "H7N 1A1",
            "country": "ca",
            "contact_name": "Isabelle Côté",
            "accept": "on",
        },
    )


def choices(page):
    return [kind for kind in ("card", "bank_debit", "paypal") if f'name="kind" value="{kind}"' in page]


def test_with_the_sandbox_the_card_is_typed_on_its_page_and_becomes_the_default(signed_in):
    assert accept(signed_in)["Location"] == STEP
    page = signed_in.get(STEP).content.decode()
    assert "Autoriser" in page and "Plus tard" in page and "Conditions acceptées" in page
    assert choices(page) == ["card", "bank_debit"]  # the sandbox saves no PayPal account
    opened = signed_in.post(STEP, {"kind": "card"})
    assert opened.status_code == 302 and opened["Location"].startswith("/sandbox/enregistrer/")
    back = signed_in.post(
        opened["Location"],
        {"holder": "Isabelle Côté", "number": "4242 4242 4242 4242", "cvv": "123", "expiry": NEXT_YEAR},
    )
    billing = signed_in.get(local(back["Location"]), follow=True)
    assert billing.redirect_chain[-1][0] == "/facturation/"
    html = billing.content.decode()
    assert "Moyen de paiement ajouté" in html
    method = PaymentMethod.objects.get()
    assert method.is_default and method.kind == PaymentMethod.Kind.CARD and method.last4 == "4242"
    assert f"{method} — Isabelle Côté <strong>(par défaut)</strong>" in html


def test_a_direct_debit_is_authorised_on_the_sandbox_bank_form(signed_in):
    accept(signed_in)
    opened = signed_in.post(STEP, {"kind": "bank_debit"})
    back = signed_in.post(
        opened["Location"],
        {
            "holder": "Isabelle Côté",
            "scheme": "pad",
            "bank_name": "Banque Laurentienne",
            "institution": "039",
            "transit": "12345",
            "account": "1234567",
        },
    )
    signed_in.get(local(back["Location"]))
    method = PaymentMethod.objects.get()
    assert method.kind == PaymentMethod.Kind.BANK_DEBIT and method.is_default


def test_with_stripe_the_card_is_saved_on_its_hosted_page(signed_in, stripe_only):
    assert accept(signed_in)["Location"] == STEP
    assert choices(signed_in.get(STEP).content.decode()) == ["card"]
    opened = signed_in.post(STEP, {"kind": "card"})
    assert opened["Location"].startswith(f"{stripe_only.url}/setup/cs_test_")
    session_id = opened["Location"].rsplit("/", 1)[1]
    assert stripe_only.sessions[session_id]["mode"] == "setup"
    # The customer fills Stripe's page; it sends them back to the success URL, session id filled in.
    saved = requests.post(
        opened["Location"],
        data={"number": "4242 4242 4242 4242", "expiry": "11 / 31", "cvc": "123", "holder": "Isabelle Côté"},
        allow_redirects=False,
        timeout=5,
    )
    assert saved.status_code == 303
    assert saved.headers["Location"] == stripe_only.sessions[session_id]["success_url"]
    billing = signed_in.get(local(saved.headers["Location"]), follow=True)
    assert billing.redirect_chain[-1][0] == "/facturation/"
    assert "Moyen de paiement ajouté" in billing.content.decode()
    method = PaymentMethod.objects.get()
    assert (method.provider, method.scheme, method.last4, method.exp_month, method.exp_year) == (
        "stripe",
        "visa",
        "4242",
        11,
        2031,
    )
    assert method.is_default and method.holder == "Isabelle Côté"


def test_later_skips_the_step_and_saves_nothing(signed_in):
    accept(signed_in)
    page = signed_in.get(STEP).content.decode()
    assert '<a class="button secondary" href="/">Plus tard</a>' in page
    home = signed_in.get("/")
    assert home.status_code == 200 and "n'ont pas été acceptées" not in home.content.decode()
    assert not MethodSetup.objects.exists() and not PaymentMethod.objects.exists()


def test_a_kind_not_offered_is_refused(signed_in):
    accept(signed_in)
    refused = signed_in.post(STEP, {"kind": "paypal"}, follow=True)
    assert "Choisissez un moyen de paiement." in refused.content.decode()
    assert not MethodSetup.objects.exists()


def test_the_step_waits_for_the_terms(signed_in):
    assert signed_in.get(STEP)["Location"] == "/conditions/"
    assert signed_in.post(STEP, {"kind": "card"})["Location"] == "/conditions/"
    assert not MethodSetup.objects.exists()


def test_without_a_provider_that_saves_methods_there_is_no_step(signed_in, org_qc):
    ProviderAccount.objects.filter(organisation=org_qc, provider="sandbox").delete()
    assert accept(signed_in)["Location"] == "/facturation/"
    assert signed_in.get(STEP)["Location"] == "/facturation/"


def test_the_step_is_in_english_too(signed_in):
    accept(signed_in)
    signed_in.post("/i18n/setlang/", {"language": "en", "next": STEP})
    page = signed_in.get(STEP, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Credit card" in page and "Direct debit" in page
