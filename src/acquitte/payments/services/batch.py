"""Charges in batches: the collection run's path, the rules of one charge applied to many at once.

A charge alone (``charges.pay_invoice``) costs some forty statements and its share of Python; a
run of thousands pays that per invoice. Here the same rules (``charges``, ``outcomes``, invoicing's
settlement) run set-based, in three steps:

1. ``open_charges`` commits, in one transaction and under the invoices' row locks, each charge's
   payment and attempt with its idempotency key, and returns the provider calls to make. A key
   already used finds its attempt instead: no call, its payment as it stands (reconciliation asks
   the provider about one left in doubt, by the same key).
2. The caller makes the calls (``Call``), concurrently if it likes: a call only asks the provider,
   outside any transaction, and touches none of our rows.
3. ``apply_charge_results`` applies the answers in one transaction: attempts, payments and their
   audit rows, ledger, allocations, invoices paid, staff notifications.

A crash between 1 and 3 leaves attempts without an answer, which reconciliation settles by asking
the provider, never by charging again.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils.translation import gettext as _

from acquitte.core.actors import Actor
from acquitte.core.bulk import update_rows
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.models import AuditAction
from acquitte.core.services import record_transitions
from acquitte.core.tenancy import check_can_write
from acquitte.invoicing.models import Invoice, LedgerEntry
from acquitte.invoicing.services import PaymentShare, allocate_payments
from acquitte.notifications.services import notify_staff_many

from ..models import ChargeAttempt, Payment, PaymentMethod, ProviderAccount
from ..providers import ChargeResult, ChargeStatus, Provider
from ..selectors import provider_client
from .charges import amount_payable, check_key, check_method_usable, new_payment, payment_kind
from .outcomes import (
    check_transition,
    failed_notice,
    ledger_entry,
    read_answer,
    received_notice,
    settle_invoices,
)
from .setup import request_authentication

if TYPE_CHECKING:
    from acquitte.customers.models import Organisation


@dataclass(frozen=True)
class ChargeRequest:
    """Charge what ``invoice_id`` still owes to the customer's saved ``method``, once by ``idempotency_key``."""

    invoice_id: int
    method: PaymentMethod
    idempotency_key: str


@dataclass(frozen=True)
class Call:
    """One provider call to make for a committed attempt; it reads and writes none of our rows."""

    attempt_id: int
    client: Provider
    token: str
    amount: Decimal
    currency: str
    idempotency_key: str
    customer_reference: str = ""

    def __call__(self) -> ChargeResult:
        return self.client.charge(
            token=self.token,
            amount=self.amount,
            currency=self.currency,
            idempotency_key=self.idempotency_key,
            customer_reference=self.customer_reference,
        )


@dataclass
class OpenedCharges:
    """What ``open_charges`` did, by invoice id: the payment of each charge (new and in flight, or
    found by its key), the call to make for each new one, and why the others were refused."""

    payments: dict[int, Payment] = field(default_factory=dict)
    calls: dict[int, Call] = field(default_factory=dict)
    refused: dict[int, BusinessError] = field(default_factory=dict)


def open_charges(
    *, organisation: "Organisation", requests: Sequence[ChargeRequest], actor: Actor
) -> OpenedCharges:
    """Commit the payment and attempt of each request before any provider call, as ``pay_invoice``
    does one at a time, and refuse what it would refuse (the method unusable, the invoice not to be
    paid online or a charge of it in flight). Staff and runs only: the terms hold no one here."""
    check_can_write(actor, organisation)
    for request in requests:
        check_key(request.idempotency_key)
    opened = OpenedCharges()
    with transaction.atomic():
        invoice_ids = sorted({request.invoice_id for request in requests})
        # Locked in one order, so two batches over the same invoices wait for each other, never deadlock.
        invoices = Invoice.objects.select_for_update().filter(organisation=organisation, pk__in=invoice_ids)
        by_pk = {invoice.pk: invoice for invoice in invoices.order_by("pk")}
        keys = [request.idempotency_key for request in requests]
        known = {
            attempt.idempotency_key: attempt
            for attempt in ChargeAttempt.objects.select_related("payment").filter(idempotency_key__in=keys)
        }
        in_flight = set(
            ChargeAttempt.objects.filter(
                payment__invoice_id__in=invoice_ids,
                state__in=[ChargeAttempt.State.CREATED, ChargeAttempt.State.PENDING],
            ).values_list("payment__invoice_id", flat=True)
        )
        connected = set(
            ProviderAccount.objects.filter(organisation=organisation).values_list("provider", flat=True)
        )
        new: list[tuple[ChargeRequest, Payment]] = []
        for request in requests:
            invoice = by_pk.get(request.invoice_id)
            try:
                if invoice is None:
                    raise BusinessError(_("Objet introuvable."), code=ErrorCode.NOT_FOUND)
                check_method_usable(request.method, invoice.customer_id, connected)
                found = known.get(request.idempotency_key)
                if found is not None:
                    if found.payment.customer_id != invoice.customer_id:
                        raise BusinessError(_("Objet introuvable."), code=ErrorCode.NOT_FOUND)
                    opened.payments[invoice.pk] = found.payment
                    continue
                amount = amount_payable(invoice, invoice.customer_id, in_flight=invoice.pk in in_flight)
            except BusinessError as error:
                opened.refused[request.invoice_id] = error
                continue
            in_flight.add(invoice.pk)  # the same invoice twice in one batch: charged once
            payment = new_payment(
                organisation_id=organisation.pk,
                customer_id=invoice.customer_id,
                currency=organisation.currency,
                amount=amount,
                kind=payment_kind(request.method),
                invoice_id=invoice.pk,
                method_id=request.method.pk,
                provider=request.method.provider,
                actor=actor,
            )
            new.append((request, payment))
        Payment.objects.bulk_create([payment for _request, payment in new])
        attempts = ChargeAttempt.objects.bulk_create(
            ChargeAttempt(
                organisation_id=organisation.pk,
                payment=payment,
                idempotency_key=request.idempotency_key,
                provider=payment.provider,
            )
            for request, payment in new
        )
    clients: dict[str, Provider] = {}
    for (request, payment), attempt in zip(new, attempts, strict=True):
        if payment.provider not in clients:
            clients[payment.provider] = provider_client(
                name=payment.provider, organisation_id=organisation.pk
            )
        opened.payments[request.invoice_id] = payment
        opened.calls[request.invoice_id] = Call(
            attempt_id=attempt.pk,
            client=clients[payment.provider],
            token=request.method.token,
            amount=payment.amount,
            currency=payment.currency,
            idempotency_key=attempt.idempotency_key,
            customer_reference=request.method.provider_customer,
        )
    return opened


@transaction.atomic
def apply_charge_results(
    *, organisation: "Organisation", results: Mapping[int, ChargeResult], actor: Actor
) -> dict[int, Payment]:
    """Apply the providers' answers (by attempt id), as ``apply_charge_result`` does one at a time,
    in a few statements; return each attempt's payment as it now stands. An attempt answered
    meanwhile (a webhook, reconciliation) is left as it is: terminal states never move again."""
    check_can_write(actor, organisation)
    attempts = (
        ChargeAttempt.objects.select_for_update(of=("self",))
        .select_related("payment__customer")
        .filter(organisation=organisation, pk__in=list(results))
        .order_by("pk")
    )
    payments: dict[int, Payment] = {}
    answered: list[ChargeAttempt] = []
    changed: list[Payment] = []
    moves: dict[tuple[Payment.Status, Payment.Status], list[Payment]] = {}
    for attempt in attempts:
        payment = attempt.payment
        payment.organisation = organisation
        payments[attempt.pk] = payment
        answer = read_answer(attempt, payment, results[attempt.pk])
        if not answer.applies:
            continue
        answered.append(attempt)
        changed.append(payment)
        if answer.to is not None and check_transition(payment, answer.to):
            moves.setdefault((Payment.Status(payment.status), answer.to), []).append(payment)
            payment.status = answer.to
    update_rows(answered, ["state", "provider_reference", "completed_at"])
    update_rows(changed, ["status", "failure_message", "provider_reference"])
    for (before, after), group in moves.items():
        record_transitions(
            objs=group,
            organisation=organisation,
            actor=actor,
            action=AuditAction.TRANSITION,
            from_state=before,
            to_state=after,
        )
    moved = [payment for group in moves.values() for payment in group]
    succeeded = [payment for payment in moved if payment.status == Payment.Status.SUCCEEDED]
    _settle(organisation, succeeded, actor)
    notices = [
        received_notice(payment) if payment.status == Payment.Status.SUCCEEDED else failed_notice(payment)
        for payment in moved
    ]
    if notices:
        notify_staff_many(organisation=organisation, actor=actor, notices=notices)
    for attempt in answered:  # SCA: the customer is e-mailed the bank's link, as one charge would be
        if results[attempt.pk].status == ChargeStatus.ACTION_REQUIRED:
            request_authentication(attempt=attempt, result=results[attempt.pk], actor=actor)
    return payments


def _settle(organisation: "Organisation", succeeded: list[Payment], actor: Actor) -> None:
    """Post the payments to the ledger and apply each to its invoice, set-based; one its invoice
    cannot take whole (paid meanwhile, a pro-forma) is settled alone, oldest invoices first."""
    if not succeeded:
        return
    LedgerEntry.objects.bulk_create(ledger_entry(payment) for payment in succeeded)
    shares = [
        PaymentShare(
            payment_id=payment.pk,
            invoice_id=payment.invoice_id,
            customer_id=payment.customer_id,
            amount=payment.amount,
        )
        for payment in succeeded
        if payment.invoice_id is not None
    ]
    applied = allocate_payments(organisation=organisation, shares=shares, actor=actor)
    for payment in succeeded:
        if payment.pk not in applied:
            settle_invoices(payment, actor)
