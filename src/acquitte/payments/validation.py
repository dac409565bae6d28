"""Checks of card and bank numbers as typed. The numbers only pass through: they go to the
provider to be tokenised and are never stored or logged."""

import datetime
import re

from django.utils.translation import gettext as _
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from stdnum import luhn

from acquitte.core.errors import BusinessError, ErrorCode

DIGITS = re.compile(r"\D")


def card_scheme(number: str) -> str:
    """Brand from the number: AMEX 15 digits, VISA and MasterCard 16, all Luhn-checked."""
    if not number.isdigit() or not luhn.is_valid(number):
        raise BusinessError(_("Numéro de carte invalide."), code=ErrorCode.PAYMENT_METHOD_INVALID)
    if len(number) == 15 and number[:2] in ("34", "37"):
        return "amex"
    if len(number) == 16 and number[0] == "4":
        return "visa"
    if len(number) == 16 and (51 <= int(number[:2]) <= 55 or 2221 <= int(number[:4]) <= 2720):
        return "mastercard"
    raise BusinessError(
        _("Seules les cartes AMEX, VISA et MasterCard sont acceptées."), code=ErrorCode.PAYMENT_METHOD_INVALID
    )


def check_card(*, number: str, cvv: str, expiry: str, today: datetime.date) -> tuple[str, str, int, int]:
    """Return (clean number, scheme, month, year) or refuse the card."""
    number = DIGITS.sub("", number or "")
    scheme = card_scheme(number)
    cvv = (cvv or "").strip()
    if not cvv.isdigit() or len(cvv) != (4 if scheme == "amex" else 3):
        raise BusinessError(
            _("Le code de sécurité doit compter %(n)s chiffres.") % {"n": 4 if scheme == "amex" else 3},
            code=ErrorCode.PAYMENT_METHOD_INVALID,
        )
    match = re.fullmatch(r"\s*(\d{2})\s*/\s*(\d{2})\s*", expiry or "")
    if not match or not 1 <= int(match[1]) <= 12:
        raise BusinessError(
            _("Date d'expiration invalide (format MM/AA)."), code=ErrorCode.PAYMENT_METHOD_INVALID
        )
    month, year = int(match[1]), 2000 + int(match[2])
    if (year, month) < (today.year, today.month):
        raise BusinessError(_("Cette carte est expirée."), code=ErrorCode.PAYMENT_METHOD_INVALID)
    return number, scheme, month, year


def check_ach_routing(routing: str) -> str:
    routing = DIGITS.sub("", routing or "")
    d = [int(c) for c in routing]
    if len(d) != 9 or (3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + d[2] + d[5] + d[8]) % 10:
        raise BusinessError(
            _("Numéro d'acheminement invalide (9 chiffres)."), code=ErrorCode.PAYMENT_METHOD_INVALID
        )
    return routing


def _digits_only(value: str) -> str:
    """The digits of a bank number typed with spaces at most; anything else (dashes, letters) is
    not silently dropped: "0000-00-00" is not the account 00000000."""
    compact = (value or "").replace(" ", "")
    return compact if compact.isascii() and compact.isdigit() else ""


def check_account_number(account: str, *, low: int = 4, high: int = 17) -> str:
    account = _digits_only(account)
    if not low <= len(account) <= high or not account.strip("0"):
        raise BusinessError(
            _("Numéro de compte invalide : %(low)d à %(high)d chiffres, sans tiret ni lettre.")
            % {"low": low, "high": high},
            code=ErrorCode.PAYMENT_METHOD_INVALID,
        )
    return account


def check_pad(*, institution: str, transit: str, account: str) -> str:
    """Canadian pre-authorised debit: institution (3), transit (5), account (7 to 12 digits)."""
    institution, transit = _digits_only(institution), _digits_only(transit)
    if len(institution) != 3 or len(transit) != 5:
        raise BusinessError(
            _("Institution (3 chiffres) ou transit (5 chiffres) invalide."),
            code=ErrorCode.PAYMENT_METHOD_INVALID,
        )
    return institution + transit + check_account_number(account, low=7, high=12)


def check_sepa(*, iban: str, bic: str = "") -> str:
    try:
        parsed = IBAN(iban)
        if bic:
            BIC(bic)
    except SchwiftyException as exc:
        raise BusinessError(_("IBAN ou BIC invalide."), code=ErrorCode.PAYMENT_METHOD_INVALID) from exc
    return parsed.compact
