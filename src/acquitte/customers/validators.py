"""Checks of identifiers people type: tax registrations, phone numbers and countries."""

import re
from types import ModuleType

import phonenumbers
import pycountry
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from stdnum import exceptions as stdnum_errors
from stdnum.ca import bn
from stdnum.eu import vat
from stdnum.fr import siren, siret

QST_RE = re.compile(r"^\d{10}TQ\d{4}$")


def _checked(module: ModuleType, value: str, label: str) -> str:
    try:
        return module.validate(value)
    except stdnum_errors.ValidationError as exc:
        raise ValidationError(
            _("%(label)s invalide : « %(value)s ».") % {"label": label, "value": value}
        ) from exc


def gst_number(value: str) -> str:
    """Canadian GST/HST registration: a Business Number with its RT program account."""
    cleaned = _checked(bn, value, _("Numéro de TPS"))
    if len(cleaned) != 15 or cleaned[9:11] != "RT":
        raise ValidationError(
            _("Numéro de TPS invalide : « %(value)s » (format 123456789RT0001).") % {"value": value}
        )
    return cleaned


def qst_number(value: str) -> str:
    """Quebec QST registration: ten digits, TQ, four digits (Revenu Québec publishes no checksum)."""
    cleaned = re.sub(r"[\s-]", "", value or "").upper()
    if not QST_RE.match(cleaned):
        raise ValidationError(
            _("Numéro de TVQ invalide : « %(value)s » (format 1234567890TQ0001).") % {"value": value}
        )
    return cleaned


def siren_number(value: str) -> str:
    return _checked(siren, value, _("Numéro SIREN"))


def siret_number(value: str) -> str:
    return _checked(siret, value, _("Numéro SIRET"))


def vat_number(value: str) -> str:
    """Intra-EU VAT number, country prefix included (FR44732829320)."""
    return _checked(vat, value, _("Numéro de TVA intracommunautaire"))


def phone_e164(value: str, region: str = "CA") -> str:
    """Parse a phone number as typed and return it in E.164, or refuse it."""
    if not value:
        return ""
    try:
        parsed = phonenumbers.parse(value, region or None)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(_("Numéro de téléphone invalide : « %(value)s ».") % {"value": value}) from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError(_("Numéro de téléphone invalide : « %(value)s ».") % {"value": value})
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def country_code(value: str) -> None:
    """An ISO 3166-1 alpha-2 code that exists (pycountry's table, from Debian's iso-codes)."""
    known = len(value) == 2 and value.isascii() and value.isupper() and pycountry.countries.get(alpha_2=value)
    if not known:
        raise ValidationError(
            _("Pays inconnu : « %(value)s » (code ISO 3166 à deux lettres, par exemple CA ou FR).")
            % {"value": value[:20]}
        )
