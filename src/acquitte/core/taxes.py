"""Tax computation by the EN 16931 rule: per rate, on the sum of the line nets of that rate."""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from .money import ZERO, round_money


@dataclass(frozen=True)
class TaxableLine:
    net: Decimal  # already rounded to the cent
    rates: tuple  # of objects with .code, .rate (percent) and .pk


@dataclass(frozen=True)
class TaxAmount:
    rate: object
    base: Decimal
    amount: Decimal


def tax_breakdown(lines: Iterable[TaxableLine]) -> list[TaxAmount]:
    """Group line nets by tax rate, then round the tax of each group once, half-up.

    Quebec's GST and QST are both computed on the pre-tax amount, so a line carries both rates
    and its net counts in both groups; neither tax is levied on the other.
    """
    bases: dict = {}
    order: list = []
    for line in lines:
        for rate in line.rates:
            if rate.code not in bases:
                bases[rate.code] = [rate, ZERO]
                order.append(rate.code)
            bases[rate.code][1] += line.net
    return [
        TaxAmount(
            rate=bases[c][0],
            base=bases[c][1],
            amount=round_money(bases[c][1] * bases[c][0].rate / 100),
        )
        for c in order
    ]
