"""Checkout: where a payer is sent to pay an invoice online, and the sandbox's own payment pages.

A sandbox session is a signed, expiring ticket that says which invoice is being paid, how, and
where to come back to. Its nonce is the charge's idempotency key, so submitting the page twice
charges once.
"""

import hmac
import uuid
from typing import Any

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from acquitte.core.actors import Actor, System
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.tenancy import check_can_act_for
from acquitte.invoicing.models import Invoice

from .. import validation
from ..models import Payment, PaymentMethod
from ..providers import OnlineKind, ProviderName, get_provider
from ..selectors import attempts_in_doubt, check_terms_accepted, payable, provider_for
from .charges import pay_invoice_once
from .hosted import start_hosted_payment
from .methods import bank_account_number

SALT = "acquitte.payments.checkout"
MAX_AGE = 3600
RETURN_SALT = "acquitte.payments.hosted-return"
#: A payer may come back from the provider's page (a bank's 3-D Secure step, a mandate) days later.
RETURN_MAX_AGE = 7 * 24 * 3600
#: The sandbox's pages stand in for a provider's: what they report is the provider's word.
SANDBOX_PAGE = System(reason="checkout:sandbox")


def _expired() -> BusinessError:
    return BusinessError(_("Cette session de paiement est invalide ou expirée."), code=ErrorCode.NOT_FOUND)


def start_checkout(*, invoice: Invoice, kind: str, return_path: str, actor: Actor) -> str:
    """Open a hosted checkout and return the provider's page to send the payer to."""
    check_can_act_for(actor, invoice.customer)
    if kind not in {k.value for k in OnlineKind}:
        raise BusinessError(_("Mode de paiement inconnu."), code=ErrorCode.INVALID_INPUT)
    check_terms_accepted(invoice.customer, actor)
    if attempts_in_doubt(invoice).exists():
        raise BusinessError(
            _("Un paiement de cette facture est en cours de vérification : attendez son résultat."),
            code=ErrorCode.PAYMENT_IN_PROGRESS,
        )
    if not payable(invoice).can_pay_online:
        raise BusinessError(_("Cette facture n'est pas à payer en ligne."), code=ErrorCode.ONLINE_PAYMENT_OFF)
    if not return_path.startswith("/") or return_path.startswith("//"):
        raise BusinessError(_("Adresse de retour invalide."), code=ErrorCode.INVALID_INPUT)
    provider = provider_for(organisation=invoice.organisation, kind=kind)
    if provider is None:
        raise BusinessError(
            _("Ce moyen de paiement n'est pas proposé pour cette facture."),
            code=ErrorCode.PROVIDER_NOT_CONNECTED,
        )
    if provider != ProviderName.SANDBOX:
        return start_hosted_payment(
            invoice=invoice,
            kind=OnlineKind(kind),
            provider=provider,
            urls=lambda key: _return_urls(key, return_path),
            actor=actor,
        )
    # "t": the link's key when the session opened; revoking the link ends its sessions too.
    session = signing.dumps(
        {"i": invoice.pk, "k": kind, "n": uuid.uuid4().hex, "r": return_path, "t": invoice.public_key},
        salt=SALT,
    )
    return get_provider(ProviderName.SANDBOX).checkout_url(session=session, kind=kind)


def _return_urls(key: str, return_path: str) -> tuple[str, str]:
    """Where the provider sends the payer back: a signed ticket naming the attempt and our page."""
    ticket = signing.dumps({"n": key, "r": return_path}, salt=RETURN_SALT)
    url = settings.PUBLIC_BASE_URL.rstrip("/") + reverse("payments:hosted_return", args=[ticket])
    return url, url + "?annule=1"


def read_return_ticket(ticket: str) -> tuple[str, str]:
    """(idempotency key, return path) of the ticket a payer comes back with, else BusinessError."""
    try:
        data = signing.loads(ticket, salt=RETURN_SALT, max_age=RETURN_MAX_AGE)
        return str(data["n"]), str(data["r"])
    except (signing.BadSignature, KeyError, TypeError) as exc:
        raise _expired() from exc


def read_checkout(session: str) -> tuple[Invoice, str, str, str]:
    """(invoice, kind, idempotency key, return path) of a valid session, else BusinessError."""
    try:
        data = signing.loads(session, salt=SALT, max_age=MAX_AGE)
        invoice = Invoice.objects.select_related("organisation", "customer").get(pk=data["i"])
        if not hmac.compare_digest(str(data["t"]), invoice.public_key):
            raise _expired()
    except (signing.BadSignature, Invoice.DoesNotExist, KeyError, TypeError) as exc:
        raise _expired() from exc
    return invoice, str(data["k"]), str(data["n"]), str(data["r"])


def _session_of(session: str, kind: OnlineKind) -> tuple[Invoice, str]:
    invoice, session_kind, key, _return = read_checkout(session)
    if session_kind != kind:
        raise _expired()
    return invoice, key


def _require_holder(holder: str) -> None:
    if not (holder or "").strip():
        raise BusinessError(_("Le nom du titulaire est obligatoire."), code=ErrorCode.INVALID_INPUT)


def complete_card_checkout(*, session: str, holder: str, number: str, cvv: str, expiry: str) -> Payment:
    """Tokenise the card at the provider and charge it once; the card is not saved."""
    invoice, key = _session_of(session, OnlineKind.CARD)
    _require_holder(holder)
    clean, scheme, _month, _year = validation.check_card(
        number=number, cvv=cvv, expiry=expiry, today=timezone.localdate()
    )
    sandbox = get_provider(ProviderName.SANDBOX)
    token = sandbox.save_method(kind=PaymentMethod.Kind.CARD, number=clean, scheme=scheme).token
    return pay_invoice_once(
        invoice=invoice, token=token, kind=Payment.Method.CARD, idempotency_key=key, actor=SANDBOX_PAGE
    )


def complete_paypal_checkout(*, session: str, approved: bool) -> Payment | None:
    """The payer approved (or cancelled) on the PayPal-style page."""
    invoice, key = _session_of(session, OnlineKind.PAYPAL)
    if not approved:
        return None
    sandbox = get_provider(ProviderName.SANDBOX)
    token = sandbox.save_method(kind=OnlineKind.PAYPAL, number="paypal", scheme="paypal").token
    return pay_invoice_once(
        invoice=invoice, token=token, kind=Payment.Method.PAYPAL, idempotency_key=key, actor=SANDBOX_PAGE
    )


def complete_debit_checkout(*, session: str, holder: str, scheme: str, **account: Any) -> Payment:
    """The payer authorised a direct-debit mandate; the debit settles later through webhooks."""
    invoice, key = _session_of(session, OnlineKind.DEBIT)
    _require_holder(holder)
    number = bank_account_number(scheme=scheme, **account)
    sandbox = get_provider(ProviderName.SANDBOX)
    token = sandbox.save_method(kind=PaymentMethod.Kind.BANK_DEBIT, number=number, scheme=scheme).token
    return pay_invoice_once(
        invoice=invoice,
        token=token,
        kind=Payment.Method.DIRECT_DEBIT,
        idempotency_key=key,
        actor=SANDBOX_PAGE,
    )
