"""Saving a card, a mandate or a PayPal account on the connected provider's own page.

The setup row is committed with its idempotency key before the provider is called, and the
provider is never called inside a transaction: ask, then apply under the setup's row lock, so the
customer's return and the webhook, in either order or twice, save one method.
"""

import datetime
import logging
import uuid
from typing import TypedDict

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from acquitte.core.actors import Actor, System
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.models import AuditAction
from acquitte.core.services import record_transition
from acquitte.core.tenancy import check_can_act_for, check_is_system
from acquitte.customers.models import Customer
from acquitte.notifications.services import queue_email

from .. import validation
from ..models import ChargeAttempt, MethodSetup, PaymentMethod, SandboxSetup
from ..providers import ChargeResult, ChargeStatus, OnlineKind
from ..providers.base import MethodEvent, MethodStatus, SavedMethod
from ..providers.sandbox import SandboxProvider
from ..selectors import ONLINE_KIND_FOR_METHOD, check_terms_accepted, provider_client, setup_provider
from .methods import bank_account_number

logger = logging.getLogger(__name__)

#: How a provider's word on a method moves ours; revoked is final, expired only becomes revoked.
METHOD_RANK = {
    PaymentMethod.Status.VALID: 0,
    PaymentMethod.Status.EXPIRED: 1,
    PaymentMethod.Status.REVOKED: 2,
}


def _unavailable() -> BusinessError:
    return BusinessError(
        _("Le prestataire de paiement ne répond pas ; réessayez dans un instant."),
        code=ErrorCode.PROVIDER_UNAVAILABLE,
    )


def _known_provider_customer(customer: Customer, provider: str) -> str:
    """The provider's customer already made for ours: reused rather than made again."""
    for model in (PaymentMethod, MethodSetup):
        found = (
            model.objects.filter(customer=customer, provider=provider)
            .exclude(provider_customer="")
            .values_list("provider_customer", flat=True)
            .first()
        )
        if found:
            return str(found)
    return ""


def start_method_setup(*, customer: Customer, kind: str, actor: Actor, return_to: str = "") -> str:
    """Open the connected provider's page where the customer saves a ``kind`` method; return its URL."""
    check_can_act_for(actor, customer)
    check_terms_accepted(customer, actor)
    if kind not in ONLINE_KIND_FOR_METHOD:
        raise BusinessError(_("Type de moyen de paiement inconnu."), code=ErrorCode.INVALID_INPUT)
    return_to = return_to or reverse("portal:billing")
    if not return_to.startswith("/") or return_to.startswith("//") or len(return_to) > 200:
        raise BusinessError(_("Adresse de retour invalide."), code=ErrorCode.INVALID_INPUT)
    provider = setup_provider(customer, kind)
    if provider is None:
        raise BusinessError(
            _(
                "L'enregistrement d'une carte ou d'un compte n'est pas proposé : payez chaque facture en ligne."
            ),
            code=ErrorCode.PROVIDER_NOT_CONNECTED,
        )
    client = provider_client(name=provider, organisation_id=customer.organisation_id)
    provider_customer = _known_provider_customer(customer, provider)
    try:
        if not provider_customer:
            provider_customer = client.ensure_customer(
                idempotency_key=f"customer-{customer.organisation_id}-{customer.pk}",
                email=customer.email,
                name=customer.name,
            )
    except BusinessError:
        raise
    except Exception as exc:  # nothing was recorded yet: the customer simply tries again
        logger.exception("making the %s customer failed", provider)
        raise _unavailable() from exc
    setup = MethodSetup.objects.create(
        organisation_id=customer.organisation_id,
        customer=customer,
        provider=provider,
        kind=kind,
        idempotency_key=uuid.uuid4().hex,
        provider_customer=provider_customer,
        return_to=return_to,
    )
    return_url = setup_return_url(setup)
    try:
        hosted = client.start_setup(
            kind=ONLINE_KIND_FOR_METHOD[kind],
            customer_reference=provider_customer,
            customer_email=customer.email,
            customer_name=customer.name,
            currency=customer.organisation.currency,
            idempotency_key=setup.idempotency_key,
            return_url=return_url,
            cancel_url=return_url + "?annule=1",
        )
    except Exception as exc:  # the customer saw no page: the setup is abandoned
        logger.exception("opening a %s setup page failed", provider)
        MethodSetup.objects.filter(pk=setup.pk).update(status=MethodSetup.Status.FAILED)
        if isinstance(exc, BusinessError):
            raise
        raise _unavailable() from exc
    MethodSetup.objects.filter(pk=setup.pk).update(reference=hosted.reference)
    return hosted.url


def setup_return_url(setup: MethodSetup) -> str:
    """Where the provider sends the customer back: the portal page that finishes this setup."""
    path = reverse("portal:method_setup_return", args=[setup.idempotency_key])
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


def complete_method_setup(*, setup: MethodSetup, actor: Actor, cancelled: bool = False) -> MethodSetup:
    """Ask the provider what became of the setup and save its method once (the return and the
    webhook both come here); a cancelled or abandoned setup saves nothing."""
    check_can_act_for(actor, setup.customer)
    if setup.status != MethodSetup.Status.OPEN or not setup.reference:
        return setup
    client = provider_client(name=setup.provider, organisation_id=setup.organisation_id)
    try:
        result = client.setup_result(reference=setup.reference)
    except BusinessError:
        raise
    except Exception as exc:  # the webhook or a later return will ask again
        logger.exception("asking %s about setup %s failed", setup.provider, setup.reference)
        raise _unavailable() from exc
    if result.status == ChargeStatus.OPEN and cancelled:
        return _close_setup(setup, MethodSetup.Status.FAILED, None, actor)
    if result.status == ChargeStatus.OPEN:
        return setup
    if result.status != ChargeStatus.SUCCEEDED or result.method is None:
        return _close_setup(setup, MethodSetup.Status.FAILED, None, actor)
    return _close_setup(setup, MethodSetup.Status.COMPLETED, result.method, actor)


@transaction.atomic
def _close_setup(
    setup: MethodSetup, status: MethodSetup.Status, saved: SavedMethod | None, actor: Actor
) -> MethodSetup:
    setup = MethodSetup.objects.select_for_update().select_related("customer__organisation").get(pk=setup.pk)
    if setup.status != MethodSetup.Status.OPEN:
        return setup
    setup.status, setup.completed_at = status, timezone.now()
    if saved is not None:
        setup.method = _save(setup, saved, actor)
    setup.save(update_fields=["status", "completed_at", "method"])
    return setup


def _save(setup: MethodSetup, saved: SavedMethod, actor: Actor) -> PaymentMethod:
    """The provider's method as ours: display fields only, and the default if the setup says so."""
    customer = setup.customer
    method = PaymentMethod.objects.filter(
        customer=customer, provider=setup.provider, token=saved.token
    ).first()
    if setup.make_default:
        PaymentMethod.objects.filter(customer=customer, is_default=True).update(is_default=False)
    if method is not None:  # the provider gave a method we know back: valid again, as it says
        method.is_default = method.is_default or setup.make_default
        method.status = PaymentMethod.Status.VALID
        method.save(update_fields=["is_default", "status"])
        return method
    scheme = saved.scheme if saved.scheme in PaymentMethod.Scheme.values else PaymentMethod.Scheme.OTHER_CARD
    method = PaymentMethod.objects.create(
        organisation_id=customer.organisation_id,
        customer=customer,
        kind=saved.kind or setup.kind,
        scheme=scheme,
        provider=setup.provider,
        token=saved.token,
        provider_customer=saved.customer_reference or setup.provider_customer,
        holder=(saved.holder or customer.name)[:120],
        last4=saved.last4[-4:],
        exp_month=saved.exp_month,
        exp_year=saved.exp_year,
        bank_name=saved.bank_name[:120],
        is_default=setup.make_default,
    )
    record_transition(
        obj=method,
        organisation=customer.organisation,
        actor=actor,
        action=AuditAction.ADD_METHOD,
        to_state=PaymentMethod.Status.VALID,
    )
    return method


#: A setup still open this long after it began was left on the provider's page: a week, far longer
#: than a customer stays there (Stripe closes its setup page after 24 hours at most).
SETUP_ABANDONED_AFTER = datetime.timedelta(days=7)


class SweepCounts(TypedDict):
    saved: int
    closed: int


def sweep_abandoned_setups(
    *, actor: System, older_than: datetime.timedelta = SETUP_ABANDONED_AFTER
) -> SweepCounts:
    """Close the setups customers abandoned. Each is asked about once more first, so one whose
    return and webhook were both lost still saves its method; one the provider cannot answer for
    now is left for the next run. Only the system runs it: it acts on every organisation."""
    check_is_system(actor)
    counts = SweepCounts(saved=0, closed=0)
    stale = MethodSetup.objects.filter(
        status=MethodSetup.Status.OPEN, created_at__lt=timezone.now() - older_than
    ).select_related("customer")
    for setup in stale.iterator():
        try:
            setup = complete_method_setup(setup=setup, actor=actor)
        except BusinessError:
            logger.warning("setup %s: the provider did not answer, asked again next run", setup.pk)
            continue
        if setup.status == MethodSetup.Status.OPEN:
            setup = _close_setup(setup, MethodSetup.Status.FAILED, None, actor)
        counts["saved" if setup.status == MethodSetup.Status.COMPLETED else "closed"] += 1
    return counts


def find_setup(*, organisation_id: int, provider: str, reference: str) -> MethodSetup | None:
    """The setup a provider's event names, by its reference or by our key (a Stripe SetupIntent)."""
    return (
        MethodSetup.objects.filter(organisation_id=organisation_id, provider=provider)
        .filter(Q(reference=reference) | Q(idempotency_key=reference))
        .select_related("customer")
        .first()
    )


def apply_method_event(*, organisation_id: int, provider: str, event: MethodEvent, actor: Actor) -> bool:
    """A provider's word on a saved method (new expiry, expired, revoked), applied monotonically:
    a revoked method never becomes valid again. False when no method of ours has that token."""
    methods = PaymentMethod.objects.select_for_update().filter(
        organisation_id=organisation_id, provider=provider, token=event.token
    )
    found = False
    for method in methods:
        found = True
        check_can_act_for(actor, method.customer)
        target = PaymentMethod.Status(event.status.value)
        current = PaymentMethod.Status(method.status)
        fields = []
        if METHOD_RANK[target] > METHOD_RANK[current]:
            method.status, method.is_default = target, False
            fields += ["status", "is_default"]
            record_transition(
                obj=method,
                organisation=method.customer.organisation,
                actor=actor,
                action=AuditAction.TRANSITION,
                from_state=current,
                to_state=target,
            )
        if event.status == MethodStatus.VALID and current == PaymentMethod.Status.VALID:
            if event.exp_month and event.exp_year:
                method.exp_month, method.exp_year = event.exp_month, event.exp_year
                fields += ["exp_month", "exp_year"]
            if event.last4:
                method.last4 = event.last4[-4:]
                fields.append("last4")
        if fields:
            method.save(update_fields=fields)
    return found


def request_authentication(*, attempt: ChargeAttempt, result: ChargeResult, actor: Actor) -> None:
    """The bank wants the cardholder to authenticate an off-session charge: keep the link on the
    attempt and e-mail it to the customer; the portal shows it until the payment completes."""
    if result.status != ChargeStatus.ACTION_REQUIRED or not result.action_url:
        return
    with transaction.atomic():
        updated = ChargeAttempt.objects.filter(pk=attempt.pk, action_url="").update(
            action_url=result.action_url
        )
        payment = attempt.payment
        customer = payment.customer
        if updated and customer.email:
            queue_email(
                organisation=payment.organisation,
                actor=actor,
                to=customer.email,
                kind="payment_action_required",
                subject=_("Votre banque demande de confirmer un paiement"),
                body=_(
                    "Votre banque demande de confirmer le paiement de %(amount)s %(currency)s. "
                    "Confirmez-le sur cette page sécurisée : %(url)s"
                )
                % {"amount": payment.amount, "currency": payment.currency, "url": result.action_url},
                link=result.action_url,
            )


def fill_sandbox_setup(*, reference: str, holder: str, card: dict[str, str], bank: dict[str, str]) -> str:
    """The sandbox's own setup page was submitted (it stands in for a provider's): check the numbers
    as the provider would, tokenise them, and return where to send the customer back."""
    sandbox = SandboxSetup.objects.filter(reference=reference, status="open").first()
    if sandbox is None:
        raise BusinessError(_("Cette session de paiement est invalide ou expirée."), code=ErrorCode.NOT_FOUND)
    holder = (holder or "").strip()
    if not holder:
        raise BusinessError(_("Le nom du titulaire est obligatoire."), code=ErrorCode.INVALID_INPUT)
    client = SandboxProvider()
    if sandbox.kind == OnlineKind.CARD:
        number, scheme, month, year = validation.check_card(
            number=card.get("number", ""),
            cvv=card.get("cvv", ""),
            expiry=card.get("expiry", ""),
            today=timezone.localdate(),
        )
        return client.fill_setup(
            reference=reference, number=number, scheme=scheme, holder=holder, expiry=(month, year)
        )
    scheme = bank.pop("scheme", "")
    bank_name = bank.pop("bank_name", "")
    number = bank_account_number(scheme=scheme, **bank)
    return client.fill_setup(
        reference=reference, number=number, scheme=scheme, holder=holder, bank_name=bank_name
    )
