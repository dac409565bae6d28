"""Encryption at rest of the secrets the product must read back (provider credentials, webhook
signing secrets), keyed from the environment."""

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings


def fernet() -> MultiFernet:
    """ACQUITTE_ENCRYPTION_KEY (settings.py refuses to start without it outside DEBUG): one Fernet
    key, or several separated by commas, the first encrypting and every one decrypting (rotation)."""
    keys = [k.strip() for k in settings.ACQUITTE_ENCRYPTION_KEY.split(",") if k.strip()]
    return MultiFernet([Fernet(k) for k in keys])


def encrypt_text(value: str) -> str:
    return fernet().encrypt(value.encode()).decode()


def decrypt_text(token: str) -> str:
    return fernet().decrypt(token.encode()).decode()
