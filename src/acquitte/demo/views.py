from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from acquitte.backoffice.access import staff_required
from acquitte.core.http import AuthenticatedHttpRequest, paginate
from acquitte.customers.models import Organisation

from . import receiver
from .models import ReceivedWebhook


@csrf_exempt
@require_POST
def receive(request: HttpRequest, organisation: str) -> HttpResponse:
    """The demo receiver: 204 for a delivery signed with the endpoint's secret, 401 otherwise."""
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not declared.isdigit() or int(declared) > receiver.MAX_BODY or len(request.body) > receiver.MAX_BODY:
        return HttpResponse(status=413)
    org = get_object_or_404(Organisation, slug=organisation)
    received = receiver.record(
        organisation=org,
        url=settings.PUBLIC_BASE_URL.rstrip("/") + request.path,
        body=request.body,
        headers={name.lower(): value for name, value in request.headers.items()},
    )
    return HttpResponse(status=204 if received.verified else 401)


@staff_required
def received_webhooks(request: AuthenticatedHttpRequest, *, organisation: Organisation) -> HttpResponse:
    page = paginate(request, ReceivedWebhook.objects.filter(organisation=organisation))
    rows = [(received, receiver.pretty(received)) for received in page]
    return render(request, "demo/received_webhooks.html", {"page": page, "rows": rows})
