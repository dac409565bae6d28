from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.db.models import Model
from django.forms import ModelForm
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from acquitte.core.errors import BusinessError
from acquitte.core.http import AuthenticatedHttpRequest, paginate, report
from acquitte.core.params import search_param
from acquitte.customers import services
from acquitte.customers.models import Address, Customer, Organisation
from acquitte.customers.selectors import search_customers
from acquitte.customers.services import CustomerPart
from acquitte.invoicing.selectors import receivables, staff_invoices
from acquitte.payments.selectors import recent_payments
from acquitte.quotes.selectors import quotes_for_organisation
from acquitte.subscriptions.selectors import orders_of, subscriptions_of

from ..access import owned, staff_required
from ..builders import AFTER_CUSTOMER
from ..forms import AddressForm, ContactForm, CustomerForm, SiteForm


@staff_required
def customer_list(request: AuthenticatedHttpRequest, *, organisation: Organisation) -> HttpResponse:
    query = search_param(request)
    rows = search_customers(organisation=organisation, query=query, sort=request.GET.get("sort", ""))
    page = paginate(request, rows)
    template = "backoffice/_customer_rows.html" if request.htmx else "backoffice/customer_list.html"
    return render(request, template, {"page": page, "q": query, "pick": request.GET.get("pick", "")})


@staff_required
def customer_edit(
    request: AuthenticatedHttpRequest, pk: int | None = None, *, organisation: Organisation
) -> HttpResponse:
    customer = (
        owned(Customer, organisation, pk)
        if pk
        else Customer(organisation=organisation, currency=organisation.currency)
    )
    form = CustomerForm(request.POST or None, instance=customer, organisation=organisation)
    if request.method == "POST" and form.is_valid():
        try:
            customer = services.save_customer(customer=form.save(commit=False), actor=request.user)
        except BusinessError as exc:
            report(request, exc, form)
        else:
            messages.success(request, _("Fiche client enregistrée."))
            return _after_save(request, organisation, customer)
    return render(
        request,
        "backoffice/customer_form.html",
        {"form": form, "customer": customer, "next": request.GET.get("next", request.POST.get("next", ""))},
    )


def _after_save(
    request: AuthenticatedHttpRequest, organisation: Organisation, customer: Customer
) -> HttpResponse:
    """Back to the customer, or, when the customer was created from "New quote" or "New invoice",
    straight into that document's line editor."""
    builder = AFTER_CUSTOMER.get(request.POST.get("next", ""))
    if builder is None:
        return redirect("backoffice:customer_detail", pk=customer.pk)
    document = builder.create(organisation, customer, request.user)
    return redirect("backoffice:builder", doc=builder.slug, pk=document.pk)


@staff_required
def customer_detail(
    request: AuthenticatedHttpRequest, pk: int, *, organisation: Organisation
) -> HttpResponse:
    customer = owned(Customer, organisation, pk)
    return render(request, "backoffice/customer_detail.html", _detail_context(customer, organisation))


def _detail_context(customer: Customer, organisation: Organisation, **forms: Any) -> dict[str, Any]:
    context = {
        "customer": customer,
        "receivables": receivables(customer),
        "invoices": staff_invoices(organisation, customer=customer, sort="-issue_date")[:20],
        "quotes": quotes_for_organisation(organisation, customer=customer)[:10],
        "payments": recent_payments(customer),
        "addresses": customer.addresses.all(),
        "contacts": customer.contacts.all(),
        "sites": customer.sites.all(),
        "orders": orders_of(organisation, customer=customer)[:10],
        "subscriptions": subscriptions_of(organisation, customer=customer)[:50],
        "address_form": AddressForm(prefix="address"),
        "contact_form": ContactForm(prefix="contact"),
        "site_form": SiteForm(prefix="site"),
    }
    context.update(forms)
    return context


#: What can be added to a customer: its form, its service, the message once added.
ADDERS: dict[str, tuple[type[ModelForm], Callable[..., Model], str]] = {
    "address": (AddressForm, services.add_address, _("Adresse ajoutée.")),
    "contact": (ContactForm, services.add_contact, _("Contact ajouté.")),
    "site": (SiteForm, services.add_site, _("Site ajouté.")),
}


@require_POST
@staff_required
def customer_add(
    request: AuthenticatedHttpRequest, pk: int, what: str, *, organisation: Organisation
) -> HttpResponse:
    """Add an address, a contact (or billing sub-contact) or a site to a customer."""
    customer = owned(Customer, organisation, pk)
    if what not in ADDERS:
        return redirect("backoffice:customer_detail", pk=pk)
    form_class, add, done = ADDERS[what]
    form = form_class(request.POST, prefix=what)
    if form.is_valid():
        try:
            add(customer=customer, actor=request.user, **form.cleaned_data)
        except BusinessError as exc:
            report(request, exc, form)
        else:
            messages.success(request, str(done))
            return redirect("backoffice:customer_detail", pk=pk)
    context = _detail_context(customer, organisation, **{f"{what}_form": form})
    return render(request, "backoffice/customer_detail.html", context, status=400)


@require_POST
@staff_required
def address_default(
    request: AuthenticatedHttpRequest, pk: int, address_pk: int, *, organisation: Organisation
) -> HttpResponse:
    customer = owned(Customer, organisation, pk)
    address = Address.objects.filter(customer=customer, pk=address_pk).first()
    if address is None:
        messages.error(request, _("Objet introuvable."))
    else:
        services.set_default_address(address=address, actor=request.user)
        messages.success(request, _("Adresse par défaut modifiée."))
    return redirect("backoffice:customer_detail", pk=pk)


PARTS = {
    "address": ("addresses", AddressForm, _("Adresse")),
    "contact": ("contacts", ContactForm, _("Contact")),
    "site": ("sites", SiteForm, _("Site")),
}


def _part(customer: Customer, what: str, part_pk: int) -> CustomerPart:
    if what not in PARTS:
        raise Http404
    part = getattr(customer, PARTS[what][0]).filter(pk=part_pk).first()
    if part is None:
        raise Http404
    return part


@staff_required
def customer_part_edit(
    request: AuthenticatedHttpRequest, pk: int, what: str, part_pk: int, *, organisation: Organisation
) -> HttpResponse:
    """Change one address, contact or site of a customer."""
    customer = owned(Customer, organisation, pk)
    part = _part(customer, what, part_pk)
    form = PARTS[what][1](request.POST or None, instance=part)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_part(part=part, actor=request.user, **form.cleaned_data)
        except BusinessError as exc:
            report(request, exc, form)
        else:
            messages.success(request, _("Modification enregistrée."))
            return redirect("backoffice:customer_detail", pk=pk)
    return render(
        request,
        "backoffice/customer_part_form.html",
        {"customer": customer, "form": form, "title": PARTS[what][2], "part": part, "what": what},
    )


@require_POST
@staff_required
def customer_part_remove(
    request: AuthenticatedHttpRequest, pk: int, what: str, part_pk: int, *, organisation: Organisation
) -> HttpResponse:
    customer = owned(Customer, organisation, pk)
    try:
        services.remove_part(part=_part(customer, what, part_pk), actor=request.user)
    except BusinessError as exc:
        report(request, exc)
    else:
        messages.success(request, _("Supprimé."))
    return redirect("backoffice:customer_detail", pk=pk)
