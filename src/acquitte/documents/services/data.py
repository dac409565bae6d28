"""What an invoice or a quote shows, in its customer's language, ready for the template."""

from acquitte.invoicing.models import Invoice, InvoiceTax
from acquitte.invoicing.selectors import bill_to_snapshot, default_billing_address, seller_snapshot

from .blocks import (
    Amounts,
    DocumentData,
    draft_taxes,
    footer,
    lines_and_totals,
    qr_svg,
    seller_ids,
    tax_mentions,
)
from .formatting import LABELS, formats, labels, public_url

BUYER_FIELDS = ("name", "company", "address", "vat_number", "customer_number")


def _payment(invoice: Invoice, t: dict[str, str]) -> tuple[list[str], str]:
    """How to pay an open invoice, and the QR code of its link when online payment is offered."""
    payment: list[str] = []
    if invoice.kind == Invoice.Kind.CREDIT_NOTE or invoice.status != Invoice.Status.OPEN:
        return payment, ""
    org = invoice.organisation
    if org.bank_details:
        payment.append(t["bank"].format(details=org.bank_details))
    if org.iban:
        payment.append(t["iban"].format(iban=org.iban, bic=org.bic))
    if org.cheque_payee:
        payment.append(t["cheque"].format(payee=org.cheque_payee))
    if invoice.online_payment:  # the current link: a revoked one was replaced, never printed again
        payment.append(t["link"].format(url=public_url(invoice)))
        return payment, qr_svg(public_url(invoice))
    return payment, ""


def _notice(invoice: Invoice, t: dict[str, str], lang: str, country: str) -> str:
    if invoice.kind == Invoice.Kind.PROFORMA:
        return t["proforma_notice"]
    corrected = invoice.corrects if invoice.kind == Invoice.Kind.CREDIT_NOTE else None
    if corrected is not None:
        day = formats(lang, country)[1]
        return t["corrects"].format(number=corrected.number, date=day(corrected.issue_date))
    return ""


def document_data_for_invoice(invoice: Invoice) -> DocumentData:
    """The document of an invoice, credit note or pro-forma, in its customer's language."""
    lang = "en" if (invoice.bill_to.get("language") or invoice.customer.language) == "en" else "fr"
    t = LABELS[lang]
    draft = invoice.status == Invoice.Status.DRAFT
    # A draft has no frozen snapshots yet: show what finalisation would freeze.
    seller = invoice.seller or seller_snapshot(invoice.organisation)
    buyer = invoice.bill_to or bill_to_snapshot(invoice, default_billing_address(invoice.customer))
    country = seller.get("country") or invoice.organisation.country
    money, day, _number = formats(lang, country)
    cur = invoice.currency
    lines = list(invoice.lines.all())
    taxes: list[InvoiceTax] = draft_taxes(lines) if draft else list(invoice.taxes.all())
    amounts = Amounts(currency=cur, subtotal=invoice.subtotal, total=invoice.total)
    rows, totals = lines_and_totals(lines, amounts, taxes, lang=lang, country=country)
    if invoice.kind == Invoice.Kind.INVOICE and not draft:
        totals += [
            [t["paid"], money(invoice.amount_paid, cur), False],
            [t["due"], money(invoice.amount_due, cur), True],
        ]
    mentions = tax_mentions(taxes, lang)
    if country == "FR" and invoice.kind == Invoice.Kind.INVOICE:
        mentions.append(t["late_fr"].format(rate=seller.get("late_penalty_rate") or "0"))
    payment, qr = _payment(invoice, t)
    data = {
        "lang": lang,
        "labels": labels(lang),
        "title": t[invoice.kind],
        "number": invoice.number or t["draft_mark"],
        "draft": draft,
        "seller": {
            "name": seller.get("name", invoice.organisation.name),
            "address": seller.get("address") or invoice.organisation.address_lines(),
            "ids": seller_ids(t, seller),
        },
        "buyer": {k: buyer.get(k, "") for k in BUYER_FIELDS},
        "dates": [[t["issue_date"], day(invoice.issue_date)]]
        + ([[t["due_date"], day(invoice.due_date)]] if invoice.kind != Invoice.Kind.CREDIT_NOTE else []),
        "reference": "",
        "notice": _notice(invoice, t, lang, country),
        "lines": rows,
        "totals": totals,
        "mentions": mentions,
        "payment": payment,
        "qr": qr,
        "acceptance": False,
        "footer": footer(seller, invoice.organisation),
    }
    return DocumentData(kind=invoice.kind, lang=lang, number=invoice.number, draft=draft, data=data)
