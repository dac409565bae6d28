import uuid
from collections.abc import Iterable
from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from acquitte.customers.models import Address
from acquitte.payments.models import PaymentMethod


class FirstLoginForm(forms.Form):
    """Seed 001: pick or create the billing address, then the main contact, then accept."""

    address = forms.ChoiceField(label=_("Adresse de facturation"), widget=forms.RadioSelect, required=False)
    line1 = forms.CharField(label=_("Adresse"), max_length=200, required=False)
    city = forms.CharField(label=_("Ville"), max_length=100, required=False)
    region = forms.CharField(label=_("Province / région"), max_length=100, required=False)
    postal_code = forms.CharField(label=_("Code postal"), max_length=20, required=False)
    country = forms.CharField(label=_("Pays (code à 2 lettres)"), max_length=2, required=False)
    contact_name = forms.CharField(label=_("Nom du contact principal"), max_length=200)
    contact_email = forms.EmailField(label=_("Courriel du contact"), required=False)
    contact_phone = forms.CharField(label=_("Téléphone du contact"), max_length=20, required=False)
    accept = forms.BooleanField(label=_("J'ai lu et j'accepte les conditions générales"))

    def __init__(self, *args: Any, addresses: Iterable[Address] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["address"]).choices = [(str(a.pk), str(a)) for a in addresses] + [
            ("new", _("Créer une adresse de facturation"))
        ]


class PaymentAmountForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Montant du paiement"), max_digits=14, decimal_places=2, min_value=0.01
    )
    method = forms.ChoiceField(label=_("Moyen de paiement"))
    key = forms.CharField(widget=forms.HiddenInput, initial=lambda: uuid.uuid4().hex)

    def __init__(self, *args: Any, methods: Iterable[PaymentMethod] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["method"]).choices = [(str(m.pk), str(m)) for m in methods]
