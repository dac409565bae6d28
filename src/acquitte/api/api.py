"""The JSON API at ``/api/v1/``: django-ninja, its OpenAPI document and docs served from the
package's own files; every operation behind an API key and its rate limit."""

from typing import Any

from django.conf import settings
from ninja import NinjaAPI
from ninja.openapi.docs import Swagger

from . import problems
from .auth import ApiKeyAuth, KeyRateThrottle
from .problems import PROBLEM_JSON
from .routers import customers, invoices, products

DESCRIPTION = """Acquitte's API for a merchant's own programs: the objects and actions of the back office.

* **Authentication**: `Authorization: Bearer acq_…`, a key made by the organisation's owner in the back
  office (Paramètres → Clés d'API). A read-only key may not write (403). Another organisation's ids answer 404.
* **Money** travels as decimal strings (`"1234.50"`) in the document's currency; dates are ISO 8601.
* **Idempotency**: send `Idempotency-Key` on a POST; the same key and body replay the first response
  (header `Idempotent-Replayed: true`), another body answers 422, a request still in flight 409. Kept 24 hours.
* **Errors** are RFC 9457 `application/problem+json`: `type` is `urn:acquitte:problem:<code>`, `title` in the
  language of `Accept-Language` (French or English), `errors` lists the fields.
* **Lists** are pages: pass `next_cursor` back as `cursor`; `limit` up to 100.
* **Rate limit** per key; over it, 429 with `Retry-After`.
"""


class AcquitteAPI(NinjaAPI):
    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        """ninja's document, with the errors under the media type they are sent with."""
        document = super().get_openapi_schema(*args, **kwargs)
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                for status, answer in operation.get("responses", {}).items():
                    content = answer.get("content", {})
                    if str(status).startswith(("4", "5")) and "application/json" in content:
                        content[PROBLEM_JSON] = content.pop("application/json")
        return document


api = AcquitteAPI(
    title="Acquitte API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api",
    auth=ApiKeyAuth(),
    throttle=[KeyRateThrottle(settings.API_RATE_LIMIT)],
    docs=Swagger(settings={"persistAuthorization": True}),
    docs_url="/docs",
    openapi_url="/openapi.json",
)
problems.install(api)
api.add_router("/customers", customers.router)
api.add_router("/products", products.router)
api.add_router("/invoices", invoices.router)
