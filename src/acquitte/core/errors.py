"""One error type for refused business operations, so every caller can show its message."""

from django.core.exceptions import ValidationError


class BusinessError(ValidationError):
    """A rule refused the operation; nothing was changed. The message is translated."""
