"""The customer's services and orders: "Mes services", and the order the terms flow shows (seed 001)."""

from django.http import Http404, HttpResponse
from django.shortcuts import render

from acquitte.core.http import AuthenticatedHttpRequest
from acquitte.customers.models import Customer
from acquitte.customers.selectors import terms_to_accept

from . import selectors
from .account_views import customer_required


@customer_required
def services(request: AuthenticatedHttpRequest, customer: Customer) -> HttpResponse:
    return render(
        request, "portal/services.html", {"overview": selectors.customer_services(customer=customer)}
    )


@customer_required
def order_detail(request: AuthenticatedHttpRequest, customer: Customer, pk: int) -> HttpResponse:
    view = selectors.order_view(customer=customer, pk=pk)
    if view is None:
        raise Http404
    return render(
        request,
        "portal/order_detail.html",
        {"view": view, "terms_pending": terms_to_accept(customer) is not None},
    )
