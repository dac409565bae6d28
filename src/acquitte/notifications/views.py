from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, HttpResponseNotFound
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from acquitte.core.actors import System

from . import services


@csrf_exempt
@require_POST
def sms_status(request: HttpRequest) -> HttpResponse:
    """Twilio's delivery report, signed with the account's auth token (X-Twilio-Signature)."""
    from twilio.request_validator import RequestValidator

    if not settings.TWILIO_AUTH_TOKEN:
        return HttpResponseNotFound()
    url = settings.PUBLIC_BASE_URL.rstrip("/") + request.get_full_path()
    validator = RequestValidator(settings.TWILIO_AUTH_TOKEN)
    if not validator.validate(url, request.POST.dict(), request.headers.get("X-Twilio-Signature", "")):
        return HttpResponseForbidden()
    services.record_sms_status(
        actor=System(reason="sms delivery report"),
        provider_id=request.POST.get("MessageSid", ""),
        status=request.POST.get("MessageStatus", ""),
        error_code=request.POST.get("ErrorCode", ""),
    )
    return HttpResponse(status=204)
