from django.db import models
from django.utils.translation import gettext_lazy as _


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
