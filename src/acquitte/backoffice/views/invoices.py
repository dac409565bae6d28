from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.http import AuthenticatedHttpRequest, paginate, report
from acquitte.core.params import int_param
from acquitte.core.selectors import history
from acquitte.customers.models import Organisation
from acquitte.customers.selectors import customer_of
from acquitte.documents.services import pdf_response, public_url, send_invoice
from acquitte.invoicing import services
from acquitte.invoicing.models import Invoice
from acquitte.invoicing.selectors import STAFF_SORTS, credit_notes_of, staff_invoices
from acquitte.notifications.selectors import messages_about
from acquitte.payments import selectors as payment_selectors
from acquitte.payments import services as payments
from acquitte.payments.forms import RecordPaymentForm
from acquitte.payments.models import Payment

from ..access import owned, staff_required
from ..builders import BUILDERS
from ..forms import InvoiceDatesForm, InvoiceFilterForm, RefundForm
from .builder import pick_customer


@staff_required
def invoice_list(request: AuthenticatedHttpRequest, *, organisation: Organisation) -> HttpResponse:
    form = InvoiceFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    customer = None
    customer_pk = int_param(request, "customer")
    if customer_pk is not None:
        customer = customer_of(organisation=organisation, pk=customer_pk)
    sort = request.GET.get("sort", "")
    rows = staff_invoices(
        organisation,
        status=filters.get("status", ""),
        kind=filters.get("kind", ""),
        query=filters.get("q", ""),
        customer=customer,
        date_from=filters.get("date_from"),
        date_to=filters.get("date_to"),
        sort=sort,
    )
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("sort", None)
    return render(
        request,
        "backoffice/invoice_list.html",
        {
            "form": form,
            "page": paginate(request, rows),
            "sort": sort if sort in STAFF_SORTS else "",
            "filter_query": query.urlencode(),
            "customer": customer,
        },
    )


@staff_required
def invoice_new(request: AuthenticatedHttpRequest, *, organisation: Organisation) -> HttpResponse:
    """A one-off invoice: pick the customer, then add catalogue lines in the editor."""
    return pick_customer(request, organisation, BUILDERS["factures"])


@staff_required
def invoice_detail(request: AuthenticatedHttpRequest, pk: int, *, organisation: Organisation) -> HttpResponse:
    invoice = owned(Invoice.objects.select_related("customer", "corrects"), organisation, pk)
    return render(request, "backoffice/invoice_detail.html", _detail_context(invoice, organisation))


def _detail_context(invoice: Invoice, organisation: Organisation, **extra: Any) -> dict[str, Any]:
    context = {
        "invoice": invoice,
        "lines": invoice.lines.all(),
        "taxes": invoice.taxes.all(),
        "status": invoice.display_status(),
        "public_url": public_url(invoice),
        "payments": payment_selectors.invoice_payments(invoice),
        "credit_notes": credit_notes_of(invoice),
        "outbound": messages_about(organisation=organisation, reference=invoice.number),
        "history": history(organisation=organisation, obj=invoice),
        "payable": payment_selectors.payable(invoice),
        "record_form": RecordPaymentForm(initial={"amount": invoice.amount_due}),
        "dates_form": InvoiceDatesForm(initial={"due_date": invoice.due_date, "notes": invoice.notes}),
    }
    context.update(extra)
    return context


@require_POST
@staff_required
def invoice_action(
    request: AuthenticatedHttpRequest, pk: int, action: str, *, organisation: Organisation
) -> HttpResponse:
    invoice = owned(Invoice, organisation, pk)
    user = request.user
    try:
        if action == "finalise":
            invoice = services.finalise_invoice(invoice=invoice, actor=user)
            messages.success(request, _("Facture %(number)s émise.") % {"number": invoice.number})
        elif action == "send":
            send_invoice(invoice=invoice, actor=user)
            messages.success(request, _("Facture envoyée avec son lien de consultation."))
        elif action == "void":
            services.void_invoice(invoice=invoice, actor=user, reason=request.POST.get("reason", ""))
            messages.success(request, _("Facture annulée."))
        elif action == "credit":
            note = services.issue_credit_note(invoice=invoice, actor=user)
            messages.success(request, _("Avoir %(number)s émis.") % {"number": note.number})
            return redirect("backoffice:invoice_detail", pk=note.pk)
        elif action == "online":
            services.set_online_payment(
                invoice=invoice, actor=user, offered=request.POST.get("offered") == "1"
            )
            messages.success(request, _("Paiement en ligne mis à jour pour cette facture."))
        elif action == "revoke":
            services.revoke_public_link(invoice=invoice, actor=user)
            messages.success(request, _("Lien public révoqué."))
        elif action == "dates":
            form = InvoiceDatesForm(request.POST)
            if not form.is_valid():
                raise BusinessError(_("Date invalide."), code=ErrorCode.INVALID_DATE)
            services.update_draft(invoice=invoice, actor=user, **form.cleaned_data)
            messages.success(request, _("Brouillon enregistré."))
        elif action == "delete":
            services.delete_draft(invoice=invoice, actor=user)
            messages.success(request, _("Brouillon supprimé."))
            return redirect("backoffice:invoices")
    except BusinessError as exc:
        report(request, exc)
    return redirect("backoffice:invoice_detail", pk=pk)


@require_POST
@staff_required
def invoice_record_payment(
    request: AuthenticatedHttpRequest, pk: int, *, organisation: Organisation
) -> HttpResponse:
    """Record a transfer or cheque received for this invoice."""
    invoice = owned(Invoice.objects.select_related("customer"), organisation, pk)
    form = RecordPaymentForm(request.POST)
    if form.is_valid():
        try:
            payments.record_payment(
                organisation=organisation,
                customer=invoice.customer,
                invoice=invoice,
                actor=request.user,
                **form.cleaned_data,
            )
        except BusinessError as exc:
            report(request, exc, form)
        else:
            messages.success(request, _("Paiement enregistré."))
            return redirect("backoffice:invoice_detail", pk=pk)
    context = _detail_context(invoice, organisation, record_form=form)
    return render(request, "backoffice/invoice_detail.html", context, status=400)


@staff_required
def invoice_pdf(request: AuthenticatedHttpRequest, pk: int, *, organisation: Organisation) -> HttpResponse:
    return pdf_response(owned(Invoice, organisation, pk), download=request.GET.get("download") == "1")


@require_POST
@staff_required
def payment_refund(request: AuthenticatedHttpRequest, pk: int, *, organisation: Organisation) -> HttpResponse:
    """Give back all or part of a payment, through the provider that took it."""
    payment = owned(Payment, organisation, pk)
    form = RefundForm(request.POST)
    back = (
        redirect("backoffice:invoice_detail", pk=payment.invoice_id)
        if payment.invoice_id
        else redirect("backoffice:customer_detail", pk=payment.customer_id)
    )
    if not form.is_valid():
        messages.error(request, _("Montant de remboursement invalide."))
        return back
    try:
        payments.refund(payment=payment, amount=form.cleaned_data["amount"], actor=request.user)
    except BusinessError as exc:
        report(request, exc)
    else:
        messages.success(request, _("Remboursement effectué."))
    return back
