"""Tax computation by the EN 16931 rule: per rate, on the sum of the line nets of that rate."""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from .money import ZERO, round_money

if TYPE_CHECKING:
    from .models import TaxRate


@dataclass(frozen=True)
class TaxableLine:
    net: Decimal  # already rounded to the cent
    rates: tuple["TaxRate", ...]


@dataclass(frozen=True)
class TaxAmount:
    rate: "TaxRate"
    base: Decimal
    amount: Decimal


def tax_breakdown(lines: Iterable[TaxableLine]) -> list[TaxAmount]:
    """Group line nets by tax rate, then round the tax of each group once, half-up.

    Quebec's GST and QST are both computed on the pre-tax amount, so a line carries both rates
    and its net counts in both groups; neither tax is levied on the other.
    """
    rates: dict[str, TaxRate] = {}
    bases: dict[str, Decimal] = {}
    for line in lines:
        for rate in line.rates:
            rates.setdefault(rate.code, rate)
            bases[rate.code] = bases.get(rate.code, ZERO) + line.net
    return [
        TaxAmount(rate=rate, base=bases[code], amount=round_money(bases[code] * rate.rate / 100))
        for code, rate in rates.items()
    ]
