"""What a customer does with their domains and yearly services on the portal (seed 002).

"Renouveler" asks for the next period early: a finalised pro-forma per service, whose payment
turns it into an invoice and moves the expiry date on (the renewals receiver). "Paiement
récurrent" has the renewal run charge the chosen card, with invoices to an optional billing
sub-contact; when that sub-contact is not the card holder ("Attention !"), nothing is saved until
the customer confirms it.
"""

import datetime
from collections.abc import Sequence

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from acquitte.core.actors import Actor
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.models import AuditAction
from acquitte.core.services import record_transition
from acquitte.core.tenancy import check_can_act_for
from acquitte.customers.models import Contact, Customer
from acquitte.invoicing.models import Invoice
from acquitte.invoicing.services import LineInput
from acquitte.invoicing.services.drafts import open_draft
from acquitte.invoicing.services.finalise import finalise_checked
from acquitte.payments.models import PaymentMethod
from acquitte.payments.selectors import check_method_of

from ..models import Service, ServiceRenewal
from ..periods import ONE_DAY, anniversary
from ..selectors import today_for
from ..service_selectors import LIVE, card_expires_on, holder_matches


def _not_found() -> BusinessError:
    return BusinessError(_("Objet introuvable."), code=ErrorCode.NOT_FOUND)


def _lock(customer: Customer, services: Sequence[Service]) -> list[Service]:
    """The customer's services, locked in id order; any other (another customer's, terminated) is
    refused as missing, so that ids of other accounts reveal nothing."""
    ids = sorted({s.pk for s in services})
    if not ids:
        raise BusinessError(_("Cochez au moins un domaine ou service."), code=ErrorCode.INVALID_INPUT)
    locked = list(
        Service.objects.select_for_update(of=("self",))
        .select_related("subscription__product__tax_category", "billing_contact")
        .filter(organisation_id=customer.organisation_id, customer=customer, status__in=LIVE, pk__in=ids)
        .order_by("id")
    )
    if len(locked) != len(ids):
        raise _not_found()
    return locked


def _renewal_line(service: Service, start: datetime.date, end: datetime.date) -> LineInput:
    subscription = service.subscription
    return LineInput(
        description=_("%(product)s — %(name)s, renouvellement")
        % {"product": subscription.product.name, "name": service.name},
        quantity=subscription.quantity,
        unit_price=subscription.unit_price,
        tax_category=subscription.product.tax_category,
        unit=subscription.product.unit,
        product=subscription.product,
        period_start=start,
        period_end=end - ONE_DAY,
        source=service,
    )


def request_renewals(*, customer: Customer, services: Sequence[Service], actor: Actor) -> list[Invoice]:
    """One pro-forma per service for its next period, [expires_on, expires_on + 1 year).

    A period already asked for (or invoiced by the renewal run) gives its existing document: the
    ``ServiceRenewal`` row, unique on (service, period start), is written with the draft in a
    savepoint, so a racing request or run makes this one reuse theirs and no number is spent.
    """
    check_can_act_for(actor, customer)
    organisation = customer.organisation
    with transaction.atomic():
        locked = _lock(customer, services)
        documents: dict[int, Invoice] = {}
        drafts: list[Invoice] = []
        service_of: dict[int, int] = {}
        for service in locked:
            start = service.expires_on
            end = anniversary(start, 1)
            try:
                with transaction.atomic():
                    draft = open_draft(
                        organisation=organisation,
                        customer=customer,
                        actor=actor,
                        kind=Invoice.Kind.PROFORMA,
                        lines=[_renewal_line(service, start, end)],
                        billing_contact=service.billing_contact,
                        online_payment=True,
                        notes=_("Renouvellement anticipé de %(name)s.") % {"name": service.name},
                    )
                    ServiceRenewal.objects.create(
                        organisation_id=service.organisation_id,
                        service=service,
                        period_start=start,
                        period_end=end,
                        proforma=draft,
                    )
            except IntegrityError:
                existing = ServiceRenewal.objects.select_related("invoice", "proforma").get(
                    service=service, period_start=start
                )
                document = existing.invoice or existing.proforma
                if document is None:  # the check constraint keeps one of the two
                    raise _not_found() from None
                documents[service.pk] = document
            else:
                drafts.append(draft)
                service_of[draft.pk] = service.pk
        if drafts:
            finalised = finalise_checked(organisation=organisation, invoices=drafts, actor=actor)
            documents.update({service_of[i.pk]: i for i in finalised})
        for service in locked:
            record_transition(
                obj=service,
                organisation=organisation,
                actor=actor,
                action=AuditAction.UPDATE,
                detail={
                    "renewal": documents[service.pk].number,
                    "period_start": service.expires_on.isoformat(),
                },
            )
    return [documents[service.pk] for service in locked]


def _check_card(customer: Customer, method: PaymentMethod) -> None:
    check_method_of(customer, method)
    if method.kind != PaymentMethod.Kind.CARD:
        raise BusinessError(
            _("Le paiement récurrent se fait par carte de crédit : choisissez une carte."),
            code=ErrorCode.PAYMENT_METHOD_INVALID,
        )
    expires = card_expires_on(method)
    if expires is not None and expires < today_for(customer.organisation):
        raise BusinessError(_("Cette carte est expirée."), code=ErrorCode.PAYMENT_METHOD_INVALID)


def _check_contact(customer: Customer, contact: Contact) -> None:
    if contact.customer_id != customer.pk or not contact.is_billing:
        raise _not_found()


def _check_holder(contact: Contact | None, method: PaymentMethod | None, confirmed: bool) -> bool:
    """Whether the pair is a confirmed mismatch; an unconfirmed one is refused ("Attention !")."""
    if contact is None or method is None or holder_matches(contact, method):
        return False
    if not confirmed:
        raise BusinessError(
            _(
                "Le sous-contact de facturation « %(contact)s » ne correspond pas au titulaire "
                "de la carte « %(holder)s ». Vérifiez-les, puis confirmez."
            )
            % {"contact": contact.company or contact.name, "holder": method.holder},
            code=ErrorCode.HOLDER_MISMATCH,
        )
    return True


def _save(service: Service, actor: Actor, fields: list[str], change: str) -> None:
    service.save(update_fields=fields)
    record_transition(
        obj=service,
        organisation=service.customer.organisation,
        actor=actor,
        action=AuditAction.UPDATE,
        detail={
            "change": change,
            "recurring": service.recurring,
            "payment_method": service.payment_method_id,
            "billing_contact": service.billing_contact_id,
            "mismatch_confirmed": service.mismatch_confirmed_at is not None,
        },
    )


def set_recurring(
    *,
    customer: Customer,
    services: Sequence[Service],
    payment_method: PaymentMethod,
    billing_contact: Contact | None = None,
    confirm_mismatch: bool = False,
    actor: Actor,
) -> list[Service]:
    """Turn recurring payment on for these services with this card and sub-contact (none: the
    account's own details). A card that expires before a renewal is accepted: the page warns."""
    check_can_act_for(actor, customer)
    _check_card(customer, payment_method)
    if billing_contact is not None:
        _check_contact(customer, billing_contact)
    mismatch = _check_holder(billing_contact, payment_method, confirm_mismatch)
    now = timezone.now()
    with transaction.atomic():
        locked = _lock(customer, services)
        for service in locked:
            service.customer = customer
            service.recurring = True
            service.payment_method = payment_method
            service.billing_contact = billing_contact
            service.mismatch_confirmed_at = now if mismatch else None
            _save(
                service,
                actor,
                ["recurring", "payment_method", "billing_contact", "mismatch_confirmed_at"],
                "recurring_on",
            )
    return locked


def _lock_one(service: Service, actor: Actor) -> Service:
    check_can_act_for(actor, service.customer)
    return _lock(service.customer, [service])[0]


def stop_recurring(*, service: Service, actor: Actor) -> Service:
    """Recurring payment off: the renewal invoice is still issued, to be paid by hand."""
    with transaction.atomic():
        locked = _lock_one(service, actor)
        if not locked.recurring:
            return locked
        locked.customer = service.customer
        locked.recurring = False
        _save(locked, actor, ["recurring"], "recurring_off")
    return locked


def change_recurring(
    *,
    service: Service,
    payment_method: PaymentMethod | None = None,
    billing_contact: Contact | None = None,
    clear_contact: bool = False,
    confirm_mismatch: bool = False,
    actor: Actor,
) -> Service:
    """From a domain's own page: another card (which turns recurring on), another sub-contact, or
    none (``clear_contact``: invoices in the account's own name). The pair is checked as
    ``set_recurring`` checks it."""
    customer = service.customer
    check_can_act_for(actor, customer)
    if payment_method is None and billing_contact is None and not clear_contact:
        raise BusinessError(_("Choisissez une carte ou un sous-contact."), code=ErrorCode.INVALID_INPUT)
    if payment_method is not None:
        _check_card(customer, payment_method)
    if billing_contact is not None:
        _check_contact(customer, billing_contact)
    with transaction.atomic():
        locked = _lock(customer, [service])[0]
        locked.customer = customer
        card = payment_method or locked.payment_method
        contact = None if clear_contact else (billing_contact or locked.billing_contact)
        mismatch = _check_holder(contact, card, confirm_mismatch)
        if payment_method is not None:
            locked.payment_method = payment_method
            locked.recurring = True
        locked.billing_contact = contact
        locked.mismatch_confirmed_at = timezone.now() if mismatch else None
        _save(
            locked,
            actor,
            ["recurring", "payment_method", "billing_contact", "mismatch_confirmed_at"],
            "recurring_changed",
        )
    return locked
