"""SMS backends: one interface, a Twilio implementation and a default that only keeps the outbox row."""

from django.conf import settings
from django.utils.module_loading import import_string


class SmsError(Exception):
    """The provider refused the message; the text says why (kept on the outbox row)."""


class SmsBackend:
    #: False when nothing leaves the machine: the row then says so instead of "sent".
    delivers = True

    def send(self, *, to: str, body: str, status_callback: str = "") -> str:
        """Send ``body`` to the E.164 number ``to``; return the provider's message id."""
        raise NotImplementedError


class OutboxOnlyBackend(SmsBackend):
    """The embedded default: the message stays readable in the outbox and goes nowhere."""

    delivers = False

    def send(self, *, to: str, body: str, status_callback: str = "") -> str:
        return ""


class TwilioBackend(SmsBackend):
    """Twilio's Messages API through the official SDK; TWILIO_API_BASE points it elsewhere in tests."""

    def __init__(self) -> None:
        from twilio.rest import Client

        self.client = Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN)
        if settings.TWILIO_API_BASE:
            self.client.api.base_url = settings.TWILIO_API_BASE

    def send(self, *, to: str, body: str, status_callback: str = "") -> str:
        from twilio.base.exceptions import TwilioException, TwilioRestException

        options = {"to": to, "body": body}
        if settings.TWILIO_MESSAGING_SERVICE_SID:
            options["messaging_service_sid"] = settings.TWILIO_MESSAGING_SERVICE_SID
        else:
            options["from_"] = settings.TWILIO_FROM_NUMBER
        if status_callback:
            options["status_callback"] = status_callback
        try:
            message = self.client.messages.create(**options)
        except TwilioRestException as exc:
            raise SmsError(f"Twilio {exc.status} {exc.code}: {exc.msg}") from exc
        except TwilioException as exc:
            raise SmsError(str(exc)) from exc
        return message.sid


def get_sms_backend() -> SmsBackend:
    return import_string(settings.SMS_BACKEND)()
