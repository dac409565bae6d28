"""Sign-in lockouts of the organisation's accounts, and lifting them (the owner only)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from acquitte.core.errors import BusinessError
from acquitte.core.http import AuthenticatedHttpRequest, report
from acquitte.customers import selectors
from acquitte.customers import services as customers
from acquitte.customers.models import Organisation

from ..access import staff_required


def _owner_only(request: AuthenticatedHttpRequest) -> None:
    if not request.user.can_manage_settings:
        raise PermissionDenied(_("Seul le propriétaire peut voir et lever les blocages de connexion."))


@staff_required
def lockouts(request: AuthenticatedHttpRequest, *, organisation: Organisation) -> HttpResponse:
    _owner_only(request)
    return render(request, "backoffice/lockouts.html", {"lockouts": selectors.lockouts(organisation)})


@require_POST
@staff_required
def unlock(request: AuthenticatedHttpRequest, pk: int, *, organisation: Organisation) -> HttpResponse:
    _owner_only(request)
    user = selectors.account_of(organisation=organisation, pk=pk)
    if user is None:
        raise Http404
    try:
        customers.unlock_account(organisation=organisation, user=user, actor=request.user)
    except BusinessError as exc:
        report(request, exc)
    else:
        messages.success(
            request, _("Le compte %(email)s peut de nouveau se connecter.") % {"email": user.email}
        )
    return redirect("backoffice:lockouts")
