"""Times on a signed-in reader's pages in their organisation's time zone, not the server's."""

import zoneinfo
from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase
from django.utils import timezone

from .selectors import reader_time_zone


class OrganisationTimeZoneMiddleware:
    """A French merchant's history said 13:15 for a payment made at 19:15 in Paris: every page
    printed times in the server's zone (America/Toronto by default). After authentication, this
    activates the reader's organisation's zone (its billing settings) for the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        user = request.user
        zone = (
            reader_time_zone(organisation_id=user.organisation_id, customer_id=user.customer_id)
            if user.is_authenticated
            else None
        )
        if zone is None:
            return self.get_response(request)
        timezone.activate(zoneinfo.ZoneInfo(zone))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
