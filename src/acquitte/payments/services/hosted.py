"""Payments taken on a provider's own page (Stripe Checkout, GoCardless, PayPal)."""

import datetime
import logging
import uuid
from collections.abc import Callable

from django.utils.translation import gettext as _

from acquitte.core.actors import Actor
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.invoicing.models import Invoice

from ..models import ChargeAttempt, Payment
from ..providers import ChargeResult, ChargeStatus, OnlineKind, ProviderName
from ..selectors import provider_client
from .charges import open_attempt
from .outcomes import apply_charge_result

logger = logging.getLogger(__name__)

#: How long a payer may leave a provider's payment page open before it is closed.
HOSTED_PAGE_LIFETIME = datetime.timedelta(days=1)
#: What a payment taken through each kind of page is recorded as.
PAYMENT_METHOD_FOR_KIND: dict[OnlineKind, Payment.Method] = {
    OnlineKind.CARD: Payment.Method.CARD,
    OnlineKind.DEBIT: Payment.Method.DIRECT_DEBIT,
    OnlineKind.PAYPAL: Payment.Method.PAYPAL,
}


def _unavailable(message: str) -> BusinessError:
    return BusinessError(message, code=ErrorCode.PROVIDER_UNAVAILABLE)


def start_hosted_payment(
    *,
    invoice: Invoice,
    kind: OnlineKind,
    provider: ProviderName,
    urls: Callable[[str], tuple[str, str]],
    actor: Actor,
) -> str:
    """Open a payment page at the provider for what the invoice still owes; return its address.

    The payment and its attempt are committed first, with the idempotency key the provider receives.
    A page left open earlier for the same invoice is closed first, so only one can be paid.
    ``urls(key)`` gives the return and cancel addresses for that key.
    """
    client = provider_client(name=provider, organisation_id=invoice.organisation_id)
    _close_open_pages(invoice, actor)
    key = uuid.uuid4().hex
    attempt, _created = open_attempt(
        customer=invoice.customer,
        invoice=invoice,
        amount=None,
        kind=PAYMENT_METHOD_FOR_KIND[kind],
        method=None,
        provider=provider,
        idempotency_key=key,
        actor=actor,
    )
    return_url, cancel_url = urls(key)
    try:
        hosted = client.start_hosted_payment(
            kind=kind,
            amount=attempt.payment.amount,
            currency=attempt.payment.currency,
            description=_("Facture %(number)s — %(org)s")
            % {"number": invoice.number, "org": invoice.organisation.name},
            idempotency_key=key,
            return_url=return_url,
            cancel_url=cancel_url,
            customer_email=invoice.customer.email,
            customer_name=invoice.customer.name,
        )
    except Exception as exc:  # any failure of the provider call: the payer saw no page, nothing was charged
        logger.exception("opening a %s payment page failed", provider)
        apply_charge_result(attempt=attempt, result=ChargeResult(status=ChargeStatus.UNKNOWN), actor=actor)
        raise _unavailable(
            _("Le prestataire de paiement ne répond pas ; réessayez dans un instant.")
        ) from exc
    ChargeAttempt.objects.filter(pk=attempt.pk).update(provider_reference=hosted.reference)
    Payment.objects.filter(pk=attempt.payment_id).update(provider_reference=hosted.reference)
    return hosted.url


def _close_open_pages(invoice: Invoice, actor: Actor) -> None:
    """Close the provider pages still open for this invoice; one that was paid meanwhile counts."""
    still_open = ChargeAttempt.objects.filter(
        payment__invoice=invoice, state=ChargeAttempt.State.CREATED
    ).exclude(provider=ProviderName.SANDBOX)
    for attempt in still_open:
        result = ChargeResult(status=ChargeStatus.UNKNOWN)
        if attempt.provider_reference:
            client = provider_client(name=attempt.provider, organisation_id=attempt.organisation_id)
            try:
                result = client.cancel_hosted_payment(reference=attempt.provider_reference)
            except BusinessError:
                raise
            except Exception as exc:  # the earlier page may have been paid: do not open a second one
                logger.exception("closing a %s payment page failed", attempt.provider)
                raise _unavailable(
                    _("Le prestataire de paiement ne répond pas ; réessayez dans un instant.")
                ) from exc
        apply_charge_result(attempt=attempt, result=result, actor=actor)


def finish_hosted_payment(*, idempotency_key: str, cancelled: bool, actor: Actor) -> Payment:
    """The payer is back from the provider's page: ask the provider what happened and apply it."""
    attempt = ChargeAttempt.objects.select_related("payment").filter(idempotency_key=idempotency_key).first()
    if attempt is None or attempt.provider == ProviderName.SANDBOX or not attempt.provider_reference:
        raise BusinessError(_("Cette session de paiement est invalide ou expirée."), code=ErrorCode.NOT_FOUND)
    client = provider_client(name=attempt.provider, organisation_id=attempt.organisation_id)
    reference = attempt.provider_reference
    try:
        if cancelled:
            result = client.cancel_hosted_payment(reference=reference)
        else:
            result = client.payment_status(reference=reference)
    except BusinessError:
        raise
    except Exception as exc:  # reconciliation will ask again; the payer is told to check later
        logger.exception("asking %s about %s failed", attempt.provider, reference)
        raise _unavailable(
            _("Le prestataire de paiement ne répond pas : l'état de votre paiement sera vérifié sous peu.")
        ) from exc
    return apply_charge_result(attempt=attempt, result=result, actor=actor)
