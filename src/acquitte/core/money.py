"""Money: Decimal amounts with their currency, rounded to the cent half-up (never float)."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.numbers import get_currency_name
from django.utils.translation import gettext as _

from .errors import BusinessError, ErrorCode

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# Amounts above this are refused: no invoice of this product is a billion, and it keeps the
# fixed-precision columns (14 digits, 2 places) far from overflow.
MAX_AMOUNT = Decimal("999999999.99")

#: An amount as callers give it: typed in a form (str), counted (int) or computed (Decimal).
Amount = Decimal | int | str


def to_decimal(value: Amount | float) -> Decimal:
    """Read an amount given as str, int or Decimal. Floats are refused: they are not exact."""
    if isinstance(value, float):
        raise TypeError("Money must not be a float; pass a str or Decimal.")
    try:
        result = Decimal(value)
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise BusinessError(
            _("« %(value)s » n'est pas un montant valide.") % {"value": value}, code=ErrorCode.INVALID_AMOUNT
        ) from exc
    if not result.is_finite():
        raise BusinessError(
            _("« %(value)s » n'est pas un montant valide.") % {"value": value}, code=ErrorCode.INVALID_AMOUNT
        )
    return result


def round_money(value: Decimal) -> Decimal:
    """Round to the cent, half away from zero (the EN 16931 and tax-authority rule)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def check_currency(code: str) -> str:
    """Return the ISO 4217 code upper-cased, or refuse an unknown one."""
    code = (code or "").strip().upper()
    try:
        known = len(code) == 3 and get_currency_name(code, locale="en") != code
    except Exception:  # babel raises for malformed codes
        known = False
    if not known:
        raise BusinessError(
            _("Devise inconnue : « %(code)s ».") % {"code": code}, code=ErrorCode.INVALID_INPUT
        )
    return code
