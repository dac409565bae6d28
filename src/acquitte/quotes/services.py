"""Quotes: drafting, sending by e-mail and SMS, the customer's decision, and conversion to an invoice."""

import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from acquitte.core.errors import BusinessError
from acquitte.core.money import MAX_AMOUNT, to_decimal
from acquitte.core.services import next_number, record_transition
from acquitte.core.tenancy import check_can_write, check_same_organisation
from acquitte.invoicing.services import (
    MAX_QUANTITY,
    LineInput,
    catalogue_category,
    compute_totals,
    create_invoice,
    finalise_invoice,
    line_fields,
    line_input,
    product_line,
)
from acquitte.notifications.services import notify_staff, send_to_customer

from .models import Quote, QuoteLine

DEFAULT_VALIDITY_DAYS = 30
EDITABLE = (Quote.Status.DRAFT,)
OPEN_FOR_DECISION = (Quote.Status.SENT, Quote.Status.VIEWED)


def public_url(quote: Quote) -> str:
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}/q/{quote.public_token}/"


def _require_draft(quote: Quote) -> None:
    if quote.status not in EDITABLE:
        raise BusinessError(_("Une soumission envoyée ne peut plus être modifiée."))


def _check_validity(valid_until) -> None:
    if valid_until and valid_until < timezone.localdate():
        raise BusinessError(_("La date de validité ne peut pas être dans le passé."))


def _refresh_totals(quote: Quote) -> None:
    totals = compute_totals(list(quote.lines.all()))
    if totals.total > MAX_AMOUNT:
        raise BusinessError(_("Montant total trop élevé."))
    quote.subtotal, quote.tax_total, quote.total = totals.subtotal, totals.tax_total, totals.total
    quote.save(update_fields=["subtotal", "tax_total", "total"])


@transaction.atomic
def create_quote(*, organisation, customer, actor=None, valid_until=None, notes: str = "") -> Quote:
    check_can_write(actor, organisation)
    check_same_organisation(organisation, customer)
    _check_validity(valid_until)
    quote = Quote.objects.create(
        organisation=organisation,
        customer=customer,
        currency=organisation.currency,
        valid_until=valid_until,
        notes=notes,
        created_by=actor,
    )
    record_transition(obj=quote, organisation=organisation, actor=actor, action="create", to_state="draft")
    return quote


@transaction.atomic
def update_quote(*, quote: Quote, actor=None, customer=None, valid_until=None, notes: str | None = None):
    """Change a draft's customer, validity or notes; lines are re-checked for the new customer's taxes."""
    check_can_write(actor, quote.organisation)
    _require_draft(quote)
    _check_validity(valid_until)
    if customer is not None and customer.pk != quote.customer_id:
        check_same_organisation(quote.organisation, customer)
        quote.customer = customer
        for line in quote.lines.select_related("product", "tax_category"):
            _rewrite(line, quote, _input_of(line))
    if valid_until is not None:
        quote.valid_until = valid_until
    if notes is not None:
        quote.notes = notes
    quote.save(update_fields=["customer", "valid_until", "notes"])
    _refresh_totals(quote)
    return quote


def _input_of(line: QuoteLine, quantity=None) -> LineInput:
    changes = {"tax_category": catalogue_category(line)}
    if quantity is not None:
        changes["quantity"] = quantity
    return line_input(line, **changes)


def _rewrite(line: QuoteLine, quote: Quote, data: LineInput) -> None:
    for name, value in line_fields(
        organisation=quote.organisation, customer=quote.customer, data=data
    ).items():
        setattr(line, name, value)
    line.save()


@transaction.atomic
def add_line(*, quote: Quote, actor=None, line: LineInput) -> QuoteLine:
    check_can_write(actor, quote.organisation)
    _require_draft(quote)
    fields = line_fields(organisation=quote.organisation, customer=quote.customer, data=line)
    position = (quote.lines.order_by("-position").values_list("position", flat=True).first() or 0) + 1
    created = QuoteLine.objects.create(quote=quote, position=position, **fields)
    _refresh_totals(quote)
    return created


@transaction.atomic
def add_product(*, quote: Quote, product, actor=None, quantity=1) -> QuoteLine:
    """Tap a product: a new line at its catalogue price, or one more on its existing line."""
    check_can_write(actor, quote.organisation)
    _require_draft(quote)
    check_same_organisation(quote.organisation, product)
    existing = quote.lines.filter(product=product).first()
    if existing is not None:
        return set_quantity(line=existing, actor=actor, quantity=existing.quantity + to_decimal(quantity))
    return add_line(quote=quote, actor=actor, line=product_line(product, quantity))


@transaction.atomic
def set_quantity(*, line: QuoteLine, actor=None, quantity) -> QuoteLine:
    quote = line.quote
    check_can_write(actor, quote.organisation)
    _require_draft(quote)
    quantity = to_decimal(quantity)
    if quantity > MAX_QUANTITY:
        raise BusinessError(_("Quantité invalide (au plus 3 décimales)."))
    _rewrite(line, quote, _input_of(line, quantity))
    _refresh_totals(quote)
    return line


@transaction.atomic
def remove_line(*, line: QuoteLine, actor=None) -> None:
    quote = line.quote
    check_can_write(actor, quote.organisation)
    _require_draft(quote)
    line.delete()
    _refresh_totals(quote)


def _quote_pdf(quote: Quote) -> bytes:
    from acquitte.documents.services import document_data_for_quote, render

    return render(document_data_for_quote(quote))


def _context(quote: Quote) -> dict:
    from acquitte.documents.services import date_text, money_text

    lang = quote.customer.language
    return {
        "organisation": quote.organisation,
        "customer": quote.customer,
        "quote": quote,
        "total": money_text(quote.total, quote.currency, lang=lang, country=quote.organisation.country),
        "valid_until": date_text(quote.valid_until, lang=lang, country=quote.organisation.country)
        if quote.valid_until
        else "",
        "url": public_url(quote),
    }


@transaction.atomic
def send_quote(*, quote: Quote, actor=None) -> Quote:
    """Number the quote (first send) and queue the e-mail and SMS the customer's details allow.

    Sending again (a reminder) keeps the number and the state.
    """
    quote = Quote.objects.select_for_update().select_related("customer", "organisation").get(pk=quote.pk)
    check_can_write(actor, quote.organisation)
    customer = quote.customer
    if quote.status not in (Quote.Status.DRAFT, *OPEN_FOR_DECISION):
        raise BusinessError(_("Cette soumission ne peut plus être envoyée."))
    if not quote.lines.exists():
        raise BusinessError(_("Ajoutez au moins un produit ou service avant d'envoyer."))
    if not customer.email and not customer.phone:
        raise BusinessError(_("Le client n'a ni courriel ni téléphone : complétez sa fiche."))
    if quote.status == Quote.Status.DRAFT:
        _number(quote, actor)
        quote.status = Quote.Status.SENT
        record_transition(
            obj=quote,
            organisation=quote.organisation,
            actor=actor,
            action="send",
            from_state="draft",
            to_state="sent",
        )
    quote.sent_at = timezone.now()
    quote.save()
    send_to_customer(
        organisation=quote.organisation,
        customer=customer,
        template="quote_sent",
        context=_context(quote),
        reference=quote.number,
        attachment=lambda: (f"{quote.number}.pdf", _quote_pdf(quote)),
    )
    return quote


def _number(quote: Quote, actor) -> None:
    today = timezone.localdate()
    quote.number = next_number(organisation=quote.organisation, kind="quote", issue_date=today)
    quote.issue_date = today
    if quote.valid_until is None:
        quote.valid_until = today + datetime.timedelta(days=DEFAULT_VALIDITY_DAYS)


def mark_viewed(*, quote: Quote) -> Quote:
    """The customer opened the link: sent becomes viewed, once."""
    updated = Quote.objects.filter(pk=quote.pk, status=Quote.Status.SENT).update(
        status=Quote.Status.VIEWED, viewed_at=timezone.now()
    )
    if updated:
        quote.refresh_from_db()
        record_transition(
            obj=quote, organisation=quote.organisation, action="view", from_state="sent", to_state="viewed"
        )
    return quote


def quote_taxes(quote: Quote):
    """The per-rate tax breakdown of a quote, as the invoice will freeze it."""
    return compute_totals(list(quote.lines.all())).taxes


def is_decidable(quote: Quote, *, by_staff: bool = False) -> bool:
    try:
        _check_decidable(quote, by_staff=by_staff)
    except BusinessError:
        return False
    return True


def _check_decidable(quote: Quote, *, by_staff: bool) -> None:
    if quote.status == Quote.Status.DECLINED:
        raise BusinessError(_("Cette soumission a été refusée ; elle ne peut plus être approuvée."))
    if quote.status == Quote.Status.EXPIRED or (
        quote.valid_until and quote.valid_until < timezone.localdate()
    ):
        raise BusinessError(_("Cette soumission a expiré ; demandez-en une nouvelle."))
    allowed = (Quote.Status.DRAFT, *OPEN_FOR_DECISION) if by_staff else OPEN_FOR_DECISION
    if quote.status not in allowed:
        raise BusinessError(_("Cette soumission n'attend pas de décision."))


def approve_quote(*, quote: Quote, actor=None, name: str = "", ip_address: str | None = None):
    """Approve and convert to a finalised invoice, in one transaction; returns the invoice.

    The quote row is locked, so concurrent approvals (a double tap, the customer and staff at once)
    produce one invoice: the second finds it already converted and gets the same invoice back.
    ``actor`` is the staff user approving on the customer's behalf; None means the customer's link.
    """
    with transaction.atomic():
        quote = Quote.objects.select_for_update().select_related("organisation", "customer").get(pk=quote.pk)
        if quote.invoice_id:
            return quote.invoice
        if actor is not None:
            check_can_write(actor, quote.organisation)
        _check_decidable(quote, by_staff=actor is not None)
        name = (name or "").strip()[:200]
        if actor is None and not name:
            raise BusinessError(_("Indiquez votre nom pour approuver la soumission."))
        if quote.status == Quote.Status.DRAFT:
            _number(quote, actor)
        previous = quote.status
        lines = [_input_of(line) for line in quote.lines.select_related("product", "tax_category")]
        if not lines:
            raise BusinessError(_("Cette soumission n'a aucune ligne."))
        invoice = create_invoice(
            organisation=quote.organisation,
            customer=quote.customer,
            actor=actor,
            lines=lines,
            notes=_("Selon la soumission %(number)s.") % {"number": quote.number},
        )
        invoice = finalise_invoice(invoice=invoice, actor=actor)
        now = timezone.now()
        quote.status = Quote.Status.CONVERTED
        quote.decided_at = now
        quote.approved_via = Quote.ApprovedVia.STAFF if actor else Quote.ApprovedVia.CUSTOMER
        quote.approved_by = actor
        quote.approver_name = name or getattr(actor, "full_name", "") or getattr(actor, "email", "")
        quote.approver_ip = ip_address
        quote.invoice = invoice
        quote.save()
        detail = {"ip": ip_address, "name": quote.approver_name, "via": quote.approved_via}
        record_transition(
            obj=quote,
            organisation=quote.organisation,
            actor=actor,
            action="approve",
            from_state=previous,
            to_state="approved",
            detail=detail,
        )
        record_transition(
            obj=quote,
            organisation=quote.organisation,
            actor=actor,
            action="convert",
            from_state="approved",
            to_state="converted",
            detail={"invoice": invoice.number},
        )
        if actor is None:
            notify_staff(
                organisation=quote.organisation,
                kind="quote_approved",
                subject=_("Soumission %(number)s approuvée par %(name)s : facture %(invoice)s")
                % {"number": quote.number, "name": quote.approver_name, "invoice": invoice.number},
                link=f"/gestion/soumissions/{quote.pk}/",
            )
    return invoice


@transaction.atomic
def decline_quote(*, quote: Quote, actor=None, reason: str = "", ip_address: str | None = None) -> Quote:
    quote = Quote.objects.select_for_update().select_related("organisation").get(pk=quote.pk)
    if actor is not None:
        check_can_write(actor, quote.organisation)
    if quote.status == Quote.Status.DECLINED:
        return quote
    _check_decidable(quote, by_staff=actor is not None)
    previous = quote.status
    quote.status = Quote.Status.DECLINED
    quote.decided_at = timezone.now()
    quote.decline_reason = (reason or "").strip()[:500]
    quote.approver_ip = ip_address
    quote.save()
    record_transition(
        obj=quote,
        organisation=quote.organisation,
        actor=actor,
        action="decline",
        from_state=previous,
        to_state="declined",
        detail={"reason": quote.decline_reason, "ip": ip_address},
    )
    if actor is None:
        notify_staff(
            organisation=quote.organisation,
            kind="quote_declined",
            subject=_("Soumission %(number)s refusée par le client") % {"number": quote.number},
            body=quote.decline_reason,
            link=f"/gestion/soumissions/{quote.pk}/",
        )
    return quote


def expire_quotes(*, today: datetime.date | None = None) -> int:
    """Sent quotes past their validity date become expired; returns how many."""
    today = today or timezone.localdate()
    expired = 0
    stale = Quote.objects.filter(status__in=OPEN_FOR_DECISION, valid_until__lt=today).order_by("pk")
    for quote_id in stale.values_list("pk", flat=True):
        with transaction.atomic():
            quote = Quote.objects.select_for_update().get(pk=quote_id)
            if quote.status not in OPEN_FOR_DECISION:
                continue
            previous = quote.status
            quote.status = Quote.Status.EXPIRED
            quote.save(update_fields=["status"])
            record_transition(
                obj=quote,
                organisation=quote.organisation,
                action="expire",
                from_state=previous,
                to_state="expired",
            )
            expired += 1
    return expired


@transaction.atomic
def delete_draft(*, quote: Quote, actor=None) -> None:
    """A draft was never sent and has no number: it can simply go."""
    check_can_write(actor, quote.organisation)
    _require_draft(quote)
    record_transition(
        obj=quote, organisation=quote.organisation, actor=actor, action="delete", from_state="draft"
    )
    quote.delete()
