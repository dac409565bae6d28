import logging
import unicodedata
import uuid
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.tokens import default_token_generator
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from acquitte.core.actors import System
from acquitte.customers.models import Address, User
from acquitte.notifications import services as notifications
from acquitte.payments.models import PaymentMethod

log = logging.getLogger("acquitte.security")


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
        label=_("Montant du paiement"), max_digits=14, decimal_places=2, min_value=Decimal("0.01")
    )
    method = forms.ChoiceField(label=_("Moyen de paiement"))
    key = forms.CharField(widget=forms.HiddenInput, initial=lambda: uuid.uuid4().hex)

    def __init__(self, *args: Any, methods: Iterable[PaymentMethod] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["method"]).choices = [(str(m.pk), str(m)) for m in methods]


def _same_address(typed: str, stored: str) -> bool:
    """Django's comparison for reset addresses: Unicode-normalised and case-folded."""
    return unicodedata.normalize("NFKC", typed).casefold() == unicodedata.normalize("NFKC", stored).casefold()


class OutboxPasswordResetForm(PasswordResetForm):
    """Django's reset form, with the e-mail written to the outbox instead of sent during the request.

    The message is delivered by the outbox task after commit, in the user's language. The request
    does the same work whether the address is known or not (a lookup, and for a known address a
    row written), so its duration no longer tells which addresses have an account; requests per
    address and per typed e-mail are limited (``ACQUITTE_RATE_LIMITS["password_reset"]``).
    """

    def get_users(self, email: str) -> Iterator[User]:
        """Django's rule (active, usable password, same address), with the organisation fetched in
        the same query: the request does as few queries for a known address as for an unknown one."""
        users = User.objects.select_related("organisation", "customer__organisation").filter(
            email__iexact=email, is_active=True
        )
        return (u for u in users if u.has_usable_password() and _same_address(email, u.email))

    def save(self, *args: Any, **kwargs: Any) -> None:
        self._queued = False
        super().save(*args, **kwargs)
        if not self._queued:
            self._decoy(kwargs)

    def _decoy(self, options: dict[str, Any]) -> None:
        """For an unknown address, the same token and rendering work as for a known one, kept nowhere."""
        email = self.cleaned_data["email"]
        nobody = User(email=email)
        context = {
            "email": email,
            "domain": "localhost",
            "site_name": "localhost",
            "uid": "MA",
            "user": nobody,
            "token": default_token_generator.make_token(nobody),
            "protocol": "https",
        }
        with translation.override(translation.get_language()):
            render_to_string(
                options.get("subject_template_name", "portal/password_reset_subject.txt"), context
            )
            render_to_string(options.get("email_template_name", "portal/password_reset_email.txt"), context)

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        user = cast(User, context["user"])
        organisation = user.organisation or (user.customer.organisation if user.customer else None)
        if organisation is None:
            # A platform administrator belongs to no organisation: `manage.py changepassword`.
            log.warning("Password reset asked for an account without organisation: user=%s", user.pk)
            return
        with translation.override(user.language):
            subject = " ".join(render_to_string(subject_template_name, context).split())
            body = render_to_string(email_template_name, context)
        notifications.queue_email(
            organisation=organisation,
            actor=System(reason="password_reset"),
            to=to_email,
            kind="password_reset",
            subject=subject,
            body=body,
        )
        self._queued = True
