"""Drafts: opening one, changing its header, deleting it. A finalised invoice refuses all."""

import datetime
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypedDict, Unpack

from django.db import transaction
from django.utils.translation import gettext as _

from acquitte.core.actors import Actor, Person
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.models import AuditAction
from acquitte.core.services import record_transition
from acquitte.core.tenancy import check_can_write, check_same_organisation

from ..models import Invoice, InvoiceLine
from .draft_lines import build_line, locked_invoice, refresh_totals, require_draft
from .lines import LineInput, check_dates

if TYPE_CHECKING:
    from acquitte.customers.models import Address, Contact, Customer, Organisation


def _check_billing_contact(contact: "Contact", customer_id: int) -> None:
    if contact.customer_id != customer_id or not contact.is_billing:
        raise BusinessError(
            _("Ce sous-contact de facturation n'appartient pas au client."), code=ErrorCode.NOT_FOUND
        )


class DraftFields(TypedDict, total=False):
    """What a new draft may be opened with, besides its organisation and customer."""

    kind: str
    lines: Sequence[LineInput]
    billing_contact: "Contact | None"
    billing_address: "Address | None"
    issue_date: datetime.date | None
    due_date: datetime.date | None
    online_payment: bool | None
    notes: str
    corrects: Invoice | None


@transaction.atomic
def create_invoice(
    *, organisation: "Organisation", customer: "Customer", actor: Actor, **fields: Unpack[DraftFields]
) -> Invoice:
    """Open a draft for a customer of ``organisation``, with its lines."""
    check_can_write(actor, organisation)
    return open_draft(organisation=organisation, customer=customer, actor=actor, **fields)


def open_draft(
    *,
    organisation: "Organisation",
    customer: "Customer",
    actor: Actor,
    kind: str = Invoice.Kind.INVOICE,
    lines: Sequence[LineInput] = (),
    billing_contact: "Contact | None" = None,
    billing_address: "Address | None" = None,
    issue_date: datetime.date | None = None,
    due_date: datetime.date | None = None,
    online_payment: bool | None = None,
    notes: str = "",
    corrects: Invoice | None = None,
) -> Invoice:
    """``create_invoice`` once the caller has checked who acts (a pro-forma's payment converts it)."""
    check_same_organisation(organisation, customer)
    if kind not in Invoice.Kind.values:
        raise BusinessError(_("Type de document inconnu."), code=ErrorCode.INVALID_INPUT)
    if billing_contact is not None:
        _check_billing_contact(billing_contact, customer.pk)
    if billing_address is not None and billing_address.customer_id != customer.pk:
        raise BusinessError(_("Cette adresse appartient à un autre client."), code=ErrorCode.NOT_FOUND)
    check_dates(issue_date, due_date)
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
        created_by_id=actor.pk if isinstance(actor, Person) else None,
    )
    if lines:
        InvoiceLine.objects.bulk_create(
            [build_line(invoice, data, position) for position, data in enumerate(lines, 1)]
        )
        refresh_totals(invoice)
    record_transition(
        obj=invoice,
        organisation=organisation,
        actor=actor,
        action=AuditAction.CREATE,
        to_state=Invoice.Status.DRAFT,
    )
    return invoice


@transaction.atomic
def update_draft(
    *,
    invoice: Invoice,
    actor: Actor,
    issue_date: datetime.date | None = None,
    due_date: datetime.date | None = None,
    billing_contact: "Contact | None" = None,
    notes: str | None = None,
    online_payment: bool | None = None,
) -> Invoice:
    """Change the header of a draft (dates, sub-contact, notes)."""
    invoice = locked_invoice(invoice.pk)
    check_can_write(actor, invoice.organisation)
    require_draft(invoice)
    if billing_contact is not None:
        _check_billing_contact(billing_contact, invoice.customer_id)
        invoice.billing_contact = billing_contact
    invoice.issue_date = issue_date or invoice.issue_date
    invoice.due_date = due_date or invoice.due_date
    check_dates(invoice.issue_date, invoice.due_date)
    if notes is not None:
        invoice.notes = notes
    if online_payment is not None:
        invoice.online_payment = online_payment
    invoice.save()
    return invoice


@transaction.atomic
def delete_draft(*, invoice: Invoice, actor: Actor) -> None:
    """A draft has no number yet, so deleting it leaves no gap in the series."""
    invoice = locked_invoice(invoice.pk)
    check_can_write(actor, invoice.organisation)
    require_draft(invoice)
    record_transition(
        obj=invoice,
        organisation=invoice.organisation,
        actor=actor,
        action=AuditAction.DELETE,
        from_state=Invoice.Status.DRAFT,
    )
    invoice.lines.all().delete()
    invoice.delete()


@transaction.atomic
def set_online_payment(*, invoice: Invoice, actor: Actor, offered: bool) -> Invoice:
    """Offer or withdraw online payment on one invoice (seed 004); allowed after finalisation."""
    invoice = locked_invoice(invoice.pk)
    check_can_write(actor, invoice.organisation)
    invoice.online_payment = offered
    invoice.save(update_fields=["online_payment"])
    return invoice
