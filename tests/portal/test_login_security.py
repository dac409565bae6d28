"""Sign-in lockouts per account and per address, the client address behind proxies, lifting a lockout
(issue 11, item 2), through HTTP as an attacker or a colleague behind the same office address acts."""

import logging

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.utils import translation

from acquitte.core.models import AuditLog
from acquitte.customers.models import User
from tests import factories

PASSWORD = "motdepasse-long-2026"
OFFICE = "198.51.100.7"


@pytest.fixture(autouse=True)
def _fast_hashes(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    yield
    translation.activate(settings.LANGUAGE_CODE)  # a request in English leaves English active


@pytest.fixture
def people(org_qc, customer_qc):
    owner = factories.staff(org_qc)
    marie = User.objects.create_user(email="marie@example.test", password=PASSWORD, customer=customer_qc)
    luc = User.objects.create_user(email="luc@example.test", password=PASSWORD, customer=customer_qc)
    return owner, marie, luc


def sign_in(client, email, password, address=OFFICE, **headers):
    return client.post(
        "/connexion/", {"username": email, "password": password}, REMOTE_ADDR=address, **headers
    )


def signed_in(response):
    return response.status_code == 302 and response["Location"] == "/"


def test_five_mistakes_lock_that_account_not_the_colleague_behind_the_same_address(client, people):
    _owner, marie, luc = people
    for _ in range(4):
        assert sign_in(client, marie.email, "wrong").status_code == 200
    assert sign_in(client, marie.email, "wrong").status_code == 429  # the fifth locks
    locked = sign_in(client, marie.email, PASSWORD)
    assert locked.status_code == 429 and not signed_in(locked)
    assert "Trop de tentatives de connexion" in locked.content.decode()
    assert int(locked["Retry-After"]) == 15 * 60
    assert signed_in(sign_in(Client(), luc.email, PASSWORD))  # same office address, other account


def test_the_account_is_the_same_whatever_the_case_of_the_email(client, people):
    _owner, marie, _luc = people
    for spelling in ["Marie@example.test", "MARIE@EXAMPLE.TEST", " marie@Example.test", "marie@example.test"]:
        sign_in(client, spelling, "wrong")
    sign_in(client, "mArie@example.test", "wrong")
    assert sign_in(client, marie.email, PASSWORD).status_code == 429


def test_twelve_guesses_spread_over_four_addresses_are_stopped_at_five(people):
    _owner, marie, _luc = people
    answers = []
    for n in range(12):
        answers.append(
            sign_in(Client(), marie.email, f"guess-{n}", address=f"203.0.113.{n % 4 + 1}").status_code
        )
    assert answers[:4] == [200] * 4
    assert set(answers[4:]) == {429}  # the fifth failure locks the account
    # And the right password, from a fifth address, is refused too until the lockout is lifted.
    assert sign_in(Client(), marie.email, PASSWORD, address="192.0.2.50").status_code == 429


def test_spraying_many_accounts_from_one_address_locks_that_address(people, settings):
    settings.ACQUITTE_LOCKOUT_ADDRESS_LIMIT = 20
    _owner, _marie, luc = people
    sprayer = "192.0.2.66"
    answers = [
        sign_in(Client(), f"victim{n}@example.test", "Printemps2026", address=sprayer).status_code
        for n in range(20)
    ]
    assert answers == [200] * 19 + [429]
    # The address is now locked for every account, even one whose password it knows…
    assert sign_in(Client(), luc.email, PASSWORD, address=sprayer).status_code == 429
    # …while the same account signs in from anywhere else.
    assert signed_in(sign_in(Client(), luc.email, PASSWORD, address=OFFICE))


def test_a_real_account_does_not_reset_the_count_of_its_address(people, settings):
    """A sprayer holding one genuine account cannot wipe its address's failures by signing in."""
    settings.ACQUITTE_LOCKOUT_ADDRESS_LIMIT = 10
    _owner, _marie, luc = people
    sprayer = "192.0.2.67"
    for n in range(9):
        sign_in(Client(), f"victim{n}@example.test", "Printemps2026", address=sprayer)
    assert signed_in(sign_in(Client(), luc.email, PASSWORD, address=sprayer))
    sign_in(Client(), "victim9@example.test", "Printemps2026", address=sprayer)
    assert sign_in(Client(), "victim10@example.test", "Printemps2026", address=sprayer).status_code == 429


def test_x_forwarded_for_is_ignored_without_a_trusted_proxy(people, settings):
    settings.ACQUITTE_TRUSTED_PROXIES = 0
    _owner, marie, _luc = people
    for n in range(5):  # the attacker writes a new "address" each time
        sign_in(Client(), marie.email, "wrong", address=OFFICE, HTTP_X_FORWARDED_FOR=f"10.9.9.{n}")
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {OFFICE}


def test_x_forwarded_for_is_honoured_with_one_trusted_proxy(people, settings):
    settings.ACQUITTE_TRUSTED_PROXIES = 1
    settings.ACQUITTE_LOCKOUT_ADDRESS_LIMIT = 5
    _owner, _marie, luc = people
    proxy = "10.0.0.2"
    # Behind the proxy, each client is told apart by the address the proxy appended…
    for n in range(5):
        sign_in(Client(), f"nobody{n}@example.test", "x", address=proxy, HTTP_X_FORWARDED_FOR="192.0.2.10")
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"192.0.2.10"}
    # …so the sprayer's address is locked, not the proxy's: a colleague still signs in.
    assert signed_in(sign_in(Client(), luc.email, PASSWORD, address=proxy, HTTP_X_FORWARDED_FOR="192.0.2.11"))
    # What a client writes in front of the proxy's entry changes nothing: the right-most entry counts.
    spoofed = sign_in(
        Client(), luc.email, PASSWORD, address=proxy, HTTP_X_FORWARDED_FOR="192.0.2.11, 192.0.2.10"
    )
    assert spoofed.status_code == 429


def test_two_trusted_proxies_take_the_second_address_from_the_right(people, settings):
    settings.ACQUITTE_TRUSTED_PROXIES = 2
    _owner, marie, _luc = people
    sign_in(
        Client(), marie.email, "x", address="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 192.0.2.20, 10.0.0.9"
    )
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == ["192.0.2.20"]


def test_a_lockout_is_logged_with_account_and_address(client, people, caplog):
    _owner, marie, _luc = people
    with caplog.at_level(logging.WARNING, logger="acquitte.security"):
        for _ in range(5):
            sign_in(client, marie.email, "wrong")
    lines = [r.getMessage() for r in caplog.records if r.name == "acquitte.security"]
    assert f"Sign-in locked out: account={marie.email} address={OFFICE}" in lines


def test_the_owner_sees_and_lifts_a_lockout_of_their_organisation_only(people, org_fr):
    owner, marie, _luc = people
    stranger_customer = factories.customer(org_fr, name="Boulangerie Martin", email="compta@martin.example")
    stranger = User.objects.create_user(
        email="paul@martin.example", password=PASSWORD, customer=stranger_customer
    )
    for email in (marie.email, stranger.email):
        for _ in range(5):
            sign_in(Client(), email, "wrong")
    staff = Client()
    staff.force_login(owner)
    page = staff.get("/gestion/securite/connexions/")
    body = page.content.decode()
    assert page.status_code == 200 and marie.email in body and OFFICE in body and "Débloquer" in body
    assert stranger.email not in body
    assert "/gestion/securite/connexions/" in staff.get("/gestion/").content.decode()

    # Another organisation's account cannot be unlocked from here (it looks missing).
    assert staff.post(f"/gestion/securite/connexions/{stranger.pk}/debloquer/").status_code == 404
    assert sign_in(Client(), stranger.email, PASSWORD).status_code == 429

    lifted = staff.post(f"/gestion/securite/connexions/{marie.pk}/debloquer/", follow=True)
    assert "peut de nouveau se connecter" in lifted.content.decode()
    assert marie.email not in staff.get("/gestion/securite/connexions/").content.decode()
    assert signed_in(sign_in(Client(), marie.email, PASSWORD))
    assert AuditLog.objects.filter(object_id=str(marie.pk), actor_label=owner.email).exists()


def test_only_the_owner_reaches_the_lockouts(people, org_qc):
    _owner, marie, _luc = people
    accountant = factories.staff(org_qc, email="compta@example.test", role="accountant")
    for _ in range(5):
        sign_in(Client(), marie.email, "wrong")
    staff = Client()
    staff.force_login(accountant)
    assert staff.get("/gestion/securite/connexions/").status_code == 403
    assert staff.post(f"/gestion/securite/connexions/{marie.pk}/debloquer/").status_code == 403
    assert sign_in(Client(), marie.email, PASSWORD).status_code == 429
    customer = Client()
    customer.force_login(marie)
    assert customer.get("/gestion/securite/connexions/").status_code == 302


def test_the_lockout_page_is_in_english_too(client, people):
    _owner, marie, _luc = people
    for _ in range(5):
        sign_in(client, marie.email, "wrong")
    locked = sign_in(client, marie.email, PASSWORD, HTTP_ACCEPT_LANGUAGE="en")
    assert locked.status_code == 429
    assert "Too many sign-in attempts" in locked.content.decode()


@pytest.mark.postgres
def test_thirty_concurrent_guesses_at_one_account_are_capped(people):
    """Guesses sent all at once pass axes' check before any failure is written; the per-account
    rate limit (an atomic counter) still caps how many reach the password check."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    _owner, marie, _luc = people

    def guess(n):
        try:
            return sign_in(Client(), marie.email, f"guess-{n}", address=f"203.0.113.{n % 8 + 1}").status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(guess, range(30)))
    checked = answers.count(200)  # 200: a password was tried and refused
    assert checked <= 10, answers
    assert answers.count(429) >= 20
    assert sign_in(Client(), marie.email, PASSWORD).status_code == 429
