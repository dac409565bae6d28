import datetime

from django import forms
from django.utils.translation import gettext_lazy as _


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
    kind = forms.ChoiceField(
        label=_("Mode"), choices=[("bank_transfer", _("Virement bancaire")), ("cheque", _("Chèque"))]
    )
    reference = forms.CharField(label=_("Référence du virement ou numéro du chèque"), max_length=120)
    sent_on = forms.DateField(
        label=_("Envoyé le"), initial=datetime.date.today, widget=forms.DateInput(attrs={"type": "date"})
    )
    amount = forms.DecimalField(label=_("Montant"), max_digits=14, decimal_places=2, min_value=0.01)
