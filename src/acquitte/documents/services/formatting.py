"""Words and formats of documents in the customer's language: labels, money, dates, units."""

import datetime
from collections.abc import Callable
from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal
from django.conf import settings

from acquitte.invoicing.models import Invoice

LABELS: dict[str, dict[str, str]] = {
    "fr": {
        "colon": " :",
        "invoice": "FACTURE",
        "credit_note": "AVOIR",
        "proforma": "FACTURE PRO FORMA",
        "quote": "SOUMISSION / DEVIS",
        "issue_date": "Date d'émission",
        "due_date": "Échéance",
        "valid_until": "Valable jusqu'au",
        "bill_to": "Facturé à",
        "vat_number": "N° TVA",
        "customer_number": "N° client",
        "subtotal": "Total hors taxes",
        "total": "Total TTC",
        "paid": "Déjà réglé",
        "due": "Reste à payer",
        "payment": "Modes de paiement",
        "page": "Page",
        "draft_mark": "BROUILLON / DRAFT",
        "corrects": "Avoir sur la facture n° {number} du {date}",
        "proforma_notice": "Document pro forma : ceci n'est pas une facture et ne permet aucune déduction de taxe (TVA, TPS, TVQ). "
        "La facture sera émise au paiement.",
        "acceptance": "Bon pour accord",
        "acceptance_hint": "Date, nom et signature du client",
        "bank": "Virement : {details}",
        "iban": "IBAN : {iban} — BIC : {bic}",
        "cheque": "Chèque à l'ordre de : {payee}",
        "link": "Payer en ligne : {url}",
        "late_fr": "En cas de retard de paiement, pénalités au taux de {rate} % l'an et indemnité forfaitaire "
        "pour frais de recouvrement de 40 € (art. L441-10 du Code de commerce). Pas d'escompte pour paiement anticipé.",
        "gst": "N° TPS : {n}",
        "qst": "N° TVQ : {n}",
        "siren": "SIREN : {n}",
        "siret": "SIRET : {n}",
        "vat": "N° TVA : {n}",
    },
    "en": {
        "colon": ":",
        "invoice": "INVOICE",
        "credit_note": "CREDIT NOTE",
        "proforma": "PRO-FORMA INVOICE",
        "quote": "QUOTE",
        "issue_date": "Issue date",
        "due_date": "Due date",
        "valid_until": "Valid until",
        "bill_to": "Bill to",
        "vat_number": "VAT no.",
        "customer_number": "Customer no.",
        "subtotal": "Subtotal",
        "total": "Total",
        "paid": "Already paid",
        "due": "Amount due",
        "payment": "How to pay",
        "page": "Page",
        "draft_mark": "BROUILLON / DRAFT",
        "corrects": "Credit note on invoice no. {number} of {date}",
        "proforma_notice": "Pro-forma document: this is not an invoice and gives no right to deduct tax (VAT, GST, QST). "
        "The invoice will be issued on payment.",
        "acceptance": "Accepted",
        "acceptance_hint": "Date, name and signature of the customer",
        "bank": "Bank transfer: {details}",
        "iban": "IBAN: {iban} — BIC: {bic}",
        "cheque": "Cheques payable to: {payee}",
        "link": "Pay online: {url}",
        "late_fr": "Late payments bear penalties at {rate}% a year and a fixed recovery indemnity of €40 "
        "(art. L441-10 of the French Commercial Code). No discount for early payment.",
        "gst": "GST no.: {n}",
        "qst": "QST no.: {n}",
        "siren": "SIREN: {n}",
        "siret": "SIRET: {n}",
        "vat": "VAT no.: {n}",
    },
}
COLUMNS = {
    "fr": ["Description", "Qté", "Prix unitaire", "Remise", "Taxe", "Montant HT"],
    "en": ["Description", "Qty", "Unit price", "Discount", "Tax", "Net amount"],
}
#: The units catalogues are written with, for English documents; others are shown as entered.
UNITS_EN = {"mois": "month", "an": "year", "année": "year", "jour": "day", "heure": "hour", "pièce": "piece"}

Money = Callable[[Decimal, str], str]
Day = Callable[[datetime.date | None], str]
Number = Callable[[Decimal], str]


def labels(lang: str) -> dict[str, str | list[str]]:
    """The labels a document template reads, its column headings among them."""
    return {**LABELS[lang], "columns": COLUMNS[lang]}


def formats(lang: str, country: str) -> tuple[Money, Day, Number]:
    locale = f"{lang}_{country or 'CA'}"

    def money(amount: Decimal, currency: str) -> str:
        return format_currency(amount, currency, locale=locale)

    def day(value: datetime.date | None) -> str:
        return format_date(value, format="long", locale=locale) if value else "—"

    def number(value: Decimal) -> str:
        return format_decimal(value.normalize(), locale=locale)

    return money, day, number


def money_text(amount: Decimal, currency: str, *, lang: str, country: str) -> str:
    return formats(lang, country)[0](amount, currency)


def date_text(value: datetime.date | None, *, lang: str, country: str) -> str:
    return formats(lang, country)[1](value)


def tax_label(name: str, rate: str, base: str) -> str:
    """ "TPS (5 %) — 104,80 $"; a name that already says its rate ("TVA 20 %") is not repeated."""
    return f"{name} — {base}" if "%" in name else f"{name} ({rate} %) — {base}"


def unit_text(unit: str, lang: str) -> str:
    return UNITS_EN.get(unit.lower(), unit) if lang == "en" else unit


def public_url(invoice: Invoice) -> str:
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}/i/{invoice.public_token}/"
