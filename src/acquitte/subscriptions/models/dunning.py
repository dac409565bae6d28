"""What happens to an unpaid invoice, day by day: reminders, card retries, a late fee, suspension and
termination (seed 000, WHMCS's automation settings), and the renewal and card-expiry notices.

Every step is a ``DunningStep`` row unique on (invoice, kind, offset): a second run, a racing run
or a run replayed for a past date does nothing it has already done.
"""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from .billing import BillingRun


def default_overdue_reminders() -> list[int]:
    return [1, 7, 14]


def default_card_retries() -> list[int]:
    return [3, 7]


def default_card_notices() -> list[int]:
    return [30, 7]


class DunningSettings(models.Model):
    """An organisation's renewal and dunning schedule, in days (WHMCS-like defaults).

    The late-payment interest rate and the grace period of a declared transfer are the
    organisation's own (``late_penalty_rate``, ``transfer_grace_days``): one place each.
    """

    organisation = models.OneToOneField(
        "customers.Organisation", on_delete=models.CASCADE, related_name="dunning_settings"
    )
    #: The renewal invoice is issued this many days before a service expires.
    renewal_notice_days = models.PositiveSmallIntegerField(
        _("facture de renouvellement (jours avant l'expiration)"),
        default=14,
        validators=[MinValueValidator(0), MaxValueValidator(90)],
    )
    reminder_before_days = models.PositiveSmallIntegerField(
        _("rappel avant l'échéance (jours, 0 : aucun)"),
        default=3,
        validators=[MaxValueValidator(60)],
    )
    overdue_reminder_days = models.JSONField(
        _("relances après l'échéance (jours)"), default=default_overdue_reminders
    )
    card_retry_days = models.JSONField(
        _("nouvelles tentatives sur la carte (jours)"), default=default_card_retries
    )
    #: ``None``: no late fee.
    late_fee_after_days = models.PositiveSmallIntegerField(
        _("frais de retard après (jours)"), null=True, blank=True, default=30
    )
    suspend_after_days = models.PositiveSmallIntegerField(
        _("suspension après (jours de retard)"), null=True, blank=True, default=15
    )
    terminate_after_days = models.PositiveSmallIntegerField(
        _("résiliation après (jours de retard)"), null=True, blank=True, default=60
    )
    reactivation_fee = models.ForeignKey(
        "catalog.Product",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("frais de réactivation"),
    )
    card_expiry_notice_days = models.JSONField(
        _("avis d'expiration de carte (jours avant)"), default=default_card_notices
    )

    class Meta:
        verbose_name = _("réglages des renouvellements et relances")
        verbose_name_plural = _("réglages des renouvellements et relances")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(terminate_after_days__isnull=True)
                | models.Q(suspend_after_days__isnull=True)
                | models.Q(terminate_after_days__gt=models.F("suspend_after_days")),
                name="dunning_terminate_after_suspend",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organisation_id}"


class DunningStep(models.Model):
    """One step of the schedule done for one invoice, once (unique on invoice, kind, offset)."""

    class Kind(models.TextChoices):
        REMINDER_BEFORE = "reminder_before", _("Rappel avant l'échéance")
        REMINDER = "reminder", _("Relance")
        CARD_RETRY = "card_retry", _("Nouvelle tentative sur la carte")
        LATE_FEE = "late_fee", _("Frais de retard")
        SUSPENSION = "suspension", _("Suspension")
        TERMINATION = "termination", _("Résiliation")

    class Outcome(models.TextChoices):
        DONE = "done", _("Fait")
        #: Not needed on the day: a declared transfer within its grace period, nothing to suspend…
        SKIPPED = "skipped", _("Sans objet")
        FAILED = "failed", _("Échec")

    organisation = models.ForeignKey("customers.Organisation", on_delete=models.PROTECT, related_name="+")
    invoice = models.ForeignKey("invoicing.Invoice", on_delete=models.PROTECT, related_name="dunning_steps")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    #: Days from the due date (negative before it).
    offset_days = models.SmallIntegerField()
    done_on = models.DateField()
    outcome = models.CharField(max_length=8, choices=Outcome.choices, default=Outcome.DONE)
    message = models.CharField(max_length=255, blank=True)
    #: The late-fee invoice, or the reactivation invoice of a suspension.
    fee_invoice = models.ForeignKey(
        "invoicing.Invoice", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    payment = models.ForeignKey(
        "payments.Payment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    run = models.ForeignKey(BillingRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["invoice_id", "offset_days", "id"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "kind", "offset_days"], name="dunningstep_once"),
        ]
        indexes = [models.Index(fields=["organisation", "done_on"])]

    def __str__(self) -> str:
        return f"{self.invoice_id} {self.kind} {self.offset_days:+d}"


class CardExpiryNotice(models.Model):
    """An e-mail telling a customer their card on file expires soon, once per (card, days before)."""

    organisation = models.ForeignKey("customers.Organisation", on_delete=models.PROTECT, related_name="+")
    payment_method = models.ForeignKey("payments.PaymentMethod", on_delete=models.CASCADE, related_name="+")
    days_before = models.PositiveSmallIntegerField()
    sent_on = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["payment_method", "days_before"], name="cardexpirynotice_once"),
        ]

    def __str__(self) -> str:
        return f"{self.payment_method_id} −{self.days_before}"
