"""Sending a quote: its number on the first send, then the e-mail and SMS with its link."""

import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from acquitte.core.actors import Actor
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.models import AuditAction
from acquitte.core.services import next_number, record_transition
from acquitte.core.tenancy import check_can_write
from acquitte.documents.services import date_text, money_text, render
from acquitte.notifications.services import send_to_customer

from ..documents import document_data_for_quote
from ..models import Quote

DEFAULT_VALIDITY_DAYS = 30
OPEN_FOR_DECISION = (Quote.Status.SENT, Quote.Status.VIEWED)


def public_url(quote: Quote) -> str:
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}/q/{quote.public_token}/"


def number_quote(quote: Quote) -> None:
    """Its number and date, and a validity when none was set (caller saves, under the quote's lock)."""
    today = timezone.localdate()
    quote.number = next_number(organisation=quote.organisation, kind="quote", issue_date=today)
    quote.issue_date = today
    if quote.valid_until is None:
        quote.valid_until = today + datetime.timedelta(days=DEFAULT_VALIDITY_DAYS)


def _context(quote: Quote) -> dict[str, Any]:
    lang, country = quote.customer.language, quote.organisation.country
    return {
        "organisation": quote.organisation,
        "customer": quote.customer,
        "quote": quote,
        "total": money_text(quote.total, quote.currency, lang=lang, country=country),
        "valid_until": date_text(quote.valid_until, lang=lang, country=country) if quote.valid_until else "",
        "url": public_url(quote),
    }


def _check_sendable(quote: Quote) -> None:
    if quote.status not in (Quote.Status.DRAFT, *OPEN_FOR_DECISION):
        raise BusinessError(_("Cette soumission ne peut plus être envoyée."), code=ErrorCode.QUOTE_CLOSED)
    if not quote.lines.exists():
        raise BusinessError(
            _("Ajoutez au moins un produit ou service avant d'envoyer."), code=ErrorCode.INVALID_STATE
        )
    if not quote.customer.email and not quote.customer.phone:
        raise BusinessError(
            _("Le client n'a ni courriel ni téléphone : complétez sa fiche."), code=ErrorCode.INVALID_INPUT
        )


@transaction.atomic
def send_quote(*, quote: Quote, actor: Actor) -> Quote:
    """Number the quote (first send) and queue the e-mail and SMS the customer's details allow.

    Sending again (a reminder) keeps the number and the state.
    """
    quote = (
        Quote.objects.select_for_update(of=("self",))
        .select_related("customer", "organisation")
        .get(pk=quote.pk)
    )
    check_can_write(actor, quote.organisation)
    _check_sendable(quote)
    if quote.status == Quote.Status.DRAFT:
        number_quote(quote)
        quote.status = Quote.Status.SENT
        record_transition(
            obj=quote,
            organisation=quote.organisation,
            actor=actor,
            action=AuditAction.SEND,
            from_state=Quote.Status.DRAFT,
            to_state=Quote.Status.SENT,
        )
    quote.sent_at = timezone.now()
    quote.save()
    send_to_customer(
        organisation=quote.organisation,
        customer=quote.customer,
        actor=actor,
        template="quote_sent",
        context=_context(quote),
        reference=quote.number,
        attachment=lambda: (f"{quote.number}.pdf", render(document_data_for_quote(quote))),
    )
    return quote
