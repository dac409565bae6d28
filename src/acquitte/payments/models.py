from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Payment(models.Model):
    """Money received from a customer, by whatever means; allocations apply it to invoices."""

    class Method(models.TextChoices):
        CARD = "card", _("Carte de crédit")
        PAYPAL = "paypal", _("PayPal")
        DIRECT_DEBIT = "direct_debit", _("Prélèvement automatique")
        BANK_TRANSFER = "bank_transfer", _("Virement bancaire")
        CHEQUE = "cheque", _("Chèque")
        CASH = "cash", _("Espèces")
        OTHER = "other", _("Autre")

    class Status(models.TextChoices):
        PENDING = "pending", _("En attente")
        PROCESSING = "processing", _("En cours")
        SUCCEEDED = "succeeded", _("Réussi")
        FAILED = "failed", _("Échoué")
        CANCELED = "canceled", _("Annulé")
        REFUNDED = "refunded", _("Remboursé")
        PARTLY_REFUNDED = "partly_refunded", _("Partiellement remboursé")
        CHARGED_BACK = "charged_back", _("Contesté")

    organisation = models.ForeignKey(
        "customers.Organisation", on_delete=models.PROTECT, related_name="payments"
    )
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(_("montant"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("devise"), max_length=3)
    method = models.CharField(_("mode de paiement"), max_length=16, choices=Method.choices)
    status = models.CharField(_("statut"), max_length=16, choices=Status.choices, default=Status.PENDING)
    reference = models.CharField(_("référence"), max_length=120, blank=True)
    received_on = models.DateField(_("reçu le"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_on", "-id"]
        verbose_name = _("paiement")
        verbose_name_plural = _("paiements")
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payment_amount_positive"),
        ]
        indexes = [models.Index(fields=["customer", "status"])]

    def __str__(self):
        return f"{self.get_method_display()} {self.amount} {self.currency}"
