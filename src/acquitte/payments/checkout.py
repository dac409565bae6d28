"""Hosted checkout sessions: a signed, expiring ticket that says which invoice is being paid,
how, and where to come back to. Its nonce is the charge's idempotency key, so submitting the
hosted page twice charges once."""

import uuid

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from acquitte.core.errors import BusinessError
from acquitte.invoicing.models import Invoice

from . import services, validation
from .models import Payment
from .providers import get_provider

SALT = "acquitte.payments.checkout"
MAX_AGE = 3600
RETURN_SALT = "acquitte.payments.hosted-return"
#: A payer may come back from the provider's page (a bank's 3-D Secure step, a mandate) days later.
RETURN_MAX_AGE = 7 * 24 * 3600
KINDS = ("card", "paypal", "debit")


def start_checkout(*, invoice: Invoice, kind: str, return_path: str) -> str:
    """Open a hosted checkout and return the provider's page to send the payer to."""
    if kind not in KINDS:
        raise BusinessError(_("Mode de paiement inconnu."))
    if invoice.status != Invoice.Status.OPEN or not invoice.online_payment:
        raise BusinessError(_("Cette facture n'est pas à payer en ligne."))
    if not return_path.startswith("/") or return_path.startswith("//"):
        raise BusinessError(_("Adresse de retour invalide."))
    provider = services.provider_for(organisation=invoice.organisation, kind=kind)
    if provider is None:
        raise BusinessError(_("Ce moyen de paiement n'est pas proposé pour cette facture."))
    if provider != "sandbox":
        return services.start_hosted_payment(
            invoice=invoice, kind=kind, provider=provider, urls=lambda key: _return_urls(key, return_path)
        )
    session = signing.dumps({"i": invoice.pk, "k": kind, "n": uuid.uuid4().hex, "r": return_path}, salt=SALT)
    return get_provider("sandbox").checkout_url(session=session, kind=kind)


def _return_urls(key: str, return_path: str) -> tuple[str, str]:
    """Where the provider sends the payer back: a signed ticket naming the attempt and our page."""
    ticket = signing.dumps({"n": key, "r": return_path}, salt=RETURN_SALT)
    url = settings.PUBLIC_BASE_URL.rstrip("/") + reverse("payments:hosted_return", args=[ticket])
    return url, url + "?annule=1"


def read_return_ticket(ticket: str) -> tuple[str, str]:
    """(idempotency key, return path) of the ticket a payer comes back with, else BusinessError."""
    try:
        data = signing.loads(ticket, salt=RETURN_SALT, max_age=RETURN_MAX_AGE)
        return data["n"], data["r"]
    except (signing.BadSignature, KeyError, TypeError) as exc:
        raise BusinessError(_("Cette session de paiement est invalide ou expirée.")) from exc


def read_checkout(session: str) -> tuple[Invoice, str, str, str]:
    """(invoice, kind, idempotency key, return path) of a valid session, else BusinessError."""
    try:
        data = signing.loads(session, salt=SALT, max_age=MAX_AGE)
        invoice = Invoice.objects.select_related("organisation", "customer").get(pk=data["i"])
    except (signing.BadSignature, Invoice.DoesNotExist, KeyError, TypeError) as exc:
        raise BusinessError(_("Cette session de paiement est invalide ou expirée.")) from exc
    return invoice, data["k"], data["n"], data["r"]


def complete_card_checkout(*, session: str, holder: str, number: str, cvv: str, expiry: str):
    """Tokenise the card at the provider and charge it once; the card is not saved."""
    invoice, kind, key, _return = read_checkout(session)
    if kind != "card":
        raise BusinessError(_("Cette session de paiement est invalide ou expirée."))
    if not (holder or "").strip():
        raise BusinessError(_("Le nom du titulaire est obligatoire."))
    clean, scheme, _month, _year = validation.check_card(
        number=number, cvv=cvv, expiry=expiry, today=timezone.localdate()
    )
    token = get_provider("sandbox").save_method(kind="card", number=clean, scheme=scheme).token
    return services.pay_invoice_once(invoice=invoice, token=token, kind="card", idempotency_key=key)


def complete_paypal_checkout(*, session: str, approved: bool):
    """The payer approved (or cancelled) on the PayPal-style page."""
    invoice, kind, key, _return = read_checkout(session)
    if kind != "paypal":
        raise BusinessError(_("Cette session de paiement est invalide ou expirée."))
    if not approved:
        return None
    token = get_provider("sandbox").save_method(kind="paypal", number="paypal", scheme="paypal").token
    return services.pay_invoice_once(invoice=invoice, token=token, kind="paypal", idempotency_key=key)


def complete_debit_checkout(*, session: str, holder: str, scheme: str, **account) -> Payment:
    """The payer authorised a direct-debit mandate; the debit settles later through webhooks."""
    invoice, kind, key, _return = read_checkout(session)
    if kind != "debit":
        raise BusinessError(_("Cette session de paiement est invalide ou expirée."))
    if not (holder or "").strip():
        raise BusinessError(_("Le nom du titulaire est obligatoire."))
    number = services.bank_account_number(scheme=scheme, **account)
    token = get_provider("sandbox").save_method(kind="bank_debit", number=number, scheme=scheme).token
    return services.pay_invoice_once(invoice=invoice, token=token, kind="direct_debit", idempotency_key=key)
