"""The decision on a quote: viewed, approved (it becomes a finalised invoice), declined, expired.

The customer decides through the quote's public link (a ``PublicLink`` actor carrying the name
they typed); the merchant's staff may record a decision on their behalf.
"""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from acquitte.core.actors import Actor, Person, PublicLink, System
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.models import AuditAction
from acquitte.core.params import check_text
from acquitte.core.services import record_transition
from acquitte.core.tenancy import check_can_act_for
from acquitte.invoicing.models import Invoice
from acquitte.invoicing.services import create_invoice, finalise_invoice
from acquitte.notifications.services import notify_staff

from ..models import Quote
from .drafts import input_of
from .sending import OPEN_FOR_DECISION, number_quote

#: Who issues the invoice when the customer approves: the merchant's system, on their word.
ISSUER = System(reason="quote_approval")

#: The longest decline reason kept (the form's limit): longer is refused, not cut.
MAX_REASON = 500


def _by_customer(actor: Actor) -> bool:
    """The customer decides (through the link or signed in), rather than staff or the system."""
    return isinstance(actor, PublicLink) or (isinstance(actor, Person) and actor.customer_id is not None)


def is_decidable(quote: Quote, *, by_staff: bool = False) -> bool:
    try:
        check_decidable(quote, by_staff=by_staff)
    except BusinessError:
        return False
    return True


def check_decidable(quote: Quote, *, by_staff: bool) -> None:
    if quote.status == Quote.Status.DECLINED:
        raise BusinessError(
            _("Cette soumission a été refusée ; elle ne peut plus être approuvée."),
            code=ErrorCode.QUOTE_CLOSED,
        )
    if quote.status == Quote.Status.EXPIRED or (
        quote.valid_until and quote.valid_until < timezone.localdate()
    ):
        raise BusinessError(
            _("Cette soumission a expiré ; demandez-en une nouvelle."), code=ErrorCode.QUOTE_CLOSED
        )
    allowed = (Quote.Status.DRAFT, *OPEN_FOR_DECISION) if by_staff else OPEN_FOR_DECISION
    if quote.status not in allowed:
        raise BusinessError(_("Cette soumission n'attend pas de décision."), code=ErrorCode.QUOTE_CLOSED)


def mark_viewed(*, quote: Quote, actor: Actor) -> Quote:
    """The customer opened the link: sent becomes viewed, once."""
    check_can_act_for(actor, quote.customer)
    updated = Quote.objects.filter(pk=quote.pk, status=Quote.Status.SENT).update(
        status=Quote.Status.VIEWED, viewed_at=timezone.now()
    )
    if updated:
        quote.refresh_from_db()
        record_transition(
            obj=quote,
            organisation=quote.organisation,
            actor=actor,
            action=AuditAction.VIEW,
            from_state=Quote.Status.SENT,
            to_state=Quote.Status.VIEWED,
        )
    return quote


def _approver_name(actor: Actor) -> str:
    if isinstance(actor, PublicLink):
        return actor.name.strip()[:200]
    if isinstance(actor, Person):
        return getattr(actor, "full_name", "") or actor.email
    return ""


def _issue_invoice(quote: Quote, actor: Actor) -> Invoice:
    """The quote's lines as a finalised invoice, issued by staff or, for the customer, by ``ISSUER``."""
    lines = [input_of(line) for line in quote.lines.select_related("product", "tax_category")]
    if not lines:
        raise BusinessError(_("Cette soumission n'a aucune ligne."), code=ErrorCode.INVALID_STATE)
    issuer = ISSUER if _by_customer(actor) else actor
    invoice = create_invoice(
        organisation=quote.organisation,
        customer=quote.customer,
        actor=issuer,
        lines=lines,
        notes=_("Selon la soumission %(number)s.") % {"number": quote.number},
    )
    return finalise_invoice(invoice=invoice, actor=issuer)


def _record_approval(quote: Quote, actor: Actor, previous: str, invoice: Invoice) -> None:
    detail = {"ip": quote.approver_ip, "name": quote.approver_name, "via": quote.approved_via}
    for action, from_state, to_state, extra in (
        (AuditAction.APPROVE, previous, Quote.Status.APPROVED, detail),
        (AuditAction.CONVERT, Quote.Status.APPROVED, Quote.Status.CONVERTED, {"invoice": invoice.number}),
    ):
        record_transition(
            obj=quote,
            organisation=quote.organisation,
            actor=actor,
            action=action,
            from_state=from_state,
            to_state=to_state,
            detail=extra,
        )


def approve_quote(*, quote: Quote, actor: Actor, ip_address: str | None = None) -> Invoice:
    """Approve and convert to a finalised invoice, in one transaction; returns the invoice.

    The quote row is locked, so concurrent approvals (a double tap, the customer and staff at once)
    produce one invoice: the second finds it already converted and gets the same invoice back.
    """
    with transaction.atomic():
        quote = (
            Quote.objects.select_for_update(of=("self",))
            .select_related("organisation", "customer")
            .get(pk=quote.pk)
        )
        check_can_act_for(actor, quote.customer)
        if quote.invoice is not None:
            if isinstance(actor, PublicLink) and quote.invoice.public_token_revoked_at is not None:
                raise BusinessError(
                    _("Ce document a été remplacé : contactez-nous pour en recevoir le nouveau lien."),
                    code=ErrorCode.LINK_REPLACED,
                )
            return quote.invoice
        by_customer = _by_customer(actor)
        check_decidable(quote, by_staff=not by_customer)
        name = _approver_name(actor)
        if by_customer and not name:
            raise BusinessError(
                _("Indiquez votre nom pour approuver la soumission."), code=ErrorCode.INVALID_INPUT
            )
        if quote.status == Quote.Status.DRAFT:
            number_quote(quote)
        previous = quote.status
        invoice = _issue_invoice(quote, actor)
        quote.status = Quote.Status.CONVERTED
        quote.decided_at = timezone.now()
        quote.approved_via = Quote.ApprovedVia.CUSTOMER if by_customer else Quote.ApprovedVia.STAFF
        quote.approved_by_id = None if by_customer or not isinstance(actor, Person) else actor.pk
        quote.approver_name = name
        quote.approver_ip = ip_address
        quote.invoice = invoice
        quote.save()
        _record_approval(quote, actor, previous, invoice)
        if by_customer:
            notify_staff(
                organisation=quote.organisation,
                actor=actor,
                kind="quote_approved",
                subject=_("Soumission %(number)s approuvée par %(name)s : facture %(invoice)s")
                % {"number": quote.number, "name": quote.approver_name, "invoice": invoice.number},
                link=f"/gestion/soumissions/{quote.pk}/",
            )
    return invoice


@transaction.atomic
def decline_quote(*, quote: Quote, actor: Actor, reason: str = "", ip_address: str | None = None) -> Quote:
    quote = (
        Quote.objects.select_for_update(of=("self",))
        .select_related("organisation", "customer")
        .get(pk=quote.pk)
    )
    check_can_act_for(actor, quote.customer)
    if quote.status == Quote.Status.DECLINED:
        return quote
    by_customer = _by_customer(actor)
    check_decidable(quote, by_staff=not by_customer)
    previous = quote.status
    quote.status = Quote.Status.DECLINED
    quote.decided_at = timezone.now()
    quote.decline_reason = (reason or "").strip()
    check_text(quote.decline_reason, max_length=MAX_REASON, label=_("Le motif"))
    quote.approver_ip = ip_address
    quote.save()
    record_transition(
        obj=quote,
        organisation=quote.organisation,
        actor=actor,
        action=AuditAction.DECLINE,
        from_state=previous,
        to_state=Quote.Status.DECLINED,
        detail={"reason": quote.decline_reason, "ip": ip_address},
    )
    if by_customer:
        notify_staff(
            organisation=quote.organisation,
            actor=actor,
            kind="quote_declined",
            subject=_("Soumission %(number)s refusée par le client") % {"number": quote.number},
            body=quote.decline_reason,
            link=f"/gestion/soumissions/{quote.pk}/",
        )
    return quote
