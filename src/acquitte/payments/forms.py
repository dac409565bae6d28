import datetime
from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Payment, PaymentMethod, TransferDeclaration


class CardForm(forms.Form):
    holder = forms.CharField(label=_("Titulaire de la carte (prénom et nom)"), max_length=120)
    number = forms.CharField(
        label=_("Numéro de carte"),
        max_length=23,
        widget=forms.TextInput(attrs={"autocomplete": "cc-number", "inputmode": "numeric"}),
    )
    expiry = forms.CharField(
        label=_("Date d'expiration (MM/AA)"),
        max_length=5,
        widget=forms.TextInput(attrs={"autocomplete": "cc-exp", "placeholder": "MM/AA"}),
    )
    cvv = forms.CharField(
        label=_("Code de sécurité (CVV)"),
        max_length=4,
        widget=forms.PasswordInput(attrs={"autocomplete": "cc-csc", "inputmode": "numeric"}),
    )


class TransferDeclarationForm(forms.Form):
    kind = forms.ChoiceField(label=_("Mode"), choices=TransferDeclaration.Kind.choices)
    reference = forms.CharField(label=_("Référence du virement ou numéro du chèque"), max_length=120)
    sent_on = forms.DateField(
        label=_("Envoyé le"), initial=datetime.date.today, widget=forms.DateInput(attrs={"type": "date"})
    )
    amount = forms.DecimalField(
        label=_("Montant"), max_digits=14, decimal_places=2, min_value=Decimal("0.01")
    )


class DebitMandateForm(forms.Form):
    holder = forms.CharField(label=_("Titulaire du compte (prénom et nom)"), max_length=120)
    scheme = forms.ChoiceField(
        label=_("Type de compte"),
        choices=[
            (scheme.value, scheme.label)
            for scheme in (PaymentMethod.Scheme.PAD, PaymentMethod.Scheme.ACH, PaymentMethod.Scheme.SEPA)
        ],
    )
    bank_name = forms.CharField(label=_("Nom de la banque"), max_length=120, required=False)
    institution = forms.CharField(label=_("Institution (3 chiffres)"), max_length=3, required=False)
    transit = forms.CharField(label=_("Transit (5 chiffres)"), max_length=5, required=False)
    routing = forms.CharField(label=_("Numéro d'acheminement (9 chiffres)"), max_length=9, required=False)
    account = forms.CharField(label=_("Numéro de compte"), max_length=17, required=False)
    iban = forms.CharField(label=_("IBAN"), max_length=42, required=False)
    bic = forms.CharField(label=_("BIC"), max_length=11, required=False)


class RecordPaymentForm(forms.Form):
    """Staff record money received outside the providers (seed 000: transfer or cheque)."""

    method = forms.ChoiceField(
        label=_("Mode"),
        choices=[
            (method.value, method.label)
            for method in (
                Payment.Method.BANK_TRANSFER,
                Payment.Method.CHEQUE,
                Payment.Method.CASH,
                Payment.Method.OTHER,
            )
        ],
    )
    amount = forms.DecimalField(
        label=_("Montant reçu"), max_digits=14, decimal_places=2, min_value=Decimal("0.01")
    )
    received_on = forms.DateField(
        label=_("Reçu le"), initial=datetime.date.today, widget=forms.DateInput(attrs={"type": "date"})
    )
    reference = forms.CharField(label=_("Référence"), max_length=120, required=False)
