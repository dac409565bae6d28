"""Sending a finalised invoice to its customer: e-mail with the PDF and the link, and an SMS."""

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from acquitte.core.actors import Actor
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.models import AuditAction
from acquitte.core.services import record_transition
from acquitte.core.tenancy import check_can_write
from acquitte.invoicing.models import Invoice
from acquitte.notifications.models import OutboundMessage
from acquitte.notifications.services import send_to_customer

from .formatting import date_text, money_text, public_url
from .rendering import invoice_pdf


def _check_sendable(invoice: Invoice) -> None:
    if invoice.status == Invoice.Status.DRAFT:
        raise BusinessError(_("Finalisez la facture avant de l'envoyer."), code=ErrorCode.INVALID_STATE)
    if invoice.status == Invoice.Status.VOID:
        raise BusinessError(_("Une facture annulée ne s'envoie pas."), code=ErrorCode.INVALID_STATE)
    # A revoked link was replaced by a new one (``revoke_public_link``): sending shares the new link.


def _context(invoice: Invoice) -> dict[str, Any]:
    customer, organisation = invoice.customer, invoice.organisation
    lang, country = customer.language, organisation.country
    return {
        "organisation": organisation,
        "customer": customer,
        "invoice": invoice,
        "total": money_text(
            invoice.amount_due or invoice.total, invoice.currency, lang=lang, country=country
        ),
        "due_date": date_text(invoice.due_date, lang=lang, country=country) if invoice.due_date else "",
        "url": public_url(invoice),
    }


@transaction.atomic
def send_invoice(*, invoice: Invoice, actor: Actor, sms: bool = True) -> list[OutboundMessage]:
    """E-mail a finalised invoice with its consultation link in the body (seed 004: the online
    payment is offered through that link), the PDF attached; and an SMS when the customer has a phone."""
    check_can_write(actor, invoice.organisation)
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)  # the link as a revocation left it
    _check_sendable(invoice)
    contact = invoice.billing_contact
    email = (contact.email if contact and contact.email else "") or invoice.customer.email
    sent = send_to_customer(
        organisation=invoice.organisation,
        customer=invoice.customer,
        actor=actor,
        template="invoice_sent",
        context=_context(invoice),
        reference=invoice.number,
        attachment=lambda: (f"{invoice.number}.pdf", invoice_pdf(invoice)),
        email=email,
        sms=sms,
    )
    record_transition(
        obj=invoice,
        organisation=invoice.organisation,
        actor=actor,
        action=AuditAction.SEND,
        detail={"to": email},
    )
    return sent
