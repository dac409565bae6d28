"""Rate limits per address, per account and per document, the 429 page, and the password reset that
goes through the outbox and takes the same time for known and unknown addresses (issue 11, item 8)."""

import datetime
import os
import statistics
import time
import uuid

import pytest
from django.core.cache import caches
from django.test import Client
from django.utils import translation

from acquitte.customers.models import User
from acquitte.notifications.models import Notification, OutboundMessage
from acquitte.payments.models import TransferDeclaration
from acquitte.quotes import services as quotes
from tests import factories

PASSWORD = "motdepasse-long-2026"


@pytest.fixture(autouse=True)
def _fast_hashes(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    yield
    translation.activate(settings.LANGUAGE_CODE)  # a request in English leaves English active


@pytest.fixture
def marie(customer_qc):
    return User.objects.create_user(email="marie@example.test", password=PASSWORD, customer=customer_qc)


def reset(client, email, address="198.51.100.7", **headers):
    return client.post("/mot-de-passe/", {"email": email}, REMOTE_ADDR=address, **headers)


def resets_queued():
    return OutboundMessage.objects.filter(kind="password_reset").count()


# --- password reset -------------------------------------------------------------------------


def test_thirty_resets_for_one_address_send_at_most_the_limit(marie):
    answers = [reset(Client(), marie.email).status_code for _ in range(30)]
    assert answers[:3] == [302] * 3 and set(answers[3:]) == {429}
    assert resets_queued() == 3


def test_thirty_resets_for_one_account_from_thirty_addresses_send_at_most_the_limit(marie):
    answers = [reset(Client(), marie.email, address=f"203.0.113.{n + 1}").status_code for n in range(30)]
    assert answers.count(302) == 3
    assert resets_queued() == 3


def test_the_reset_email_goes_through_the_outbox_in_the_users_language(
    marie, mailoutbox, django_capture_on_commit_callbacks
):
    marie.language = "en"
    marie.save()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert reset(Client(), "Marie@Example.test").status_code == 302
    assert mailoutbox == []  # nothing is sent during the request
    message = OutboundMessage.objects.get(kind="password_reset")
    assert message.to == marie.email and message.organisation_id == marie.customer.organisation_id
    assert message.subject == "A new password for your customer area"
    assert "/mot-de-passe/" in message.body
    for callback in callbacks:  # after commit, the outbox task delivers it
        callback()
    message.refresh_from_db()
    assert message.status != OutboundMessage.Status.QUEUED
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [marie.email]
    link = next(word for word in message.body.split() if "/mot-de-passe/" in word)
    path = link.split("://", 1)[1].split("/", 1)[1]
    confirm = Client().get("/" + path, follow=True)
    assert confirm.status_code == 200 and 'name="new_password1"' in confirm.content.decode()


def test_an_unknown_address_gets_the_same_answer_and_no_message(marie):
    known, unknown = reset(Client(), marie.email), reset(Client(), "nobody@example.test", address="192.0.2.9")
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]
    assert OutboundMessage.objects.filter(to="nobody@example.test").count() == 0


def test_the_reset_takes_the_same_time_whether_the_address_exists_or_not(marie, settings):
    """The two kinds of request are timed in back-to-back pairs, so that both see the same load on
    the machine; the median of the pairs' differences is what an attacker could average out."""
    settings.ACQUITTE_RATE_LIMITS = {}  # measure the form, not the limiter
    client = Client()
    emails = {"known": marie.email, "unknown": "personne@example.test"}
    for email in emails.values():  # warm up templates, queries and translations
        reset(client, email)

    def timed(email):
        started = time.perf_counter()
        assert reset(client, email).status_code == 302
        return time.perf_counter() - started

    pairs = []
    for n in range(120):
        order = ["known", "unknown"] if n % 2 else ["unknown", "known"]
        took = {name: timed(emails[name]) for name in order}
        pairs.append((took["known"], took["unknown"]))
    known = statistics.median(k for k, _ in pairs)
    unknown = statistics.median(u for _, u in pairs)
    difference = statistics.median(k - u for k, u in pairs)
    print(
        f"reset medians: known {known * 1000:.2f} ms, unknown {unknown * 1000:.2f} ms, "
        f"paired difference {difference * 1000:.2f} ms"
    )
    assert abs(difference) < 0.003 or max(known, unknown) / min(known, unknown) < 1.5
    assert resets_queued() == 121


# --- sign-in --------------------------------------------------------------------------------


def test_sign_in_is_limited_per_address_even_when_every_password_is_right(marie, settings):
    settings.ACQUITTE_RATE_LIMITS = {"signin": {"address": "5/10m"}}
    answers = [
        Client().post("/connexion/", {"username": marie.email, "password": PASSWORD}).status_code
        for _ in range(6)
    ]
    assert answers == [302] * 5 + [429]


def test_sign_in_is_limited_per_account_across_addresses(marie, settings):
    settings.ACQUITTE_RATE_LIMITS = {"signin": {"account": "3/10m"}}
    answers = [
        Client()
        .post("/connexion/", {"username": marie.email, "password": PASSWORD}, REMOTE_ADDR=f"203.0.113.{n}")
        .status_code
        for n in range(1, 5)
    ]
    assert answers == [302] * 3 + [429]


# --- transfer declarations ------------------------------------------------------------------


def declaration(amount="114.98"):
    return {
        "kind": "cheque",
        "reference": "Chèque 1042",
        "sent_on": datetime.date.today().isoformat(),
        "amount": amount,
    }


def test_declarations_on_a_public_link_are_limited_per_invoice(org_qc, customer_qc):
    for n in range(3):
        factories.staff(org_qc, email=f"staff{n}@example.test")
    invoice = factories.invoice(org_qc, customer_qc)
    url = f"/i/{invoice.public_token}/declarer/"
    answers = [
        Client().post(url, declaration(), REMOTE_ADDR=f"203.0.113.{n + 1}").status_code for n in range(27)
    ]
    assert answers.count(302) == 5 and set(answers[5:]) == {429}
    assert TransferDeclaration.objects.filter(invoice=invoice).count() == 5
    assert Notification.objects.filter(kind="transfer_declared").count() <= 5


def test_declarations_from_one_address_are_limited_across_invoices(org_qc, customer_qc, settings):
    settings.ACQUITTE_RATE_LIMITS = {"declaration": {"address": "4/h", "subject": "5/h"}}
    invoices = [factories.invoice(org_qc, customer_qc) for _ in range(5)]
    answers = [Client().post(f"/i/{i.public_token}/declarer/", declaration()).status_code for i in invoices]
    assert answers == [302] * 4 + [429]


def test_declarations_in_the_portal_are_limited_per_invoice(org_qc, customer_qc, marie):
    invoice = factories.invoice(org_qc, customer_qc)
    client = Client()
    client.force_login(marie)
    url = f"/factures/{invoice.pk}/payer/declare/"
    answers = [client.post(url, declaration()).status_code for _ in range(7)]
    assert answers == [302] * 5 + [429] * 2
    assert TransferDeclaration.objects.filter(invoice=invoice).count() == 5
    # Paying by another means is not a declaration and is not counted by it.
    assert client.post(f"/factures/{invoice.pk}/payer/card/").status_code == 302


# --- quote approval and decline -------------------------------------------------------------


def test_answers_to_a_quote_link_are_limited_per_link(org_qc, customer_qc):
    owner = factories.staff(org_qc)
    quote = quotes.create_quote(organisation=org_qc, customer=customer_qc, actor=owner)
    quotes.add_product(quote=quote, product=factories.product(org_qc), actor=owner)
    quote = quotes.send_quote(quote=quote, actor=owner)
    url = f"/q/{quote.public_token}/"
    answers = [
        Client().post(url + "refuser/", {"reason": "x" * 20000}, REMOTE_ADDR=f"203.0.113.{n + 1}").status_code
        for n in range(10)
    ]
    assert 429 not in answers
    refused = Client().post(url + "approuver/", {"name": "Isabelle", "agree": "on"}, REMOTE_ADDR="192.0.2.1")
    assert refused.status_code == 429
    quote.refresh_from_db()
    assert quote.status == quote.Status.SENT or quote.status == quote.Status.VIEWED


# --- public link pages ----------------------------------------------------------------------


def test_public_link_pages_are_limited_per_address_even_for_unknown_tokens(org_qc, customer_qc):
    invoice = factories.invoice(org_qc, customer_qc)
    guesser = Client()
    answers = [
        guesser.get(f"/i/{uuid.uuid4().hex}/", REMOTE_ADDR="192.0.2.77").status_code for _ in range(60)
    ]
    assert set(answers) == {404}
    assert guesser.get(f"/i/{invoice.public_token}/", REMOTE_ADDR="192.0.2.77").status_code == 429
    assert guesser.get(f"/q/{uuid.uuid4().hex}/", REMOTE_ADDR="192.0.2.77").status_code == 429
    assert guesser.get(f"/i/{invoice.public_token}/pdf/", REMOTE_ADDR="192.0.2.77").status_code == 429
    assert Client().get(f"/i/{invoice.public_token}/", REMOTE_ADDR="192.0.2.78").status_code == 200


def test_the_429_page_says_why_and_when_in_french_and_english(marie, settings):
    settings.ACQUITTE_RATE_LIMITS = {"password_reset": {"address": "1/h"}}
    reset(Client(), marie.email)
    french = reset(Client(), marie.email)
    assert french.status_code == 429 and 0 < int(french["Retry-After"]) <= 3600
    body = french.content.decode()
    assert "Trop de demandes de réinitialisation du mot de passe." in body and "Réessayez dans" in body
    english = reset(Client(), marie.email, HTTP_ACCEPT_LANGUAGE="en")
    body = english.content.decode()
    assert (
        english.status_code == 429 and "Too many password reset requests." in body and "Try again in" in body
    )
    assert english["Cache-Control"] == "no-store"


REDIS = os.environ.get("ACQUITTE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_answers():
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


@pytest.mark.skipif(not _redis_answers(), reason=f"needs Redis at {REDIS}")
def test_the_limits_are_counted_in_redis_when_configured(marie, settings):
    prefix = f"test-{uuid.uuid4().hex}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS,
            "KEY_PREFIX": prefix,
        }
    }
    try:
        answers = [reset(Client(), marie.email).status_code for _ in range(4)]
        assert answers == [302] * 3 + [429]
        client = caches["default"]._cache.get_client()
        assert client.keys(f"{prefix}:*")  # the counters are in Redis, shared by every process
    finally:
        keys = caches["default"]._cache.get_client().keys(f"{prefix}:*")
        if keys:  # only this test's keys: clear() would empty the whole Redis database
            caches["default"]._cache.get_client().delete(*keys)
