"""Reads of the payments app: who takes which payment, what an invoice allows, what a customer saved."""

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.invoicing.models import Invoice

from . import secrets
from .models import Payment, PaymentMethod, ProviderAccount, TransferDeclaration
from .providers import PROVIDER_FOR_KIND, OnlineKind, Provider, ProviderName, get_provider

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

    @property
    def any(self) -> bool:
        """Something for the customer to do: the payment section is shown."""
        return self.can_pay_online or self.can_declare_transfer


def payable(invoice: Invoice) -> Payability:
    """The one answer to "what can be done with this invoice now", shared by every page."""
    is_open = invoice.status == Invoice.Status.OPEN
    online = is_open and invoice.kind in ONLINE_PAYABLE_KINDS and invoice.online_payment
    accounts = provider_accounts(invoice.organisation) if online else {}
    return Payability(
        can_pay_online=online,
        online_kinds=tuple(_kinds(accounts)),
        saved_methods=online and ProviderName.SANDBOX in accounts,
        can_declare_transfer=is_open and invoice.kind == Invoice.Kind.INVOICE,
        can_record_payment=is_open and invoice.kind in ONLINE_PAYABLE_KINDS,
    )


def has_open_invoice_offline(customer: "Customer") -> bool:
    """One of the customer's unpaid invoices is not offered for online payment."""
    return Invoice.objects.filter(
        customer=customer, kind=Invoice.Kind.INVOICE, status=Invoice.Status.OPEN, online_payment=False
    ).exists()


def saved_methods_available(organisation_id: int) -> bool:
    """Saved cards and bank accounts are tokenised by the sandbox only: a real provider takes each
    payment on its own page, so without the sandbox there is nothing to save them with."""
    return ProviderAccount.objects.filter(
        organisation_id=organisation_id, provider=ProviderName.SANDBOX
    ).exists()


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
