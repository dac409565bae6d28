"""The portal's top bar at phone and desktop widths, in real Chromium: the menu stays on one line,
every item reachable, and the page never scrolls sideways (issue 18)."""

import os

import pytest

from acquitte.customers.models import User
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "un-mot-de-passe-solide-42"
SHOTS = os.environ.get("ACQUITTE_SHOTS", "")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


def shot(page, name):
    """Screenshots for a person to look at, only when ACQUITTE_SHOTS names a folder."""
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/{name}.png")


@pytest.fixture
def customer_login():
    org = factories.quebec_organisation("e2e-menu")
    org.name = "Télécommunications des Laurentides inc."
    org.save(update_fields=["name"])
    customer = factories.customer(org)
    User.objects.create_user("client@menu.test", PASSWORD, customer=customer)
    return "client@menu.test"


def boxes(page, selector):
    return [page.locator(selector).nth(i).bounding_box() for i in range(page.locator(selector).count())]


@pytest.mark.parametrize(
    ("name", "viewport", "mobile"),
    [
        ("phone", PHONE, True),
        ("tablet", {"width": 600, "height": 900}, True),
        ("narrow", {"width": 900, "height": 700}, False),
        ("desktop", DESKTOP, False),
    ],
)
def test_the_menu_holds_on_one_line(live_server, browser, customer_login, name, viewport, mobile):
    context = browser.new_context(locale="fr-CA", viewport=viewport, is_mobile=mobile, has_touch=mobile)
    try:
        page = context.new_page()
        refused: list[str] = []
        page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(f"{live_server.url}/connexion/")
        page.fill("#id_username", customer_login)
        page.fill("#id_password", PASSWORD)
        page.get_by_role("button", name="Connexion").click()
        page.goto(f"{live_server.url}/")
        for language in ("fr", "en"):
            if language == "en":
                with page.expect_navigation():
                    page.select_option("#language", "en")
                page.wait_for_load_state("networkidle")
                assert page.locator("html").get_attribute("lang") == "en"
            shot(page, f"portal-menu-{name}-{language}")
            links = boxes(page, "nav.tabs > a, nav.tabs summary")
            assert len(links) == 4
            # every item on the same line, none cut off by the menu's or the window's edge
            nav = page.locator("nav.tabs").bounding_box()
            right = min(nav["x"] + nav["width"], viewport["width"]) + 0.5
            assert len({round(b["y"]) for b in links}) == 1, links
            assert all(b["x"] >= nav["x"] - 0.5 and b["x"] + b["width"] <= right for b in links), links
            # the page does not scroll sideways, and the bar keeps its sign-out and language
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
            for selector in (".tabs.account button", "#language", ".brand"):
                box = page.locator(selector).bounding_box()
                assert box is not None and box["x"] + box["width"] <= viewport["width"], selector
            # the bar's parts do not overlap one another
            header = [
                page.locator(s).bounding_box() for s in (".brand", "nav.tabs", ".tabs.account", ".lang")
            ]
            for i, a in enumerate(header):
                for b in header[i + 1 :]:
                    apart = (
                        a["x"] + a["width"] <= b["x"] + 1
                        or b["x"] + b["width"] <= a["x"] + 1
                        or a["y"] + a["height"] <= b["y"] + 1
                        or b["y"] + b["height"] <= a["y"] + 1
                    )
                    assert apart, (a, b)
            # FACTURES opens its sub-menu, whose "Mes factures" leads to the list, inside the window
            page.locator("nav.tabs summary").first.click()
            mine = page.locator(".submenu-panel a").first
            box = mine.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], box
            shot(page, f"portal-submenu-{name}-{language}")
            page.keyboard.press("Escape")
            assert (
                not page.locator("details.submenu").first.evaluate("menu => menu.open") and mine.is_hidden()
            )
            page.locator("nav.tabs summary").first.click()
            with page.expect_navigation():
                mine.click()
            assert page.locator("h1").inner_text() in ("Mes factures", "My invoices")
            page.goto(f"{live_server.url}/")
        assert refused == [], refused
    finally:
        context.close()
