"""Saved cards and bank accounts: checked here, tokenised by the provider, never stored in clear."""

from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from acquitte.core.actors import Actor
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.models import AuditAction
from acquitte.core.params import check_text
from acquitte.core.services import record_transition
from acquitte.core.tenancy import check_can_act_for

from .. import validation
from ..models import PaymentMethod
from ..providers import ProviderName, get_provider
from ..selectors import check_terms_accepted, sandbox_saves_methods

if TYPE_CHECKING:
    from acquitte.customers.models import Contact, Customer


def _save_method(
    *,
    customer: "Customer",
    actor: Actor,
    kind: PaymentMethod.Kind,
    scheme: str,
    number: str,
    holder: str,
    contact: "Contact | None",
    **display: Any,
) -> PaymentMethod:
    check_can_act_for(actor, customer)
    check_terms_accepted(customer, actor)
    if contact is not None and contact.customer_id != customer.pk:
        raise BusinessError(_("Objet introuvable."), code=ErrorCode.NOT_FOUND)
    holder = (holder or "").strip()
    if not holder:
        raise BusinessError(_("Le nom du titulaire est obligatoire."), code=ErrorCode.INVALID_INPUT)
    check_text(holder, max_length=120, label=_("Le nom du titulaire"))
    check_text(str(display.get("bank_name", "")), max_length=120, label=_("Le nom de la banque"))
    if not sandbox_saves_methods(customer.organisation_id):
        raise BusinessError(
            _(
                "L'enregistrement d'une carte ou d'un compte n'est pas proposé : payez chaque facture en ligne."
            ),
            code=ErrorCode.PROVIDER_NOT_CONNECTED,
        )
    saved = get_provider(ProviderName.SANDBOX).save_method(kind=kind, number=number, scheme=scheme)
    PaymentMethod.objects.filter(customer=customer, is_default=True).update(is_default=False)
    method = PaymentMethod.objects.create(
        organisation_id=customer.organisation_id,
        customer=customer,
        contact=contact,
        kind=kind,
        scheme=scheme,
        provider=ProviderName.SANDBOX,
        token=saved.token,
        holder=holder,
        last4=saved.last4,
        is_default=True,
        **display,
    )
    record_transition(
        obj=method,
        organisation=customer.organisation,
        actor=actor,
        action=AuditAction.ADD_METHOD,
        to_state=PaymentMethod.Status.VALID,
    )
    return method


@transaction.atomic
def add_card(
    *,
    customer: "Customer",
    holder: str,
    number: str,
    cvv: str,
    expiry: str,
    actor: Actor,
    contact: "Contact | None" = None,
) -> PaymentMethod:
    """Save a card: checked here, tokenised by the provider; it becomes the default."""
    clean, scheme, month, year = validation.check_card(
        number=number, cvv=cvv, expiry=expiry, today=timezone.localdate()
    )
    return _save_method(
        customer=customer,
        actor=actor,
        kind=PaymentMethod.Kind.CARD,
        scheme=scheme,
        number=clean,
        holder=holder,
        contact=contact,
        exp_month=month,
        exp_year=year,
    )


@transaction.atomic
def add_bank_account(
    *,
    customer: "Customer",
    holder: str,
    scheme: str,
    actor: Actor,
    bank_name: str = "",
    routing: str = "",
    account: str = "",
    institution: str = "",
    transit: str = "",
    iban: str = "",
    bic: str = "",
    contact: "Contact | None" = None,
) -> PaymentMethod:
    """Save a bank account for direct debit (US ACH, Canadian PAD or SEPA); it becomes the default."""
    number = bank_account_number(
        scheme=scheme,
        routing=routing,
        account=account,
        institution=institution,
        transit=transit,
        iban=iban,
        bic=bic,
    )
    return _save_method(
        customer=customer,
        actor=actor,
        kind=PaymentMethod.Kind.BANK_DEBIT,
        scheme=scheme,
        number=number,
        holder=holder,
        contact=contact,
        bank_name=bank_name or "",
    )


def bank_account_number(
    *,
    scheme: str,
    routing: str = "",
    account: str = "",
    institution: str = "",
    transit: str = "",
    iban: str = "",
    bic: str = "",
    bank_name: str = "",
) -> str:
    """The account number to hand to the provider, checked for its scheme (ACH, PAD or SEPA)."""
    if scheme == PaymentMethod.Scheme.ACH:
        return validation.check_ach_routing(routing) + validation.check_account_number(account)
    if scheme == PaymentMethod.Scheme.PAD:
        return validation.check_pad(institution=institution, transit=transit, account=account)
    if scheme == PaymentMethod.Scheme.SEPA:
        return validation.check_sepa(iban=iban, bic=bic)
    raise BusinessError(_("Type de prélèvement inconnu."), code=ErrorCode.INVALID_INPUT)


@transaction.atomic
def set_default_method(*, method: PaymentMethod, actor: Actor) -> PaymentMethod:
    """Make ``method`` the one charged by default; the customer's other methods step back."""
    check_can_act_for(actor, method.customer)
    if method.status != PaymentMethod.Status.VALID:
        raise BusinessError(
            _("Ce moyen de paiement n'est plus utilisable."), code=ErrorCode.PAYMENT_METHOD_INVALID
        )
    PaymentMethod.objects.filter(customer_id=method.customer_id, is_default=True).update(is_default=False)
    method.is_default = True
    method.save(update_fields=["is_default"])
    return method


@transaction.atomic
def remove_method(*, method: PaymentMethod, actor: Actor) -> PaymentMethod:
    """Revoke a saved method: kept for the payments it made, never charged again."""
    check_can_act_for(actor, method.customer)
    method.status, method.is_default = PaymentMethod.Status.REVOKED, False
    method.save(update_fields=["status", "is_default"])
    return method
