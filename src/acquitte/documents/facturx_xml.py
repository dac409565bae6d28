"""The EN 16931 (Factur-X "EN 16931" profile) CII XML of an invoice or credit note."""

import datetime
from decimal import Decimal

from lxml import etree

from acquitte.invoicing.models import Invoice

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
}
TYPE_CODES: dict[str, str] = {Invoice.Kind.INVOICE: "380", Invoice.Kind.CREDIT_NOTE: "381"}


def _el(parent: etree._Element, tag: str, text: object = None, **attrs: str) -> etree._Element:
    prefix, name = tag.split(":")
    element = etree.SubElement(parent, f"{{{NS[prefix]}}}{name}", **attrs)
    if text is not None:
        element.text = str(text)
    return element


def _date(parent: etree._Element, tag: str, value: datetime.date | None) -> None:
    holder = _el(parent, tag)
    _el(holder, "udt:DateTimeString", value.strftime("%Y%m%d") if value else "", format="102")


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _party(
    parent: etree._Element,
    tag: str,
    *,
    name: str,
    address: list[str],
    country: str,
    vat: str,
    siret: str = "",
) -> None:
    party = _el(parent, tag)
    _el(party, "ram:Name", name)
    if siret:
        legal = _el(party, "ram:SpecifiedLegalOrganization")
        _el(legal, "ram:ID", siret[:9], schemeID="0002")
    postal = _el(party, "ram:PostalTradeAddress")
    if address:
        _el(postal, "ram:LineOne", address[0])
    _el(postal, "ram:CountryID", country)
    if vat:
        registration = _el(party, "ram:SpecifiedTaxRegistration")
        _el(registration, "ram:ID", vat, schemeID="VA")


def _tax(
    parent: etree._Element,
    *,
    category: str,
    rate: Decimal,
    mention: str = "",
    exemption_code: str = "",
    amount: Decimal | None = None,
    base: Decimal | None = None,
) -> None:
    tax = _el(parent, "ram:ApplicableTradeTax")
    if amount is not None:
        _el(tax, "ram:CalculatedAmount", _money(amount))
    _el(tax, "ram:TypeCode", "VAT")
    if amount is not None and category in ("E", "AE") and mention:
        _el(tax, "ram:ExemptionReason", mention)
    if base is not None:
        _el(tax, "ram:BasisAmount", _money(base))
    _el(tax, "ram:CategoryCode", category)
    if amount is not None and category in ("E", "AE") and exemption_code:
        _el(tax, "ram:ExemptionReasonCode", exemption_code)
    _el(tax, "ram:RateApplicablePercent", f"{rate.normalize():f}")


def build(invoice: Invoice) -> bytes:
    """CII XML; lines carry their single VAT category (a French invoice has one rate per line)."""
    seller, buyer = invoice.seller, invoice.bill_to
    taxes = list(invoice.taxes.select_related("tax_rate"))
    by_code = {t.code: t for t in taxes}
    root = etree.Element(f"{{{NS['rsm']}}}CrossIndustryInvoice", nsmap=NS)
    context = _el(root, "rsm:ExchangedDocumentContext")
    _el(_el(context, "ram:GuidelineSpecifiedDocumentContextParameter"), "ram:ID", "urn:cen.eu:en16931:2017")
    document = _el(root, "rsm:ExchangedDocument")
    _el(document, "ram:ID", invoice.number)
    _el(document, "ram:TypeCode", TYPE_CODES[invoice.kind])
    _date(document, "ram:IssueDateTime", invoice.issue_date)
    transaction = _el(root, "rsm:SupplyChainTradeTransaction")
    for position, line in enumerate(invoice.lines.all(), 1):
        item = _el(transaction, "ram:IncludedSupplyChainTradeLineItem")
        _el(_el(item, "ram:AssociatedDocumentLineDocument"), "ram:LineID", position)
        _el(_el(item, "ram:SpecifiedTradeProduct"), "ram:Name", line.description)
        agreement = _el(item, "ram:SpecifiedLineTradeAgreement")
        price = _el(agreement, "ram:NetPriceProductTradePrice")
        net_unit = line.net_amount / line.quantity if line.quantity else line.unit_price
        _el(price, "ram:ChargeAmount", f"{net_unit.quantize(Decimal('0.0001')):f}")
        _el(
            _el(item, "ram:SpecifiedLineTradeDelivery"),
            "ram:BilledQuantity",
            f"{line.quantity.normalize():f}",
            unitCode="C62",
        )
        settlement = _el(item, "ram:SpecifiedLineTradeSettlement")
        tax = by_code[line.tax_codes[0]]
        _tax(settlement, category=tax.category_code, rate=tax.rate)
        summation = _el(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation")
        _el(summation, "ram:LineTotalAmount", _money(line.net_amount))
    agreement = _el(transaction, "ram:ApplicableHeaderTradeAgreement")
    _party(
        agreement,
        "ram:SellerTradeParty",
        name=seller["name"],
        address=seller["address"],
        country=seller.get("country") or "FR",
        vat=seller.get("vat_number", ""),
        siret=seller.get("siret", ""),
    )
    _party(
        agreement,
        "ram:BuyerTradeParty",
        name=buyer.get("company") or buyer["name"],
        address=buyer["address"],
        country=buyer.get("country") or seller.get("country") or "FR",
        vat=buyer.get("vat_number", ""),
    )
    _el(transaction, "ram:ApplicableHeaderTradeDelivery")
    settlement = _el(transaction, "ram:ApplicableHeaderTradeSettlement")
    _el(settlement, "ram:InvoiceCurrencyCode", invoice.currency)
    for tax in taxes:
        _tax(
            settlement,
            category=tax.category_code,
            rate=tax.rate,
            mention=tax.legal_mention_fr,
            exemption_code=tax.tax_rate.exemption_code,
            amount=tax.amount,
            base=tax.base,
        )
    terms = _el(settlement, "ram:SpecifiedTradePaymentTerms")
    _date(terms, "ram:DueDateDateTime", invoice.due_date)
    summation = _el(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    _el(summation, "ram:LineTotalAmount", _money(invoice.subtotal))
    _el(summation, "ram:TaxBasisTotalAmount", _money(invoice.subtotal))
    _el(summation, "ram:TaxTotalAmount", _money(invoice.tax_total), currencyID=invoice.currency)
    _el(summation, "ram:GrandTotalAmount", _money(invoice.total))
    paid = invoice.amount_paid if invoice.kind == Invoice.Kind.INVOICE else Decimal(0)
    _el(summation, "ram:TotalPrepaidAmount", _money(paid))
    _el(summation, "ram:DuePayableAmount", _money(invoice.total - paid))
    if invoice.kind == Invoice.Kind.CREDIT_NOTE and invoice.corrects is not None:
        reference = _el(settlement, "ram:InvoiceReferencedDocument")
        _el(reference, "ram:IssuerAssignedID", invoice.corrects.number)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def eligible(invoice: Invoice) -> bool:
    """Factur-X is France's format: EUR invoices and credit notes whose lines carry one VAT rate."""
    return (
        invoice.kind in TYPE_CODES
        and invoice.status != Invoice.Status.DRAFT
        and invoice.currency == "EUR"
        and all(len(line.tax_codes) == 1 for line in invoice.lines.all())
    )
