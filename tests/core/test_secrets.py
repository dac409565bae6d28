"""Secrets fail closed (issue 11, item 1): no start without keys outside DEBUG, random webhook
secrets per provider account, and nothing signed with the public development key is accepted."""

import base64
import hashlib
import hmac
import importlib
import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.apps import apps
from django.conf import settings
from django.core import signing
from django.test import TestCase

from acquitte import settings as acquitte_settings
from acquitte.invoicing.models import Invoice
from acquitte.payments import secrets, services
from acquitte.payments.models import ChargeAttempt, ProviderAccount, WebhookEvent
from acquitte.payments.providers.sandbox import SIGNATURE_HEADER, SandboxProvider, sign
from acquitte.payments.services.checkout import SALT
from tests import factories

ROOT = Path(__file__).resolve().parents[2]
DEV_KEY = acquitte_settings.DEVELOPMENT_SECRET_KEY
#: What a subprocess inherits: the machine's basics, none of the settings the test session set.
BASICS = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV", "ACQUITTE_VAR_DIR"}


def bare_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k in BASICS}


def start(**env: str) -> subprocess.CompletedProcess[str]:
    """Start Django as a server process would, with exactly these settings variables."""
    clean = bare_environment()
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        env={**clean, "DJANGO_SETTINGS_MODULE": "acquitte.settings", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


GOOD = {"SECRET_KEY": "x7" * 30, "ACQUITTE_ENCRYPTION_KEY": Fernet.generate_key().decode()}


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({}, "SECRET_KEY and ACQUITTE_ENCRYPTION_KEY must be set"),
        ({"SECRET_KEY": GOOD["SECRET_KEY"]}, "ACQUITTE_ENCRYPTION_KEY must be set"),
        ({"ACQUITTE_ENCRYPTION_KEY": GOOD["ACQUITTE_ENCRYPTION_KEY"]}, "SECRET_KEY must be set"),
        ({**GOOD, "SECRET_KEY": DEV_KEY}, "SECRET_KEY is the public development key"),
        (
            {**GOOD, "ACQUITTE_ENCRYPTION_KEY": acquitte_settings.DEVELOPMENT_ENCRYPTION_KEY},
            "ACQUITTE_ENCRYPTION_KEY is the public development key",
        ),
        ({**GOOD, "ACQUITTE_ENCRYPTION_KEY": "not-a-fernet-key"}, "must be Fernet keys"),
        ({**GOOD, "DEBUG": "0"}, None),
    ],
    ids=["nothing", "no-encryption-key", "no-secret-key", "dev-secret", "dev-fernet", "bad-fernet", "both"],
)
def test_outside_debug_the_app_refuses_to_start_without_its_secrets(env, says):
    run = start(**env)
    if says is None:
        assert run.returncode == 0 and "started" in run.stdout, run.stderr
        assert "WARNING" not in run.stderr
    else:
        assert run.returncode != 0 and "started" not in run.stdout
        assert "ImproperlyConfigured" in run.stderr and says in run.stderr


def test_with_debug_the_development_key_stands_in_and_says_so():
    run = start(DEBUG="1")
    assert run.returncode == 0 and "started" in run.stdout, run.stderr
    assert "PUBLIC development key" in run.stderr


def test_build_steps_run_without_secrets_on_throwaway_keys():
    clean = bare_environment()
    run = subprocess.run(
        [sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"],
        env=clean,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "ImproperlyConfigured" not in run.stderr and "development key" not in run.stderr


# --- the production settings of the README pass `check --deploy` -------------------------------


def readme_production_env() -> dict[str, str]:
    """The variables of the README's production block (between its two markers)."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- production-env -->\s*```\w*\n(.*?)```", text, re.S)
    assert block, "README.md lost its production environment block"
    pairs = (line.split("=", 1) for line in block.group(1).splitlines() if "=" in line and line[0] != "#")
    return {name.strip(): value.strip() for name, value in pairs}


def test_check_deploy_is_clean_with_the_readme_production_settings():
    env = readme_production_env()
    assert {"SECRET_KEY", "ACQUITTE_ENCRYPTION_KEY", "ALLOWED_HOSTS", "SECURE_PROXY_SSL_HEADER"} <= set(env)
    # The README shows placeholders for the two secrets: a deployment draws its own.
    env |= {
        "SECRET_KEY": "p" + uuid.uuid4().hex * 2,
        "ACQUITTE_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    }
    clean = bare_environment()
    code = (
        "import django; django.setup()\n"
        "from django.conf import settings; from django.core.management import call_command\n"
        "call_command('check', deploy=True, fail_level='WARNING')\n"
        "print(settings.SECURE_PROXY_SSL_HEADER, settings.SECURE_HSTS_SECONDS, settings.SECURE_SSL_REDIRECT)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, "DJANGO_SETTINGS_MODULE": "acquitte.settings", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "('HTTP_X_FORWARDED_PROTO', 'https') 31536000 True" in run.stdout


# --- webhook secrets: random per account, encrypted, never derived --------------------------


def former_sandbox_secret(key: str, organisation) -> str:
    """What the sandbox's webhook secret used to be: derived from SECRET_KEY."""
    message = f"webhook:sandbox:{organisation.slug}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def test_each_sandbox_account_draws_a_random_webhook_secret_stored_encrypted(org_qc, org_fr):
    mine = services.webhook_secret(provider="sandbox", organisation=org_qc)
    theirs = services.webhook_secret(provider="sandbox", organisation=org_fr)
    assert len(mine) >= 43 and len(theirs) >= 43 and mine != theirs
    for key in (DEV_KEY, settings.SECRET_KEY):
        assert mine != former_sandbox_secret(key, org_qc)
    account = ProviderAccount.objects.get(organisation=org_qc, provider="sandbox")
    assert mine not in account.credentials_encrypted
    # Connecting again draws a new one.
    services.connect_provider(
        organisation=org_qc, provider="sandbox", credentials={}, actor=factories.staff(org_qc)
    )
    assert services.webhook_secret(provider="sandbox", organisation=org_qc) not in {mine, ""}


@pytest.fixture
def pending_debit(org_qc, customer_qc):
    invoice = factories.invoice(org_qc, customer_qc)
    method = services.add_bank_account(
        actor=factories.SYSTEM,
        customer=customer_qc,
        holder="Café Bonjour inc.",
        scheme="pad",
        institution="006",
        transit="00123",
        account="1234567",
    )
    payment = services.pay_invoice(
        actor=factories.SYSTEM, invoice=invoice, payment_method=method, idempotency_key=uuid.uuid4().hex
    )
    assert payment.attempt.state == ChargeAttempt.State.PENDING
    return invoice, payment


def post_webhook(client, org, body: bytes, signature: str):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(
            f"/webhooks/sandbox/{org.slug}/",
            data=body,
            content_type="application/json",
            headers={SIGNATURE_HEADER: signature},
        )


@pytest.mark.parametrize("key", ["development", "server"])
def test_a_webhook_forged_with_a_derived_secret_is_refused_and_changes_nothing(
    client, org_qc, pending_debit, key
):
    invoice, payment = pending_debit
    forger = former_sandbox_secret(DEV_KEY if key == "development" else settings.SECRET_KEY, org_qc)
    body = SandboxProvider.event_body(
        SandboxProvider().settle_debit(reference=payment.provider_reference, outcome="paid_out")
    )
    response = post_webhook(client, org_qc, body, sign(body, forger))
    assert response.status_code == 401
    assert not WebhookEvent.objects.exists()
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.OPEN
    # The account's own secret is what a real notification carries, and it goes through.
    genuine = sign(body, services.webhook_secret(provider="sandbox", organisation=org_qc))
    assert post_webhook(client, org_qc, body, genuine).status_code == 200
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.PAID


def test_an_account_without_a_webhook_secret_takes_no_webhook(client, org_qc, pending_debit):
    _invoice, payment = pending_debit
    ProviderAccount.objects.filter(organisation=org_qc, provider="sandbox").update(
        credentials_encrypted=secrets.encrypt({})
    )
    body = SandboxProvider.event_body(
        SandboxProvider().settle_debit(reference=payment.provider_reference, outcome="paid_out")
    )
    timestamp = int(time.time())
    empty_key = hmac.new(b"", f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert post_webhook(client, org_qc, body, f"t={timestamp},v1={empty_key}").status_code == 401
    assert not WebhookEvent.objects.exists()


def test_a_checkout_session_forged_with_the_development_key_is_refused(client, org_qc, org_fr):
    """The forged session names another tenant's invoice and a hostile return address."""
    victim = factories.invoice(org_fr, factories.customer(org_fr, name="Boulangerie Martin"))
    forged = signing.dumps(
        {"i": victim.pk, "k": "card", "n": uuid.uuid4().hex, "r": "//evil.example/", "t": victim.public_key},
        key=DEV_KEY,
        salt=SALT,
    )
    page = client.get(f"/sandbox/card/{forged}/")
    assert page.status_code == 404
    assert victim.number not in page.content.decode()
    declined = {"holder": "A", "number": "4000000000000002", "expiry": "12/39", "cvv": "123"}
    response = client.post(f"/sandbox/card/{forged}/", declined)
    assert response.status_code == 404 and "evil.example" not in response.get("Location", "")
    assert not ChargeAttempt.objects.exists()


# --- the migration: existing accounts get a secret, and leave the derived key behind ------------


def test_the_migration_gives_existing_sandbox_accounts_a_secret_and_re_encrypts(org_qc, org_fr):
    migration = importlib.import_module("acquitte.payments.migrations.0006_provider_webhook_secrets")
    former = Fernet(
        base64.urlsafe_b64encode(hashlib.sha256(b"credentials:" + settings.SECRET_KEY.encode()).digest())
    )
    # As before: org_qc's sandbox without a secret, under the key derived from SECRET_KEY;
    # org_fr's under ACQUITTE_ENCRYPTION_KEY already.
    ProviderAccount.objects.filter(organisation=org_qc).update(
        credentials_encrypted=former.encrypt(b"{}").decode()
    )
    ProviderAccount.objects.filter(organisation=org_fr).update(credentials_encrypted=secrets.encrypt({}))
    migration.forwards(apps, None)
    for org in (org_qc, org_fr):
        account = ProviderAccount.objects.get(organisation=org, provider="sandbox")
        assert len(secrets.decrypt(account.credentials_encrypted)["webhook_secret"]) >= 43
    # Run again, it keeps the secrets it gave.
    before = services.webhook_secret(provider="sandbox", organisation=org_qc)
    migration.forwards(apps, None)
    assert services.webhook_secret(provider="sandbox", organisation=org_qc) == before


def test_the_migration_stops_on_credentials_no_key_opens(org_qc):
    migration = importlib.import_module("acquitte.payments.migrations.0006_provider_webhook_secrets")
    stranger = Fernet(Fernet.generate_key()).encrypt(json.dumps({}).encode()).decode()
    ProviderAccount.objects.filter(organisation=org_qc).update(credentials_encrypted=stranger)
    with pytest.raises(RuntimeError, match="decrypt with neither"):
        migration.forwards(apps, None)


def test_keys_rotate_the_first_encrypting_and_every_one_decrypting(settings):
    old = settings.ACQUITTE_ENCRYPTION_KEY
    token = secrets.encrypt({"webhook_secret": "s3cret"})
    settings.ACQUITTE_ENCRYPTION_KEY = f"{Fernet.generate_key().decode()},{old}"
    assert secrets.decrypt(token) == {"webhook_secret": "s3cret"}
    rotated = secrets.rotate(token)
    settings.ACQUITTE_ENCRYPTION_KEY = settings.ACQUITTE_ENCRYPTION_KEY.split(",")[0]
    assert secrets.decrypt(rotated) == {"webhook_secret": "s3cret"}
