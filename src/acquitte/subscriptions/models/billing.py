"""Orders, the subscriptions they start, and the rows that make the monthly runs idempotent (seed 001).

A subscription is any recurring charge of any period; the domains and dunning work adds a service
record on top of it. Each billed (subscription, period) is a ``BilledPeriod`` under a unique
constraint, so a run that is repeated, raced or restarted cannot bill a period twice.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from acquitte.catalog.models import Product

#: Catalogue kinds that start a subscription when their order completes, and its period.
RECURRING_KINDS = {
    Product.Kind.MONTHLY: "monthly",
    Product.Kind.YEARLY: "yearly",
    Product.Kind.DOMAIN: "yearly",
}


class BillingSettings(models.Model):
    """When an organisation bills and collects, in its own time zone, and its test clock."""

    organisation = models.OneToOneField(
        "customers.Organisation", on_delete=models.CASCADE, related_name="billing_settings"
    )
    bill_day = models.PositiveSmallIntegerField(_("jour de facturation"), default=2)
    collection_day = models.PositiveSmallIntegerField(_("jour de prélèvement"), default=22)
    time_zone = models.CharField(_("fuseau horaire"), max_length=64, default="America/Toronto")
    #: The date the runs take as today, in test mode only (the sandbox connected); ``None`` is the real date.
    test_clock = models.DateField(_("horloge de test"), null=True, blank=True)

    class Meta:
        verbose_name = _("réglages de facturation")
        verbose_name_plural = _("réglages de facturation")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(bill_day__gte=1, bill_day__lte=28), name="billing_bill_day_range"
            ),
            models.CheckConstraint(
                condition=models.Q(collection_day__gte=1, collection_day__lte=28),
                name="billing_collection_day_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organisation_id}: {self.bill_day}/{self.collection_day}"


class Order(models.Model):
    """A new or add-on order of a customer, its lines each on one of the customer's sites."""

    class Kind(models.TextChoices):
        NEW = "new", _("Nouvelle commande")
        ADD_ON = "add_on", _("Commande d'ajout")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Brouillon")
        IN_PROGRESS = "in_progress", pgettext_lazy("order", "En cours")
        SHIPPED = "shipped", _("Expédiée")
        COMPLETED = "completed", _("Terminée")
        CANCELLED = "cancelled", pgettext_lazy("order", "Annulée")

    organisation = models.ForeignKey(
        "customers.Organisation", on_delete=models.PROTECT, related_name="orders"
    )
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="orders")
    number = models.CharField(_("numéro"), max_length=40, blank=True)
    kind = models.CharField(_("type"), max_length=8, choices=Kind.choices, default=Kind.NEW)
    status = models.CharField(_("statut"), max_length=12, choices=Status.choices, default=Status.DRAFT)
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    placed_at = models.DateTimeField(_("mise en cours le"), null=True, blank=True)
    shipped_at = models.DateTimeField(_("expédiée le"), null=True, blank=True)
    completed_at = models.DateTimeField(_("terminée le"), null=True, blank=True)
    #: The day the recurring charges start, in the organisation's time zone (or its test clock).
    completed_on = models.DateField(_("date de mise en service"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("annulée le"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("commande")
        verbose_name_plural = _("commandes")
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "number"], condition=~models.Q(number=""), name="order_number_unique"
            ),
        ]
        indexes = [models.Index(fields=["organisation", "status"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.number or self.pk}"


class OrderLine(models.Model):
    """One catalogue product ordered for one site, at the price of the day (a snapshot)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="+")
    site = models.ForeignKey("customers.Site", on_delete=models.PROTECT, related_name="order_lines")
    description = models.CharField(_("description"), max_length=500)
    quantity = models.DecimalField(_("quantité"), max_digits=12, decimal_places=3)
    unit_price = models.DecimalField(_("prix unitaire"), max_digits=14, decimal_places=2)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("ligne de commande")
        verbose_name_plural = _("lignes de commande")
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="orderline_quantity_positive"),
            models.CheckConstraint(condition=models.Q(unit_price__gte=0), name="orderline_price_positive"),
        ]

    def __str__(self) -> str:
        return self.description

    @property
    def is_recurring(self) -> bool:
        return self.product.kind in RECURRING_KINDS


class OrderCharge(models.Model):
    """The one-time charges of an order at one stage, invoiced once: the unique row is the guard."""

    class Stage(models.TextChoices):
        PLACED = "placed", _("Mise en cours")
        SHIPPED = "shipped", _("Expédition du matériel")

    organisation = models.ForeignKey("customers.Organisation", on_delete=models.PROTECT, related_name="+")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="charges")
    stage = models.CharField(max_length=8, choices=Stage.choices)
    invoice = models.OneToOneField("invoicing.Invoice", on_delete=models.PROTECT, related_name="order_charge")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["order", "stage"], name="ordercharge_once_per_stage")]

    def __str__(self) -> str:
        return f"{self.order_id} {self.stage}"


class Subscription(models.Model):
    """A recurring charge: product, quantity and price (a snapshot), site, period and start."""

    class Period(models.TextChoices):
        MONTHLY = "monthly", _("Mensuel")
        YEARLY = "yearly", _("Annuel")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Actif")
        PAUSED = "paused", _("En pause")
        CANCELLED = "cancelled", _("Résilié")
        ENDED = "ended", _("Terminé")

    organisation = models.ForeignKey(
        "customers.Organisation", on_delete=models.PROTECT, related_name="subscriptions"
    )
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="subscriptions")
    site = models.ForeignKey(
        "customers.Site", null=True, blank=True, on_delete=models.PROTECT, related_name="subscriptions"
    )
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="+")
    order_line = models.OneToOneField(
        OrderLine, null=True, blank=True, on_delete=models.PROTECT, related_name="subscription"
    )
    description = models.CharField(_("description"), max_length=500)
    quantity = models.DecimalField(_("quantité"), max_digits=12, decimal_places=3)
    #: Applies to every period not yet billed; a billed period keeps its price in ``BilledPeriod``.
    unit_price = models.DecimalField(_("prix unitaire"), max_digits=14, decimal_places=2)
    period = models.CharField(_("périodicité"), max_length=8, choices=Period.choices)
    started_on = models.DateField(_("début"))
    #: The last day of service (inclusive), once cancelled now or at the end of a period.
    ends_on = models.DateField(_("fin"), null=True, blank=True)
    status = models.CharField(_("statut"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    cancelled_at = models.DateTimeField(_("résilié le"), null=True, blank=True)

    class Meta:
        ordering = ["customer_id", "site_id", "id"]
        verbose_name = _("abonnement")
        verbose_name_plural = _("abonnements")
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="subscription_quantity_positive"),
            models.CheckConstraint(condition=models.Q(unit_price__gte=0), name="subscription_price_positive"),
            models.CheckConstraint(
                condition=models.Q(ends_on__isnull=True) | models.Q(ends_on__gte=models.F("started_on")),
                name="subscription_ends_after_start",
            ),
        ]
        indexes = [
            models.Index(fields=["organisation", "status", "customer"]),
            models.Index(fields=["customer", "status"]),
        ]

    def __str__(self) -> str:
        return self.description


class BillingRun(models.Model):
    """One billing or collection run of one organisation for one date: its progress and outcome."""

    class Kind(models.TextChoices):
        BILLING = "billing", _("Facturation")
        COLLECTION = "collection", _("Prélèvement")
        RENEWAL = "renewal", _("Renouvellement")
        DUNNING = "dunning", _("Relances")

    class Status(models.TextChoices):
        RUNNING = "running", pgettext_lazy("run", "En cours")
        SUCCEEDED = "succeeded", _("Terminé")
        FAILED = "failed", _("Terminé avec des erreurs")
        #: No chunk counted in for ``runs.STALLED_AFTER``: its worker died. The next run bills the rest.
        INTERRUPTED = "interrupted", _("Interrompu")

    organisation = models.ForeignKey(
        "customers.Organisation", on_delete=models.CASCADE, related_name="billing_runs"
    )
    kind = models.CharField(_("type"), max_length=12, choices=Kind.choices)
    run_date = models.DateField(_("date du passage"))
    status = models.CharField(_("statut"), max_length=12, choices=Status.choices, default=Status.RUNNING)
    started_by = models.CharField(_("lancé par"), max_length=120)
    started_at = models.DateTimeField(_("début"), auto_now_add=True)
    finished_at = models.DateTimeField(_("fin"), null=True, blank=True)
    #: When the run started or its last chunk was counted in: how a stalled run is told.
    progressed_at = models.DateTimeField(default=timezone.now)
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    customers = models.PositiveIntegerField(_("clients"), default=0)
    invoices = models.PositiveIntegerField(_("factures"), default=0)
    charges = models.PositiveIntegerField(_("prélèvements"), default=0)
    failures = models.PositiveIntegerField(_("échecs"), default=0)
    total = models.DecimalField(_("total"), max_digits=16, decimal_places=2, default=0)
    errors = models.JSONField(_("erreurs"), default=list, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("passage de facturation")
        verbose_name_plural = _("passages de facturation")
        indexes = [models.Index(fields=["organisation", "kind", "run_date"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.run_date}"


class BilledPeriod(models.Model):
    """One period of one subscription, billed on one invoice line. Unique: the runs' guard."""

    organisation = models.ForeignKey("customers.Organisation", on_delete=models.PROTECT, related_name="+")
    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="billed_periods")
    period_start = models.DateField()
    period_end = models.DateField()
    prorated = models.BooleanField(default=False)
    quantity = models.DecimalField(max_digits=12, decimal_places=3)
    unit_price = models.DecimalField(max_digits=14, decimal_places=2)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    invoice = models.ForeignKey("invoicing.Invoice", on_delete=models.PROTECT, related_name="+")
    run = models.ForeignKey(BillingRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["subscription_id", "period_start"]
        constraints = [
            models.UniqueConstraint(fields=["subscription", "period_start"], name="billedperiod_once"),
            models.CheckConstraint(
                condition=models.Q(period_end__gte=models.F("period_start")), name="billedperiod_dates"
            ),
        ]
        indexes = [models.Index(fields=["invoice"])]

    def __str__(self) -> str:
        return f"{self.subscription_id} {self.period_start}–{self.period_end}"


class Adjustment(models.Model):
    """A prorated charge or credit from a change in a period already billed, for the next run."""

    class Kind(models.TextChoices):
        CHARGE = "charge", _("Supplément au prorata")
        CREDIT = "credit", _("Crédit au prorata")

    organisation = models.ForeignKey("customers.Organisation", on_delete=models.PROTECT, related_name="+")
    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="adjustments")
    #: The product billed or credited, whose tax category the line takes: a product change credits
    #: the old product and charges the new one. Empty on rows made before it was recorded.
    product = models.ForeignKey(
        "catalog.Product", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    description = models.CharField(max_length=500)
    quantity = models.DecimalField(max_digits=12, decimal_places=3)
    unit_price = models.DecimalField(max_digits=14, decimal_places=2)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    period_start = models.DateField()
    period_end = models.DateField()
    #: The billed period it corrects (a credit note must name the invoice it corrects).
    corrects = models.ForeignKey(
        BilledPeriod, null=True, blank=True, on_delete=models.PROTECT, related_name="adjustments"
    )
    #: The invoice or credit note that billed it; ``None`` until the next run takes it.
    invoice = models.ForeignKey(
        "invoicing.Invoice", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=120)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="adjustment_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(period_end__gte=models.F("period_start")), name="adjustment_dates"
            ),
        ]
        indexes = [
            models.Index(
                fields=["subscription"], condition=models.Q(invoice__isnull=True), name="adjustment_unbilled"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount}"


class CollectionAttempt(models.Model):
    """One invoice on one collection day: charged, skipped or failed, once (unique)."""

    class Outcome(models.TextChoices):
        CHARGED = "charged", _("Prélevé")
        PENDING = "pending", _("En cours de prélèvement")
        FAILED = "failed", _("Échec")
        NO_METHOD = "no_method", _("Aucun moyen de paiement par défaut")
        SKIPPED = "skipped", _("Virement ou chèque déclaré")

    organisation = models.ForeignKey("customers.Organisation", on_delete=models.PROTECT, related_name="+")
    invoice = models.ForeignKey("invoicing.Invoice", on_delete=models.PROTECT, related_name="collections")
    collection_date = models.DateField()
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    payment = models.ForeignKey(
        "payments.Payment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    message = models.CharField(max_length=255, blank=True)
    run = models.ForeignKey(BillingRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-collection_date", "id"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "collection_date"], name="collection_once_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id} {self.collection_date} {self.outcome}"
