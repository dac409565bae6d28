"""Encryption at rest of provider credentials, keyed from the environment."""

import base64
import hashlib
import json
import os

from cryptography.fernet import Fernet
from django.conf import settings


def _fernet() -> Fernet:
    """ACQUITTE_ENCRYPTION_KEY (a Fernet key) in production; derived from SECRET_KEY otherwise."""
    key: str | bytes | None = os.environ.get("ACQUITTE_ENCRYPTION_KEY")
    if not key:
        key = base64.urlsafe_b64encode(
            hashlib.sha256(b"credentials:" + settings.SECRET_KEY.encode()).digest()
        )
    return Fernet(key)


def encrypt(data: dict[str, str]) -> str:
    return _fernet().encrypt(json.dumps(data).encode()).decode()


def decrypt(token: str) -> dict[str, str]:
    data: dict[str, str] = json.loads(_fernet().decrypt(token.encode()))
    return data


def masked(value: str) -> str:
    """What staff see of a secret: its last four characters."""
    return f"••••{value[-4:]}" if len(value) > 4 else "••••"
