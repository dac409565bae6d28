"""Reads of the payments app: who takes which payment, what an invoice allows, what a customer saved."""

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from acquitte.core.actors import Actor, Person, PublicLink
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.months import month_starts
from acquitte.customers.selectors import terms_block
from acquitte.invoicing.models import Invoice
from acquitte.invoicing.selectors import MonthFigure, by_month

from . import secrets
from .models import ChargeAttempt, MethodSetup, Payment, PaymentMethod, ProviderAccount, TransferDeclaration
from .providers import PROVIDER_FOR_KIND, PROVIDERS, OnlineKind, Provider, ProviderName, get_provider

if TYPE_CHECKING:
    from acquitte.customers.models import Customer, Organisation

#: Invoice kinds that are paid online (a paid pro-forma becomes its invoice).
ONLINE_PAYABLE_KINDS = (Invoice.Kind.INVOICE, Invoice.Kind.PROFORMA)
#: Payments a customer sees in their history: money that did arrive.
RECEIVED = (Payment.Status.SUCCEEDED, Payment.Status.PARTLY_REFUNDED, Payment.Status.REFUNDED)


@dataclass(frozen=True)
class Payability:
    """What can be done with an invoice now; the pages show only what the services accept."""

    #: Open, payable online, and the merchant offers online payment on it.
    can_pay_online: bool
    #: The payment buttons (card, debit, paypal) that a connected provider takes.
    online_kinds: tuple[OnlineKind, ...]
    #: A saved card or bank account may be charged for it.
    saved_methods: bool
    #: The customer may say a transfer or cheque is on its way (invoices only, not pro-formas).
    can_declare_transfer: bool
    #: Staff may record money received for it.
    can_record_payment: bool
    #: A charge awaits its outcome (in flight, a crash before its answer, a debit settling):
    #: "Paiement en cours de vérification", and no new online payment until it is settled.
    payment_in_doubt: bool = False
    #: The customer must accept the organisation's current terms before paying online (seed 001).
    terms_pending: bool = False
    #: The day a direct debit of it went to the bank, while the bank settles it: "Prélèvement en cours".
    debit_pending_since: datetime.date | None = None

    @property
    def any(self) -> bool:
        """Something for the customer to do: the payment section is shown."""
        return self.can_pay_online or self.can_declare_transfer


def attempts_in_flight(invoice: Invoice) -> QuerySet[ChargeAttempt]:
    """The charge attempts of an invoice without an outcome yet (what ``open_attempt`` refuses beside)."""
    return ChargeAttempt.objects.filter(
        payment__invoice=invoice, state__in=[ChargeAttempt.State.CREATED, ChargeAttempt.State.PENDING]
    )


def attempts_in_doubt(invoice: Invoice) -> QuerySet[ChargeAttempt]:
    """In-flight attempts that are not a provider's page left open (a payer on Stripe, PayPal or
    GoCardless: a new checkout closes it, so it blocks nothing): a charge sent and not answered,
    one the provider accepted and is settling, or a page whose opening was cut short."""
    page_open = (
        Q(state=ChargeAttempt.State.CREATED) & ~Q(provider=ProviderName.SANDBOX) & ~Q(provider_reference="")
    )
    return attempts_in_flight(invoice).exclude(page_open)


def payable(invoice: Invoice) -> Payability:
    """The one answer to "what can be done with this invoice now", shared by every page."""
    is_open = invoice.status == Invoice.Status.OPEN
    online = is_open and invoice.kind in ONLINE_PAYABLE_KINDS and invoice.online_payment
    accounts = provider_accounts(invoice.organisation) if online else {}
    doubt = attempts_in_doubt(invoice).select_related("payment").order_by("pk").first() if is_open else None
    in_doubt = doubt is not None
    debit = (
        doubt is not None
        and doubt.state == ChargeAttempt.State.PENDING
        and doubt.payment.method == Payment.Method.DIRECT_DEBIT
    )
    terms = online and terms_block(invoice.customer) is not None
    can_pay = online and not in_doubt and not terms
    return Payability(
        can_pay_online=can_pay,
        online_kinds=tuple(_kinds(accounts)) if can_pay else (),
        # A saved method is charged only when nothing else is in flight, an open page included.
        saved_methods=can_pay
        and any(saves_methods(name) for name in accounts)
        and not attempts_in_flight(invoice).exists(),
        # Declaring a transfer while a charge settles would have it paid twice.
        can_declare_transfer=is_open and invoice.kind == Invoice.Kind.INVOICE and not in_doubt,
        can_record_payment=is_open and invoice.kind in ONLINE_PAYABLE_KINDS,
        payment_in_doubt=in_doubt,
        terms_pending=terms,
        debit_pending_since=timezone.localdate(doubt.created_at) if debit and doubt is not None else None,
    )


def acts_as_customer(actor: Actor) -> bool:
    """The customer acts (signed in to the portal, or through a link), not staff or the system."""
    return isinstance(actor, PublicLink) or (isinstance(actor, Person) and actor.customer_id is not None)


def check_terms_accepted(customer: "Customer", actor: Actor) -> None:
    """Seed 001, terms first: a customer who has not accepted the current terms may read, declare a
    transfer or a cheque, but not save a method or pay online. Staff and scheduled runs are not held
    (a saved method was added under accepted terms; a new version must not stop collection)."""
    if acts_as_customer(actor) and terms_block(customer) is not None:
        raise BusinessError(
            _("Acceptez d'abord les conditions générales dans votre espace client."),
            code=ErrorCode.TERMS_NOT_ACCEPTED,
        )


def has_open_invoice_offline(customer: "Customer") -> bool:
    """One of the customer's unpaid invoices is not offered for online payment."""
    return Invoice.objects.filter(
        customer=customer, kind=Invoice.Kind.INVOICE, status=Invoice.Status.OPEN, online_payment=False
    ).exists()


def saved_methods_available(organisation_id: int) -> bool:
    """A connected provider can save a card, a mandate or a PayPal account for later charges."""
    connected = ProviderAccount.objects.filter(organisation_id=organisation_id).values_list(
        "provider", flat=True
    )
    return any(saves_methods(name) for name in connected)


def saves_methods(name: str) -> bool:
    """The provider ``name`` saves methods (the sandbox on our pages, the others on theirs)."""
    return name in PROVIDERS and import_string(PROVIDERS[ProviderName(name)]).saves_methods()


#: The payment button (and so the provider) that saves each kind of method.
ONLINE_KIND_FOR_METHOD: dict[str, OnlineKind] = {
    PaymentMethod.Kind.CARD: OnlineKind.CARD,
    PaymentMethod.Kind.BANK_DEBIT: OnlineKind.DEBIT,
    PaymentMethod.Kind.PAYPAL: OnlineKind.PAYPAL,
}


def setup_provider(customer: "Customer", kind: str) -> ProviderName | None:
    """Who saves a ``kind`` method for this customer's organisation (the sandbox stands in), if anyone
    who can save methods at all."""
    online = ONLINE_KIND_FOR_METHOD.get(kind)
    name = None if online is None else provider_for(organisation=customer.organisation, kind=online)
    return name if name is not None and saves_methods(name) else None


def hosted_setups(customer: "Customer") -> dict[str, bool]:
    """For each kind of method, whether it is saved on a provider's own page (not our sandbox form)."""
    return {
        kind: (name := setup_provider(customer, kind)) is not None and name != ProviderName.SANDBOX
        for kind in ONLINE_KIND_FOR_METHOD
    }


#: The kinds of method a customer may save, in seed 001's order: a card, then a direct debit.
SAVABLE_KINDS = (PaymentMethod.Kind.CARD, PaymentMethod.Kind.BANK_DEBIT, PaymentMethod.Kind.PAYPAL)


def savable_kinds(customer: "Customer") -> list[PaymentMethod.Kind]:
    """What the customer can save now: on a connected provider's page, or in the sandbox's own
    card and bank forms (the sandbox saves no PayPal account)."""
    hosted = hosted_setups(customer)
    sandbox = sandbox_saves_methods(customer.organisation_id)
    return [k for k in SAVABLE_KINDS if hosted[k] or (sandbox and k != PaymentMethod.Kind.PAYPAL)]


def sandbox_saves_methods(organisation_id: int) -> bool:
    """Cards and accounts typed on our own pages are tokenised by the sandbox, when connected."""
    return ProviderAccount.objects.filter(
        organisation_id=organisation_id, provider=ProviderName.SANDBOX
    ).exists()


def check_method_of(customer: "Customer", method: PaymentMethod) -> None:
    """Seed 002: the card chosen for recurring payment is one of this customer's, still usable;
    another customer's looks missing."""
    if method.customer_id != customer.pk or method.organisation_id != customer.organisation_id:
        raise BusinessError(_("Objet introuvable."), code=ErrorCode.NOT_FOUND)
    if method.status != PaymentMethod.Status.VALID:
        raise BusinessError(
            _("Ce moyen de paiement n'est plus utilisable."), code=ErrorCode.PAYMENT_METHOD_INVALID
        )


def customer_setup(customer: "Customer", key: str) -> MethodSetup | None:
    """The customer's own setup with this key (another's, or another tenant's, is not found)."""
    return MethodSetup.objects.filter(customer=customer, idempotency_key=key).first()


def authentication_pending(customer: "Customer") -> QuerySet[ChargeAttempt]:
    """Charges of the customer's saved methods that their bank wants authenticated (SCA), still open."""
    return (
        ChargeAttempt.objects.filter(payment__customer=customer, state=ChargeAttempt.State.CREATED)
        .exclude(action_url="")
        .select_related("payment")
    )


def valid_methods(customer: "Customer") -> QuerySet[PaymentMethod]:
    """The customer's saved methods that can still be charged, the default first."""
    return PaymentMethod.objects.filter(customer=customer, status=PaymentMethod.Status.VALID)


def received_payments(customer: "Customer") -> QuerySet[Payment]:
    """The customer's payments that brought money in, with the invoices they settled."""
    return customer.payments.filter(status__in=RECEIVED).prefetch_related("allocations__invoice")


def declared_transfers(customer: "Customer") -> QuerySet[TransferDeclaration]:
    """Transfers and cheques the customer announced that staff have not recorded yet."""
    return TransferDeclaration.objects.filter(
        invoice__customer=customer, status=TransferDeclaration.Status.DECLARED
    )


def provider_accounts(organisation: "Organisation") -> dict[str, ProviderAccount]:
    """The organisation's connected providers, by name."""
    return {a.provider: a for a in ProviderAccount.objects.filter(organisation=organisation)}


def provider_client(*, name: str, organisation_id: int) -> Provider:
    """The provider ``name`` set up with the organisation's own credentials."""
    if name == ProviderName.SANDBOX:
        return get_provider(name)
    account = ProviderAccount.objects.filter(organisation_id=organisation_id, provider=name).first()
    if account is None:
        raise BusinessError(_("Ce prestataire n'est pas connecté."), code=ErrorCode.PROVIDER_NOT_CONNECTED)
    return get_provider(name, account=account)


def provider_for(*, organisation: "Organisation", kind: str) -> ProviderName | None:
    """Who takes a ``kind`` payment (card, debit, paypal) for this organisation, if anyone."""
    accounts = provider_accounts(organisation)
    preferred = next((name for each, name in PROVIDER_FOR_KIND.items() if each == kind), None)
    if preferred is not None and preferred in accounts:
        return preferred
    return ProviderName.SANDBOX if ProviderName.SANDBOX in accounts else None


def online_kinds(organisation: "Organisation") -> list[OnlineKind]:
    """The kinds of online payment the organisation can take, for the payment buttons."""
    return _kinds(provider_accounts(organisation))


def _kinds(accounts: dict[str, ProviderAccount]) -> list[OnlineKind]:
    sandbox = ProviderName.SANDBOX in accounts
    return [kind for kind, name in PROVIDER_FOR_KIND.items() if name in accounts or sandbox]


def masked_credentials(account: ProviderAccount) -> dict[str, str]:
    """What staff see of the stored credentials: the last characters of each."""
    return {
        name: secrets.masked(value) for name, value in secrets.decrypt(account.credentials_encrypted).items()
    }


def suspension_allowed(*, invoice: Invoice, today: datetime.date | None = None) -> bool:
    """False while a declared transfer or cheque is within the organisation's grace period."""
    today = today or timezone.localdate()
    grace = datetime.timedelta(days=invoice.organisation.transfer_grace_days)
    return not invoice.transfer_declarations.filter(
        status=TransferDeclaration.Status.DECLARED, declared_at__date__gte=today - grace
    ).exists()


def invoice_payments(invoice: Invoice) -> QuerySet[Payment]:
    """The payments allocated to an invoice, oldest first."""
    return Payment.objects.filter(allocations__invoice=invoice).distinct().order_by("created_at")


def recent_payments(customer: "Customer", *, limit: int = 20) -> QuerySet[Payment]:
    """A customer's latest payments, whatever their state, for the staff's customer page."""
    return Payment.objects.filter(customer=customer).order_by("-created_at")[:limit]


def received_per_month(
    organisation: "Organisation", *, months: int = 12, today: datetime.date | None = None
) -> list[MonthFigure]:
    """Money received each month by the day it came in, net of what was refunded, the last ``months``."""
    starts = month_starts(today or timezone.localdate(), months)
    rows = (
        Payment.objects.filter(organisation=organisation, status__in=RECEIVED, received_on__gte=starts[0])
        .annotate(month=TruncMonth("received_on"))
        .values("month")
        .annotate(amount=Sum(F("amount") - F("amount_refunded")), count=Count("pk"))
    )
    return by_month(starts, rows)
