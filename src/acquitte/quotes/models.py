from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from acquitte.core.money import ZERO
from acquitte.invoicing.models import DocumentLine, new_public_token


class Quote(models.Model):
    """A priced offer (soumission, devis) the customer approves or declines from a link.

    Approval turns it into a finalised invoice, once: ``invoice`` is set in the same transaction.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("Brouillon")
        SENT = "sent", _("Envoyée")
        VIEWED = "viewed", _("Consultée")
        APPROVED = "approved", _("Approuvée")
        DECLINED = "declined", _("Refusée")
        EXPIRED = "expired", _("Expirée")
        CONVERTED = "converted", _("Facturée")

    class ApprovedVia(models.TextChoices):
        CUSTOMER = "customer", _("le client, par le lien")
        STAFF = "staff", _("l'entreprise")

    organisation = models.ForeignKey(
        "customers.Organisation", on_delete=models.CASCADE, related_name="quotes"
    )
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="quotes")
    number = models.CharField(_("numéro"), max_length=32, blank=True)
    status = models.CharField(_("état"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    currency = models.CharField(_("devise"), max_length=3)
    issue_date = models.DateField(_("date"), null=True, blank=True)
    valid_until = models.DateField(_("valable jusqu'au"), null=True, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    subtotal = models.DecimalField(_("sous-total"), max_digits=14, decimal_places=2, default=ZERO)
    tax_total = models.DecimalField(_("taxes"), max_digits=14, decimal_places=2, default=ZERO)
    total = models.DecimalField(_("total"), max_digits=14, decimal_places=2, default=ZERO)
    public_token = models.CharField(max_length=64, editable=False)
    public_key = models.CharField(max_length=12, editable=False, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sent_at = models.DateTimeField(_("envoyée le"), null=True, blank=True)
    viewed_at = models.DateTimeField(_("consultée le"), null=True, blank=True)
    decided_at = models.DateTimeField(_("décision le"), null=True, blank=True)
    approved_via = models.CharField(
        _("approuvée par"), max_length=10, choices=ApprovedVia.choices, blank=True
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approver_name = models.CharField(_("nom du signataire"), max_length=200, blank=True)
    approver_ip = models.GenericIPAddressField(_("adresse IP"), null=True, blank=True)
    decline_reason = models.CharField(_("motif du refus"), max_length=500, blank=True)
    invoice = models.OneToOneField(
        "invoicing.Invoice", null=True, blank=True, on_delete=models.PROTECT, related_name="quote"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("soumission")
        verbose_name_plural = _("soumissions")
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "number"], condition=~models.Q(number=""), name="quote_number_unique"
            ),
        ]
        indexes = [models.Index(fields=["organisation", "status", "-created_at"])]

    def __str__(self) -> str:
        return self.number or str(_("Soumission (brouillon)"))

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.public_token:
            self.public_token = new_public_token()
        self.public_key = self.public_token[:12]
        super().save(*args, **kwargs)

    @property
    def is_draft(self) -> bool:
        return self.status == self.Status.DRAFT

    @property
    def is_declined(self) -> bool:
        return self.status == self.Status.DECLINED


class QuoteLine(DocumentLine):
    """A line of a quote; the same checks and net rule as an invoice line, copied to it on approval."""

    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("ligne de soumission")
        verbose_name_plural = _("lignes de soumission")
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="quoteline_quantity_positive"),
            models.CheckConstraint(condition=models.Q(unit_price__gte=0), name="quoteline_price_positive"),
            models.CheckConstraint(
                condition=models.Q(discount_percent__gte=0, discount_percent__lte=100),
                name="quoteline_discount_percent",
            ),
        ]
