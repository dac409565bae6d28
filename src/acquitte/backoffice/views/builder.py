"""Line editing for a draft quote or invoice: search the catalogue, tap to add, tap a line to change it."""

from typing import Any

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from acquitte.catalog.models import Product
from acquitte.catalog.selectors import search_products
from acquitte.catalog.services import save_product
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.http import AuthenticatedHttpRequest, paginate, report
from acquitte.core.params import int_param, search_param
from acquitte.customers.models import Customer, Organisation
from acquitte.customers.selectors import search_customers

from ..access import owned, staff_required
from ..builders import BUILDERS, Builder
from ..forms import ProductForm, QuantityForm


def _document(organisation: Organisation, doc: str, pk: int) -> tuple[Builder[Any, Any], Any]:
    builder = BUILDERS.get(doc)
    if builder is None:
        raise Http404
    return builder, owned(builder.model.objects.select_related("customer"), organisation, pk)


def _line(document: Any, line_pk: int) -> Any:
    line = document.lines.filter(pk=line_pk).select_related("product").first()
    if line is None:
        raise Http404
    return line


def _context(builder: Builder[Any, Any], document: Any, **extra: Any) -> dict[str, Any]:
    context = {
        "builder": builder,
        "doc": document,
        "lines": document.lines.all(),
        "next_url": builder.next_url(document),
    }
    context.update(extra)
    return context


def _lines_or_redirect(
    request: AuthenticatedHttpRequest, builder: Builder[Any, Any], document: Any, doc: str, pk: int
) -> HttpResponse:
    if request.htmx:
        document.refresh_from_db()
        return render(request, "backoffice/_builder_lines.html", _context(builder, document))
    return redirect("backoffice:builder", doc=doc, pk=pk)


def pick_customer(
    request: AuthenticatedHttpRequest, organisation: Organisation, builder: Builder[Any, Any]
) -> HttpResponse:
    """Step 1 of a new quote or invoice: pick the customer (search), or create one from here."""
    if request.method == "POST":
        customer = owned(Customer, organisation, int_param(request, "customer", source=request.POST) or 0)
        try:
            document = builder.create(organisation, customer, request.user)
        except BusinessError as exc:
            report(request, exc)
            return redirect(builder.new_url)
        return redirect("backoffice:builder", doc=builder.slug, pk=document.pk)
    query = search_param(request)
    page = paginate(request, search_customers(organisation=organisation, query=query), per_page=20)
    template = "backoffice/_pick_rows.html" if request.htmx else "backoffice/pick_customer.html"
    context = {
        "page": page,
        "q": query,
        "action": reverse(builder.new_url),
        "title": builder.title,
        "next": builder.after_customer,
    }
    return render(request, template, context)


@staff_required
def builder(
    request: AuthenticatedHttpRequest, doc: str, pk: int, *, organisation: Organisation
) -> HttpResponse:
    builder, document = _document(organisation, doc, pk)
    if not builder.is_draft(document):
        return redirect(builder.detail_url(document))
    query = search_param(request)
    results = search_products(organisation=organisation, query=query)[:20]
    if request.htmx and request.htmx.target == "results":
        return render(
            request, "backoffice/_builder_results.html", _context(builder, document, results=results)
        )
    return render(request, "backoffice/builder.html", _context(builder, document, results=results, q=query))


@require_POST
@staff_required
def builder_add(
    request: AuthenticatedHttpRequest, doc: str, pk: int, *, organisation: Organisation
) -> HttpResponse:
    builder, document = _document(organisation, doc, pk)
    product_pk = int_param(request, "product", source=request.POST)
    product = Product.objects.filter(organisation=organisation, pk=product_pk or 0).first()
    try:
        if product is None:
            raise BusinessError(_("Produit introuvable."), code=ErrorCode.NOT_FOUND)
        builder.add_product(document, product, request.user)
    except BusinessError as exc:
        report(request, exc)
    return _lines_or_redirect(request, builder, document, doc, pk)


@staff_required
def builder_line(
    request: AuthenticatedHttpRequest, doc: str, pk: int, line_pk: int, *, organisation: Organisation
) -> HttpResponse:
    """Tap a line: change its quantity (0 removes it)."""
    builder, document = _document(organisation, doc, pk)
    line = _line(document, line_pk)
    form = QuantityForm(request.POST or None, initial={"quantity": line.quantity.normalize()})
    if request.method == "POST" and form.is_valid():
        try:
            if form.cleaned_data["quantity"] == 0:
                builder.remove(line, request.user)
            else:
                builder.set_quantity(line, form.cleaned_data["quantity"], request.user)
        except BusinessError as exc:
            report(request, exc, form)
        else:
            return _lines_or_redirect(request, builder, document, doc, pk)
    template = "backoffice/_line_form.html" if request.htmx else "backoffice/line_form.html"
    status = 400 if form.errors else 200
    return render(request, template, _context(builder, document, line=line, form=form), status=status)


@require_POST
@staff_required
def builder_remove(
    request: AuthenticatedHttpRequest, doc: str, pk: int, line_pk: int, *, organisation: Organisation
) -> HttpResponse:
    builder, document = _document(organisation, doc, pk)
    try:
        builder.remove(_line(document, line_pk), request.user)
    except BusinessError as exc:
        report(request, exc)
    return _lines_or_redirect(request, builder, document, doc, pk)


@staff_required
def builder_new_product(
    request: AuthenticatedHttpRequest, doc: str, pk: int, *, organisation: Organisation
) -> HttpResponse:
    """The "+" of the editor: fill the product sheet, save; it joins the catalogue and the document."""
    builder, document = _document(organisation, doc, pk)
    product = Product(organisation=organisation, currency=organisation.currency)
    form = ProductForm(request.POST or None, instance=product, organisation=organisation)
    del form.fields["active"]
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                product = save_product(product=form.save(commit=False), actor=request.user)
                builder.add_product(document, product, request.user)
        except BusinessError as exc:
            report(request, exc, form)
        else:
            messages.success(
                request, _("« %(name)s » ajouté au catalogue et à la liste.") % {"name": product.name}
            )
            return redirect("backoffice:builder", doc=doc, pk=pk)
    return render(request, "backoffice/builder_product.html", _context(builder, document, form=form))
