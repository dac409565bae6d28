"""Reads of the subscriptions app: the organisation's billing settings and the date its runs take as today."""

import datetime
import zoneinfo
from typing import TYPE_CHECKING

from django.utils import timezone

from acquitte.payments.selectors import saved_methods_available

from .models import BillingSettings

if TYPE_CHECKING:
    from acquitte.customers.models import Organisation


def billing_settings(organisation: "Organisation") -> BillingSettings:
    """The organisation's settings, the defaults (2nd and 22nd) until an owner changes them."""
    found, _created = BillingSettings.objects.get_or_create(organisation=organisation)
    return found


def in_test_mode(organisation: "Organisation") -> bool:
    """Test mode is the sandbox connected: only then may a test clock move the runs' date."""
    return saved_methods_available(organisation.pk)


def real_today(settings: BillingSettings) -> datetime.date:
    return timezone.now().astimezone(zoneinfo.ZoneInfo(settings.time_zone)).date()


def today_for(organisation: "Organisation") -> datetime.date:
    """The date the runs of this organisation take as today: its test clock in test mode, else
    the real date in its own time zone."""
    settings = billing_settings(organisation)
    if settings.test_clock is not None and in_test_mode(organisation):
        return settings.test_clock
    return real_today(settings)
