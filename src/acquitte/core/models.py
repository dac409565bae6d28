from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from .actors import describe_actor_label


class TaxRate(models.Model):
    """A tax of one jurisdiction at one rate. Shared reference data, not tenant data."""

    class Treatment(models.TextChoices):
        STANDARD = "standard", _("Taxable")
        ZERO = "zero", _("Taux zéro")
        EXEMPT = "exempt", _("Exonéré")
        REVERSE_CHARGE = "reverse_charge", _("Autoliquidation")

    # EN 16931 / UNTDID 5305 category codes, kept here so the Factur-X export needs no mapping.
    CATEGORY_CODES = {"standard": "S", "zero": "Z", "exempt": "E", "reverse_charge": "AE"}

    code = models.CharField(max_length=32, unique=True)
    country = models.CharField(max_length=2)
    region = models.CharField(max_length=8, blank=True)
    name_fr = models.CharField(max_length=80)
    name_en = models.CharField(max_length=80)
    rate = models.DecimalField(max_digits=6, decimal_places=3, help_text=_("En pourcentage"))
    treatment = models.CharField(max_length=16, choices=Treatment.choices, default="standard")
    legal_mention_fr = models.CharField(max_length=255, blank=True)
    legal_mention_en = models.CharField(max_length=255, blank=True)
    exemption_code = models.CharField(max_length=32, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["country", "region", "code"]
        verbose_name = _("taux de taxe")
        verbose_name_plural = _("taux de taxe")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rate__gte=0, rate__lte=100), name="taxrate_rate_percent"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.rate.normalize():f} %)"

    @property
    def name(self) -> str:
        return self.name_en if (get_language() or "fr").startswith("en") else self.name_fr

    @property
    def legal_mention(self) -> str:
        lang = get_language() or "fr"
        return self.legal_mention_en if lang.startswith("en") else self.legal_mention_fr

    @property
    def category_code(self) -> str:
        return self.CATEGORY_CODES[self.treatment]


class NumberSeries(models.Model):
    """A gapless numbering series of one organisation, e.g. invoices ``F-{year}-{seq:06d}``."""

    class Kind(models.TextChoices):
        INVOICE = "invoice", _("Factures")
        CREDIT_NOTE = "credit_note", _("Avoirs")
        PROFORMA = "proforma", _("Pro forma")
        QUOTE = "quote", _("Soumissions / devis")
        CUSTOMER = "customer", _("Clients")

    organisation = models.ForeignKey(
        "customers.Organisation", on_delete=models.CASCADE, related_name="number_series"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    format = models.CharField(
        max_length=64, help_text=_("Par exemple F-{year}-{seq:06d}; {seq} est obligatoire.")
    )
    reset_yearly = models.BooleanField(default=True)
    current_year = models.PositiveIntegerField(default=0)
    last_value = models.PositiveBigIntegerField(default=0)
    last_date = models.DateField(null=True, blank=True)

    class Meta:
        verbose_name = _("série de numérotation")
        verbose_name_plural = _("séries de numérotation")
        constraints = [
            models.UniqueConstraint(fields=["organisation", "kind"], name="numberseries_one_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} — {self.format}"

    def render(self, *, year: int, seq: int) -> str:
        return self.format.format(year=year, seq=seq)

    def clean(self) -> None:
        if "{seq" not in self.format:
            raise ValidationError({"format": _("Le format doit contenir {seq}.")})
        try:
            self.render(year=2026, seq=1)
        except (KeyError, ValueError, IndexError) as exc:
            raise ValidationError({"format": _("Format de numéro invalide.")}) from exc


class AuditAction(models.TextChoices):
    """What an audit row records. One vocabulary for every app, so the history reads the same everywhere."""

    CREATE = "create", _("Création")
    UPDATE = "update", _("Modification")
    SEND = "send", _("Envoi")
    VIEW = "view", _("Consultation par le client")
    APPROVE = "approve", _("Approbation")
    CONVERT = "convert", _("Facture émise")
    DECLINE = "decline", _("Refus")
    EXPIRE = "expire", _("Expiration")
    DELETE = "delete", _("Suppression")
    FINALISE = "finalise", _("Émission")
    VOID = "void", _("Annulation")
    PAID = "paid", _("Payée")
    REOPEN = "reopen", _("Réouverte")
    REVOKE_LINK = "revoke_link", _("Lien public révoqué")
    TRANSITION = "transition", _("Changement d'état")
    ADD_METHOD = "add_method", _("Moyen de paiement ajouté")
    RECORD = "record", _("Paiement enregistré")
    REFUND = "refund", _("Remboursement")
    CONNECT = "connect", _("Connexion")
    DISCONNECT = "disconnect", _("Déconnexion")
    ONLINE_PAYMENT_DEFAULT = "online_payment_default", _("Paiement en ligne par défaut")


class AuditLog(models.Model):
    """Who changed the state of what, when, from and to. Append-only."""

    organisation = models.ForeignKey("customers.Organisation", on_delete=models.CASCADE, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=120, blank=True)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    object_id = models.CharField(max_length=40)
    object_repr = models.CharField(max_length=200)
    action = models.CharField(max_length=40, choices=AuditAction.choices)
    from_state = models.CharField(max_length=32, blank=True)
    to_state = models.CharField(max_length=32, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("journal d'audit")
        verbose_name_plural = _("journal d'audit")
        indexes = [models.Index(fields=["content_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.object_repr}: {self.from_state} → {self.to_state}"

    @property
    def action_label(self) -> str:
        return str(self.get_action_display())

    @property
    def actor_display(self) -> str:
        return describe_actor_label(self.actor_label)
