import logging

from django.db import transaction
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import services, tasks
from .providers.base import WebhookRejected

logger = logging.getLogger(__name__)

MAX_BODY = 256 * 1024


@csrf_exempt
@require_POST
def webhook(request, provider: str, organisation: str):
    """Provider webhooks: verified and stored once, answered at once, applied by a task."""
    if len(request.body) > MAX_BODY:
        return HttpResponse(status=413)
    try:
        stored = services.receive_webhook(
            provider=provider, organisation_slug=organisation, body=request.body, headers=request.headers
        )
    except WebhookRejected as exc:
        logger.warning("webhook %s/%s rejected: %s", provider, organisation, exc)
        return HttpResponse(status=exc.status)
    for event in stored:
        transaction.on_commit(lambda pk=event.pk: tasks.process_webhook_event.delay(pk))
    return HttpResponse(status=200)
