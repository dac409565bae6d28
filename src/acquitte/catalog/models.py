from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from acquitte.core.models import TaxRate
from acquitte.core.money import MAX_AMOUNT, check_currency


class TaxCategory(models.Model):
    """What taxes apply to a product in one organisation, e.g. "Taxable Québec" = TPS + TVQ."""

    organisation = models.ForeignKey(
        "customers.Organisation", on_delete=models.CASCADE, related_name="tax_categories"
    )
    code = models.SlugField(_("code"), max_length=40)
    name = models.CharField(_("nom"), max_length=120)
    rates = models.ManyToManyField(TaxRate, related_name="+", verbose_name=_("taux"))

    class Meta:
        ordering = ["name"]
        verbose_name = _("catégorie de taxe")
        verbose_name_plural = _("catégories de taxe")
        constraints = [
            models.UniqueConstraint(fields=["organisation", "code"], name="taxcategory_code_unique")
        ]

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    """A product or service the organisation sells, with its price and tax category."""

    class Kind(models.TextChoices):
        ONE_TIME = "one_time", _("Ponctuel")
        MONTHLY = "monthly", _("Mensuel")
        YEARLY = "yearly", _("Annuel")
        HARDWARE = "hardware", _("Matériel")
        DOMAIN = "domain", _("Nom de domaine")

    organisation = models.ForeignKey(
        "customers.Organisation", on_delete=models.CASCADE, related_name="products"
    )
    sku = models.CharField(_("référence (SKU)"), max_length=64)
    name = models.CharField(_("nom"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(_("type"), max_length=16, choices=Kind.choices, default=Kind.ONE_TIME)
    unit = models.CharField(_("unité"), max_length=20, blank=True)
    unit_price = models.DecimalField(_("prix unitaire"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("devise"), max_length=3)
    tax_category = models.ForeignKey(
        TaxCategory,
        on_delete=models.PROTECT,
        related_name="products",
        verbose_name=_("catégorie de taxe"),
    )
    active = models.BooleanField(_("actif"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("produit ou service")
        verbose_name_plural = _("produits et services")
        constraints = [
            models.UniqueConstraint(fields=["organisation", "sku"], name="product_sku_unique"),
            models.CheckConstraint(condition=models.Q(unit_price__gte=0), name="product_price_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        try:
            self.currency = check_currency(self.currency)
            if self.organisation_id and self.currency != self.organisation.currency:
                errors["currency"] = [
                    str(
                        _("La devise doit être celle de l'organisation (%(o)s).")
                        % {"o": self.organisation.currency}
                    )
                ]
        except ValidationError as exc:
            errors["currency"] = exc.messages
        if self.unit_price is not None and not (Decimal(0) <= self.unit_price <= MAX_AMOUNT):
            errors["unit_price"] = [
                str(_("Le prix doit être compris entre 0 et %(max)s.") % {"max": MAX_AMOUNT})
            ]
        if (
            self.tax_category_id
            and self.organisation_id
            and self.tax_category.organisation_id != self.organisation_id
        ):
            errors["tax_category"] = [str(_("Catégorie de taxe inconnue."))]
        if errors:
            raise ValidationError(errors)
