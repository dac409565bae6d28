from decimal import Decimal

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
    invoice = models.ForeignKey(
        "invoicing.Invoice",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payments",
        verbose_name=_("facture visée"),
    )
    payment_method = models.ForeignKey(
        "PaymentMethod",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payments",
        verbose_name=_("moyen de paiement"),
    )
    provider = models.CharField(_("prestataire"), max_length=20, blank=True)
    provider_reference = models.CharField(_("référence du prestataire"), max_length=120, blank=True)
    amount_refunded = models.DecimalField(_("montant remboursé"), max_digits=14, decimal_places=2, default=0)
    failure_message = models.CharField(_("motif de l'échec"), max_length=255, blank=True)
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

    def __str__(self) -> str:
        return f"{self.get_method_display()} {self.amount} {self.currency}"

    @property
    def refundable(self) -> Decimal:
        """What can still be given back: a succeeded payment less what was refunded already."""
        if self.status not in (self.Status.SUCCEEDED, self.Status.PARTLY_REFUNDED):
            return Decimal(0)
        return self.amount - self.amount_refunded


class PaymentMethod(models.Model):
    """A saved card or bank account: only the provider's token and what a person needs to see."""

    class Kind(models.TextChoices):
        CARD = "card", _("Carte de crédit")
        BANK_DEBIT = "bank_debit", _("Prélèvement automatique")
        PAYPAL = "paypal", _("PayPal")

    class Scheme(models.TextChoices):
        VISA = "visa", "VISA"
        MASTERCARD = "mastercard", "MasterCard"
        AMEX = "amex", "AMEX"
        DISCOVER = "discover", "Discover"
        JCB = "jcb", "JCB"
        DINERS = "diners", "Diners Club"
        UNIONPAY = "unionpay", "UnionPay"
        OTHER_CARD = "card", _("Carte")
        ACH = "ach", _("Prélèvement ACH (États-Unis)")
        PAD = "pad", _("Débit préautorisé (Canada)")
        SEPA = "sepa", _("Prélèvement SEPA")
        BACS = "bacs", _("Prélèvement Bacs (Royaume-Uni)")
        PAYPAL = "paypal", "PayPal"

    class Status(models.TextChoices):
        VALID = "valid", _("Valide")
        EXPIRED = "expired", _("Expirée")
        REVOKED = "revoked", _("Révoquée")

    organisation = models.ForeignKey("customers.Organisation", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="payment_methods"
    )
    contact = models.ForeignKey(
        "customers.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("sous-contact de facturation"),
    )
    kind = models.CharField(_("type"), max_length=12, choices=Kind.choices)
    scheme = models.CharField(_("réseau"), max_length=12, choices=Scheme.choices)
    provider = models.CharField(_("prestataire"), max_length=20, default="sandbox")
    token = models.CharField(max_length=120, editable=False)
    #: The provider's customer the token belongs to (Stripe Customer, GoCardless or PayPal customer id).
    provider_customer = models.CharField(max_length=120, blank=True, editable=False)
    holder = models.CharField(_("titulaire"), max_length=120)
    last4 = models.CharField(_("4 derniers chiffres"), max_length=4)
    exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    bank_name = models.CharField(_("banque"), max_length=120, blank=True)
    status = models.CharField(_("statut"), max_length=10, choices=Status.choices, default=Status.VALID)
    is_default = models.BooleanField(_("par défaut"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_default", "-created_at"]
        verbose_name = _("moyen de paiement")
        verbose_name_plural = _("moyens de paiement")
        constraints = [
            models.UniqueConstraint(
                fields=["customer"], condition=models.Q(is_default=True), name="paymentmethod_one_default"
            ),
            # A provider's token is one method: a return and a webhook that race save it once.
            models.UniqueConstraint(
                fields=["organisation", "provider", "token"], name="paymentmethod_token_once"
            ),
        ]

    def __str__(self) -> str:
        if self.kind == self.Kind.CARD:
            month, year = self.exp_month or 0, (self.exp_year or 0) % 100
            return f"{self.get_scheme_display()} •••• {self.last4} ({month:02d}/{year:02d})"
        if not self.last4:
            return str(self.bank_name or self.get_scheme_display())
        return f"{self.bank_name or self.get_scheme_display()} •••• {self.last4}"


class MethodSetup(models.Model):
    """A customer sent to a provider's page to save a method, committed before the provider is
    called; its idempotency key goes to the provider, its reference is the provider's id of the page."""

    class Status(models.TextChoices):
        OPEN = "open", _("En cours")
        COMPLETED = "completed", _("Terminée")
        FAILED = "failed", _("Abandonnée")

    organisation = models.ForeignKey("customers.Organisation", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="method_setups")
    provider = models.CharField(max_length=20)
    kind = models.CharField(max_length=12, choices=PaymentMethod.Kind.choices)
    reference = models.CharField(max_length=120, blank=True)
    idempotency_key = models.CharField(max_length=80, unique=True)
    provider_customer = models.CharField(max_length=120, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    method = models.ForeignKey(
        PaymentMethod, null=True, blank=True, on_delete=models.PROTECT, related_name="setups"
    )
    make_default = models.BooleanField(default=True)
    return_to = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("enregistrement d'un moyen de paiement")
        verbose_name_plural = _("enregistrements de moyens de paiement")
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "reference"],
                condition=~models.Q(reference=""),
                name="methodsetup_reference_once_per_provider",
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.reference or self.idempotency_key} ({self.status})"


class ChargeAttempt(models.Model):
    """One request to a provider to move money, committed before the provider is called.

    Its idempotency key goes to the provider too, so asking again (after a crash, a retry or a
    double click) finds the same charge instead of making a second one.
    """

    class State(models.TextChoices):
        CREATED = "created", _("Envoyée")
        PENDING = "pending", _("En attente du prestataire")
        SUCCEEDED = "succeeded", _("Réussie")
        FAILED = "failed", _("Échouée")

    organisation = models.ForeignKey("customers.Organisation", on_delete=models.PROTECT, related_name="+")
    payment = models.OneToOneField(Payment, on_delete=models.PROTECT, related_name="attempt")
    idempotency_key = models.CharField(max_length=80, unique=True)
    provider = models.CharField(max_length=20)
    state = models.CharField(max_length=10, choices=State.choices, default=State.CREATED)
    provider_reference = models.CharField(max_length=120, blank=True)
    #: Where the customer authenticates a charge their bank held back (SCA), until it completes.
    action_url = models.URLField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("tentative de prélèvement")
        verbose_name_plural = _("tentatives de prélèvement")

    def __str__(self) -> str:
        return f"{self.provider} {self.idempotency_key} ({self.state})"


class RefundAttempt(models.Model):
    """One request to a provider to give money back, committed before the provider is called.

    Like a charge: its idempotency key goes to the provider, the outcome is applied once, and one
    left in doubt (a timeout, a crash) is settled by asking the provider, never by refunding again.
    """

    class State(models.TextChoices):
        CREATED = "created", _("Envoyé")
        SUCCEEDED = "succeeded", _("Accepté")
        FAILED = "failed", _("Refusé")

    organisation = models.ForeignKey("customers.Organisation", on_delete=models.PROTECT, related_name="+")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refund_attempts")
    idempotency_key = models.CharField(max_length=120, unique=True)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    state = models.CharField(max_length=10, choices=State.choices, default=State.CREATED)
    provider_reference = models.CharField(max_length=120, blank=True)
    failure_code = models.CharField(max_length=80, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("tentative de remboursement")
        verbose_name_plural = _("tentatives de remboursement")

    def __str__(self) -> str:
        return f"{self.idempotency_key} ({self.state})"


class WebhookEvent(models.Model):
    """A provider's event, stored once per (provider, event id) before it is applied."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("Reçu")
        PROCESSED = "processed", _("Appliqué")
        UNMATCHED = "unmatched", _("Paiement inconnu")

    organisation = models.ForeignKey("customers.Organisation", on_delete=models.PROTECT, related_name="+")
    provider = models.CharField(max_length=20)
    event_id = models.CharField(max_length=120)
    event_type = models.CharField(max_length=60)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name = _("événement de prestataire")
        verbose_name_plural = _("événements de prestataire")
        constraints = [
            # Per organisation (one account per provider and organisation): two accounts of the
            # same provider can send the same event id, and neither may hide the other's event.
            models.UniqueConstraint(
                fields=["organisation", "provider", "event_id"], name="webhook_once_per_account_event"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_type} {self.event_id}"


class SandboxCharge(models.Model):
    """The sandbox provider's own ledger, as a real provider keeps one on its side."""

    idempotency_key = models.CharField(max_length=80, unique=True)
    reference = models.CharField(max_length=40, unique=True)
    token = models.CharField(max_length=120)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=12)
    failure_code = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.reference


class SandboxRefund(models.Model):
    """The sandbox's record of a refund, found again by its idempotency key as a provider would."""

    idempotency_key = models.CharField(max_length=120, unique=True)
    reference = models.CharField(max_length=40, unique=True)
    charge = models.ForeignKey(SandboxCharge, on_delete=models.CASCADE, related_name="refunds")
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.reference


class SandboxSetup(models.Model):
    """The sandbox's record of a hosted setup: its page, then the method saved there."""

    reference = models.CharField(max_length=40, unique=True)
    kind = models.CharField(max_length=12)
    status = models.CharField(max_length=12, default="open")
    token = models.CharField(max_length=120, blank=True)
    scheme = models.CharField(max_length=12, blank=True)
    last4 = models.CharField(max_length=4, blank=True)
    holder = models.CharField(max_length=120, blank=True)
    exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    bank_name = models.CharField(max_length=120, blank=True)
    return_url = models.CharField(max_length=500)
    cancel_url = models.CharField(max_length=500)

    def __str__(self) -> str:
        return self.reference


class SandboxToken(models.Model):
    """What the sandbox remembers of a saved method: how its test number behaves, never the number."""

    token = models.CharField(max_length=120, unique=True)
    behaviour = models.CharField(max_length=20)
    kind = models.CharField(max_length=12)

    def __str__(self) -> str:
        return self.token


class TransferDeclaration(models.Model):
    """A customer's word that a transfer or cheque is on its way (seed 000): the invoice stays
    unpaid until staff record the money, but suspension waits for the grace period."""

    class Kind(models.TextChoices):
        TRANSFER = "bank_transfer", _("Virement bancaire")
        CHEQUE = "cheque", _("Chèque")

    class Status(models.TextChoices):
        DECLARED = "declared", _("Déclaré")
        RECEIVED = "received", _("Reçu")

    organisation = models.ForeignKey("customers.Organisation", on_delete=models.PROTECT, related_name="+")
    invoice = models.ForeignKey(
        "invoicing.Invoice", on_delete=models.PROTECT, related_name="transfer_declarations"
    )
    kind = models.CharField(_("type"), max_length=16, choices=Kind.choices)
    reference = models.CharField(_("référence"), max_length=120)
    sent_on = models.DateField(_("envoyé le"))
    amount = models.DecimalField(_("montant"), max_digits=14, decimal_places=2)
    status = models.CharField(_("statut"), max_length=10, choices=Status.choices, default=Status.DECLARED)
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    declared_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-declared_at"]
        verbose_name = _("virement ou chèque déclaré")
        verbose_name_plural = _("virements et chèques déclarés")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.reference}"


class ProviderAccount(models.Model):
    """An organisation's connection to a payment provider; credentials are encrypted at rest."""

    class Mode(models.TextChoices):
        TEST = "test", _("Test")
        LIVE = "live", _("Production")

    organisation = models.ForeignKey("customers.Organisation", on_delete=models.CASCADE, related_name="+")
    provider = models.CharField(_("prestataire"), max_length=20)
    mode = models.CharField(_("mode"), max_length=4, choices=Mode.choices, default=Mode.TEST)
    account_name = models.CharField(_("compte"), max_length=200, blank=True)
    credentials_encrypted = models.TextField(editable=False)
    connected_at = models.DateTimeField(auto_now=True)
    #: Connected through the provider's OAuth flow: the token is revoked there on disconnection.
    connected_by_oauth = models.BooleanField(_("connecté par OAuth"), default=False)
    #: The merchant's id at the provider (acct_…, OR…, PayPal merchant id) when OAuth gave one.
    external_account_id = models.CharField(_("identifiant chez le prestataire"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("compte de prestataire")
        verbose_name_plural = _("comptes de prestataire")
        constraints = [
            models.UniqueConstraint(fields=["organisation", "provider"], name="provideraccount_once")
        ]

    def __str__(self) -> str:
        return f"{self.provider} ({self.get_mode_display()})"
