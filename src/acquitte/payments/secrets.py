"""Encryption at rest of provider credentials (webhook secrets among them), keyed from the environment."""

import json
import secrets

from acquitte.core.crypto import decrypt_text, encrypt_text, fernet


def encrypt(data: dict[str, str]) -> str:
    return encrypt_text(json.dumps(data))


def decrypt(token: str) -> dict[str, str]:
    data: dict[str, str] = json.loads(decrypt_text(token))
    return data


def rotate(token: str) -> str:
    """``token`` encrypted again with the first key (after a new key is put first)."""
    return fernet().rotate(token.encode()).decode()


def new_webhook_secret() -> str:
    """A random signing secret for an account whose provider does not issue one (the sandbox)."""
    return secrets.token_urlsafe(32)


def masked(value: str) -> str:
    """What staff see of a secret: its last four characters."""
    return f"••••{value[-4:]}" if len(value) > 4 else "••••"
