"""Orders: the list, a new order for a customer and its sites, its lines, and the moves through its states.

The line editor is this module's own, not the quote and invoice editor (``views/builder.py``):
each order line sits on one of the customer's sites, which that editor's documents do not have,
and its ``Builder`` interface adds a product in one tap, with no site to choose.
"""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from acquitte.core.errors import BusinessError
from acquitte.core.http import AuthenticatedHttpRequest, paginate, report
from acquitte.core.params import int_param, search_param
from acquitte.customers.models import Customer, Organisation
from acquitte.customers.selectors import customer_of, search_customers
from acquitte.subscriptions import selectors
from acquitte.subscriptions import services as subscriptions
from acquitte.subscriptions.models import Order, OrderLine

from ..access import owned, staff_required
from ..forms import OrderFilterForm, OrderLineForm, QuantityForm

#: The list's sortable columns (``-`` for descending).
SORTS = {"number", "-number", "customer__name", "-customer__name", "created_at", "-created_at", "status"}
#: Each move as the URL names it, the service that makes it, and what the page says once made.
MOVES: dict[Order.Status, tuple[Callable[..., Order], Promise]] = {
    Order.Status.IN_PROGRESS: (subscriptions.place_order, gettext_lazy("Commande mise en cours.")),
    Order.Status.SHIPPED: (subscriptions.ship_order, gettext_lazy("Commande expédiée.")),
    Order.Status.COMPLETED: (
        subscriptions.complete_order,
        gettext_lazy("Commande terminée : les abonnements ont démarré."),
    ),
    Order.Status.CANCELLED: (subscriptions.cancel_order, gettext_lazy("Commande annulée.")),
}


@staff_required
def order_list(request: AuthenticatedHttpRequest, *, organisation: Organisation) -> HttpResponse:
    form = OrderFilterForm(request.GET or None, statuses=Order.Status.choices)
    filters = form.cleaned_data if form.is_valid() else {}
    customer = None
    customer_pk = int_param(request, "customer")
    if customer_pk is not None:
        customer = customer_of(organisation=organisation, pk=customer_pk)
    sort = request.GET.get("sort", "")
    rows = selectors.orders_of(
        organisation, status=filters.get("status") or None, customer=customer, q=filters.get("q", "")
    )
    if sort in SORTS:
        rows = rows.order_by(sort, "-id")
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("sort", None)
    return render(
        request,
        "backoffice/order_list.html",
        {
            "form": form,
            "page": paginate(request, rows),
            "sort": sort if sort in SORTS else "",
            "filter_query": query.urlencode(),
            "customer": customer,
        },
    )


@staff_required
def order_new(request: AuthenticatedHttpRequest, *, organisation: Organisation) -> HttpResponse:
    """Step 1: pick the customer (search); the POST opens a draft order for them."""
    if request.method == "POST":
        customer = owned(Customer, organisation, int_param(request, "customer", source=request.POST) or 0)
        kind = request.POST.get("kind", Order.Kind.NEW)
        try:
            order = subscriptions.create_order(
                organisation=organisation, customer=customer, kind=kind, actor=request.user
            )
        except BusinessError as exc:
            report(request, exc)
            return redirect("backoffice:customer_detail", pk=customer.pk)
        return redirect("backoffice:order_detail", pk=order.pk)
    query = search_param(request)
    page = paginate(request, search_customers(organisation=organisation, query=query), per_page=20)
    template = "backoffice/_pick_rows.html" if request.htmx else "backoffice/pick_customer.html"
    context = {
        "page": page,
        "q": query,
        "action": reverse("backoffice:order_new"),
        "title": _("Nouvelle commande"),
        "next": "",
    }
    return render(request, template, context)


def _context(organisation: Organisation, order: Order, **extra: Any) -> dict[str, Any]:
    totals = selectors.order_totals(order)
    context = {
        "order": order,
        "groups": selectors.order_lines_by_site(order),
        "totals": totals,
        "moves": selectors.next_statuses(order),
        "charges": order.charges.select_related("invoice"),
        "subscriptions": selectors.subscriptions_of(organisation, order=order),
        "line_form": OrderLineForm(organisation=organisation, customer=order.customer),
        "is_draft": order.status == Order.Status.DRAFT,
    }
    context.update(extra)
    return context


@staff_required
def order_detail(request: AuthenticatedHttpRequest, pk: int, *, organisation: Organisation) -> HttpResponse:
    order = owned(Order.objects.select_related("customer"), organisation, pk)
    return render(request, "backoffice/order_detail.html", _context(organisation, order))


def _lines_or_redirect(
    request: AuthenticatedHttpRequest, organisation: Organisation, order: Order
) -> HttpResponse:
    if request.htmx:
        return render(request, "backoffice/order_lines.html", _context(organisation, order))
    return redirect("backoffice:order_detail", pk=order.pk)


@require_POST
@staff_required
def order_line_add(request: AuthenticatedHttpRequest, pk: int, *, organisation: Organisation) -> HttpResponse:
    order = owned(Order.objects.select_related("customer"), organisation, pk)
    form = OrderLineForm(request.POST, organisation=organisation, customer=order.customer)
    if form.is_valid():
        try:
            subscriptions.add_order_line(order=order, actor=request.user, **form.cleaned_data)
        except BusinessError as exc:
            report(request, exc, form)
        else:
            return _lines_or_redirect(request, organisation, order)
    template = "backoffice/order_lines.html" if request.htmx else "backoffice/order_detail.html"
    return render(request, template, _context(organisation, order, line_form=form), status=400)


def _line(order: Order, line_pk: int) -> OrderLine:
    line = order.lines.filter(pk=line_pk).select_related("product", "site", "order").first()
    if line is None:
        raise Http404
    return line


@require_POST
@staff_required
def order_line_edit(
    request: AuthenticatedHttpRequest, pk: int, line_pk: int, *, organisation: Organisation
) -> HttpResponse:
    """A line's new quantity (0 removes it)."""
    order = owned(Order.objects.select_related("customer"), organisation, pk)
    line = _line(order, line_pk)
    form = QuantityForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Quantité invalide."))
        return _lines_or_redirect(request, organisation, order)
    try:
        if form.cleaned_data["quantity"] == 0:
            subscriptions.remove_order_line(line=line, actor=request.user)
        else:
            subscriptions.update_order_line(
                line=line, quantity=form.cleaned_data["quantity"], actor=request.user
            )
    except BusinessError as exc:
        report(request, exc)
    return _lines_or_redirect(request, organisation, order)


@require_POST
@staff_required
def order_line_remove(
    request: AuthenticatedHttpRequest, pk: int, line_pk: int, *, organisation: Organisation
) -> HttpResponse:
    order = owned(Order.objects.select_related("customer"), organisation, pk)
    try:
        subscriptions.remove_order_line(line=_line(order, line_pk), actor=request.user)
    except BusinessError as exc:
        report(request, exc)
    return _lines_or_redirect(request, organisation, order)


@staff_required
def order_move(
    request: AuthenticatedHttpRequest, pk: int, status: str, *, organisation: Organisation
) -> HttpResponse:
    """Move an order to ``status``: GET asks to confirm (and says what will be charged), POST moves."""
    order = owned(Order.objects.select_related("customer"), organisation, pk)
    if status not in Order.Status.values or Order.Status(status) not in MOVES:
        raise Http404
    to = Order.Status(status)
    if request.method != "POST":
        return render(request, "backoffice/order_move.html", _context(organisation, order, to=to))
    move, done = MOVES[to]
    try:
        move(order=order, actor=request.user)
    except BusinessError as exc:
        report(request, exc)
    else:
        messages.success(request, str(done))
    return redirect("backoffice:order_detail", pk=pk)
