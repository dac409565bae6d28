"""Sign-in lockouts (django-axes): per account and per address, each with its own threshold.

- Per account: ``AXES_FAILURE_LIMIT`` failures on one e-mail, from any number of addresses, lock
  that account (guesses spread over several addresses are caught).
- Per address: ``ACQUITTE_LOCKOUT_ADDRESS_LIMIT`` failures from one address, on any accounts, lock
  that address (password spraying is caught), while a few mistakes by one person behind an office's
  shared address lock only their own account, not their colleagues'.

Axes compares one count with one limit, so the handler folds the two counts into one: an address
past its own (higher) threshold counts as a locked account. Both last ``AXES_COOLOFF_TIME``; staff
lift an account's lockout from the back office (``customers.services.unlock_account``).
"""

from __future__ import annotations

import logging
from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

log = logging.getLogger("acquitte.security")


def username(request: HttpRequest, credentials: dict[str, Any] | None) -> str | None:
    """The account a sign-in names, as the user model keeps e-mails (trimmed, lower case), so that
    ``Marie@…`` and ``marie@…`` count as the same account."""
    source: Any = credentials if credentials else getattr(request, "POST", {})
    value = source.get("username") if source else None
    if not isinstance(value, str):
        return None
    return value.strip().lower()[:255] or None


def _sum(attempts: Any) -> int:
    return int(attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0)


class AccountAndAddressHandler(AxesDatabaseHandler):  # type: ignore[misc]
    """``AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]``, with a threshold for each."""

    def get_failures(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
        # One queryset per lockout parameter, in the settings' order: account, then address.
        per_account, per_address = (_sum(q) for q in self.get_user_attempts(request, credentials))
        account_limit = int(get_failure_limit(request, credentials))
        if per_address >= max(settings.ACQUITTE_LOCKOUT_ADDRESS_LIMIT, account_limit):
            return max(per_address, account_limit)
        return per_account

    def reset_user_attempts(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
        """A successful sign-in clears that account's failures from that address only: it neither
        wipes what the address did to other accounts (a sprayer holding one real account could
        otherwise reset their count) nor what other addresses did to this account."""
        count, _rows = AccessAttempt.objects.filter(
            username=get_client_username(request, credentials),
            ip_address=getattr(request, "axes_ip_address", None),
        ).delete()
        return int(count)


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """The 429 page for a locked sign-in, with the cool-off in Retry-After."""
    from .ratelimits import too_many_requests

    cool_off = get_cool_off(request)
    seconds = int(cool_off.total_seconds()) if cool_off else 900
    return too_many_requests(
        request,
        message=_("Trop de tentatives de connexion : ce compte ou votre adresse est bloqué temporairement."),
        retry_after=seconds,
    )


def log_lockout(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    """Every lockout leaves a line naming the account and the address."""
    log.warning(
        "Sign-in locked out: account=%s address=%s",
        kwargs.get("username") or "-",
        kwargs.get("ip_address") or "-",
    )
