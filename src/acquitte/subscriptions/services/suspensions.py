"""Suspending, reactivating and terminating a service (seeds 000 and 002).

An overdue invoice suspends the services it renews (or, when it renews none, every service of its
customer), with a reactivation invoice when the organisation charges a reactivation fee; paying
both lifts the suspension at once (a card payment is applied at once; a declared transfer waits
until staff record the money). A suspension by hand is lifted by staff only. Each change is an
outbound webhook (``service.suspended``, ``service.unsuspended``, ``service.terminated``) and an
e-mail to the customer, written in the transaction of the change.
"""

import datetime
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from acquitte.core.actors import Actor, actor_label
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.models import AuditAction
from acquitte.core.money import ZERO
from acquitte.core.services import record_transitions
from acquitte.core.tenancy import check_can_write, check_same_organisation
from acquitte.documents.services import money_text, public_url
from acquitte.invoicing.models import Invoice
from acquitte.invoicing.services import create_invoice, finalise_invoice, product_line
from acquitte.notifications.services import queue_email, queue_webhook_event, render_email

from ..dunning_selectors import dunning_settings
from ..models import Service, ServiceSuspension, Subscription
from ..selectors import today_for
from .billing import run_issue_date

if TYPE_CHECKING:
    from acquitte.customers.models import Organisation

Reason = Service.SuspensionReason
MAX_NOTE = 300
#: A service is suspended while it runs, or once its period has lapsed unpaid (the renewal run
#: marks it expired the day after): an overdue renewal still suspends it, and paying lifts it.
SUSPENDABLE = (Service.Status.ACTIVE, Service.Status.EXPIRED)


def _locked(service: Service) -> Service:
    found = Service.objects.select_for_update().filter(pk=service.pk).select_related("customer").first()
    if found is None:
        raise BusinessError(_("Objet introuvable."), code=ErrorCode.NOT_FOUND)
    return found


def suspend_service(
    *,
    service: Service,
    reason: Service.SuspensionReason,
    note: str,
    actor: Actor,
    invoice: Invoice | None = None,
) -> Service:
    """Suspend an active service: by hand (MANUAL, with the reason written out), or for an overdue
    ``invoice`` (OVERDUE), which issues the reactivation invoice when a fee is set."""
    check_can_write(actor, service.organisation)
    note = (note or "").strip()
    if reason == Reason.MANUAL and not note:
        raise BusinessError(
            {"note": [_("Indiquez le motif de la suspension.")]}, code=ErrorCode.INVALID_INPUT
        )
    if len(note) > MAX_NOTE:
        raise BusinessError(
            {"note": [_("Le motif tient en %(n)d caractères au plus.") % {"n": MAX_NOTE}]},
            code=ErrorCode.INVALID_INPUT,
        )
    if reason not in (Reason.MANUAL, Reason.OVERDUE):
        raise BusinessError(_("Motif de suspension inconnu."), code=ErrorCode.INVALID_INPUT)
    if reason == Reason.OVERDUE:
        if invoice is None:
            raise BusinessError(
                _("Une suspension pour impayé nomme sa facture."), code=ErrorCode.INVALID_INPUT
            )
        check_same_organisation(service.organisation, invoice)
        if invoice.customer_id != service.customer_id:
            raise BusinessError(_("Objet introuvable."), code=ErrorCode.NOT_FOUND)
    with transaction.atomic():
        locked = _locked(service)
        if locked.status not in SUSPENDABLE:
            raise BusinessError(
                _("Seul un service actif ou expiré peut être suspendu (celui-ci est « %(status)s »).")
                % {"status": locked.get_status_display()},
                code=ErrorCode.INVALID_STATE,
            )
        suspend_services(
            organisation=service.organisation,
            services=[locked],
            reason=reason,
            note=note,
            invoice=invoice if reason == Reason.OVERDUE else None,
            on=today_for(service.organisation),
            actor=actor,
        )
    locked.refresh_from_db()
    return locked


def suspend_services(
    *,
    organisation: "Organisation",
    services: Sequence[Service],
    reason: Service.SuspensionReason,
    note: str,
    invoice: Invoice | None,
    on: datetime.date,
    actor: Actor,
) -> list[ServiceSuspension]:
    """Suspend those of ``services`` active or expired, in the caller's transaction (the dunning run's,
    or ``suspend_service``'s): one suspension each, one reactivation invoice for all of them."""
    check_can_write(actor, organisation)
    ids = [s.pk for s in services]
    now = timezone.now()
    active = list(
        Service.objects.select_related("customer")
        .filter(organisation=organisation, pk__in=ids, status__in=SUSPENDABLE)
        .order_by("pk")
    )
    if not active:
        return []
    Service.objects.filter(pk__in=[s.pk for s in active]).update(
        status=Service.Status.SUSPENDED,
        suspension_reason=reason,
        suspension_note=note[:MAX_NOTE],
        suspended_at=now,
    )
    fee = _reactivation_invoice(organisation, active, on, actor) if reason == Reason.OVERDUE else None
    suspensions = ServiceSuspension.objects.bulk_create(
        [
            ServiceSuspension(
                organisation=organisation,
                service=service,
                reason=reason,
                note=note[:MAX_NOTE],
                invoice=invoice,
                reactivation_invoice=fee,
                suspended_by=actor_label(actor)[:120],
            )
            for service in active
        ]
    )
    for status in SUSPENDABLE:
        record_transitions(
            objs=[s for s in active if s.status == status],
            organisation=organisation,
            actor=actor,
            action=AuditAction.TRANSITION,
            from_state=status,
            to_state=Service.Status.SUSPENDED,
        )
    to_pay = [inv for inv in (invoice, fee) if inv is not None]
    for service in active:
        service.status, service.suspension_reason, service.suspended_at = (
            Service.Status.SUSPENDED,
            reason,
            now,
        )
        _tell(service, "suspended", actor, reason=_reason_text(reason, note, invoice), to_pay=to_pay)
        queue_webhook_event(
            organisation=organisation,
            event_type="service.suspended",
            data={
                **_event_data(service),
                "reason": str(reason),
                "invoice": invoice.number if invoice else None,
            },
            actor=actor,
        )
    return suspensions


def _reason_text(reason: Service.SuspensionReason, note: str, invoice: Invoice | None) -> str:
    if reason == Reason.OVERDUE and invoice is not None:
        return _("Motif : la facture %(number)s est impayée.") % {"number": invoice.number}
    return _("Motif : %(note)s") % {"note": note}


def _reactivation_invoice(
    organisation: "Organisation", services: list[Service], on: datetime.date, actor: Actor
) -> Invoice | None:
    """The reactivation fee of each service (one line each), finalised and due at once; none when
    the organisation charges no fee."""
    product = dunning_settings(organisation).reactivation_fee
    if product is None or not product.active:
        return None
    customer = services[0].customer
    issued = run_issue_date(organisation, on)
    lines = [
        replace(product_line(product), description=f"{product.name} — {service.name}") for service in services
    ]
    draft = create_invoice(
        organisation=organisation,
        customer=customer,
        actor=actor,
        lines=lines,
        issue_date=issued,
        due_date=issued,
        notes=_("Frais de réactivation des services suspendus pour impayé."),
    )
    return finalise_invoice(invoice=draft, actor=actor, issue_date=issued)


def _event_data(service: Service) -> dict[str, Any]:
    return {
        "service": {
            "id": service.pk,
            "kind": service.kind,
            "name": service.name,
            "status": service.status,
            "expires_on": service.expires_on.isoformat(),
            "customer": service.customer_id,
        }
    }


def _tell(
    service: Service, status: str, actor: Actor, *, reason: str = "", to_pay: Sequence[Invoice] = ()
) -> None:
    """The customer's e-mail of a change of their service: its state, what to pay, the link."""
    customer = service.customer
    if not customer.email:
        return
    organisation = service.organisation
    due = sum((inv.amount_due for inv in to_pay), ZERO)
    url = public_url(to_pay[0]) if to_pay else ""
    with translation.override(customer.language):
        context = {
            "organisation": organisation,
            "customer_name": customer.name,
            "service": service.name,
            "status": status,
            "reason": reason,
            "to_pay": _money(due, organisation, customer.language) if due > 0 else "",
            "url": url if due > 0 else "",
        }
        subject, body, html = render_email("service_status", context, language=customer.language)
    queue_email(
        organisation=organisation,
        actor=actor,
        to=customer.email,
        kind=f"service_{status}",
        subject=subject,
        body=body,
        html_body=html,
        reference=service.name,
        link=url,
    )


def _money(amount: Decimal, organisation: "Organisation", lang: str) -> str:
    return money_text(amount, organisation.currency, lang=lang, country=organisation.country)


def unsuspend_service(*, service: Service, actor: Actor) -> Service:
    """Staff lift a suspension, by hand or for an unpaid invoice, whatever is still due."""
    check_can_write(actor, service.organisation)
    with transaction.atomic():
        locked = _locked(service)
        if locked.status != Service.Status.SUSPENDED:
            raise BusinessError(_("Ce service n'est pas suspendu."), code=ErrorCode.INVALID_STATE)
        opened = list(ServiceSuspension.objects.filter(service=locked, lifted_at__isnull=True))
        lift_suspensions(
            organisation=service.organisation, suspensions=opened, services=[locked], actor=actor
        )
    locked.refresh_from_db()
    return locked


def lift_suspensions(
    *,
    organisation: "Organisation",
    suspensions: Sequence[ServiceSuspension],
    services: Sequence[Service],
    actor: Actor,
) -> list[Service]:
    """Close ``suspensions`` and make ``services`` active again, in the caller's transaction."""
    now = timezone.now()
    ServiceSuspension.objects.filter(pk__in=[s.pk for s in suspensions], lifted_at__isnull=True).update(
        lifted_at=now, lifted_by=actor_label(actor)[:120]
    )
    lifted = list(
        Service.objects.select_related("customer", "organisation").filter(
            organisation=organisation, pk__in=[s.pk for s in services], status=Service.Status.SUSPENDED
        )
    )
    Service.objects.filter(pk__in=[s.pk for s in lifted]).update(
        status=Service.Status.ACTIVE, suspension_reason="", suspension_note="", suspended_at=None
    )
    record_transitions(
        objs=lifted,
        organisation=organisation,
        actor=actor,
        action=AuditAction.TRANSITION,
        from_state=Service.Status.SUSPENDED,
        to_state=Service.Status.ACTIVE,
    )
    for service in lifted:
        service.status, service.suspension_reason = Service.Status.ACTIVE, ""
        _tell(service, "unsuspended", actor)
        queue_webhook_event(
            organisation=organisation,
            event_type="service.unsuspended",
            data=_event_data(service),
            actor=actor,
        )
    return lifted


def lift_paid_suspensions(
    *, organisation: "Organisation", invoice_ids: Sequence[int], actor: Actor
) -> list[Service]:
    """The overdue suspensions whose invoice and reactivation invoice are now both paid are lifted
    at once (the ``invoices_paid`` receiver); one made by hand never is."""
    opened = list(
        ServiceSuspension.objects.filter(
            organisation=organisation, reason=Reason.OVERDUE, lifted_at__isnull=True
        ).filter(invoice_id__in=invoice_ids)
        | ServiceSuspension.objects.filter(
            organisation=organisation,
            reason=Reason.OVERDUE,
            lifted_at__isnull=True,
            reactivation_invoice_id__in=invoice_ids,
        )
    )
    if not opened:
        return []
    wanted = {pk for s in opened for pk in (s.invoice_id, s.reactivation_invoice_id) if pk is not None}
    paid = set(
        Invoice.objects.filter(
            organisation=organisation, pk__in=wanted, status=Invoice.Status.PAID
        ).values_list("pk", flat=True)
    )
    ready = [
        s
        for s in opened
        if all(pk in paid for pk in (s.invoice_id, s.reactivation_invoice_id) if pk is not None)
    ]
    if not ready:
        return []
    services = list(Service.objects.select_for_update().filter(pk__in=[s.service_id for s in ready]))
    return lift_suspensions(organisation=organisation, suspensions=ready, services=services, actor=actor)


def terminate_service(*, service: Service, actor: Actor) -> Service:
    """End a service and its subscription today (by staff, or the dunning run's last step)."""
    check_can_write(actor, service.organisation)
    with transaction.atomic():
        locked = _locked(service)
        if locked.status == Service.Status.TERMINATED:
            raise BusinessError(_("Ce service est déjà résilié."), code=ErrorCode.INVALID_STATE)
        terminate_services(
            organisation=service.organisation,
            services=[locked],
            on=today_for(service.organisation),
            actor=actor,
        )
    locked.refresh_from_db()
    return locked


def terminate_services(
    *, organisation: "Organisation", services: Sequence[Service], on: datetime.date, actor: Actor
) -> list[Service]:
    """Terminate those of ``services`` not terminated yet, in the caller's transaction: a suspension
    still open is closed, the subscription ends on ``on``."""
    check_can_write(actor, organisation)
    now = timezone.now()
    ending = list(
        Service.objects.select_related("customer", "organisation", "subscription")
        .filter(organisation=organisation, pk__in=[s.pk for s in services])
        .exclude(status=Service.Status.TERMINATED)
        .order_by("pk")
    )
    if not ending:
        return []
    ids = [s.pk for s in ending]
    ServiceSuspension.objects.filter(service_id__in=ids, lifted_at__isnull=True).update(
        lifted_at=now, lifted_by=actor_label(actor)[:120]
    )
    Service.objects.filter(pk__in=ids).update(
        status=Service.Status.TERMINATED,
        suspension_reason="",
        suspension_note="",
        terminated_at=now,
    )
    for service in ending:
        subscription = service.subscription
        subscription.ends_on = max(on, subscription.started_on)
        subscription.status = Subscription.Status.ENDED
    Subscription.objects.bulk_update([s.subscription for s in ending], ["ends_on", "status"])
    record_transitions(
        objs=ending,
        organisation=organisation,
        actor=actor,
        action=AuditAction.TRANSITION,
        to_state=Service.Status.TERMINATED,
    )
    for service in ending:
        service.status = Service.Status.TERMINATED
        _tell(service, "terminated", actor)
        queue_webhook_event(
            organisation=organisation, event_type="service.terminated", data=_event_data(service), actor=actor
        )
    return ending
