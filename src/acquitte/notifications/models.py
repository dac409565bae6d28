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

    def __str__(self):
        return self.subject
