from decimal import Decimal
from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from acquitte.catalog.models import Product, TaxCategory
from acquitte.customers.models import Address, Contact, Customer, Organisation, Site
from acquitte.invoicing.models import Invoice
from acquitte.subscriptions.models import RECURRING_KINDS

ADDRESS_FIELDS = ["line1", "line2", "city", "region", "postal_code", "country"]


class ScopedForm(forms.ModelForm):
    """A model form whose tax-category choices are limited to the staff member's organisation."""

    def __init__(self, *args: Any, organisation: Organisation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "tax_category" in self.fields:
            cast(forms.ModelChoiceField, self.fields["tax_category"]).queryset = TaxCategory.objects.filter(
                organisation=organisation
            )


class CustomerForm(ScopedForm):
    class Meta:
        model = Customer
        fields = ["kind", "name", "email", "phone", "language", "vat_number", "tax_category"]
        help_texts = {
            "phone": _("Numéro mobile au format international (+1 514 555 0101) pour l'envoi par SMS."),
            "tax_category": _("Laisser vide : les taxes de chaque produit s'appliquent."),
        }
        widgets = {"email": forms.EmailInput(), "phone": forms.TextInput(attrs={"type": "tel"})}


class AddressForm(forms.ModelForm):
    class Meta:
        model = Address
        fields = ["label", "name", *ADDRESS_FIELDS]


class ContactForm(forms.ModelForm):
    class Meta:
        model = Contact
        fields = ["name", "company", "email", "phone", "is_primary", "is_billing"]


class SiteForm(forms.ModelForm):
    class Meta:
        model = Site
        fields = ["name", *ADDRESS_FIELDS]


class ProductForm(ScopedForm):
    class Meta:
        model = Product
        fields = ["name", "unit_price", "tax_category", "kind", "unit", "sku", "description", "active"]
        help_texts = {"sku": _("Laisser vide pour la créer à partir du nom.")}
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["sku"].required = False
        self.fields["unit_price"].widget.attrs.update({"inputmode": "decimal", "min": "0", "step": "0.01"})


class QuantityForm(forms.Form):
    quantity = forms.DecimalField(
        label=_("Quantité"),
        min_value=0,
        max_digits=12,
        decimal_places=3,
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "any", "min": "0"}),
    )


class QuoteDetailsForm(forms.Form):
    valid_until = forms.DateField(
        label=_("Valable jusqu'au"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    notes = forms.CharField(
        label=_("Notes pour le client"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class InvoiceDatesForm(forms.Form):
    due_date = forms.DateField(
        label=_("Échéance"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class InvoiceFilterForm(forms.Form):
    q = forms.CharField(label=_("Recherche"), required=False)
    status = forms.ChoiceField(
        label=_("État"),
        required=False,
        choices=[
            ("", _("Tous")),
            ("draft", _("Brouillon")),
            ("open", _("À payer")),
            ("overdue", _("En retard")),
            ("paid", _("Payée")),
            ("void", _("Annulée")),
        ],
    )
    kind = forms.ChoiceField(
        label=_("Type"), required=False, choices=[("", _("Tous")), *Invoice.Kind.choices]
    )
    date_from = forms.DateField(label=_("Du"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("Au"), required=False, widget=forms.DateInput(attrs={"type": "date"}))


class RefundForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Montant à rembourser"), max_digits=14, decimal_places=2, min_value=Decimal("0.01")
    )


class OnlinePaymentDefaultForm(forms.Form):
    online_payment_default = forms.BooleanField(
        label=_("Proposer le paiement en ligne sur toutes les factures, par défaut"), required=False
    )


PROVIDER_FIELDS = {
    "stripe": [
        ("secret_key", _("Clé secrète (sk_…)")),
        ("webhook_secret", _("Secret de signature des webhooks (whsec_…)")),
    ],
    "gocardless": [("access_token", _("Jeton d'accès")), ("webhook_secret", _("Secret des webhooks"))],
    "paypal": [
        ("client_id", _("Client ID")),
        ("client_secret", _("Secret")),
        ("webhook_id", _("ID du webhook (Webhook ID)")),
    ],
}


class ProviderForm(forms.Form):
    """The credentials a provider asks for; PayPal's carry no mode, so it is chosen here."""

    mode = forms.ChoiceField(
        label=_("Environnement"), choices=[("test", _("Test (sandbox)")), ("live", _("Production"))]
    )

    def __init__(self, *args: Any, provider: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, label in PROVIDER_FIELDS[provider]:
            self.fields[name] = forms.CharField(
                label=label, max_length=500, widget=forms.PasswordInput(render_value=False)
            )
        if provider != "paypal":
            del self.fields["mode"]


# --- orders, subscriptions, billing (issue 18) ---

DAY_CHOICES = [(day, str(day)) for day in range(1, 29)]


class BillingSettingsForm(forms.Form):
    """Bill day and collection day (1 to 28: every month has them), and the zone that dates them."""

    bill_day = forms.TypedChoiceField(label=_("Jour de facturation"), choices=DAY_CHOICES, coerce=int)
    collection_day = forms.TypedChoiceField(label=_("Jour de prélèvement"), choices=DAY_CHOICES, coerce=int)
    time_zone = forms.ChoiceField(label=_("Fuseau horaire"))

    def __init__(self, *args: Any, zones: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["time_zone"]).choices = [(zone, zone) for zone in zones]


class ClockForm(forms.Form):
    to = forms.DateField(label=_("Aller à la date"), widget=forms.DateInput(attrs={"type": "date"}))


class OrderFilterForm(forms.Form):
    q = forms.CharField(label=_("Recherche"), required=False, max_length=200)
    status = forms.ChoiceField(label=_("État"), required=False)

    def __init__(self, *args: Any, statuses: list[tuple[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["status"]).choices = [("", _("Tous")), *statuses]


class OrderLineForm(forms.Form):
    """One line of an order: a catalogue product, on one of the customer's sites."""

    product = forms.ModelChoiceField(label=_("Produit"), queryset=Product.objects.none())
    site = forms.ModelChoiceField(label=_("Site"), queryset=Site.objects.none())
    quantity = forms.DecimalField(
        label=_("Quantité"),
        min_value=Decimal("0.001"),
        max_digits=12,
        decimal_places=3,
        initial=1,
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "any", "min": "0"}),
    )

    def __init__(self, *args: Any, organisation: Organisation, customer: Customer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["product"]).queryset = Product.objects.filter(
            organisation=organisation, active=True
        ).order_by("name")
        cast(forms.ModelChoiceField, self.fields["site"]).queryset = customer.sites.filter(active=True)


class SubscriptionFilterForm(forms.Form):
    q = forms.CharField(label=_("Recherche"), required=False, max_length=200)
    status = forms.ChoiceField(label=_("État"), required=False)
    period = forms.ChoiceField(label=_("Périodicité"), required=False)
    product = forms.ModelChoiceField(label=_("Produit"), required=False, queryset=Product.objects.none())

    def __init__(
        self,
        *args: Any,
        organisation: Organisation,
        statuses: list[tuple[str, Any]],
        periods: list[tuple[str, Any]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["status"]).choices = [("", _("Tous")), *statuses]
        cast(forms.ChoiceField, self.fields["period"]).choices = [("", _("Toutes")), *periods]
        cast(forms.ModelChoiceField, self.fields["product"]).queryset = Product.objects.filter(
            organisation=organisation, kind__in=list(RECURRING_KINDS)
        ).order_by("name")
        self.fields["product"].empty_label = _("Tous")  # type: ignore[attr-defined]


class ChangeQuantityForm(forms.Form):
    quantity = forms.DecimalField(
        label=_("Nouvelle quantité"),
        min_value=Decimal("0.001"),
        max_digits=12,
        decimal_places=3,
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "any", "min": "0"}),
    )


class ChangeProductForm(forms.Form):
    product = forms.ModelChoiceField(label=_("Nouveau produit"), queryset=Product.objects.none())

    def __init__(self, *args: Any, organisation: Organisation, period: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        kinds = [kind for kind, of in RECURRING_KINDS.items() if of == period]
        cast(forms.ModelChoiceField, self.fields["product"]).queryset = Product.objects.filter(
            organisation=organisation, active=True, kind__in=kinds
        ).order_by("name")


class CancelSubscriptionForm(forms.Form):
    when = forms.ChoiceField(
        label=_("Résilier"),
        choices=[("end", _("À la fin de la période en cours")), ("now", _("Maintenant"))],
        widget=forms.RadioSelect,
        initial="end",
    )
