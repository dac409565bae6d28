from django.contrib import messages
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from acquitte.catalog.models import Product
from acquitte.catalog.selectors import search_products
from acquitte.catalog.services import save_product
from acquitte.core.errors import BusinessError
from acquitte.core.http import AuthenticatedHttpRequest, paginate, report
from acquitte.core.params import search_param
from acquitte.customers.models import Organisation
from acquitte.subscriptions import services as subscriptions

from ..access import owned, staff_required
from ..forms import ProductForm


@staff_required
def product_list(request: AuthenticatedHttpRequest, *, organisation: Organisation) -> HttpResponse:
    query = search_param(request)
    show_all = request.GET.get("all") == "1"
    page = paginate(
        request, search_products(organisation=organisation, query=query, active_only=not show_all)
    )
    return render(request, "backoffice/product_list.html", {"page": page, "q": query, "show_all": show_all})


@staff_required
def product_edit(
    request: AuthenticatedHttpRequest, pk: int | None = None, *, organisation: Organisation
) -> HttpResponse:
    product = (
        owned(Product, organisation, pk)
        if pk
        else Product(organisation=organisation, currency=organisation.currency)
    )
    old_price = product.unit_price if pk else None
    form = ProductForm(request.POST or None, instance=product, organisation=organisation)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                product = save_product(product=form.save(commit=False), actor=request.user)
                followed = (
                    subscriptions.follow_catalogue_price(product=product, actor=request.user)
                    if old_price is not None and product.unit_price != old_price
                    else 0
                )
        except BusinessError as exc:
            report(request, exc, form)
        else:
            messages.success(request, _("« %(name)s » est au catalogue.") % {"name": product.name})
            if followed:
                messages.info(
                    request,
                    ngettext(
                        "%(count)d abonnement prendra ce prix à sa prochaine période.",
                        "%(count)d abonnements prendront ce prix à leur prochaine période.",
                        followed,
                    )
                    % {"count": followed},
                )
            return redirect("backoffice:products")
    return render(request, "backoffice/product_form.html", {"form": form, "product": product})
