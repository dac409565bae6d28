from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from acquitte.core.errors import BusinessError
from acquitte.core.http import AuthenticatedHttpRequest, paginate, report
from acquitte.core.params import search_param
from acquitte.customers.models import Organisation
from acquitte.notifications import selectors, services
from acquitte.notifications.models import OutboundMessage

from ..access import owned, staff_required


@staff_required
def outbox(request: AuthenticatedHttpRequest, *, organisation: Organisation) -> HttpResponse:
    channel, status = request.GET.get("channel", ""), request.GET.get("status", "")
    query = search_param(request)
    rows = selectors.outbox(organisation=organisation, channel=channel, status=status, query=query)
    return render(
        request,
        "backoffice/outbox.html",
        {
            "page": paginate(request, rows),
            "channel": channel,
            "status": status,
            "q": query,
            "channels": OutboundMessage.Channel.choices,
            "statuses": OutboundMessage.Status.choices,
        },
    )


@staff_required
def message_detail(request: AuthenticatedHttpRequest, pk: int, *, organisation: Organisation) -> HttpResponse:
    message = owned(OutboundMessage.objects.defer("attachment"), organisation, pk)
    return render(request, "backoffice/message_detail.html", {"message": message})


@require_POST
@staff_required
def message_retry(request: AuthenticatedHttpRequest, pk: int, *, organisation: Organisation) -> HttpResponse:
    message = owned(OutboundMessage, organisation, pk)
    try:
        services.retry_message(message=message, actor=request.user)
    except BusinessError as exc:
        report(request, exc)
    else:
        messages.success(request, _("Message remis dans la file d'envoi."))
    return redirect("backoffice:message", pk=pk)
