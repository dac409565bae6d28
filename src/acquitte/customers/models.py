from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from acquitte.core.money import check_currency

from . import validators


class AddressFields(models.Model):
    line1 = models.CharField(_("adresse"), max_length=200)
    line2 = models.CharField(_("complément"), max_length=200, blank=True)
    city = models.CharField(_("ville"), max_length=100)
    region = models.CharField(_("province / région"), max_length=100, blank=True)
    postal_code = models.CharField(_("code postal"), max_length=20)
    country = models.CharField(
        _("pays"),
        max_length=2,
        default="CA",
        validators=[validators.country_code],
        help_text=_("Code ISO 3166 à deux lettres (CA, FR, …)."),
    )

    class Meta:
        abstract = True

    def address_lines(self) -> list[str]:
        city = " ".join(p for p in [self.city, self.region, self.postal_code] if p)
        return [line for line in [self.line1, self.line2, city, self.country] if line]


class Organisation(AddressFields):
    """A business that bills its customers: the tenant. Every other row belongs to one."""

    name = models.CharField(_("raison sociale"), max_length=200)
    slug = models.SlugField(unique=True)
    currency = models.CharField(_("devise"), max_length=3, default="CAD")
    locale = models.CharField(
        _("langue et formats"),
        max_length=5,
        choices=[
            ("fr-CA", "Français (Canada)"),
            ("fr-FR", "Français (France)"),
            ("en-CA", "English (Canada)"),
        ],
        default="fr-CA",
    )
    gst_number = models.CharField(_("numéro de TPS/TVH"), max_length=20, blank=True)
    qst_number = models.CharField(_("numéro de TVQ"), max_length=20, blank=True)
    siren = models.CharField(_("SIREN"), max_length=9, blank=True)
    siret = models.CharField(_("SIRET"), max_length=14, blank=True)
    vat_number = models.CharField(_("numéro de TVA intracommunautaire"), max_length=20, blank=True)
    legal_form = models.CharField(_("forme juridique et capital"), max_length=120, blank=True)
    payment_terms_days = models.PositiveSmallIntegerField(_("délai de paiement (jours)"), default=30)
    late_penalty_rate = models.DecimalField(
        _("taux des pénalités de retard (%)"), max_digits=5, decimal_places=2, default=0
    )
    bank_details = models.TextField(_("coordonnées bancaires (virement)"), blank=True)
    iban = models.CharField(_("IBAN"), max_length=34, blank=True)
    bic = models.CharField(_("BIC"), max_length=11, blank=True)
    cheque_payee = models.CharField(_("chèques à l'ordre de"), max_length=200, blank=True)
    support_email = models.EmailField(_("courriel du support"), blank=True)
    support_phone = models.CharField(_("téléphone du support"), max_length=20, blank=True)
    online_payment_default = models.BooleanField(
        _("proposer le paiement en ligne sur toutes les factures"), default=True
    )
    transfer_grace_days = models.PositiveSmallIntegerField(
        _("délai de grâce après un virement ou chèque déclaré (jours)"), default=7
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        checks = {
            "gst_number": validators.gst_number,
            "qst_number": validators.qst_number,
            "siren": validators.siren_number,
            "siret": validators.siret_number,
            "vat_number": validators.vat_number,
        }
        for field, check in checks.items():
            value = getattr(self, field)
            if value:
                try:
                    setattr(self, field, check(value))
                except ValidationError as exc:
                    errors[field] = exc.messages
        try:
            self.currency = check_currency(self.currency)
        except ValidationError as exc:
            errors["currency"] = exc.messages
        if self.support_phone:
            try:
                self.support_phone = validators.phone_e164(self.support_phone, self.country)
            except ValidationError as exc:
                errors["support_phone"] = exc.messages
        if errors:
            raise ValidationError(errors)

    @property
    def babel_locale(self) -> str:
        lang = (get_language() or "fr")[:2]
        return f"{lang}_{self.locale[-2:]}"


class TermsVersion(models.Model):
    """A published version of the organisation's terms and conditions; the newest is current."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="terms_versions")
    version = models.CharField(_("version"), max_length=20)
    body_fr = models.TextField(_("texte (français)"))
    body_en = models.TextField(_("texte (anglais)"), blank=True)
    published_at = models.DateTimeField(_("publiée le"))

    class Meta:
        ordering = ["-published_at"]
        verbose_name = _("version des conditions générales")
        verbose_name_plural = _("versions des conditions générales")
        constraints = [
            models.UniqueConstraint(fields=["organisation", "version"], name="terms_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.organisation} — {self.version}"


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> "User":
        if not email:
            raise ValueError("email is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> "User":
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in by e-mail: staff of one organisation, or a customer's portal user."""

    class Role(models.TextChoices):
        OWNER = "owner", _("Propriétaire")
        ACCOUNTANT = "accountant", _("Comptable")
        READ_ONLY = "read_only", _("Lecture seule")

    email = models.EmailField(_("courriel"), unique=True)
    full_name = models.CharField(_("nom complet"), max_length=150, blank=True)
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.CASCADE, related_name="staff"
    )
    role = models.CharField(_("rôle"), max_length=16, choices=Role.choices, blank=True)
    customer = models.ForeignKey(
        "Customer", null=True, blank=True, on_delete=models.CASCADE, related_name="portal_users"
    )
    language = models.CharField(_("langue"), max_length=2, choices=settings.LANGUAGES, default="fr")
    is_staff = models.BooleanField(_("accès au back-office"), default=False)
    is_active = models.BooleanField(_("actif"), default=True)
    date_joined = models.DateTimeField(auto_now_add=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"

    class Meta:
        verbose_name = _("utilisateur")
        verbose_name_plural = _("utilisateurs")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(organisation__isnull=True) | models.Q(customer__isnull=True),
                name="user_staff_or_customer",
            ),
        ]

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.get_full_name()

    @property
    def can_write(self) -> bool:
        """Owners and accountants change data; read-only staff only look."""
        return self.is_superuser or self.role in (self.Role.OWNER, self.Role.ACCOUNTANT)

    @property
    def can_manage_settings(self) -> bool:
        return self.is_superuser or self.role == self.Role.OWNER


class Customer(models.Model):
    """Someone the organisation bills: a person or a company."""

    class Kind(models.TextChoices):
        PERSON = "person", _("Particulier")
        COMPANY = "company", _("Entreprise")

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="customers")
    number = models.CharField(_("numéro de client"), max_length=32)
    kind = models.CharField(_("type"), max_length=10, choices=Kind.choices, default=Kind.COMPANY)
    name = models.CharField(_("nom"), max_length=200)
    email = models.EmailField(_("courriel"))
    phone = models.CharField(_("téléphone"), max_length=20, blank=True)
    language = models.CharField(_("langue"), max_length=2, choices=settings.LANGUAGES, default="fr")
    currency = models.CharField(_("devise"), max_length=3)
    vat_number = models.CharField(_("numéro de TVA"), max_length=20, blank=True)
    tax_category = models.ForeignKey(
        "catalog.TaxCategory",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("régime de taxe imposé"),
        help_text=_("Remplace la catégorie des produits (exonération, autoliquidation)."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("client")
        verbose_name_plural = _("clients")
        constraints = [
            models.UniqueConstraint(fields=["organisation", "number"], name="customer_number_unique")
        ]
        indexes = [models.Index(fields=["organisation", "name"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.number})"

    def clean(self) -> None:
        errors = {}
        try:
            self.currency = check_currency(self.currency)
            if self.organisation_id and self.currency != self.organisation.currency:
                errors["currency"] = [
                    _("La devise du client (%(c)s) doit être celle de l'organisation (%(o)s).")
                    % {"c": self.currency, "o": self.organisation.currency}
                ]
        except ValidationError as exc:
            errors["currency"] = exc.messages
        if self.phone:
            try:
                region = self.organisation.country if self.organisation_id else "CA"
                self.phone = validators.phone_e164(self.phone, region)
            except ValidationError as exc:
                errors["phone"] = exc.messages
        if self.vat_number:
            try:
                self.vat_number = validators.vat_number(self.vat_number)
            except ValidationError as exc:
                errors["vat_number"] = exc.messages
        if errors:
            raise ValidationError(errors)


class Address(AddressFields):
    """A billing address of a customer; exactly one may be the default."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="addresses")
    label = models.CharField(_("libellé"), max_length=80, blank=True)
    name = models.CharField(_("destinataire"), max_length=200, blank=True)
    is_default = models.BooleanField(_("par défaut"), default=False)

    class Meta:
        ordering = ["-is_default", "id"]
        verbose_name = _("adresse de facturation")
        verbose_name_plural = _("adresses de facturation")
        constraints = [
            models.UniqueConstraint(
                fields=["customer"], condition=models.Q(is_default=True), name="address_one_default"
            )
        ]

    def __str__(self) -> str:
        return ", ".join(self.address_lines())


class Contact(models.Model):
    """A person at the customer; a billing sub-contact gets invoices in its own name (seed 002)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(_("nom"), max_length=200)
    company = models.CharField(_("entreprise"), max_length=200, blank=True)
    email = models.EmailField(_("courriel"), blank=True)
    phone = models.CharField(_("téléphone"), max_length=20, blank=True)
    is_primary = models.BooleanField(_("contact principal"), default=False)
    is_billing = models.BooleanField(_("sous-contact de facturation"), default=False)
    address = models.ForeignKey(
        Address,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("adresse de facturation"),
    )

    class Meta:
        ordering = ["-is_primary", "name"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        constraints = [
            models.UniqueConstraint(
                fields=["customer"], condition=models.Q(is_primary=True), name="contact_one_primary"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        # A form checks a new contact before it has its customer; the service checks it again with one.
        if self.phone and self.customer_id is not None:
            try:
                self.phone = validators.phone_e164(self.phone, self.customer.organisation.country)
            except ValidationError as exc:
                raise ValidationError({"phone": exc.messages}) from exc
        if self.address is not None and self.address.customer_id != self.customer_id:
            raise ValidationError({"address": _("Cette adresse appartient à un autre client.")})


class Site(AddressFields):
    """A location of the customer where services run; the monthly invoice covers all of them."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="sites")
    name = models.CharField(_("nom du site"), max_length=200)
    active = models.BooleanField(_("actif"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("site")
        verbose_name_plural = _("sites")

    def __str__(self) -> str:
        return self.name


class TermsAcceptance(models.Model):
    """Proof that a customer accepted a version of the terms: who, when, from which address."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="terms_acceptances")
    terms = models.ForeignKey(TermsVersion, on_delete=models.PROTECT, related_name="acceptances")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    accepted_at = models.DateTimeField(auto_now_add=True)
    ip_address = models.GenericIPAddressField()

    class Meta:
        ordering = ["-accepted_at"]
        verbose_name = _("acceptation des conditions")
        verbose_name_plural = _("acceptations des conditions")
        constraints = [models.UniqueConstraint(fields=["customer", "terms"], name="terms_accepted_once")]

    def __str__(self) -> str:
        return f"{self.customer} — {self.terms.version}"
