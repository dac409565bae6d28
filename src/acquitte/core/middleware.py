"""Response headers the whole app shares."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase


class NoStoreMiddleware:
    """``Cache-Control: no-store`` on every response the app builds, unless its view chose otherwise.

    Pages behind a sign-in, token pages (``/i/<token>/``, ``/q/<token>/``, checkout) and documents
    (PDFs) show personal data: no browser, proxy or shared cache may keep them. Saying it for every
    response rather than for a list of pages means a new page is covered without anyone remembering.
    Static files are served by WhiteNoise, above this middleware, with their own long cache.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            response["Cache-Control"] = "no-store"
        return response
