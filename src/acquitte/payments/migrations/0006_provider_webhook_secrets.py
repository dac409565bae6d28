"""Every sandbox account gets a random webhook secret of its own, stored encrypted with its credentials.

Before, the sandbox's webhook secret was derived from SECRET_KEY, and credentials were encrypted with
a key derived from SECRET_KEY when ACQUITTE_ENCRYPTION_KEY was unset. Each account is decrypted with
ACQUITTE_ENCRYPTION_KEY or, failing that, with that former derived key, and encrypted again with
ACQUITTE_ENCRYPTION_KEY: after this migration only ACQUITTE_ENCRYPTION_KEY is needed.
"""

import base64
import hashlib
import json
import secrets

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import migrations


def _current() -> MultiFernet:
    keys = [k.strip() for k in settings.ACQUITTE_ENCRYPTION_KEY.split(",") if k.strip()]
    return MultiFernet([Fernet(k) for k in keys])


def _former() -> Fernet:
    return Fernet(
        base64.urlsafe_b64encode(hashlib.sha256(b"credentials:" + settings.SECRET_KEY.encode()).digest())
    )


def forwards(apps, schema_editor):
    ProviderAccount = apps.get_model("payments", "ProviderAccount")
    current = _current()
    for account in ProviderAccount.objects.all():
        token = account.credentials_encrypted.encode()
        try:
            credentials = json.loads(current.decrypt(token))
        except InvalidToken:
            try:
                credentials = json.loads(_former().decrypt(token))
            except InvalidToken as exc:
                raise RuntimeError(
                    f"The credentials of provider account {account.pk} decrypt with neither "
                    "ACQUITTE_ENCRYPTION_KEY nor the key formerly derived from SECRET_KEY: put the key "
                    "they were encrypted with after the new one in ACQUITTE_ENCRYPTION_KEY (comma-separated)."
                ) from exc
        if account.provider == "sandbox" and not credentials.get("webhook_secret"):
            credentials["webhook_secret"] = secrets.token_urlsafe(32)
        account.credentials_encrypted = current.encrypt(json.dumps(credentials).encode()).decode()
        account.save(update_fields=["credentials_encrypted"])


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0005_refund_attempts_webhook_status"),
    ]

    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
