"""The signed-in customer area: home, invoices, billing and payment methods, first login."""

import datetime
import uuid
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.http import AuthenticatedHttpRequest, View, client_ip, report
from acquitte.core.params import int_param, year_param
from acquitte.customers import services as customers
from acquitte.customers.models import Customer
from acquitte.customers.selectors import terms_block, terms_to_accept
from acquitte.documents import services as documents
from acquitte.invoicing.selectors import receivables
from acquitte.payments import selectors as payment_selectors
from acquitte.payments import services as payments
from acquitte.payments.forms import CardForm, DebitMandateForm, TransferDeclarationForm
from acquitte.payments.models import MethodSetup, Payment, PaymentMethod
from acquitte.payments.views import report_payment
from acquitte.subscriptions.selectors import next_debit

from . import selectors
from .forms import FirstLoginForm, PaymentAmountForm
from .pages import invoice_page

#: The billing page's buttons that send the customer to a provider's page to save a method.
SETUP_ACTIONS = {
    "setup_card": PaymentMethod.Kind.CARD,
    "setup_bank": PaymentMethod.Kind.BANK_DEBIT,
    "setup_paypal": PaymentMethod.Kind.PAYPAL,
}


def customer_required(view: View) -> View:
    """Portal pages are for a customer's users; staff go to the back office."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("portal:login"))
        if user.customer_id is None:
            return redirect("backoffice:home" if user.organisation_id else "admin:index")
        return view(request, *args, customer=user.customer, **kwargs)

    return wrapped


@customer_required
def home(request: AuthenticatedHttpRequest, customer: Customer) -> HttpResponse:
    soon = timezone.localdate() + datetime.timedelta(days=60)
    expiring = [
        m
        for m in payment_selectors.valid_methods(customer).filter(kind=PaymentMethod.Kind.CARD)
        if m.exp_year and m.exp_month and datetime.date(m.exp_year, m.exp_month, 28) <= soon
    ]
    context = {
        "customer": customer,
        "figures": receivables(customer),
        "recent": selectors.portal_invoices(customer=customer)[:5],
        "terms_pending": terms_to_accept(customer),
        "expiring": expiring,
        "declared": payment_selectors.declared_transfers(customer),
        "next_debit": next_debit(customer),
    }
    return render(request, "portal/home.html", context)


@customer_required
def invoice_list(request: AuthenticatedHttpRequest, customer: Customer) -> HttpResponse:
    sort, status, year = (
        request.GET.get("tri", ""),
        request.GET.get("statut", ""),
        year_param(request, "annee"),
    )
    invoices = selectors.portal_invoices(customer=customer, sort=sort, status=status, year=year)
    page = Paginator(invoices, 25).get_page(request.GET.get("page"))
    columns = [
        ("numero", _("Numéro")),
        ("date", _("Date")),
        ("echeance", _("Échéance")),
        ("total", _("Total")),
        ("du", _("Reste à payer")),
        ("statut", _("Statut")),
    ]
    context = {
        "page": page,
        "sort": sort,
        "status": status,
        "year": year,
        "columns": columns,
        "years": selectors.invoice_years(customer=customer),
        "statuses": [("open", _("Non payée")), ("paid", _("Payée")), ("void", _("Annulée"))],
    }
    return render(request, "portal/invoice_list.html", context)


@customer_required
def invoice_detail(request: AuthenticatedHttpRequest, customer: Customer, pk: int) -> HttpResponse:
    invoice = selectors.customer_invoice(customer=customer, pk=pk)
    if invoice is None:
        raise Http404
    context = {
        **invoice_page(invoice),
        "methods": payment_selectors.valid_methods(customer),
        "pay_key": uuid.uuid4().hex,
        "pdf_url": reverse("portal:invoice_pdf", args=[pk]),
    }
    return render(request, "portal/invoice_detail.html", context)


@customer_required
def invoice_pdf(request: AuthenticatedHttpRequest, customer: Customer, pk: int) -> HttpResponse:
    invoice = selectors.customer_invoice(customer=customer, pk=pk)
    if invoice is None:
        raise Http404
    return documents.pdf_response(invoice)


@require_POST
@customer_required
def invoice_pay(request: AuthenticatedHttpRequest, customer: Customer, pk: int, kind: str) -> HttpResponse:
    invoice = selectors.customer_invoice(customer=customer, pk=pk)
    if invoice is None:
        raise Http404
    back = reverse("portal:invoice_detail", args=[pk])
    try:
        if kind == "saved":
            method = (
                payment_selectors.valid_methods(customer)
                .filter(pk=int_param(request, "method", source=request.POST) or 0)
                .first()
            )
            if method is None:
                raise BusinessError(_("Choisissez un moyen de paiement."), code=ErrorCode.INVALID_INPUT)
            payment = payments.pay_invoice(
                invoice=invoice,
                payment_method=method,
                idempotency_key=request.POST.get("key", ""),
                actor=request.user,
            )
            report_payment(request, payment)
            return redirect(back)
        if kind == "declare":
            form = TransferDeclarationForm(request.POST)
            if not form.is_valid():
                raise BusinessError(
                    _("Déclaration incomplète : vérifiez la référence, la date et le montant."),
                    code=ErrorCode.INVALID_INPUT,
                )
            payments.declare_transfer(invoice=invoice, actor=request.user, **form.cleaned_data)
            messages.success(
                request,
                _(
                    "Merci : nous avons noté votre paiement. La facture restera non payée jusqu'à réception des fonds."
                ),
            )
            return redirect(back)
        return redirect(
            payments.start_checkout(invoice=invoice, kind=kind, return_path=back, actor=request.user)
        )
    except BusinessError as exc:
        report(request, exc)
        return redirect(back)


@customer_required
def billing(request: AuthenticatedHttpRequest, customer: Customer) -> HttpResponse:
    methods = payment_selectors.valid_methods(customer)
    can_save = payment_selectors.saved_methods_available(customer.organisation_id)
    card_form = CardForm(prefix="card")
    bank_form = DebitMandateForm(prefix="bank")
    pay_form = PaymentAmountForm(prefix="pay", methods=methods)
    hosted = payment_selectors.hosted_setups(customer)
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action in SETUP_ACTIONS:
                return redirect(
                    payments.start_method_setup(
                        customer=customer,
                        kind=SETUP_ACTIONS[action],
                        actor=request.user,
                        return_to=reverse("portal:billing"),
                    )
                )
            if action == "card":
                card_form = CardForm(request.POST, prefix="card")
                if card_form.is_valid():
                    payments.add_card(customer=customer, actor=request.user, **card_form.cleaned_data)
                    messages.success(
                        request, _("Carte ajoutée ; elle devient votre moyen de paiement par défaut.")
                    )
                    return redirect("portal:billing")
            elif action == "bank":
                bank_form = DebitMandateForm(request.POST, prefix="bank")
                if bank_form.is_valid():
                    payments.add_bank_account(customer=customer, actor=request.user, **bank_form.cleaned_data)
                    messages.success(
                        request,
                        _("Compte bancaire autorisé ; il devient votre moyen de paiement par défaut."),
                    )
                    return redirect("portal:billing")
            elif action == "pay":
                pay_form = PaymentAmountForm(request.POST, prefix="pay", methods=methods)
                if pay_form.is_valid():
                    method = methods.get(pk=pay_form.cleaned_data["method"])
                    payment = payments.make_payment(
                        customer=customer,
                        amount=pay_form.cleaned_data["amount"],
                        payment_method=method,
                        idempotency_key=pay_form.cleaned_data["key"],
                        actor=request.user,
                    )
                    report_payment(request, payment)
                    return redirect("portal:billing")
        except BusinessError as exc:
            report(request, exc)
    context = {
        "methods": methods,
        "can_save": can_save,
        "hosted": hosted,
        "sandbox_form": payment_selectors.sandbox_saves_methods(customer.organisation_id),
        "to_authenticate": payment_selectors.authentication_pending(customer),
        "card_form": card_form,
        "bank_form": bank_form,
        "pay_form": pay_form,
        "figures": receivables(customer),
        "payments": payment_selectors.received_payments(customer)[:10],
        "terms_pending": terms_block(customer) is not None,
    }
    return render(request, "portal/billing.html", context)


@customer_required
def method_setup_return(request: AuthenticatedHttpRequest, customer: Customer, key: str) -> HttpResponse:
    """Back from the provider's setup page: the method is saved and made the default, or not."""
    setup = payment_selectors.customer_setup(customer, key)
    if setup is None:
        raise Http404
    cancelled = "annule" in request.GET
    try:
        setup = payments.complete_method_setup(setup=setup, actor=request.user, cancelled=cancelled)
    except BusinessError as exc:
        report(request, exc)
        return redirect(setup.return_to or "portal:billing")
    if setup.status == MethodSetup.Status.COMPLETED:
        messages.success(
            request, _("Moyen de paiement ajouté ; il devient votre moyen de paiement par défaut.")
        )
    elif setup.status == MethodSetup.Status.FAILED:
        messages.info(request, _("Enregistrement annulé : aucun moyen de paiement n'a été ajouté."))
    else:
        messages.info(
            request, _("Enregistrement en cours de confirmation : le moyen de paiement apparaîtra sous peu.")
        )
    return redirect(setup.return_to or "portal:billing")


@require_POST
@customer_required
def method_action(
    request: AuthenticatedHttpRequest, customer: Customer, pk: int, action: str
) -> HttpResponse:
    method = payment_selectors.valid_methods(customer).filter(pk=pk).first()
    if method is None:
        raise Http404
    if action == "defaut":
        payments.set_default_method(method=method, actor=request.user)
        messages.success(request, _("Moyen de paiement par défaut modifié."))
    elif action == "retirer":
        payments.remove_method(method=method, actor=request.user)
        messages.success(request, _("Moyen de paiement retiré."))
    else:
        raise Http404
    return redirect("portal:billing")


@customer_required
def first_login(request: AuthenticatedHttpRequest, customer: Customer) -> HttpResponse:
    terms = terms_to_accept(customer)
    if terms is None:
        return redirect("portal:home")
    addresses = list(customer.addresses.all())
    form = FirstLoginForm(
        request.POST or None,
        addresses=addresses,
        initial={
            "address": next((str(a.pk) for a in addresses if a.is_default), "new"),
            "contact_name": request.user.full_name,
            "contact_email": request.user.email,
        },
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        chosen = next((a for a in addresses if str(a.pk) == data["address"]), None)
        new_address = None
        if chosen is None:
            new_address = {k: data[k] for k in ("line1", "city", "region", "postal_code")}
            new_address["country"] = (data["country"] or customer.organisation.country).upper()
        try:
            customers.complete_first_login(
                customer=customer,
                actor=request.user,
                terms=terms,
                ip_address=client_ip(request),
                address=chosen,
                new_address=new_address,
                contact={
                    "name": data["contact_name"],
                    "email": data["contact_email"],
                    "phone": data["contact_phone"],
                },
            )
        except BusinessError as exc:
            report(request, exc, form)
        else:
            if not payment_selectors.savable_kinds(customer):
                messages.success(request, _("Conditions générales acceptées."))
                return redirect("portal:billing")
            messages.success(
                request,
                _(
                    "Conditions acceptées. Ajoutez maintenant une carte ou un compte bancaire, puis « Autoriser »."
                ),
            )
            return redirect("portal:first_login_payment")
    body = terms.body_en if request.LANGUAGE_CODE == "en" and terms.body_en else terms.body_fr
    context = {
        "form": form,
        "terms": terms,
        "body": body,
        "order": selectors.pending_order(customer=customer),
    }
    return render(request, "portal/first_login.html", context)


@customer_required
def first_login_payment(request: AuthenticatedHttpRequest, customer: Customer) -> HttpResponse:
    """Seed 001's step after « J'accepte »: pick a card or a direct debit and « Autoriser » opens the
    page where it is saved; back on the billing page it is the default. « Plus tard » skips it."""
    if terms_to_accept(customer) is not None:
        return redirect("portal:first_login")
    kinds = payment_selectors.savable_kinds(customer)
    if not kinds:
        return redirect("portal:billing")
    if request.method == "POST":
        kind = request.POST.get("kind", "")
        if kind not in kinds:
            messages.error(request, _("Choisissez un moyen de paiement."))
            return redirect("portal:first_login_payment")
        try:
            return redirect(
                payments.start_method_setup(
                    customer=customer, kind=kind, actor=request.user, return_to=reverse("portal:billing")
                )
            )
        except BusinessError as exc:
            report(request, exc)
            return redirect("portal:first_login_payment")
    context = {
        "kinds": [(kind, PaymentMethod.Kind(kind).label) for kind in kinds],
        "default": payment_selectors.valid_methods(customer).filter(is_default=True).first(),
    }
    return render(request, "portal/first_login_payment.html", context)


@customer_required
def payment_authenticated(request: AuthenticatedHttpRequest, customer: Customer, key: str) -> HttpResponse:
    """Back from the provider's page where the bank had the cardholder confirm an off-session
    charge: ask what became of it and show its invoice. Another customer's key is not found."""
    try:
        payment = payments.finish_hosted_payment(idempotency_key=key, cancelled=False, actor=request.user)
    except PermissionDenied:
        raise Http404 from None
    except BusinessError as exc:
        if exc.error_code == ErrorCode.NOT_FOUND:
            raise Http404 from None
        report(request, exc)
        return redirect("portal:billing")
    if payment.status == Payment.Status.PROCESSING and "annule" in request.GET:
        messages.info(
            request,
            _(
                "Paiement non confirmé : la facture reste à payer. Vous pouvez le confirmer plus tard depuis la page Facturation."
            ),
        )
    else:
        report_payment(request, payment)
    if payment.invoice_id is None:
        return redirect("portal:billing")
    return redirect("portal:invoice_detail", pk=payment.invoice_id)
