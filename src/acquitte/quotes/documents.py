"""A quote as a document (soumission in Quebec, devis in France), built from the documents blocks."""

from typing import Any

from django.utils import timezone

from acquitte.documents.services import DocumentData
from acquitte.documents.services.blocks import (
    Amounts,
    draft_taxes,
    footer,
    lines_and_totals,
    seller_ids,
    tax_mentions,
)
from acquitte.documents.services.formatting import LABELS, formats, labels
from acquitte.invoicing.selectors import default_billing_address, seller_snapshot

from .models import Quote


def document_data_for_quote(quote: Quote) -> DocumentData:
    """A quote (soumission, devis) in its customer's language, with the acceptance block."""
    lang = "en" if quote.customer.language == "en" else "fr"
    t = LABELS[lang]
    organisation = quote.organisation
    seller = seller_snapshot(organisation)
    country = organisation.country
    _money, day, _number = formats(lang, country)
    lines = list(quote.lines.all())
    taxes = draft_taxes(lines)
    amounts = Amounts(currency=quote.currency, subtotal=quote.subtotal, total=quote.total)
    rows, totals = lines_and_totals(lines, amounts, taxes, lang=lang, country=country)
    draft = quote.status == quote.Status.DRAFT
    data = {
        "lang": lang,
        "labels": labels(lang),
        # "Devis" in France, "soumission" in Quebec.
        "title": t["quote"] if lang == "en" else ("DEVIS" if country == "FR" else "SOUMISSION"),
        "number": quote.number or t["draft_mark"],
        "draft": draft,
        "seller": {
            "name": seller["name"],
            "address": organisation.address_lines(),
            "ids": seller_ids(t, seller),
        },
        "buyer": _quote_buyer(quote),
        "dates": [[t["issue_date"], day(quote.issue_date or timezone.localdate())]]
        + ([[t["valid_until"], day(quote.valid_until)]] if quote.valid_until else []),
        "reference": "",
        "notice": quote.notes,
        "lines": rows,
        "totals": totals,
        "mentions": tax_mentions(taxes, lang),
        "payment": [],
        "qr": "",
        "acceptance": True,
        "footer": footer(seller, organisation),
    }
    return DocumentData(kind="quote", lang=lang, number=quote.number, draft=draft, data=data)


def _quote_buyer(quote: Quote) -> dict[str, Any]:
    customer = quote.customer
    address = default_billing_address(customer)
    return {
        "name": customer.name,
        "company": "",
        "address": address.address_lines() if address else [],
        "vat_number": customer.vat_number,
        "customer_number": customer.number,
    }
