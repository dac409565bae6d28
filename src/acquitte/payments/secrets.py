"""Encryption at rest of provider credentials (webhook secrets among them), keyed from the environment."""

import json
import secrets

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings


def _fernet() -> MultiFernet:
    """ACQUITTE_ENCRYPTION_KEY (settings.py refuses to start without it outside DEBUG): one Fernet
    key, or several separated by commas, the first encrypting and every one decrypting (rotation)."""
    keys = [k.strip() for k in settings.ACQUITTE_ENCRYPTION_KEY.split(",") if k.strip()]
    return MultiFernet([Fernet(k) for k in keys])


def encrypt(data: dict[str, str]) -> str:
    return _fernet().encrypt(json.dumps(data).encode()).decode()


def decrypt(token: str) -> dict[str, str]:
    data: dict[str, str] = json.loads(_fernet().decrypt(token.encode()))
    return data


def rotate(token: str) -> str:
    """``token`` encrypted again with the first key (after a new key is put first)."""
    return _fernet().rotate(token.encode()).decode()


def new_webhook_secret() -> str:
    """A random signing secret for an account whose provider does not issue one (the sandbox)."""
    return secrets.token_urlsafe(32)


def masked(value: str) -> str:
    """What staff see of a secret: its last four characters."""
    return f"••••{value[-4:]}" if len(value) > 4 else "••••"
