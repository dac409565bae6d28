"""No input gives a 500 (issue 11, item 5).

Every URL pattern of the urlconf (back office, portal, public links, admin, webhooks) is requested
with hostile path arguments and hostile values in every query parameter its view reads; every form
found on a page is posted with hostile values in each field (NUL bytes, non-numeric ids, huge
numbers, years 1 and 9999, 10 000 characters, '²', '-1', missing and duplicated fields). This is
done as staff of one organisation, as a signed-in customer and anonymously; any 500 fails.

To stay within a few seconds per role, each field gets a sample of the values (the dangerous ones
always, the others in rotation), not the full cross product.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from django.contrib import admin
from django.contrib.auth.tokens import default_token_generator
from django.core.signals import got_request_exception
from django.db import connection
from django.http import QueryDict
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern
from django.utils.datastructures import MultiValueDict
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from acquitte.customers import services as customer_services
from acquitte.customers.models import User
from acquitte.notifications.models import OutboundMessage
from acquitte.payments import services as payments
from acquitte.quotes import services as quotes
from tests import factories

HUGE = "99999999999999999999"
LONG = "x" * 10_000
NUL = "a\x00b"
#: Sent to every field and parameter.
ALWAYS = [NUL, HUGE, LONG]
#: Sent in rotation (each field gets the next few of these).
ROTATING = ["abc", "-1", "0", "²", "0001-01-01", "9999-12-31", "", "1e400", "NaN", "0.01", "\x00"]
MISSING, DUPLICATED = object(), object()
ROTATION = [*ROTATING, MISSING, DUPLICATED]
PER_FIELD = 3  # rotating values per field, on top of ALWAYS
ADMIN_FIELDS = 16  # fields posted per admin form

PASSWORD = "un-mot-de-passe-solide-42"
NEXT_YEAR_EXPIRY = "12/99"


# ---------------------------------------------------------------------------------------------------
# The data every page needs to be reached with valid arguments.


@dataclass
class World:
    org: Any
    staff: Any
    portal_user: Any
    objs: dict[str, Any]
    sessions: dict[str, str] = field(default_factory=dict)


@pytest.fixture
def world(org_qc, org_fr, settings) -> World:
    settings.ACQUITTE_RATE_LIMITS = {}  # the walk sends thousands of requests; limits are tested apart
    customer = factories.customer(org_qc, phone="+1 514 555 0142")
    contact = customer_services.add_contact(
        customer=customer, actor=factories.SYSTEM, name="Julie Roy", email="julie@cafe.example"
    )
    site = customer_services.add_site(
        customer=customer,
        actor=factories.SYSTEM,
        name="Succursale",
        line1="1 rue",
        city="Montréal",
        postal_code="H2X 1Y1",
        country="CA",
    )
    product = factories.product(org_qc, sku="HEB")
    draft_quote = quotes.create_quote(actor=factories.SYSTEM, organisation=org_qc, customer=customer)
    quotes.add_product(actor=factories.SYSTEM, quote=draft_quote, product=product)
    sent_quote = quotes.create_quote(actor=factories.SYSTEM, organisation=org_qc, customer=customer)
    quotes.add_product(actor=factories.SYSTEM, quote=sent_quote, product=product)
    sent_quote = quotes.send_quote(actor=factories.SYSTEM, quote=sent_quote)
    invoice = factories.invoice(org_qc, customer)
    paid = factories.invoice(org_qc, customer)
    payment = payments.record_payment(
        actor=factories.SYSTEM,
        organisation=org_qc,
        customer=customer,
        invoice=paid,
        amount=paid.total,
        method="cheque",
    )
    draft = factories.invoice(org_qc, customer, finalise=False)
    card = payments.add_card(
        actor=factories.SYSTEM,
        customer=customer,
        holder="A B",
        number="4242424242424242",
        cvv="123",
        expiry=NEXT_YEAR_EXPIRY,
    )
    message = OutboundMessage.objects.create(
        organisation=org_qc, channel="email", kind="t", to="x@example.test", body="b", status="failed"
    )
    staff = factories.staff(org_qc)
    portal_user = User.objects.create_user("client@cafe.test", PASSWORD, customer=customer)
    # Another organisation's objects, so that cross-tenant ids exist too.
    factories.invoice(org_fr, factories.customer(org_fr, name="Boulangerie Martin"))
    w = World(
        org=org_qc,
        staff=staff,
        portal_user=portal_user,
        objs={
            "customer": customer,
            "address": customer.addresses.get(),
            "contact": contact,
            "site": site,
            "product": product,
            "draft_quote": draft_quote,
            "draft_quote_line": draft_quote.lines.get(),
            "sent_quote": sent_quote,
            "invoice": invoice,
            "paid": paid,
            "payment": payment,
            "draft": draft,
            "draft_line": draft.lines.get(),
            "card": card,
            "message": message,
        },
    )
    anonymous = Client()
    for kind in ("card", "paypal", "debit"):
        start = anonymous.post(f"/i/{invoice.public_token}/payer/{kind}/")
        match = re.search(rf"/sandbox/{kind}/([^/]+)/", start.get("Location", ""))
        if match:
            w.sessions[kind] = match.group(1)
    return w


def valid_kwargs(name: str, w: World) -> list[dict[str, str]]:
    """Valid URL arguments of the pattern ``name`` (several when its argument picks a branch)."""
    o = w.objs
    customer, invoice = o["customer"].pk, o["invoice"].pk
    uid = urlsafe_base64_encode(force_bytes(w.portal_user.pk))
    parts = {"address": o["address"].pk, "contact": o["contact"].pk, "site": o["site"].pk}
    table: dict[str, list[dict[str, Any]]] = {
        "payments:webhook": [{"provider": p, "organisation": w.org.slug} for p in ("sandbox", "stripe")],
        "payments:hosted_return": [{"ticket": "x"}],
        "payments:sandbox_card": [{"session": w.sessions.get("card", "x")}],
        "payments:sandbox_paypal": [{"session": w.sessions.get("paypal", "x")}],
        "payments:sandbox_debit": [{"session": w.sessions.get("debit", "x")}],
        "documents:staff_pdf": [{"pk": invoice, "filename": o["invoice"].number}],
        "documents:staff_print": [{"pk": invoice}],
        "documents:public_pdf": [{"token": o["invoice"].public_token}],
        "portal:password_reset_confirm": [
            {"uidb64": uid, "token": default_token_generator.make_token(w.portal_user)}
        ],
        "portal:invoice_detail": [{"pk": invoice}],
        "portal:invoice_pdf": [{"pk": invoice}],
        "portal:invoice_pay": [
            {"pk": invoice, "kind": k} for k in ("saved", "declare", "card", "paypal", "debit")
        ],
        "portal:method_action": [{"pk": o["card"].pk, "action": a} for a in ("defaut", "retirer")],
        "portal:public_invoice": [{"token": o["invoice"].public_token}],
        "portal:public_pay": [{"token": o["invoice"].public_token, "kind": k} for k in ("card", "debit")],
        "portal:public_declare": [{"token": o["invoice"].public_token}],
        "quotes:public": [{"token": o["sent_quote"].public_token}],
        "quotes:public_approve": [{"token": o["sent_quote"].public_token}],
        "quotes:public_decline": [{"token": o["sent_quote"].public_token}],
        "quotes:public_pdf": [{"token": o["sent_quote"].public_token}],
        "backoffice:builder": [
            {"doc": "soumissions", "pk": o["draft_quote"].pk},
            {"doc": "factures", "pk": o["draft"].pk},
        ],
        "backoffice:builder_add": [{"doc": "factures", "pk": o["draft"].pk}],
        "backoffice:builder_new_product": [{"doc": "soumissions", "pk": o["draft_quote"].pk}],
        "backoffice:builder_line": [
            {"doc": "soumissions", "pk": o["draft_quote"].pk, "line_pk": o["draft_quote_line"].pk},
            {"doc": "factures", "pk": o["draft"].pk, "line_pk": o["draft_line"].pk},
        ],
        "backoffice:builder_remove": [
            {"doc": "factures", "pk": o["draft"].pk, "line_pk": o["draft_line"].pk}
        ],
        "backoffice:customer_detail": [{"pk": customer}],
        "backoffice:customer_edit": [{"pk": customer}],
        "backoffice:customer_add": [{"pk": customer, "what": what} for what in parts],
        "backoffice:address_default": [{"pk": customer, "address_pk": o["address"].pk}],
        "backoffice:customer_part_edit": [
            {"pk": customer, "what": what, "part_pk": pk} for what, pk in parts.items()
        ],
        "backoffice:customer_part_remove": [{"pk": customer, "what": "site", "part_pk": o["site"].pk}],
        "backoffice:product_edit": [{"pk": o["product"].pk}],
        "backoffice:quote_detail": [{"pk": o["draft_quote"].pk}, {"pk": o["sent_quote"].pk}],
        "backoffice:quote_review": [{"pk": o["draft_quote"].pk}],
        "backoffice:quote_pdf": [{"pk": o["sent_quote"].pk}],
        "backoffice:quote_action": [
            {"pk": o["sent_quote"].pk, "action": a} for a in ("send", "decline", "approve")
        ],
        "backoffice:invoice_detail": [{"pk": pk} for pk in (invoice, o["draft"].pk, o["paid"].pk)],
        "backoffice:invoice_pdf": [{"pk": invoice}],
        "backoffice:invoice_record_payment": [{"pk": invoice}],
        "backoffice:invoice_action": [
            {"pk": invoice, "action": a} for a in ("dates", "online", "send", "credit", "revoke")
        ],
        "backoffice:provider_connect": [{"provider": p} for p in ("stripe", "gocardless", "paypal")],
        "backoffice:provider_disconnect": [{"provider": "paypal"}],
        "backoffice:payment_refund": [{"pk": o["payment"].pk}],
        "backoffice:message": [{"pk": o["message"].pk}],
        "backoffice:message_retry": [{"pk": o["message"].pk}],
    }
    return [{k: str(v) for k, v in kwargs.items()} for kwargs in table.get(name, [])]


def admin_object_id(route: str) -> str | None:
    """The pk of an object of the organisation for an admin route ``admin/<app>/<model>/...``."""
    match = re.match(r"admin/(\w+)/(\w+)/", route)
    if not match:
        return None
    for model in admin.site._registry:
        if (model._meta.app_label, model._meta.model_name) == match.groups():
            obj = model._default_manager.order_by("pk").first()
            return str(obj.pk) if obj is not None else None
    return None


# ---------------------------------------------------------------------------------------------------
# The urlconf, flattened.

CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")


@dataclass
class Route:
    route: str  # with its <converter:name> parts
    name: str  # namespaced, or "" for an unnamed pattern

    def url(self, kwargs: dict[str, str]) -> str:
        return "/" + CONVERTER.sub(lambda m: quote_path(kwargs[m.group(2)]), self.route)

    @property
    def arguments(self) -> list[tuple[str, str]]:
        return [(m.group(1) or "str", m.group(2)) for m in CONVERTER.finditer(self.route)]


def quote_path(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def routes() -> list[Route]:
    found: list[Route] = []

    def walk(resolver: URLResolver, prefix: str, namespace: str) -> None:
        for p in resolver.url_patterns:
            if isinstance(p, URLResolver):
                ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
                walk(p, prefix + str(p.pattern), ns)
            elif isinstance(p, URLPattern):
                if isinstance(p.pattern, RegexPattern):
                    # The admin's app index: one URL per application label.
                    for label in sorted({m._meta.app_label for m in admin.site._registry}):
                        found.append(Route(prefix + f"{label}/", f"{namespace}{p.name}"))
                else:
                    found.append(Route(prefix + str(p.pattern), f"{namespace}{p.name}" if p.name else ""))

    walk(get_resolver(), "", "")
    return found


def hostile_path_values(converter: str, admin: bool = False) -> list[str]:
    if converter == "int":
        return ["0", HUGE]
    if admin:  # Django's own views behind every admin URL: fewer values each
        return ["abc", "\x00", HUGE]
    return ["abc", "²", "\x00", "x" * 300, "-1", HUGE]


def route_urls(route: Route, w: World) -> tuple[list[str], list[str]]:
    """(valid URLs, hostile URLs) of one route."""
    arguments = route.arguments
    if not arguments:
        return [route.url({})], []
    if route.route.startswith("admin/"):
        object_id = admin_object_id(route.route)
        valid = [{"object_id": object_id}] if object_id and [a for _, a in arguments] == ["object_id"] else []
        if route.name.endswith("view_on_site"):
            valid = []
        base = valid[0] if valid else {name: "1" for _, name in arguments}
    else:
        # A route missing from valid_kwargs is still walked, with placeholder arguments.
        valid = valid_kwargs(route.name, w) or [
            {name: "1" if converter == "int" else "x" for converter, name in arguments}
        ]
        base = valid[0]
    hostile = []
    for converter, name in arguments:
        for value in hostile_path_values(converter, route.route.startswith("admin/")):
            hostile.append(route.url({**base, name: value}))
    return [route.url(kwargs) for kwargs in valid], hostile


# ---------------------------------------------------------------------------------------------------
# Forms and links, parsed from the pages.


@dataclass
class Form:
    action: str
    method: str
    fields: list[tuple[str, str]]  # (name, default value), in order; a name may repeat

    @property
    def key(self) -> tuple[str, str, tuple[str, ...]]:
        return (self.action, self.method, tuple(sorted({n for n, _ in self.fields})))


class PageParser(HTMLParser):
    def __init__(self, page_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.forms: list[Form] = []
        self.query_names: set[str] = set()
        self._form: Form | None = None
        self._select: tuple[str, list[str], list[str]] | None = None  # name, options, selected
        self._option: str | None = None
        self._textarea: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and "?" in a.get("href", ""):
            href = a["href"]
            if href.startswith("?") or urlsplit(href).path == urlsplit(self.page_url).path:
                self.query_names |= {k for k, _ in parse_qsl(urlsplit(href).query, keep_blank_values=True)}
        if tag == "form":
            action = a.get("action") or self.page_url
            self._form = Form(action=action, method=a.get("method", "get").lower(), fields=[])
            self.forms.append(self._form)
        if self._form is None:
            return
        name = a.get("name")
        if tag in ("input", "button") and name:
            kind = a.get("type", "text" if tag == "input" else "submit").lower()
            if kind == "file":
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self._form.fields.append((name, a.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "select" and name:
            self._select = (name, [], [])
        elif tag == "option" and self._select is not None:
            value = a.get("value")
            self._option = value
            if value is not None:
                self._select[1].append(value)
                if "selected" in a:
                    self._select[2].append(value)
        elif tag == "textarea" and name:
            self._textarea = (name, [])

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea[1].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select" and self._select is not None:
            name, options, selected = self._select
            if self._form is not None:
                chosen = selected or [next((o for o in options if o), options[0] if options else "")]
                self._form.fields.extend((name, value) for value in chosen)
            self._select = None
        elif tag == "option":
            self._option = None
        elif tag == "textarea" and self._textarea is not None:
            if self._form is not None:
                self._form.fields.append((self._textarea[0], "".join(self._textarea[1])))
            self._textarea = None


# ---------------------------------------------------------------------------------------------------
# What the views read from the query string, recorded while they run.


class ReadRecorder:
    """Records the names a view reads from any QueryDict (GET and POST) while it runs."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.names: set[str] = set()
        recorder = self
        for method in ("get", "getlist", "__getitem__"):
            original = getattr(MultiValueDict, method)

            def spy(self: MultiValueDict, key: Any, *args: Any, _original: Any = original) -> Any:
                if isinstance(self, QueryDict) and isinstance(key, str):
                    recorder.names.add(key)
                return _original(self, key, *args)

            monkeypatch.setattr(MultiValueDict, method, spy)
        original_contains = dict.__contains__

        def contains(self: MultiValueDict, key: object) -> bool:
            if isinstance(self, QueryDict) and isinstance(key, str):
                recorder.names.add(key)
            return original_contains(self, key)

        monkeypatch.setattr(MultiValueDict, "__contains__", contains)

    def start(self) -> None:
        self.names = set()


# ---------------------------------------------------------------------------------------------------
# The walk.

#: Names read by middleware or the framework on every request, not worth a hostile value each.
IGNORED_NAMES = {"csrfmiddlewaretoken", "HTTP_HX_REQUEST", "language", "next"}


@dataclass
class Walker:
    client: Client
    failures: list[str] = field(default_factory=list)
    requests: int = 0
    last_error: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.client.raise_request_exception = False

    def on_exception(self, **kwargs: Any) -> None:
        exc = sys.exc_info()[1]
        if exc is not None:
            frames = traceback.extract_tb(exc.__traceback__)
            where = next(
                (
                    f"{f.filename.split('src/')[-1]}:{f.lineno}"
                    for f in reversed(frames)
                    if "acquitte" in f.filename
                ),
                frames[-1].filename if frames else "?",
            )
            self.last_error.append(f"{type(exc).__name__}: {str(exc)[:120]} at {where}")

    def request(self, method: str, path: str, data: Any = None, **extra: Any) -> Any:
        self.requests += 1
        self.last_error.clear()
        try:
            response = getattr(self.client, method)(path, data, **extra)
        except Exception as exc:  # the client itself refused what it was given
            self.failures.append(f"{method.upper()} {shorten(path)} {summary(data)} raised {exc!r}"[:400])
            return None
        if response.status_code >= 500:
            error = self.last_error[0] if self.last_error else ""
            self.failures.append(
                f"{method.upper()} {shorten(path)} {summary(data)} → {response.status_code} {error}"[:400]
            )
        return response


def shorten(text: str) -> str:
    return re.sub(r"x{20,}", "x…", text.replace("\x00", "\\0"))[:160]


def summary(data: Any) -> str:
    if not data:
        return ""
    if isinstance(data, bytes):
        return shorten(repr(data[:60]))
    items = data.items() if isinstance(data, dict) else data
    return shorten(",".join(f"{k}={v!r}"[:40] for k, v in items if k != "csrfmiddlewaretoken"))


def sample(index: int, area: str = "") -> list[Any]:
    """The values field number ``index`` gets: the dangerous ones, and the next few in rotation.

    The admin's pages are many and alike (Django's own code behind each): there each field gets
    two of all the values in turn, so that every value still meets every kind of field.
    """
    if area.startswith("admin"):
        every = [*ALWAYS, *ROTATION]
        return [every[(index * 2 + k) % len(every)] for k in range(2)]
    return ALWAYS + [ROTATION[(index * PER_FIELD + k) % len(ROTATION)] for k in range(PER_FIELD)]


def with_value(fields: list[tuple[str, str]], name: str, value: Any) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for n, v in fields:
        data.setdefault(n, []).append(v)
    if value is MISSING:
        data.pop(name, None)
    elif value is DUPLICATED:
        data[name] = [*data.get(name, [""]), "abc", HUGE]
    else:
        data[name] = [value]
    return data


def signed_in(role: str, w: World) -> Client:
    client = Client()
    if role == "staff":
        client.force_login(w.staff, backend="django.contrib.auth.backends.ModelBackend")
    elif role == "customer":
        client.force_login(w.portal_user, backend="django.contrib.auth.backends.ModelBackend")
    return client


#: The admin's applications, in two halves that run side by side.
ADMIN_FIRST_HALF = ("admin/core/", "admin/customers/", "admin/catalog/", "admin/auth/", "admin/axes/")


def area_of(route: Route) -> str:
    if route.route.startswith(ADMIN_FIRST_HALF):
        return "admin-1"
    if route.route.startswith("admin/"):
        return "admin-2"
    if route.route.startswith("gestion/"):
        return "gestion"
    return "public"


#: URLs whose POST would sign the walker out or throw its data away; their forms are still posted.
LAST = ("deconnexion", "logout", "supprimer", "retirer", "delete")


def refuse_nul(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    """PostgreSQL refuses a NUL byte in a string; SQLite stores it. Behave like PostgreSQL here."""
    rows = params if many else [params]
    for row in rows or ():
        values = row.values() if isinstance(row, dict) else row
        for value in values or ():
            if isinstance(value, str) and "\x00" in value:
                raise ValueError("A string literal cannot contain NUL (0x00) characters.")
    return execute(sql, params, many, context)


@pytest.fixture
def walker_for(world, monkeypatch):
    recorder = ReadRecorder(monkeypatch)
    # The walk logs thousands of 4xx; keep the report readable.
    monkeypatch.setattr(logging.getLogger("django.request"), "disabled", True)
    monkeypatch.setattr(logging.getLogger("django.security"), "disabled", True)
    walkers: list[Walker] = []

    def make(role: str) -> tuple[Walker, ReadRecorder]:
        walker = Walker(client=signed_in(role, world))
        got_request_exception.connect(walker.on_exception)
        walkers.append(walker)
        return walker, recorder

    with connection.execute_wrapper(refuse_nul):
        yield make
    for walker in walkers:
        got_request_exception.disconnect(walker.on_exception)


def walk_pages(walker: Walker, recorder: ReadRecorder, w: World, area: str) -> list[Form]:
    """GET every URL of ``area`` (valid and hostile arguments), then each query parameter its view
    reads with hostile values. Returns the forms found on the pages."""
    forms: dict[tuple[str, str, tuple[str, ...]], Form] = {}
    selected = [r for r in routes() if area_of(r) == area]
    selected.sort(key=lambda r: any(word in r.route for word in LAST))
    for route in selected:
        valid, hostile = route_urls(route, w)
        for url in valid:
            recorder.start()
            response = walker.request("get", url)
            names = set(recorder.names)
            if (
                response is not None
                and response.status_code == 200
                and "html" in response.get("Content-Type", "")
            ):
                parser = PageParser(url)
                parser.feed(response.content.decode(errors="replace"))
                names |= parser.query_names
                for form in parser.forms:
                    if form.method == "get":
                        names |= {n for n, _ in form.fields}
                    else:
                        forms.setdefault(form.key, form)
            for index, name in enumerate(sorted(names - IGNORED_NAMES)):
                for value in sample(index, area):
                    if value is MISSING:
                        continue
                    query = [(name, "abc"), (name, HUGE)] if value is DUPLICATED else [(name, value)]
                    walker.request("get", f"{url}?{urlencode(query)}")
        for url in hostile:
            walker.request("get", url)
            walker.request("post", url, {"id": HUGE, "pk": "abc", "customer": NUL})
    return list(forms.values())


def worth_a_value(name: str) -> bool:
    """A field to fill with hostile values: the rows of a formset after the first are alike."""
    if name == "csrfmiddlewaretoken" or "__prefix__" in name:
        return False
    row = re.search(r"-(\d+)-", name)
    return row is None or row.group(1) == "0"


def post_forms(walker: Walker, forms: list[Form], area: str) -> None:
    forms.sort(key=lambda f: any(word in f.action for word in LAST))
    for form in forms:
        method = form.method if form.method in ("post", "put", "delete") else "post"
        names = [n for n in dict.fromkeys(n for n, _ in form.fields) if worth_a_value(n)]
        walker.request(method, form.action, {})  # every field missing
        # An admin form renders in ~0.1 s: at most ADMIN_FIELDS of its fields, evenly spread.
        step = -(-len(names) // ADMIN_FIELDS) if area.startswith("admin") else 1
        for index, name in enumerate(names):
            if index % step:
                continue
            for value in sample(index, area):
                walker.request(method, form.action, with_value(form.fields, name, value))


def post_everywhere(walker: Walker, w: World, area: str) -> None:
    """POST to every valid URL of the area with hostile values in the names views commonly read."""
    names = ["customer", "product", "method", "amount", "key", "quantity", "kind", "reason", "q"]
    for route in sorted(
        (r for r in routes() if area_of(r) == area), key=lambda r: any(word in r.route for word in LAST)
    ):
        valid, _ = route_urls(route, w)
        for url in valid:
            for value in (NUL, HUGE, "abc", "-1", LONG):
                walker.request("post", url, dict.fromkeys(names, value))


def webhook_bodies(walker: Walker, w: World) -> None:
    """The webhook endpoint before any signature: hostile headers and bodies."""
    url = f"/webhooks/sandbox/{w.org.slug}/"
    digits = "9" * 400
    for header in (f"t={digits},v1=00", "t=,v1=", "x" * 10_000, "t=1" + ",v1=a" * 5000, "\x00"):
        walker.request("post", url, b"{}", content_type="application/json", HTTP_SANDBOX_SIGNATURE=header)
    for body in (b"NaN", b"[" * 100_000 + b"]" * 100_000, b"1" * 5000, b"\x00", b"\xff\xfe"):
        walker.request("post", url, body, content_type="application/json", HTTP_SANDBOX_SIGNATURE="t=1,v1=0")
    for provider in ("stripe", "gocardless", "paypal"):
        walker.request(
            "post", f"/webhooks/{provider}/{w.org.slug}/", b"[" * 100_000, content_type="application/json"
        )


CASES = [
    ("staff", "gestion"),
    ("staff", "admin-1"),
    ("staff", "admin-2"),
    ("staff", "public"),
    ("customer", "public"),
    ("customer", "gestion"),
    ("anonymous", "public"),
    ("anonymous", "gestion"),
    ("anonymous", "admin-1"),
    ("anonymous", "admin-2"),
]


@pytest.mark.parametrize(("role", "area"), CASES, ids=[f"{r}-{a}" for r, a in CASES])
def test_no_500_on_hostile_input(world, walker_for, role, area):
    walker, recorder = walker_for(role)
    forms = walk_pages(walker, recorder, world, area)
    if (role, area) == ("staff", "gestion"):  # the walk is only as good as what it finds
        customer, invoice = world.objs["customer"].pk, world.objs["invoice"].pk
        found = {form.action for form in forms}
        for expected in (
            f"/gestion/clients/{customer}/ajouter/contact/",
            f"/gestion/clients/{customer}/ajouter/address/",
            f"/gestion/factures/{invoice}/paiement/",
        ):
            assert expected in found, sorted(found)
    post_forms(walker, forms, area)
    post_everywhere(walker, world, area)
    if area == "public":
        webhook_bodies(walker, world)
    assert walker.requests > 50
    assert not walker.failures, f"{len(walker.failures)} of {walker.requests} requests failed:\n" + "\n".join(
        walker.failures[:80]
    )
