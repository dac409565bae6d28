from django.db import models
from django.utils.translation import gettext_lazy as _

from acquitte.core.crypto import decrypt_text, encrypt_text


class Notification(models.Model):
    """Something staff of an organisation should know (a payment received or failed…)."""

    organisation = models.ForeignKey("customers.Organisation", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("type"), max_length=40)
    subject = models.CharField(_("objet"), max_length=200)
    body = models.TextField(_("message"), blank=True)
    link = models.CharField(_("lien"), max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")

    def __str__(self) -> str:
        return self.subject


class OutboundMessage(models.Model):
    """One e-mail or SMS to one recipient: written in the transaction that decides to send it,
    delivered afterwards by a task, so a rollback sends nothing and staff see what happened."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("Courriel")
        SMS = "sms", _("SMS")

    class Status(models.TextChoices):
        QUEUED = "queued", _("En attente")
        SENDING = "sending", _("Envoi en cours")
        SENT = "sent", _("Envoyé")
        DELIVERED = "delivered", _("Remis")
        FAILED = "failed", _("Échec")
        OUTBOX_ONLY = "outbox_only", _("Non envoyé (aucun service SMS configuré)")

    organisation = models.ForeignKey("customers.Organisation", on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(_("canal"), max_length=5, choices=Channel.choices)
    kind = models.CharField(_("type"), max_length=40)
    to = models.CharField(_("destinataire"), max_length=254)
    subject = models.CharField(_("objet"), max_length=200, blank=True)
    body = models.TextField(_("message"))
    html_body = models.TextField(blank=True)
    attachment_name = models.CharField(max_length=120, blank=True)
    attachment = models.BinaryField(null=True, blank=True)
    reference = models.CharField(_("document"), max_length=40, blank=True)
    link = models.CharField(_("lien"), max_length=300, blank=True)
    status = models.CharField(_("état"), max_length=12, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(_("tentatives"), default=0)
    error = models.TextField(_("erreur"), blank=True)
    provider_id = models.CharField(max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)
    sent_at = models.DateTimeField(_("envoyé le"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("message sortant")
        verbose_name_plural = _("messages sortants")
        indexes = [models.Index(fields=["organisation", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} → {self.to}"


class WebhookEndpoint(models.Model):
    """A URL of the merchant's systems that hears of provisioning events (suspend, unsuspend, renew,
    terminate), signed with its own secret as the Standard Webhooks specification says."""

    organisation = models.ForeignKey("customers.Organisation", on_delete=models.CASCADE, related_name="+")
    url = models.URLField(_("adresse"), max_length=500)
    description = models.CharField(_("description"), max_length=200, blank=True)
    #: The signing secret (``whsec_`` and the base64 of 24 random bytes), encrypted at rest like the
    #: providers' credentials: read and set it through ``secret``.
    secret_encrypted = models.CharField(max_length=255, editable=False)
    #: The event types it hears; empty: all of them.
    event_types = models.JSONField(_("événements"), default=list, blank=True)
    active = models.BooleanField(_("actif"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("point de terminaison webhook")
        verbose_name_plural = _("points de terminaison webhook")

    def __str__(self) -> str:
        return self.url

    @property
    def secret(self) -> str:
        """Shown to the owner, used to sign."""
        return decrypt_text(self.secret_encrypted)

    @secret.setter
    def secret(self, value: str) -> None:
        self.secret_encrypted = encrypt_text(value)


class WebhookDelivery(models.Model):
    """One event for one endpoint: written in the transaction of the change it reports, delivered
    after commit, retried with backoff until it is answered with a 2xx or its attempts run out."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("En attente")
        RETRYING = "retrying", _("Nouvel essai prévu")
        DELIVERED = "delivered", _("Remis")
        FAILED = "failed", _("Échec")

    organisation = models.ForeignKey("customers.Organisation", on_delete=models.CASCADE, related_name="+")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    #: The ``webhook-id`` header: the same for every attempt, so the receiver can drop duplicates.
    message_id = models.CharField(max_length=40, editable=False)
    event_type = models.CharField(_("événement"), max_length=60)
    payload = models.JSONField()
    status = models.CharField(_("état"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(_("tentatives"), default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)
    delivered_at = models.DateTimeField(_("remis le"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("envoi webhook")
        verbose_name_plural = _("envois webhook")
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "message_id"], name="webhookdelivery_once"),
        ]
        indexes = [
            models.Index(fields=["organisation", "-created_at"]),
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status__in=["queued", "retrying"]),
                name="webhookdelivery_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id}"


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery and what came back: the log staff read."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField(auto_now_add=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    #: The start of the answer's body, or the error that stopped the request.
    response = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    #: The headers sent (the signature changes with each attempt's timestamp), for staff to compare.
    request_headers = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-attempted_at", "-id"]

    def __str__(self) -> str:
        return f"{self.delivery_id} {self.status_code}"
