from django import forms
from django.utils.translation import gettext_lazy as _


class ApproveForm(forms.Form):
    name = forms.CharField(label=_("Votre nom"), max_length=200)
    agree = forms.BooleanField(label=_("J'approuve cette soumission et ses conditions."))


class DeclineForm(forms.Form):
    reason = forms.CharField(label=_("Motif (facultatif)"), max_length=500, required=False)
