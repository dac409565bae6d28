"""The blocks invoices and quotes share: lines, totals, seller identifiers, mentions, footer."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import segno

from acquitte.invoicing.models import DocumentLine, InvoiceTax
from acquitte.invoicing.services import compute_totals

from .formatting import LABELS, formats, tax_label, unit_text

if TYPE_CHECKING:
    from acquitte.customers.models import Organisation


@dataclass
class DocumentData:
    """Everything a document shows, already translated and formatted: Typst only lays it out."""

    kind: str
    lang: str
    number: str
    draft: bool
    data: dict[str, Any]


@dataclass(frozen=True)
class Amounts:
    """The amounts of a document as its totals block shows them."""

    currency: str
    subtotal: Decimal
    total: Decimal


def qr_svg(url: str) -> str:
    svg: str = segno.make(url, error="m").svg_inline(scale=3, border=0)
    return svg


def lines_and_totals(
    lines: Iterable[DocumentLine], amounts: Amounts, taxes: list[InvoiceTax], *, lang: str, country: str
) -> tuple[list[dict[str, str]], list[list[str | bool]]]:
    """Line rows and the totals block of an invoice or a quote (same fields on both)."""
    t = LABELS[lang]
    money, day, number = formats(lang, country)
    cur = amounts.currency
    tax_names = {tax.code: (tax.name_en if lang == "en" else tax.name_fr) for tax in taxes}
    rows = [
        {
            "description": line.description,
            "period": " – ".join(day(d) for d in (line.period_start, line.period_end) if d),
            "quantity": number(line.quantity) + (f" {unit_text(line.unit, lang)}" if line.unit else ""),
            "unit_price": money(line.unit_price, cur),
            "discount": f"{number(line.discount_percent)} %" if line.discount_percent else "",
            "tax": ", ".join(tax_names.get(c, c) for c in line.tax_codes),
            "net": money(line.net_amount, cur),
        }
        for line in lines
    ]
    totals: list[list[str | bool]] = [[t["subtotal"], money(amounts.subtotal, cur), False]]
    totals += [
        [
            tax_label(tax_names[tax.code], number(tax.rate), money(tax.base, cur)),
            money(tax.amount, cur),
            False,
        ]
        for tax in taxes
    ]
    # "TTC" is the French term; a Quebec invoice just says "Total".
    totals.append([t["total"] if country == "FR" else "Total", money(amounts.total, cur), True])
    return rows, totals


def seller_ids(t: dict[str, str], seller: dict[str, Any]) -> list[str]:
    return [
        t[k].format(n=seller[f])
        for k, f in (
            ("gst", "gst_number"),
            ("qst", "qst_number"),
            ("siren", "siren"),
            ("siret", "siret"),
            ("vat", "vat_number"),
        )
        if seller.get(f)
    ]


def tax_mentions(taxes: list[InvoiceTax], lang: str) -> list[str]:
    return [
        m for m in {(tax.legal_mention_en if lang == "en" else tax.legal_mention_fr) for tax in taxes} if m
    ]


def footer(seller: dict[str, Any], organisation: "Organisation") -> str:
    parts = [
        seller.get("name", organisation.name),
        seller.get("legal_form", ""),
        seller.get("support_email", ""),
        seller.get("support_phone", ""),
    ]
    return " — ".join(p for p in parts if p)


def draft_taxes(lines: Sequence[DocumentLine]) -> list[InvoiceTax]:
    """A draft's tax breakdown as finalisation will freeze it (unsaved rows)."""
    return [
        InvoiceTax(
            code=tax.rate.code,
            name_fr=tax.rate.name_fr,
            name_en=tax.rate.name_en,
            rate=tax.rate.rate,
            category_code=tax.rate.category_code,
            base=tax.base,
            amount=tax.amount,
            legal_mention_fr=tax.rate.legal_mention_fr,
            legal_mention_en=tax.rate.legal_mention_en,
        )
        for tax in compute_totals(lines).taxes
    ]
