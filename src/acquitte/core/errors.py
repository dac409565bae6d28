"""One error type for refused business operations, with a stable code beside its translated message.

The code is what programs rely on (the API maps it to a problem type, tests assert it); the
message is what people read, in their language.
"""

from enum import StrEnum
from typing import Any

from django.core.exceptions import ValidationError


class ErrorCode(StrEnum):
    INVALID_INPUT = "invalid_input"
    NOT_FOUND = "not_found"
    INVALID_STATE = "invalid_state"
    DOCUMENT_FINALISED = "document_finalised"
    INVALID_AMOUNT = "invalid_amount"
    INVALID_DATE = "invalid_date"
    CURRENCY_MISMATCH = "currency_mismatch"
    NUMBERING = "numbering"
    CREDIT_EXCEEDED = "credit_exceeded"
    NOT_PAYABLE = "not_payable"
    ONLINE_PAYMENT_OFF = "online_payment_off"
    PAYMENT_IN_PROGRESS = "payment_in_progress"
    PAYMENT_DECLINED = "payment_declined"
    PAYMENT_METHOD_INVALID = "payment_method_invalid"
    REFUND_REFUSED = "refund_refused"
    PROVIDER_NOT_CONNECTED = "provider_not_connected"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    PROVIDER_CREDENTIALS = "provider_credentials"
    QUOTE_CLOSED = "quote_closed"
    DUPLICATE = "duplicate"
    IN_USE = "in_use"
    TERMS_NOT_ACCEPTED = "terms_not_accepted"
    LINK_REPLACED = "link_replaced"
    #: Seed 002 "Attention !": the billing sub-contact is not the card holder; the customer must confirm.
    HOLDER_MISMATCH = "holder_mismatch"


class BusinessError(ValidationError):
    """A rule refused the operation; nothing was changed. The message is translated."""

    def __init__(self, message: Any, *, code: ErrorCode, params: dict[str, Any] | None = None) -> None:
        super().__init__(message, code=str(code), params=params)
        self.error_code = code

    def text(self) -> str:
        """All of the messages as one sentence, for a page banner or a command's output."""
        return " ".join(self.messages)
