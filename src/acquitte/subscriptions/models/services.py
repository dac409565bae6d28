"""Domains and yearly services that renew on their expiry date (seed 002), and their suspensions.

A service sits on a subscription (its product, price and customer) and carries what the monthly
run does not: a name, an expiry date, a recurring payment with a chosen card and an optional
billing sub-contact, and a state. The billing run leaves a subscription with a service to the
renewal run, which invoices each (service, period) once: ``ServiceRenewal`` is unique on it.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .billing import BillingRun, Subscription


class Service(models.Model):
    """A domain or a yearly service of a customer, renewed one period at a time."""

    class Kind(models.TextChoices):
        DOMAIN = "domain", _("Nom de domaine")
        SERVICE = "service", _("Service")

    class Status(models.TextChoices):
        ACTIVE = "active", pgettext_lazy("service", "Actif")
        SUSPENDED = "suspended", pgettext_lazy("service", "Suspendu")
        EXPIRED = "expired", pgettext_lazy("service", "Expiré")
        TERMINATED = "terminated", pgettext_lazy("service", "Résilié")

    class SuspensionReason(models.TextChoices):
        OVERDUE = "overdue", _("Facture impayée")
        MANUAL = "manual", _("Suspension manuelle")

    organisation = models.ForeignKey("customers.Organisation", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="services")
    subscription = models.OneToOneField(Subscription, on_delete=models.PROTECT, related_name="service")
    kind = models.CharField(_("type"), max_length=8, choices=Kind.choices)
    #: The domain name (lower case, IDNA) or the service's label.
    name = models.CharField(_("nom"), max_length=253)
    #: The day the paid period ends: the next renewal starts on it.
    expires_on = models.DateField(_("date d'expiration"))
    recurring = models.BooleanField(_("paiement récurrent"), default=False)
    payment_method = models.ForeignKey(
        "payments.PaymentMethod",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("carte du paiement récurrent"),
    )
    billing_contact = models.ForeignKey(
        "customers.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("sous-contact de facturation"),
    )
    #: When the customer confirmed a sub-contact whose name is not the card holder's ("Attention !").
    mismatch_confirmed_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(_("état"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    suspension_reason = models.CharField(
        _("motif de suspension"), max_length=8, choices=SuspensionReason.choices, blank=True
    )
    suspension_note = models.CharField(_("précision"), max_length=300, blank=True)
    suspended_at = models.DateTimeField(null=True, blank=True)
    terminated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["expires_on", "name", "id"]
        verbose_name = _("service")
        verbose_name_plural = _("services")
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "name"],
                condition=models.Q(kind="domain") & ~models.Q(status="terminated"),
                name="service_domain_once",
            ),
            models.CheckConstraint(
                condition=models.Q(recurring=False) | models.Q(payment_method__isnull=False),
                name="service_recurring_has_card",
            ),
            models.CheckConstraint(
                condition=(models.Q(status="suspended") & ~models.Q(suspension_reason=""))
                | (~models.Q(status="suspended") & models.Q(suspension_reason="")),
                name="service_suspension_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["organisation", "status", "expires_on"]),
            models.Index(fields=["customer", "status"]),
        ]

    def __str__(self) -> str:
        return self.name


class ServiceRenewal(models.Model):
    """One period of one service, asked for early (a pro-forma) or issued by the renewal run.

    Unique on (service, period start): a second run, a racing run or a second "Renouveler" finds
    the row and issues nothing. The period runs from ``period_start`` (the expiry date it renews)
    to the day before ``period_end`` (the expiry date once it is paid). ``renewed_at`` is set once
    the period is paid and the service's expiry date has moved on to ``period_end``.
    """

    organisation = models.ForeignKey("customers.Organisation", on_delete=models.PROTECT, related_name="+")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="renewals")
    period_start = models.DateField()
    period_end = models.DateField()
    proforma = models.OneToOneField(
        "invoicing.Invoice", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    invoice = models.ForeignKey(
        "invoicing.Invoice", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    run = models.ForeignKey(BillingRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    renewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["service_id", "period_start"]
        constraints = [
            models.UniqueConstraint(fields=["service", "period_start"], name="servicerenewal_once"),
            models.CheckConstraint(
                condition=models.Q(period_end__gt=models.F("period_start")), name="servicerenewal_dates"
            ),
            models.CheckConstraint(
                condition=models.Q(proforma__isnull=False) | models.Q(invoice__isnull=False),
                name="servicerenewal_has_document",
            ),
        ]
        indexes = [models.Index(fields=["invoice"])]

    def __str__(self) -> str:
        return f"{self.service_id} {self.period_start}–{self.period_end}"


class ServiceSuspension(models.Model):
    """One suspension of one service, from its start to its lifting: the history staff read, and
    the invoices whose payment lifts it (the overdue one, and the reactivation fee's)."""

    organisation = models.ForeignKey("customers.Organisation", on_delete=models.PROTECT, related_name="+")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="suspensions")
    reason = models.CharField(max_length=8, choices=Service.SuspensionReason.choices)
    note = models.CharField(max_length=300, blank=True)
    #: The overdue invoice that suspended it (``None`` for a manual suspension).
    invoice = models.ForeignKey(
        "invoicing.Invoice", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    #: The invoice of the reactivation fee, when the organisation charges one.
    reactivation_invoice = models.ForeignKey(
        "invoicing.Invoice", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    suspended_at = models.DateTimeField(auto_now_add=True)
    suspended_by = models.CharField(max_length=120)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["-suspended_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["service"],
                condition=models.Q(lifted_at__isnull=True),
                name="servicesuspension_one_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service_id} {self.reason}"
