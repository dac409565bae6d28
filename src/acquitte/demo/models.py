from django.db import models
from django.utils.translation import gettext_lazy as _


class ReceivedWebhook(models.Model):
    """A request that reached the demo receiver: what a merchant's system would have seen."""

    organisation = models.ForeignKey("customers.Organisation", on_delete=models.CASCADE, related_name="+")
    message_id = models.CharField(max_length=80, blank=True)
    event_type = models.CharField(_("événement"), max_length=60, blank=True)
    headers = models.JSONField(default=dict)
    body = models.TextField()
    #: Whether the signature matched the secret of one of the organisation's endpoints.
    verified = models.BooleanField(_("signature vérifiée"), default=False)
    error = models.CharField(max_length=200, blank=True)
    received_at = models.DateTimeField(_("reçu le"), auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("webhook reçu (démonstration)")
        verbose_name_plural = _("webhooks reçus (démonstration)")
        indexes = [models.Index(fields=["organisation", "-received_at"])]

    def __str__(self) -> str:
        return f"{self.event_type or '?'} {self.message_id}"
