from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from acquitte.core.http import AuthenticatedHttpRequest, paginate
from acquitte.customers.models import Organisation
from acquitte.invoicing.selectors import staff_invoices
from acquitte.notifications import selectors as notes
from acquitte.notifications import services as notify
from acquitte.quotes.models import Quote
from acquitte.quotes.selectors import quotes_for_organisation

from ..access import staff_required


@staff_required
def home(request: AuthenticatedHttpRequest, *, organisation: Organisation) -> HttpResponse:
    return render(
        request,
        "backoffice/home.html",
        {
            "open_quotes": quotes_for_organisation(organisation).filter(
                status__in=[Quote.Status.SENT, Quote.Status.VIEWED]
            )[:5],
            "drafts": quotes_for_organisation(organisation, status=Quote.Status.DRAFT)[:5],
            "overdue": staff_invoices(organisation, status="overdue", sort="due_date")[:5],
            "notifications": notes.notifications(organisation=organisation)[:5],
        },
    )


@staff_required
def notification_list(request: AuthenticatedHttpRequest, *, organisation: Organisation) -> HttpResponse:
    page = paginate(request, notes.notifications(organisation=organisation))
    return render(request, "backoffice/notifications.html", {"page": page})


@require_POST
@staff_required
def notifications_read(request: AuthenticatedHttpRequest, *, organisation: Organisation) -> HttpResponse:
    count = notify.mark_read(organisation=organisation, actor=request.user)
    messages.success(request, _("%(n)s notification(s) marquée(s) comme lue(s).") % {"n": count})
    return redirect("backoffice:notifications")
