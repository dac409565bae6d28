"""The headers a billing site needs (issue 11, item 9), checked over HTTP on the pages of every kind:
a strict CSP that the pages actually keep (no inline script, style or handler), HSTS, a
Permissions-Policy, and no-store on signed-in pages, token pages and documents."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import override_settings

import acquitte
from acquitte.customers.models import User
from acquitte.quotes import services as quotes
from tests import factories

SRC = Path(acquitte.__file__).parent
PASSWORD = "un-mot-de-passe-solide-42"


class InlineFinder(HTMLParser):
    """Collects what a strict CSP would refuse in a page: inline <script>, <style>, on*= and style=."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _value in attrs}
        if tag == "script" and "src" not in names:
            self.found.append("<script> without src")
        if tag == "style":
            self.found.append("<style>")
        self.found += [f"<{tag} {name}=>" for name in names if name.startswith("on") or name == "style"]
        self.found += [
            f"<{tag} {name}=javascript:>"
            for name, value in attrs
            if name in {"href", "src", "action"} and (value or "").strip().lower().startswith("javascript:")
        ]


def inline_parts(html: str) -> list[str]:
    finder = InlineFinder()
    finder.feed(html)
    return finder.found


def csp(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in (p.strip() for p in header.split(";")) if part}


@pytest.fixture
def world(client, org_qc, customer_qc):
    """One page of every kind, with what it takes to reach it."""
    invoice = factories.invoice(org_qc, customer_qc)
    quote = quotes.create_quote(actor=factories.SYSTEM, organisation=org_qc, customer=customer_qc)
    quotes.add_product(actor=factories.SYSTEM, quote=quote, product=factories.product(org_qc), quantity=1)
    quote = quotes.send_quote(actor=factories.SYSTEM, quote=quote)
    start = client.post(f"/i/{invoice.public_token}/payer/card/")
    assert start.status_code == 302 and "/sandbox/card/" in start.url
    return {
        "invoice": invoice,
        "quote": quote,
        "checkout": start.url,
        "staff": factories.staff(org_qc),
        "customer": User.objects.create_user("client@cafe.test", PASSWORD, customer=customer_qc),
    }


def public_pages(w) -> list[str]:
    token = w["invoice"].public_token
    return [
        "/connexion/",
        "/mot-de-passe/",
        f"/i/{token}/",
        f"/q/{w['quote'].public_token}/",
        w["checkout"],
    ]


def public_documents(w) -> list[str]:
    return [f"/i/{w['invoice'].public_token}/pdf/", f"/q/{w['quote'].public_token}/pdf/"]


def customer_pages(w) -> list[str]:
    pk = w["invoice"].pk
    return ["/", "/factures/", f"/factures/{pk}/", "/facturation/"]


def staff_pages(w) -> list[str]:
    inv, quote = w["invoice"], w["quote"]
    return [
        "/gestion/",
        "/gestion/factures/",
        f"/gestion/factures/{inv.pk}/",
        "/gestion/soumissions/",
        f"/gestion/soumissions/{quote.pk}/",
        "/gestion/clients/",
        f"/gestion/clients/{inv.customer_id}/",
        "/gestion/catalogue/",
        "/gestion/reglages/paiement/",
        "/gestion/messages/",
        "/gestion/notifications/",
        f"/documents/factures/{inv.pk}/impression/",
    ]


def visit(client, w):
    """(url, response) for every page and document, as the person who may see it."""
    for url in public_pages(w) + public_documents(w):
        yield url, client.get(url)
    client.force_login(w["customer"], backend="django.contrib.auth.backends.ModelBackend")
    for url in [*customer_pages(w), f"/factures/{w['invoice'].pk}/pdf/"]:
        yield url, client.get(url)
    client.logout()
    client.force_login(w["staff"], backend="django.contrib.auth.backends.ModelBackend")
    for url in [*staff_pages(w), f"/gestion/factures/{w['invoice'].pk}/pdf/"]:
        yield url, client.get(url)


def test_every_page_has_a_strict_csp_and_keeps_it(client, world):
    seen = 0
    for url, response in visit(client, world):
        assert response.status_code == 200, url
        policy = csp(response)
        assert policy["default-src"] == ["'none'"], url
        assert policy["script-src"] == ["'self'"], url
        assert policy["style-src"] == ["'self'"], url
        assert policy["object-src"] == policy["base-uri"] == policy["frame-ancestors"] == ["'none'"], url
        assert policy["form-action"][0] == "'self'", url
        header = response["Content-Security-Policy"]
        assert "unsafe-inline" not in header and "unsafe-eval" not in header and "*" not in header
        if response["Content-Type"].startswith("text/html"):
            assert inline_parts(response.content.decode()) == [], url
            seen += 1
    assert seen >= 20


def test_no_template_has_inline_script_style_or_handlers():
    """Every template the browser gets (e-mails aside, which no CSP governs)."""
    offenders = []
    for path in SRC.rglob("templates/**/*.html"):
        if "/email/" in path.as_posix():
            continue
        text = path.read_text()
        # Template tags may hide a quote or a '>': strip them before looking at the HTML.
        html = re.sub(r"{%.*?%}|{{.*?}}|{#.*?#}", "x", text, flags=re.S)
        offenders += [f"{path.relative_to(SRC)}: {part}" for part in inline_parts(html)]
        offenders += [
            f"{path.relative_to(SRC)}: {m.group()}" for m in re.finditer(r"\son[a-z]+\s*=|\sstyle\s*=", text)
        ]
    assert offenders == []


def test_the_page_behaviour_is_a_static_deferred_script():
    base = (SRC / "templates" / "base.html").read_text()
    assert re.search(r"<script src=\"{% static 'acquitte.js' %}\" defer></script>", base)
    js = (SRC / "static" / "acquitte.js").read_text()
    for hook in ("data-autosubmit", "data-select-on-focus", "data-print", "data-confirm", "X-CSRFToken"):
        assert hook in js
    assert (SRC / "static" / "django_htmx").exists() or "django_htmx/htmx-2.min.js" in (
        SRC / "backoffice" / "templates" / "backoffice" / "layout.html"
    ).read_text()


def test_no_store_on_signed_in_pages_token_pages_and_documents(client, world):
    for url, response in visit(client, world):
        assert "no-store" in response["Cache-Control"], url
    documents = [
        r for u, r in visit(client, world) if r["Content-Type"] == "application/pdf" and u.endswith("pdf/")
    ]
    assert len(documents) == 4


def test_other_security_headers(client, world):
    response = client.get(f"/i/{world['invoice'].public_token}/")
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    policy = dict(p.strip().split("=", 1) for p in response["Permissions-Policy"].split(","))
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert policy[feature] == "()"


def test_hsts_over_https_and_the_proxy_header(client, db):
    plain = client.get("/connexion/")
    assert "Strict-Transport-Security" not in plain  # HSTS is only ever sent over HTTPS
    secure = client.get("/connexion/", secure=True)
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    with override_settings(SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https")):
        proxied = client.get("/connexion/", headers={"X-Forwarded-Proto": "https"})
    assert proxied["Strict-Transport-Security"].startswith("max-age=31536000")
