import datetime
import secrets
from collections.abc import Collection
from decimal import Decimal
from typing import Any, Self

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _

from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.money import ZERO, round_money

# Fields of an invoice that never change once it is finalised (French law: corrections are
# credit notes). Status, payment progress and the public link may still move.
FROZEN_FIELDS = (
    "organisation_id",
    "customer_id",
    "kind",
    "number",
    "issue_date",
    "due_date",
    "currency",
    "bill_to",
    "seller",
    "subtotal",
    "tax_total",
    "total",
    "corrects_id",
    "billing_contact_id",
)


def new_public_token() -> str:
    return secrets.token_urlsafe(32)


class Invoice(models.Model):
    """An invoice, a credit note or a pro-forma. Draft until finalised, then immutable."""

    class Kind(models.TextChoices):
        INVOICE = "invoice", _("Facture")
        CREDIT_NOTE = "credit_note", _("Avoir")
        PROFORMA = "proforma", _("Facture pro forma")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Brouillon")
        OPEN = "open", _("Non payée")
        PAID = "paid", _("Payée")
        VOID = "void", _("Annulée")

    class DisplayStatus(models.TextChoices):
        """The status a person reads: the stored one, or partly paid, overdue and issued, derived."""

        DRAFT = "draft", _("Brouillon")
        OPEN = "open", _("Non payée")
        PARTLY_PAID = "partly_paid", _("Partiellement payée")
        OVERDUE = "overdue", _("En retard")
        PAID = "paid", _("Payée")
        VOID = "void", _("Annulée")
        ISSUED = "issued", _("Émis")

    organisation = models.ForeignKey(
        "customers.Organisation", on_delete=models.PROTECT, related_name="invoices"
    )
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="invoices")
    kind = models.CharField(_("type"), max_length=16, choices=Kind.choices, default=Kind.INVOICE)
    status = models.CharField(_("statut"), max_length=8, choices=Status.choices, default=Status.DRAFT)
    number = models.CharField(_("numéro"), max_length=40, blank=True)
    issue_date = models.DateField(_("date d'émission"), null=True, blank=True)
    due_date = models.DateField(_("date d'échéance"), null=True, blank=True)
    currency = models.CharField(_("devise"), max_length=3)
    billing_contact = models.ForeignKey(
        "customers.Contact",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("sous-contact de facturation"),
    )
    billing_address = models.ForeignKey(
        "customers.Address",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("adresse de facturation"),
    )
    bill_to = models.JSONField(_("facturé à"), default=dict, blank=True)
    seller = models.JSONField(_("vendeur"), default=dict, blank=True)
    corrects = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="credit_notes",
        verbose_name=_("facture corrigée"),
    )
    converted_to = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="converted_from",
        verbose_name=_("facture issue de cette pro forma"),
    )
    subtotal = models.DecimalField(_("total HT"), max_digits=14, decimal_places=2, default=ZERO)
    tax_total = models.DecimalField(_("taxes"), max_digits=14, decimal_places=2, default=ZERO)
    total = models.DecimalField(_("total TTC"), max_digits=14, decimal_places=2, default=ZERO)
    amount_paid = models.DecimalField(_("montant réglé"), max_digits=14, decimal_places=2, default=ZERO)
    online_payment = models.BooleanField(_("paiement en ligne proposé"), default=True)
    notes = models.TextField(_("notes"), blank=True)
    public_key = models.CharField(max_length=12, db_index=True, editable=False)
    public_token = models.CharField(max_length=64, editable=False)
    public_token_revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    finalised_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("facture")
        verbose_name_plural = _("factures")
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "kind", "number"],
                condition=~models.Q(number=""),
                name="invoice_number_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(status="draft") | ~models.Q(number=""),
                name="invoice_finalised_has_number",
            ),
            models.CheckConstraint(
                condition=models.Q(due_date__isnull=True)
                | models.Q(issue_date__isnull=True)
                | models.Q(due_date__gte=models.F("issue_date")),
                name="invoice_due_after_issue",
            ),
            models.CheckConstraint(
                condition=models.Q(amount_paid__gte=0) & models.Q(amount_paid__lte=models.F("total")),
                name="invoice_paid_within_total",
            ),
        ]
        indexes = [
            models.Index(fields=["organisation", "status", "due_date"]),
            models.Index(fields=["customer", "status"]),
        ]

    #: The row as last read or written, to refuse changes to a finalised invoice's frozen fields.
    _stored: dict[str, Any]

    def __str__(self) -> str:
        return self.named(str(self.get_kind_display()), self.number)

    def save(self, *args: Any, **kwargs: Any) -> None:
        stored = getattr(self, "_stored", None)
        if stored and stored.get("status", self.Status.DRAFT) != self.Status.DRAFT:
            attnames = {f.attname: f for f in self._meta.concrete_fields}
            for name in FROZEN_FIELDS:
                if name in stored and attnames[name].to_python(getattr(self, name)) != stored[name]:
                    raise BusinessError(
                        _("Une facture finalisée ne peut pas être modifiée ; émettez un avoir."),
                        code=ErrorCode.DOCUMENT_FINALISED,
                    )
        if not self.public_token:
            self.public_token = new_public_token()
        self.public_key = self.public_token[:12]
        super().save(*args, **kwargs)
        self.mark_stored()

    @staticmethod
    def named(kind_label: str, number: str) -> str:
        """How an invoice is named, from its kind's label (which a batch translates only once)."""
        return f"{kind_label} {number or _('brouillon')}"

    def mark_stored(self) -> None:
        """Take the current values as the stored row: ``save`` calls it, and so does a service
        that wrote the row with its own UPDATE (batch finalisation)."""
        self._stored = {f.attname: getattr(self, f.attname) for f in self._meta.concrete_fields}

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        if self.status != self.Status.DRAFT:
            raise BusinessError(
                _("Une facture finalisée ne peut pas être supprimée."), code=ErrorCode.DOCUMENT_FINALISED
            )
        return super().delete(*args, **kwargs)

    @classmethod
    def from_db(
        cls, db: str | None, field_names: Collection[str], values: Collection[Any], **kwargs: Any
    ) -> Self:
        instance = super().from_db(db, field_names, values, **kwargs)
        instance._stored = dict(zip(field_names, values, strict=True))
        return instance

    @property
    def is_draft(self) -> bool:
        return self.status == self.Status.DRAFT

    @property
    def amount_due(self) -> Decimal:
        if self.status in (self.Status.DRAFT, self.Status.VOID) or self.kind == self.Kind.CREDIT_NOTE:
            return ZERO
        return self.total - self.amount_paid

    def is_overdue(self, today: datetime.date | None = None) -> bool:
        today = today or datetime.date.today()
        return (
            self.status == self.Status.OPEN
            and self.kind == self.Kind.INVOICE
            and self.due_date is not None
            and self.due_date < today
        )

    def display_status(self, today: datetime.date | None = None) -> "Invoice.DisplayStatus":
        """Partly paid and overdue are derived, never stored."""
        if self.status == self.Status.OPEN:
            if self.kind == self.Kind.CREDIT_NOTE:
                return self.DisplayStatus.ISSUED
            if self.is_overdue(today):
                return self.DisplayStatus.OVERDUE
            if self.amount_paid > 0:
                return self.DisplayStatus.PARTLY_PAID
        return self.DisplayStatus(self.status)

    def get_display_status_label(self, today: datetime.date | None = None) -> str:
        return str(self.display_status(today).label)


class DocumentLine(models.Model):
    """The fields of a priced line, shared by invoice and quote lines (a quote's lines become an
    invoice's). Its net is quantity × unit price less the discount, to the cent."""

    product = models.ForeignKey(
        "catalog.Product", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    description = models.CharField(_("description"), max_length=500)
    quantity = models.DecimalField(_("quantité"), max_digits=12, decimal_places=3)
    unit = models.CharField(_("unité"), max_length=20, blank=True)
    unit_price = models.DecimalField(_("prix unitaire"), max_digits=14, decimal_places=2)
    discount_percent = models.DecimalField(_("remise (%)"), max_digits=5, decimal_places=2, default=ZERO)
    tax_category = models.ForeignKey(
        "catalog.TaxCategory",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("catégorie de taxe"),
    )
    tax_codes = models.JSONField(default=list, blank=True, editable=False)
    net_amount = models.DecimalField(_("montant HT"), max_digits=14, decimal_places=2, default=ZERO)
    period_start = models.DateField(_("début de période"), null=True, blank=True)
    period_end = models.DateField(_("fin de période"), null=True, blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.description

    @staticmethod
    def compute_net(quantity: Decimal, unit_price: Decimal, discount_percent: Decimal) -> Decimal:
        gross = quantity * unit_price
        return round_money(gross - gross * discount_percent / 100)


class InvoiceLine(DocumentLine):
    """One line of an invoice; frozen with it at finalisation."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(default=0)
    source_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    source_id = models.CharField(max_length=40, blank=True)
    source = GenericForeignKey("source_type", "source_id")

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("ligne de facture")
        verbose_name_plural = _("lignes de facture")
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="line_quantity_positive"),
            models.CheckConstraint(condition=models.Q(unit_price__gte=0), name="line_price_positive"),
            models.CheckConstraint(
                condition=models.Q(discount_percent__gte=0, discount_percent__lte=100),
                name="line_discount_percent",
            ),
        ]

    def save(self, *args: Any, **kwargs: Any) -> None:
        self._require_draft()
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        self._require_draft()
        return super().delete(*args, **kwargs)

    def _require_draft(self) -> None:
        if self.invoice.status != Invoice.Status.DRAFT:
            raise BusinessError(
                _("Une facture finalisée ne peut pas être modifiée ; émettez un avoir."),
                code=ErrorCode.DOCUMENT_FINALISED,
            )


class InvoiceTax(models.Model):
    """One tax of a finalised invoice, frozen with its rate, base and legal mention."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="taxes")
    tax_rate = models.ForeignKey("core.TaxRate", on_delete=models.PROTECT, related_name="+")
    code = models.CharField(max_length=32)
    name_fr = models.CharField(max_length=80)
    name_en = models.CharField(max_length=80)
    rate = models.DecimalField(max_digits=6, decimal_places=3)
    category_code = models.CharField(max_length=4)
    base = models.DecimalField(max_digits=14, decimal_places=2)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    legal_mention_fr = models.CharField(max_length=255, blank=True)
    legal_mention_en = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["invoice", "code"], name="invoicetax_one_per_rate")]

    def __str__(self) -> str:
        return f"{self.code} {self.amount}"


class Allocation(models.Model):
    """Part of a payment or of a credit note applied to an invoice.

    It lives here rather than in payments because credit notes settle invoices too; the payments
    app creates allocations through ``invoicing.services.allocate``.
    """

    organisation = models.ForeignKey("customers.Organisation", on_delete=models.PROTECT, related_name="+")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="allocations")
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    payment = models.ForeignKey(
        "payments.Payment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="allocations",
    )
    credit_note = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="credit_allocations"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(payment__isnull=False) & models.Q(credit_note__isnull=True))
                | (models.Q(payment__isnull=True) & models.Q(credit_note__isnull=False)),
                name="allocation_one_source",
            ),
            models.CheckConstraint(condition=~models.Q(amount=0), name="allocation_not_zero"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} → {self.invoice}"


class LedgerEntry(models.Model):
    """The customer's account: invoices owe (+), credit notes and payments credit (−), refunds owe (+)."""

    class Kind(models.TextChoices):
        INVOICE = "invoice", _("Facture")
        CREDIT_NOTE = "credit_note", _("Avoir")
        VOID = "void", _("Annulation")
        PAYMENT = "payment", _("Paiement")
        REFUND = "refund", _("Remboursement")
        CHARGEBACK = "chargeback", _("Paiement contesté")

    organisation = models.ForeignKey("customers.Organisation", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="ledger_entries"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    invoice = models.ForeignKey(Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    payment = models.ForeignKey(
        "payments.Payment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    occurred_on = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["occurred_on", "id"]
        verbose_name = _("écriture")
        verbose_name_plural = _("écritures")
        constraints = [
            # One entry per document event: a retried service cannot post an invoice twice.
            models.UniqueConstraint(
                fields=["invoice", "kind"],
                condition=models.Q(kind__in=["invoice", "credit_note", "void"]),
                name="ledger_once_per_document",
            ),
            models.UniqueConstraint(
                fields=["payment", "kind"],
                condition=models.Q(kind="payment"),
                name="ledger_once_per_payment",
            ),
        ]
        indexes = [models.Index(fields=["customer", "occurred_on"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount}"
