"""Every operation that changes invoices: drafting, finalising, voiding, crediting, settling."""

import datetime
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from acquitte.core.errors import BusinessError
from acquitte.core.models import TaxRate
from acquitte.core.money import MAX_AMOUNT, ZERO, to_decimal
from acquitte.core.services import next_numbers, record_transition, record_transitions
from acquitte.core.taxes import TaxableLine, TaxAmount, tax_breakdown
from acquitte.core.tenancy import check_can_write, check_same_organisation
from acquitte.customers.models import Address

from .models import Allocation, Invoice, InvoiceLine, InvoiceTax, LedgerEntry, new_public_token

SERIES_FOR_KIND = {"invoice": "invoice", "credit_note": "credit_note", "proforma": "proforma"}
MAX_QUANTITY = Decimal("999999999.999")


@dataclass
class LineInput:
    """A line as a caller describes it; validated by ``add_line``."""

    description: str
    quantity: object
    unit_price: object
    tax_category: object
    discount_percent: object = ZERO
    unit: str = ""
    product: object = None
    period_start: datetime.date | None = None
    period_end: datetime.date | None = None
    source: object = None


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


def compute_totals(lines: list[InvoiceLine], rates_by_code: dict | None = None) -> Totals:
    """Totals of lines: subtotal of nets plus one tax per rate on the sum of its nets."""
    if rates_by_code is None:
        codes = {code for line in lines for code in line.tax_codes}
        rates_by_code = {r.code: r for r in TaxRate.objects.filter(code__in=codes)}
    taxable = [
        TaxableLine(net=line.net_amount, rates=tuple(rates_by_code[c] for c in line.tax_codes))
        for line in lines
    ]
    return Totals(subtotal=sum((line.net_amount for line in lines), ZERO), taxes=tax_breakdown(taxable))


def _require_draft(invoice: Invoice) -> None:
    if invoice.status != Invoice.Status.DRAFT:
        raise BusinessError(_("Une facture finalisée ne peut pas être modifiée ; émettez un avoir."))


def _check_dates(issue_date, due_date) -> None:
    if issue_date and due_date and due_date < issue_date:
        raise BusinessError(_("La date d'échéance ne peut pas précéder la date d'émission."))


def line_input(line, **changes) -> LineInput:
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


def catalogue_category(line):
    """The tax category a draft line is re-checked with: its product's, which a customer's
    imposed regime may then replace (``line_fields``); the stored one for a free-text line."""
    return line.product.tax_category if line.product_id else line.tax_category


def line_fields(*, organisation, customer, data: LineInput) -> dict:
    """Check a line and return its stored fields; invoice and quote lines share these rules."""
    description = (data.description or "").strip()
    if not description:
        raise BusinessError(_("Chaque ligne doit avoir une description."))
    quantity = to_decimal(data.quantity)
    unit_price = to_decimal(data.unit_price)
    discount = to_decimal(data.discount_percent or 0)
    if quantity <= 0:
        raise BusinessError(_("La quantité doit être positive."))
    if quantity > MAX_QUANTITY or quantity != quantity.quantize(Decimal("0.001")):
        raise BusinessError(_("Quantité invalide (au plus 3 décimales)."))
    if unit_price < 0 or unit_price > MAX_AMOUNT or unit_price != unit_price.quantize(Decimal("0.01")):
        raise BusinessError(
            _("Prix unitaire invalide : entre 0 et %(max)s, au cent près.") % {"max": MAX_AMOUNT}
        )
    if not (0 <= discount <= 100):
        raise BusinessError(_("La remise doit être comprise entre 0 et 100 %."))
    check_same_organisation(organisation, data.tax_category, data.product)
    if data.period_start and data.period_end and data.period_end < data.period_start:
        raise BusinessError(_("La fin de la période ne peut pas précéder son début."))
    net = InvoiceLine.compute_net(quantity, unit_price, discount)
    if net > MAX_AMOUNT:
        raise BusinessError(_("Montant de ligne trop élevé."))
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


def _build_line(invoice: Invoice, data: LineInput, position: int) -> InvoiceLine:
    fields = line_fields(organisation=invoice.organisation, customer=invoice.customer, data=data)
    line = InvoiceLine(invoice=invoice, position=position, **fields)
    if data.source is not None:
        line.source = data.source
    return line


def _refresh_draft_totals(invoice: Invoice) -> None:
    totals = compute_totals(list(invoice.lines.all()))
    invoice.subtotal, invoice.tax_total, invoice.total = (
        totals.subtotal,
        totals.tax_total,
        totals.total,
    )
    if invoice.total > MAX_AMOUNT:
        raise BusinessError(_("Montant total trop élevé."))
    invoice.save(update_fields=["subtotal", "tax_total", "total"])


@transaction.atomic
def create_invoice(
    *,
    organisation,
    customer,
    actor=None,
    kind: str = Invoice.Kind.INVOICE,
    lines: list[LineInput] = (),
    billing_contact=None,
    billing_address=None,
    issue_date: datetime.date | None = None,
    due_date: datetime.date | None = None,
    online_payment: bool | None = None,
    notes: str = "",
    corrects: Invoice | None = None,
) -> Invoice:
    """Open a draft for a customer of ``organisation``, with its lines."""
    check_can_write(actor, organisation)
    check_same_organisation(organisation, customer)
    if kind not in Invoice.Kind.values:
        raise BusinessError(_("Type de document inconnu."))
    if billing_contact is not None and (
        billing_contact.customer_id != customer.pk or not billing_contact.is_billing
    ):
        raise BusinessError(_("Ce sous-contact de facturation n'appartient pas au client."))
    if billing_address is not None and billing_address.customer_id != customer.pk:
        raise BusinessError(_("Cette adresse appartient à un autre client."))
    _check_dates(issue_date, due_date)
    invoice = Invoice.objects.create(
        organisation=organisation,
        customer=customer,
        kind=kind,
        currency=organisation.currency,
        billing_contact=billing_contact,
        billing_address=billing_address,
        issue_date=issue_date,
        due_date=due_date,
        online_payment=organisation.online_payment_default if online_payment is None else online_payment,
        notes=notes,
        corrects=corrects,
        created_by=actor,
    )
    if lines:
        InvoiceLine.objects.bulk_create(
            [_build_line(invoice, data, position) for position, data in enumerate(lines, 1)]
        )
        _refresh_draft_totals(invoice)
    record_transition(obj=invoice, organisation=organisation, actor=actor, action="create", to_state="draft")
    return invoice


@transaction.atomic
def add_line(*, invoice: Invoice, actor=None, line: LineInput) -> InvoiceLine:
    check_can_write(actor, invoice.organisation)
    invoice = (
        Invoice.objects.select_for_update().select_related("organisation", "customer").get(pk=invoice.pk)
    )
    _require_draft(invoice)
    position = invoice.lines.count() + 1
    built = _build_line(invoice, line, position)
    built.save()
    _refresh_draft_totals(invoice)
    return built


def product_line(product, quantity=1) -> LineInput:
    """A line at the product's catalogue price, as a quote or a one-off invoice adds it."""
    if not product.active:
        raise BusinessError(_("Ce produit n'est plus proposé."))
    return LineInput(
        description=product.name,
        quantity=quantity,
        unit_price=product.unit_price,
        tax_category=product.tax_category,
        unit=product.unit,
        product=product,
    )


@transaction.atomic
def add_product(*, invoice: Invoice, product, actor=None, quantity=1) -> InvoiceLine:
    """Tap a product on a draft: a new line at its price, or one more on its existing line."""
    check_same_organisation(invoice.organisation, product)
    existing = invoice.lines.filter(product=product).first()
    if existing is not None:
        return set_line_quantity(
            line=existing, actor=actor, quantity=existing.quantity + to_decimal(quantity)
        )
    return add_line(invoice=invoice, actor=actor, line=product_line(product, quantity))


@transaction.atomic
def set_line_quantity(*, line: InvoiceLine, actor=None, quantity) -> InvoiceLine:
    """Change a draft line's quantity; its net and the draft's totals follow."""
    invoice = (
        Invoice.objects.select_for_update().select_related("organisation", "customer").get(pk=line.invoice_id)
    )
    check_can_write(actor, invoice.organisation)
    _require_draft(invoice)
    data = line_input(line, quantity=quantity, tax_category=catalogue_category(line))
    for name, value in line_fields(
        organisation=invoice.organisation, customer=invoice.customer, data=data
    ).items():
        setattr(line, name, value)
    line.invoice = invoice
    line.save()
    _refresh_draft_totals(invoice)
    return line


@transaction.atomic
def replace_draft_lines(*, invoice: Invoice, actor=None, lines: list[LineInput]) -> Invoice:
    """Set all lines of a draft at once (the admin's line editor); totals are recomputed."""
    invoice = (
        Invoice.objects.select_for_update().select_related("organisation", "customer").get(pk=invoice.pk)
    )
    check_can_write(actor, invoice.organisation)
    _require_draft(invoice)
    built = [_build_line(invoice, data, position) for position, data in enumerate(lines, 1)]
    invoice.lines.all().delete()
    InvoiceLine.objects.bulk_create(built)
    _refresh_draft_totals(invoice)
    return invoice


@transaction.atomic
def remove_line(*, line: InvoiceLine, actor=None) -> None:
    invoice = Invoice.objects.select_for_update().select_related("organisation").get(pk=line.invoice_id)
    check_can_write(actor, invoice.organisation)
    _require_draft(invoice)
    line.invoice = invoice
    line.delete()
    _refresh_draft_totals(invoice)


@transaction.atomic
def update_draft(
    *,
    invoice: Invoice,
    actor=None,
    issue_date=None,
    due_date=None,
    billing_contact=None,
    notes=None,
    online_payment: bool | None = None,
) -> Invoice:
    """Change the header of a draft (dates, sub-contact, notes)."""
    invoice = Invoice.objects.select_for_update().select_related("organisation").get(pk=invoice.pk)
    check_can_write(actor, invoice.organisation)
    _require_draft(invoice)
    if billing_contact is not None:
        if billing_contact.customer_id != invoice.customer_id or not billing_contact.is_billing:
            raise BusinessError(_("Ce sous-contact de facturation n'appartient pas au client."))
        invoice.billing_contact = billing_contact
    invoice.issue_date = issue_date or invoice.issue_date
    invoice.due_date = due_date or invoice.due_date
    _check_dates(invoice.issue_date, invoice.due_date)
    if notes is not None:
        invoice.notes = notes
    if online_payment is not None:
        invoice.online_payment = online_payment
    invoice.save()
    return invoice


@transaction.atomic
def delete_draft(*, invoice: Invoice, actor=None) -> None:
    """A draft has no number yet, so deleting it leaves no gap in the series."""
    invoice = Invoice.objects.select_for_update().select_related("organisation").get(pk=invoice.pk)
    check_can_write(actor, invoice.organisation)
    _require_draft(invoice)
    record_transition(
        obj=invoice, organisation=invoice.organisation, actor=actor, action="delete", from_state="draft"
    )
    invoice.lines.all().delete()
    invoice.delete()


@transaction.atomic
def set_online_payment(*, invoice: Invoice, actor=None, offered: bool) -> Invoice:
    """Offer or withdraw online payment on one invoice (seed 004); allowed after finalisation."""
    invoice = Invoice.objects.select_for_update().select_related("organisation").get(pk=invoice.pk)
    check_can_write(actor, invoice.organisation)
    invoice.online_payment = offered
    invoice.save(update_fields=["online_payment"])
    return invoice


def bill_to_snapshot(invoice: Invoice, default_address=None) -> dict:
    """Who the invoice is addressed to, frozen: the billing sub-contact when one is chosen."""
    customer = invoice.customer
    contact = invoice.billing_contact
    address = (
        (contact.address if contact and contact.address_id else None)
        or invoice.billing_address
        or default_address
    )
    name = contact.name if contact else customer.name
    company = (contact.company or customer.name) if contact else ""
    return {
        "customer_number": customer.number,
        "name": name,
        "company": company if company != name else "",
        "email": (contact.email if contact and contact.email else customer.email),
        "address": address.address_lines() if address else [],
        "country": address.country if address else "",
        "vat_number": customer.vat_number,
        "language": customer.language,
    }


def seller_snapshot(organisation) -> dict:
    fields = (
        "name",
        "gst_number",
        "qst_number",
        "siren",
        "siret",
        "vat_number",
        "legal_form",
        "support_email",
        "support_phone",
        "country",
        "iban",
        "bic",
        "cheque_payee",
    )
    data = {f: getattr(organisation, f) for f in fields}
    data["address"] = organisation.address_lines()
    data["late_penalty_rate"] = str(organisation.late_penalty_rate)
    return data


def finalise_invoice(*, invoice: Invoice, actor=None, issue_date: datetime.date | None = None) -> Invoice:
    """Number, freeze and post a draft. The number is taken under the series' row lock."""
    return finalise_invoices(
        organisation=invoice.organisation, invoices=[invoice], actor=actor, issue_date=issue_date
    )[0]


def finalise_invoices(
    *, organisation, invoices: list[Invoice], actor=None, issue_date: datetime.date | None = None
) -> list[Invoice]:
    """Finalise drafts of one organisation together, all or none (billing runs, the admin).

    Every rule of a single finalisation holds; the work is done in a fixed number of queries
    whatever the batch size, and each series is locked once.
    """
    check_can_write(actor, organisation)
    with transaction.atomic():
        ids = sorted({inv.pk for inv in invoices})
        locked = list(
            Invoice.objects.select_for_update(of=("self",))
            .select_related("customer", "billing_contact__address", "billing_address", "corrects")
            .filter(organisation=organisation, pk__in=ids)
            .order_by("id")
        )
        if len(locked) != len(ids):
            raise BusinessError(_("Objet introuvable."))
        lines_of: dict[int, list[InvoiceLine]] = {pk: [] for pk in ids}
        for line in InvoiceLine.objects.filter(invoice_id__in=ids).order_by("position", "id"):
            lines_of[line.invoice_id].append(line)
        codes = {code for lines in lines_of.values() for line in lines for code in line.tax_codes}
        rates_by_code = {r.code: r for r in TaxRate.objects.filter(code__in=codes)}
        default_address = _default_addresses({inv.customer_id for inv in locked})
        seller = seller_snapshot(organisation)
        today = timezone.localdate()
        totals_of = {}
        for invoice in locked:
            invoice.organisation = organisation
            if invoice.status != Invoice.Status.DRAFT:
                raise BusinessError(_("Ce document est déjà finalisé."))
            if not lines_of[invoice.pk]:
                raise BusinessError(_("Impossible de finaliser une facture sans ligne."))
            invoice.issue_date = issue_date or invoice.issue_date or today
            invoice.due_date = invoice.due_date or invoice.issue_date + datetime.timedelta(
                days=organisation.payment_terms_days
            )
            _check_dates(invoice.issue_date, invoice.due_date)
            totals = totals_of[invoice.pk] = compute_totals(lines_of[invoice.pk], rates_by_code)
            if invoice.kind == Invoice.Kind.CREDIT_NOTE:
                _check_credit_within_invoice(invoice, totals.subtotal)
            invoice.subtotal, invoice.tax_total, invoice.total = (
                totals.subtotal,
                totals.tax_total,
                totals.total,
            )
            if invoice.total > MAX_AMOUNT:
                raise BusinessError(_("Montant total trop élevé."))
            invoice.bill_to = bill_to_snapshot(invoice, default_address.get(invoice.customer_id))
            invoice.seller = seller
            invoice.status = Invoice.Status.OPEN
        for kind in SERIES_FOR_KIND:
            of_kind = sorted((i for i in locked if i.kind == kind), key=lambda i: (i.issue_date, i.pk))
            if of_kind:
                numbers = next_numbers(
                    organisation=organisation,
                    kind=SERIES_FOR_KIND[kind],
                    issue_dates=[i.issue_date for i in of_kind],
                )
                for invoice, number in zip(of_kind, numbers, strict=True):
                    invoice.number = number
        now = timezone.now()  # after the series lock, so finalisation times follow the numbers
        for invoice in locked:
            invoice.finalised_at = now
        _write_finalised(locked)
        InvoiceTax.objects.bulk_create(
            _frozen_tax(invoice, tax) for invoice in locked for tax in totals_of[invoice.pk].taxes
        )
        LedgerEntry.objects.bulk_create(
            LedgerEntry(
                organisation_id=organisation.pk,
                customer_id=invoice.customer_id,
                kind=invoice.kind,
                amount=invoice.total if invoice.kind == Invoice.Kind.INVOICE else -invoice.total,
                invoice=invoice,
                occurred_on=invoice.issue_date,
            )
            for invoice in locked
            if invoice.kind != Invoice.Kind.PROFORMA
        )
        record_transitions(
            objs=locked,
            organisation=organisation,
            actor=actor,
            action="finalise",
            from_state="draft",
            to_state="open",
        )
        for invoice in locked:
            invoice._loaded = {f.attname: getattr(invoice, f.attname) for f in Invoice._meta.concrete_fields}
            if invoice.kind == Invoice.Kind.INVOICE and invoice.total == 0:
                _mark_paid(invoice, actor)
            elif invoice.kind == Invoice.Kind.CREDIT_NOTE:
                _apply_credit_note(invoice, actor)
    by_pk = {inv.pk: inv for inv in locked}
    return [by_pk[inv.pk] for inv in invoices]


FINALISED_FIELDS = [
    "number",
    "issue_date",
    "due_date",
    "subtotal",
    "tax_total",
    "total",
    "bill_to",
    "seller",
    "status",
    "finalised_at",
]


def _write_finalised(invoices: list[Invoice]) -> None:
    """One parameterised UPDATE executed for many rows.

    ``bulk_update`` builds a CASE expression per field and row, which costs more than the
    whole rest of a batch finalisation; ``executemany`` sends the same statement pipelined.
    """
    fields = [Invoice._meta.get_field(name) for name in FINALISED_FIELDS]
    table = connection.ops.quote_name(Invoice._meta.db_table)
    assignments = ", ".join(f"{connection.ops.quote_name(f.column)} = %s" for f in fields)
    rows = [
        [f.get_db_prep_save(getattr(inv, f.attname), connection) for f in fields] + [inv.pk]
        for inv in invoices
    ]
    with connection.cursor() as cursor:
        cursor.executemany(f"UPDATE {table} SET {assignments} WHERE id = %s", rows)


def _frozen_tax(invoice: Invoice, tax: TaxAmount) -> InvoiceTax:
    rate = tax.rate
    return InvoiceTax(
        invoice=invoice,
        tax_rate=rate,
        code=rate.code,
        name_fr=rate.name_fr,
        name_en=rate.name_en,
        rate=rate.rate,
        category_code=rate.category_code,
        base=tax.base,
        amount=tax.amount,
        legal_mention_fr=rate.legal_mention_fr,
        legal_mention_en=rate.legal_mention_en,
    )


def _default_addresses(customer_ids) -> dict:
    """Each customer's default billing address (or its first one), in one query."""
    found = {}
    for address in Address.objects.filter(customer_id__in=customer_ids).order_by("-is_default", "id"):
        found.setdefault(address.customer_id, address)
    return found


def _check_credit_within_invoice(credit_note: Invoice, subtotal: Decimal) -> None:
    """Credit notes may not credit more than the invoice's pre-tax amount.

    Compared before tax: crediting lines one by one rounds each note's tax separately, so the
    taxed totals may differ from the invoice's by a cent while the nets match exactly.
    """
    corrected = credit_note.corrects
    if corrected is None or corrected.kind != Invoice.Kind.INVOICE or corrected.status in ("draft", "void"):
        raise BusinessError(_("Un avoir doit corriger une facture finalisée."))
    already = sum(
        (
            cn.subtotal
            for cn in corrected.credit_notes.filter(status__in=["open", "paid"]).exclude(pk=credit_note.pk)
        ),
        ZERO,
    )
    if already + subtotal > corrected.subtotal:
        raise BusinessError(
            _("Les avoirs ne peuvent pas dépasser le montant hors taxes de la facture corrigée (%(total)s).")
            % {"total": corrected.subtotal}
        )


def _mark_paid(invoice: Invoice, actor) -> None:
    invoice.status = Invoice.Status.PAID
    invoice.paid_at = timezone.now()
    invoice.save(update_fields=["status", "paid_at"])
    record_transition(
        obj=invoice,
        organisation=invoice.organisation,
        actor=actor,
        action="paid",
        from_state="open",
        to_state="paid",
    )


def _apply_credit_note(credit_note: Invoice, actor) -> None:
    """Apply a new credit note to the invoice it corrects, as far as that invoice is unpaid."""
    corrected = Invoice.objects.select_for_update().get(pk=credit_note.corrects_id)
    usable = min(credit_note.total - credit_note.amount_paid, corrected.amount_due)
    if corrected.status == Invoice.Status.OPEN and usable > 0:
        allocate(invoice=corrected, amount=usable, credit_note=credit_note, actor=actor)


@transaction.atomic
def allocate(
    *,
    invoice: Invoice,
    amount: Decimal,
    payment=None,
    credit_note: Invoice | None = None,
    actor=None,
) -> Allocation:
    """Apply part of a payment or of a credit note to an invoice; it turns paid when fully settled."""
    invoice = Invoice.objects.select_for_update().select_related("organisation").get(pk=invoice.pk)
    amount = to_decimal(amount)
    if invoice.kind != Invoice.Kind.INVOICE or invoice.status != Invoice.Status.OPEN:
        raise BusinessError(_("Seule une facture non payée peut recevoir un règlement."))
    if amount <= 0 or amount > invoice.amount_due:
        raise BusinessError(
            _("Le montant affecté doit être positif et au plus égal au solde dû (%(due)s).")
            % {"due": invoice.amount_due}
        )
    source = payment or credit_note
    if source is None or source.customer_id != invoice.customer_id:
        raise BusinessError(_("Le règlement doit provenir du même client."))
    if credit_note is not None:
        credit_note = Invoice.objects.select_for_update().get(pk=credit_note.pk)
        if credit_note.kind != Invoice.Kind.CREDIT_NOTE or credit_note.status != Invoice.Status.OPEN:
            raise BusinessError(_("Cet avoir ne peut pas être utilisé."))
        if amount > credit_note.total - credit_note.amount_paid:
            raise BusinessError(_("L'avoir n'a plus assez de crédit disponible."))
        credit_note.amount_paid += amount
        credit_note.save(update_fields=["amount_paid"])
    allocation = Allocation.objects.create(
        organisation_id=invoice.organisation_id,
        invoice=invoice,
        amount=amount,
        payment=payment,
        credit_note=credit_note,
    )
    invoice.amount_paid += amount
    invoice.save(update_fields=["amount_paid"])
    if invoice.amount_paid == invoice.total:
        _mark_paid(invoice, actor)
    return allocation


def settle_oldest_first(
    *, customer, amount: Decimal, payment, actor=None, first: Invoice | None = None
) -> Decimal:
    """Spread ``amount`` over the customer's unpaid invoices, oldest due first; return what is left.

    What is left stays on the customer's account as credit (seed 001: "Effectuer un paiement").
    Invoices are locked a few at a time, so a customer with thousands of open invoices costs no
    more than one with two.
    """
    remaining = amount
    if first is not None and first.kind == Invoice.Kind.INVOICE:
        first = Invoice.objects.select_for_update().get(pk=first.pk)
        if first.status == Invoice.Status.OPEN and first.amount_due > 0:
            part = min(remaining, first.amount_due)
            allocate(invoice=first, amount=part, payment=payment, actor=actor)
            remaining -= part
    open_invoices = Invoice.objects.filter(
        customer=customer, kind=Invoice.Kind.INVOICE, status=Invoice.Status.OPEN
    ).order_by("due_date", "issue_date", "id")
    while remaining > 0:
        batch = list(open_invoices.select_for_update()[:20])
        if not batch:
            break
        for invoice in batch:
            if remaining <= 0:
                break
            part = min(remaining, invoice.amount_due)
            allocate(invoice=invoice, amount=part, payment=payment, actor=actor)
            remaining -= part
    return remaining


@transaction.atomic
def void_invoice(*, invoice: Invoice, actor=None, reason: str = "") -> Invoice:
    """Cancel an unpaid finalised document; its number stays used, its amount leaves the ledger."""
    invoice = Invoice.objects.select_for_update().select_related("organisation").get(pk=invoice.pk)
    check_can_write(actor, invoice.organisation)
    if invoice.status != Invoice.Status.OPEN:
        raise BusinessError(_("Seul un document finalisé et non réglé peut être annulé."))
    if invoice.amount_paid > 0 or invoice.credit_notes.exclude(status__in=["draft", "void"]).exists():
        raise BusinessError(_("Ce document a déjà des règlements ou des avoirs ; émettez un avoir."))
    invoice.status = Invoice.Status.VOID
    invoice.voided_at = timezone.now()
    invoice.save(update_fields=["status", "voided_at"])
    if invoice.kind != Invoice.Kind.PROFORMA:
        sign = -1 if invoice.kind == Invoice.Kind.INVOICE else 1
        LedgerEntry.objects.create(
            organisation_id=invoice.organisation_id,
            customer_id=invoice.customer_id,
            kind=LedgerEntry.Kind.VOID,
            amount=sign * invoice.total,
            invoice=invoice,
            occurred_on=timezone.localdate(),
        )
    record_transition(
        obj=invoice,
        organisation=invoice.organisation,
        actor=actor,
        action="void",
        from_state="open",
        to_state="void",
        detail={"reason": reason},
    )
    return invoice


def _copy_lines(invoice: Invoice) -> list[LineInput]:
    return [line_input(line) for line in invoice.lines.select_related("tax_category", "product")]


def create_credit_note(
    *, invoice: Invoice, actor=None, lines: list[LineInput] | None = None, notes: str = ""
) -> Invoice:
    """Draft a credit note correcting ``invoice``: all its lines unless ``lines`` says otherwise."""
    if invoice.kind != Invoice.Kind.INVOICE or invoice.status not in (
        Invoice.Status.OPEN,
        Invoice.Status.PAID,
    ):
        raise BusinessError(_("Un avoir doit corriger une facture finalisée."))
    return create_invoice(
        organisation=invoice.organisation,
        customer=invoice.customer,
        actor=actor,
        kind=Invoice.Kind.CREDIT_NOTE,
        lines=lines if lines is not None else _copy_lines(invoice),
        billing_contact=invoice.billing_contact,
        billing_address=invoice.billing_address,
        notes=notes or _("Avoir sur la facture %(number)s") % {"number": invoice.number},
        corrects=invoice,
        online_payment=False,
    )


@transaction.atomic
def issue_credit_note(*, invoice: Invoice, actor=None) -> Invoice:
    """Credit the whole invoice and finalise the note at once (one transaction: no stray draft)."""
    return finalise_invoice(invoice=create_credit_note(invoice=invoice, actor=actor), actor=actor)


def convert_proforma(*, proforma: Invoice, actor=None) -> Invoice:
    """Turn a finalised pro-forma into a real invoice (when it is paid); idempotent."""
    with transaction.atomic():
        proforma = Invoice.objects.select_for_update().get(pk=proforma.pk)
        if proforma.kind != Invoice.Kind.PROFORMA or proforma.status not in ("open", "paid"):
            raise BusinessError(_("Seule une facture pro forma émise peut être convertie."))
        if proforma.converted_to_id:
            return proforma.converted_to
        invoice = create_invoice(
            organisation=proforma.organisation,
            customer=proforma.customer,
            actor=actor,
            lines=_copy_lines(proforma),
            billing_contact=proforma.billing_contact,
            billing_address=proforma.billing_address,
            online_payment=proforma.online_payment,
            notes=proforma.notes,
        )
        invoice = finalise_invoice(invoice=invoice, actor=actor)
        proforma.converted_to = invoice
        proforma.status = Invoice.Status.PAID
        proforma.paid_at = timezone.now()
        proforma.save(update_fields=["converted_to", "status", "paid_at"])
        record_transition(
            obj=proforma,
            organisation=proforma.organisation,
            actor=actor,
            action="convert",
            from_state="open",
            to_state="paid",
            detail={"invoice": invoice.number},
        )
    return invoice


@transaction.atomic
def revoke_public_link(*, invoice: Invoice, actor=None) -> Invoice:
    """Kill the consultation link; a new one replaces it so the invoice can be shared again."""
    invoice = Invoice.objects.select_for_update().select_related("organisation").get(pk=invoice.pk)
    check_can_write(actor, invoice.organisation)
    invoice.public_token = new_public_token()
    invoice.public_token_revoked_at = timezone.now()
    invoice.save(update_fields=["public_token", "public_key", "public_token_revoked_at"])
    record_transition(obj=invoice, organisation=invoice.organisation, actor=actor, action="revoke_link")
    return invoice


@transaction.atomic
def reverse_allocations(*, payment, amount: Decimal, actor=None) -> None:
    """Take ``amount`` of a payment back from the invoices it settled (refund, chargeback).

    The latest allocations are undone first; an invoice that was paid reopens. A negative
    allocation keeps the history instead of rewriting it.
    """
    remaining = amount
    for allocation in payment.allocations.select_related("invoice").order_by("-id"):
        if remaining <= 0:
            break
        net = sum((a.amount for a in payment.allocations.filter(invoice=allocation.invoice)), ZERO)
        part = min(remaining, net)
        if part <= 0:
            continue
        invoice = (
            Invoice.objects.select_for_update().select_related("organisation").get(pk=allocation.invoice_id)
        )
        Allocation.objects.create(
            organisation_id=invoice.organisation_id, invoice=invoice, amount=-part, payment=payment
        )
        invoice.amount_paid -= part
        fields = ["amount_paid"]
        if invoice.status == Invoice.Status.PAID:
            invoice.status, invoice.paid_at = Invoice.Status.OPEN, None
            fields += ["status", "paid_at"]
            record_transition(
                obj=invoice,
                organisation=invoice.organisation,
                actor=actor,
                action="reopen",
                from_state="paid",
                to_state="open",
            )
        invoice.save(update_fields=fields)
        remaining -= part


@transaction.atomic
def send_invoice(*, invoice: Invoice, actor=None, sms: bool = True) -> list:
    """E-mail a finalised invoice with its consultation link in the body (seed 004: the online
    payment is offered through that link), the PDF attached; and an SMS when the customer has a phone."""
    from acquitte.documents.services import date_text, invoice_pdf, money_text, public_url
    from acquitte.notifications.services import send_to_customer

    check_can_write(actor, invoice.organisation)
    if invoice.status == Invoice.Status.DRAFT:
        raise BusinessError(_("Finalisez la facture avant de l'envoyer."))
    if invoice.status == Invoice.Status.VOID:
        raise BusinessError(_("Une facture annulée ne s'envoie pas."))
    if invoice.public_token_revoked_at is not None:
        raise BusinessError(_("Le lien de consultation de cette facture a été révoqué."))
    customer, organisation = invoice.customer, invoice.organisation
    contact = invoice.billing_contact
    email = (contact.email if contact and contact.email else "") or customer.email
    lang, country = customer.language, organisation.country
    context = {
        "organisation": organisation,
        "customer": customer,
        "invoice": invoice,
        "total": money_text(
            invoice.amount_due or invoice.total, invoice.currency, lang=lang, country=country
        ),
        "due_date": date_text(invoice.due_date, lang=lang, country=country) if invoice.due_date else "",
        "url": public_url(invoice),
    }
    sent = send_to_customer(
        organisation=organisation,
        customer=customer,
        template="invoice_sent",
        context=context,
        reference=invoice.number,
        attachment=lambda: (f"{invoice.number}.pdf", invoice_pdf(invoice)),
        email=email,
        sms=sms,
    )
    record_transition(
        obj=invoice, organisation=organisation, actor=actor, action="send", detail={"to": email}
    )
    return sent
