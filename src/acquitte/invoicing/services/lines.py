"""A line as callers describe it, its checks, and the totals of a set of lines (invoices and quotes)."""

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypedDict

from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext as _

from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.models import TaxRate
from acquitte.core.money import MAX_AMOUNT, ZERO, Amount, to_decimal
from acquitte.core.taxes import TaxableLine, TaxAmount, tax_breakdown
from acquitte.core.tenancy import check_same_organisation

from ..models import DocumentLine, InvoiceLine

if TYPE_CHECKING:
    from acquitte.catalog.models import Product, TaxCategory
    from acquitte.customers.models import Customer, Organisation

MAX_QUANTITY = Decimal("999999999.999")


@dataclass
class LineInput:
    """A line as a caller describes it; validated by ``line_fields``."""

    description: str
    quantity: Amount
    unit_price: Amount
    tax_category: "TaxCategory"
    discount_percent: Amount = ZERO
    unit: str = ""
    product: "Product | None" = None
    period_start: datetime.date | None = None
    period_end: datetime.date | None = None
    source: Model | None = None


class LineFields(TypedDict):
    """The stored fields of a checked line, shared by invoice and quote lines."""

    product: "Product | None"
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    discount_percent: Decimal
    tax_category: "TaxCategory"
    tax_codes: list[str]
    net_amount: Decimal
    period_start: datetime.date | None
    period_end: datetime.date | None


@dataclass
class Totals:
    subtotal: Decimal
    taxes: list[TaxAmount] = field(default_factory=list)

    @property
    def tax_total(self) -> Decimal:
        return sum((t.amount for t in self.taxes), ZERO)

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.tax_total


def compute_totals(lines: Sequence[DocumentLine], rates_by_code: dict[str, TaxRate] | None = None) -> Totals:
    """Totals of lines: subtotal of nets plus one tax per rate on the sum of its nets."""
    if rates_by_code is None:
        codes = {code for line in lines for code in line.tax_codes}
        rates_by_code = {r.code: r for r in TaxRate.objects.filter(code__in=codes)}
    taxable = [
        TaxableLine(net=line.net_amount, rates=tuple(rates_by_code[c] for c in line.tax_codes))
        for line in lines
    ]
    return Totals(subtotal=sum((line.net_amount for line in lines), ZERO), taxes=tax_breakdown(taxable))


def check_total(total: Decimal) -> None:
    if total > MAX_AMOUNT:
        raise BusinessError(_("Montant total trop élevé."), code=ErrorCode.INVALID_AMOUNT)


#: The longest payment term: a due date further than this after the issue date is a typo.
MAX_TERM_YEARS = 5


def check_dates(issue_date: datetime.date | None, due_date: datetime.date | None) -> None:
    if issue_date and due_date and due_date < issue_date:
        raise BusinessError(
            _("La date d'échéance ne peut pas précéder la date d'émission."), code=ErrorCode.INVALID_DATE
        )
    start = issue_date or timezone.localdate()
    if due_date and due_date > _years_after(start, MAX_TERM_YEARS):
        raise BusinessError(
            _("La date d'échéance doit être au plus %(years)d ans après la date d'émission.")
            % {"years": MAX_TERM_YEARS},
            code=ErrorCode.INVALID_DATE,
        )


def _years_after(day: datetime.date, years: int) -> datetime.date:
    year = min(day.year + years, datetime.MAXYEAR)
    return day.replace(year=year, day=min(day.day, 28) if day.month == 2 else day.day)


def line_input(line: DocumentLine, **changes: Any) -> LineInput:
    """A stored invoice or quote line as input again (to copy it, or re-check it with a change)."""
    return replace(
        LineInput(
            description=line.description,
            quantity=line.quantity,
            unit_price=line.unit_price,
            tax_category=line.tax_category,
            discount_percent=line.discount_percent,
            unit=line.unit,
            product=line.product,
            period_start=line.period_start,
            period_end=line.period_end,
        ),
        **changes,
    )


def catalogue_category(line: DocumentLine) -> "TaxCategory":
    """The tax category a draft line is re-checked with: its product's, which a customer's
    imposed regime may then replace (``line_fields``); the stored one for a free-text line."""
    return line.product.tax_category if line.product is not None else line.tax_category


def _invalid(message: str) -> BusinessError:
    return BusinessError(message, code=ErrorCode.INVALID_INPUT)


def _checked_amounts(data: LineInput) -> tuple[Decimal, Decimal, Decimal]:
    quantity = to_decimal(data.quantity)
    unit_price = to_decimal(data.unit_price)
    discount = to_decimal(data.discount_percent or 0)
    if quantity <= 0:
        raise _invalid(_("La quantité doit être positive."))
    if quantity > MAX_QUANTITY or quantity != quantity.quantize(Decimal("0.001")):
        raise _invalid(_("Quantité invalide (au plus 3 décimales)."))
    if unit_price < 0 or unit_price > MAX_AMOUNT or unit_price != unit_price.quantize(Decimal("0.01")):
        raise BusinessError(
            _("Prix unitaire invalide : entre 0 et %(max)s, au cent près.") % {"max": MAX_AMOUNT},
            code=ErrorCode.INVALID_AMOUNT,
        )
    if not (0 <= discount <= 100):
        raise _invalid(_("La remise doit être comprise entre 0 et 100 %."))
    return quantity, unit_price, discount


def line_fields(*, organisation: "Organisation", customer: "Customer", data: LineInput) -> LineFields:
    """Check a line and return its stored fields; invoice and quote lines share these rules."""
    description = (data.description or "").strip()
    if not description:
        raise _invalid(_("Chaque ligne doit avoir une description."))
    quantity, unit_price, discount = _checked_amounts(data)
    check_same_organisation(organisation, data.tax_category, data.product)
    if data.period_start and data.period_end and data.period_end < data.period_start:
        raise BusinessError(
            _("La fin de la période ne peut pas précéder son début."), code=ErrorCode.INVALID_DATE
        )
    net = InvoiceLine.compute_net(quantity, unit_price, discount)
    if net > MAX_AMOUNT:
        raise BusinessError(_("Montant de ligne trop élevé."), code=ErrorCode.INVALID_AMOUNT)
    # A customer's imposed regime (exempt, reverse charge) replaces the product's category.
    category = customer.tax_category or data.tax_category
    return {
        "product": data.product,
        "description": description[:500],
        "quantity": quantity,
        "unit": data.unit or "",
        "unit_price": unit_price,
        "discount_percent": discount,
        "tax_category": category,
        "tax_codes": sorted(r.code for r in category.rates.all()),
        "net_amount": net,
        "period_start": data.period_start,
        "period_end": data.period_end,
    }


def product_line(product: "Product", quantity: Amount = 1) -> LineInput:
    """A line at the product's catalogue price, as a quote or a one-off invoice adds it."""
    if not product.active:
        raise BusinessError(_("Ce produit n'est plus proposé."), code=ErrorCode.INVALID_STATE)
    return LineInput(
        description=product.name,
        quantity=quantity,
        unit_price=product.unit_price,
        tax_category=product.tax_category,
        unit=product.unit,
        product=product,
    )
