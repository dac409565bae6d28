"""The page behaviour that moved out of inline handlers into static/acquitte.js still works under
the CSP (the `page` fixture fails on any CSP refusal in the console)."""

from acquitte.payments.models import ProviderAccount
from tests import factories


def test_the_language_menu_submits_itself_and_confirmations_ask(live_server, page, org_qc):
    page.goto(f"{live_server.url}/connexion/")
    headers = page.context.request.get(f"{live_server.url}/connexion/").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    with page.expect_navigation():  # the menu submits itself; wait for the page it leads to
        page.select_option("#language", "en")
    assert page.locator("html").get_attribute("lang") == "en"

    staff = factories.staff(org_qc)
    page.goto(f"{live_server.url}/connexion/")
    page.fill("#id_username", staff.email)
    page.fill("#id_password", "motdepasse-long-2026")
    page.locator("form button[type=submit], form button:not([type])").last.click()
    page.goto(f"{live_server.url}/gestion/reglages/paiement/")
    asked = []
    page.on("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    page.locator("form[data-confirm] button").first.click()
    page.wait_for_timeout(200)
    assert asked and asked[0].startswith("Disconnect the sandbox?")  # the menu chose English
    assert page.url.endswith("/gestion/reglages/paiement/")  # dismissed: nothing was sent
    assert ProviderAccount.objects.filter(organisation=org_qc, provider="sandbox").exists()
