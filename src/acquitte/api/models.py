"""API keys (one organisation each, stored hashed) and the idempotency keys of their POSTs."""

import hashlib

from django.db import models
from django.utils.translation import gettext_lazy as _

#: How a key starts: what secret scanners and people recognise.
KEY_START = "acq_"


def hash_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiKey(models.Model):
    """A key a merchant's program sends as ``Authorization: Bearer``. Only its SHA-256 is kept
    (it carries 32 random bytes, so a slow hash adds nothing); the prefix is what people see."""

    class Scope(models.TextChoices):
        READ = "read", _("Lecture seule")
        WRITE = "write", _("Lecture et écriture")

    organisation = models.ForeignKey(
        "customers.Organisation", on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(_("nom"), max_length=80)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    scope = models.CharField(_("portée"), max_length=8, choices=Scope.choices, default=Scope.READ)
    created_by = models.CharField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class IdempotencyKey(models.Model):
    """One ``Idempotency-Key`` of one API key's POSTs (Stripe's semantics): the request's hash, and
    once done, the response to replay. Kept 24 hours."""

    class State(models.TextChoices):
        IN_FLIGHT = "in_flight", _("en cours")
        DONE = "done", _("terminée")

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    state = models.CharField(max_length=12, choices=State.choices, default=State.IN_FLIGHT)
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.BinaryField(default=b"")
    content_type = models.CharField(max_length=100, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["api_key", "key"], name="idempotencykey_once"),
        ]

    def __str__(self) -> str:
        return self.key
