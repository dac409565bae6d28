"""Back-office pages of orders, subscriptions, billing settings, runs, preview and the test clock,
through Django's test client: as the owner, as read-only staff (refused to write), as another
organisation's staff (404), and with bad input (the form again, nothing changed, never a 500)."""

import datetime
from decimal import Decimal

import pytest

from acquitte.payments import services as payments
from acquitte.payments.providers.names import ProviderName
from acquitte.subscriptions import selectors
from acquitte.subscriptions.models import (
    BilledPeriod,
    BillingRun,
    BillingSettings,
    Order,
    OrderCharge,
    Subscription,
)
from tests import factories
from tests.subscriptions.builders import SYSTEM, customer_with_card, monthly_product, subscription

CLOCK = datetime.date(2026, 1, 10)


@pytest.fixture(autouse=True)
def _eager(settings):
    settings.PAYMENTS_SANDBOX = True
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def org(org_qc):
    found = selectors.billing_settings(org_qc)
    found.test_clock = CLOCK
    found.save(update_fields=["test_clock"])
    return org_qc


@pytest.fixture
def owner_client(client, org):
    client.force_login(factories.staff(org))
    return client


@pytest.fixture
def reader_client(client, org):
    client.force_login(factories.staff(org, email="lecture@example.test", role="read_only"))
    return client


@pytest.fixture
def foreign_client(client, org_fr):
    client.force_login(factories.staff(org_fr, email="patron@atelier.example"))
    return client


@pytest.fixture
def customer(org):
    return customer_with_card(org)


@pytest.fixture
def active(org, customer):
    return subscription(customer, monthly_product(org, price="31.00"), started_on=datetime.date(2025, 12, 1))


def page(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


# --- orders ---


def test_staff_order_for_two_sites_and_complete_it(owner_client, org, customer):
    one_time = factories.product(org, sku="INST", price="50.00")
    monthly = monthly_product(org, price="30.00")
    response = owner_client.post("/gestion/commandes/nouvelle/", {"customer": customer.pk})
    order = Order.objects.get(customer=customer)
    assert response["Location"] == f"/gestion/commandes/{order.pk}/"
    first, second = customer.sites.order_by("name")
    for product, site in ((one_time, first), (monthly, first), (monthly, second)):
        response = owner_client.post(
            f"/gestion/commandes/{order.pk}/produits/",
            {"product": product.pk, "site": site.pk, "quantity": "2"},
        )
        assert response.status_code == 302
    detail = page(owner_client.get(f"/gestion/commandes/{order.pk}/"))
    assert "Site 1" in detail and "Site 2" in detail and "Mettre en cours" in detail
    assert "120,00" in detail  # 2 × 30 on each of the two sites, per month
    confirm = page(owner_client.get(f"/gestion/commandes/{order.pk}/vers/in_progress/"))
    assert "100,00" in confirm  # the one-time line, said before it is charged
    owner_client.post(f"/gestion/commandes/{order.pk}/vers/in_progress/")
    order.refresh_from_db()
    assert order.status == Order.Status.IN_PROGRESS
    assert OrderCharge.objects.filter(order=order).count() == 1
    owner_client.post(f"/gestion/commandes/{order.pk}/vers/completed/")
    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED and order.completed_on == CLOCK
    subscriptions = Subscription.objects.filter(customer=customer)
    assert {s.site_id for s in subscriptions} == {first.pk, second.pk}
    detail = page(owner_client.get(f"/gestion/commandes/{order.pk}/"))
    assert OrderCharge.objects.get(order=order).invoice.number in detail
    listing = page(owner_client.get("/gestion/commandes/", {"q": order.number, "status": "completed"}))
    assert order.number in listing
    assert order.number not in page(owner_client.get("/gestion/commandes/", {"status": "draft"}))
    assert order.number in page(owner_client.get(f"/gestion/clients/{customer.pk}/"))


def test_lines_by_htmx_and_bad_lines_change_nothing(owner_client, org, customer, org_fr):
    order = Order.objects.create(organisation=org, customer=customer, number="CMD-X")
    monthly = monthly_product(org)
    site = customer.sites.first()
    response = owner_client.post(
        f"/gestion/commandes/{order.pk}/produits/",
        {"product": monthly.pk, "site": site.pk, "quantity": "1"},
        HTTP_HX_REQUEST="true",
    )
    assert 'id="order-lines"' in page(response)
    # The moves above the lines follow them: the first line brings "Mettre en cours" without a reload.
    assert 'id="order-actions" hx-swap-oob="true"' in page(response)
    assert "Mettre en cours" in page(response)
    other_site = customer_with_card(org, name="Autre", email="autre@example.test").sites.first()
    foreign_product = factories.product(org_fr, sku="FR-1")
    for bad in (
        {"product": monthly.pk, "site": site.pk, "quantity": "0"},
        {"product": monthly.pk, "site": site.pk, "quantity": "abc"},
        {"product": monthly.pk, "site": other_site.pk, "quantity": "1"},
        {"product": foreign_product.pk, "site": site.pk, "quantity": "1"},
        {"product": "99999999999999999999999", "site": site.pk, "quantity": "1"},
    ):
        response = owner_client.post(f"/gestion/commandes/{order.pk}/produits/", bad)
        assert response.status_code == 400
    assert order.lines.count() == 1
    line = order.lines.get()
    owner_client.post(f"/gestion/commandes/{order.pk}/produits/{line.pk}/", {"quantity": "3"})
    line.refresh_from_db()
    assert line.quantity == 3
    owner_client.post(f"/gestion/commandes/{order.pk}/produits/{line.pk}/", {"quantity": "-1"})
    line.refresh_from_db()
    assert line.quantity == 3
    owner_client.post(f"/gestion/commandes/{order.pk}/produits/{line.pk}/retirer/")
    assert not order.lines.exists()


def test_a_customer_without_a_valid_method_cannot_order(owner_client, org):
    customer = factories.customer(org, name="Sans carte", email="sans@example.test")
    response = owner_client.post("/gestion/commandes/nouvelle/", {"customer": customer.pk}, follow=True)
    assert "ni carte de crédit ni prélèvement" in page(response)
    assert not Order.objects.exists()


def test_cancel_asks_first(owner_client, org, customer):
    order = Order.objects.create(organisation=org, customer=customer, number="CMD-Y")
    assert "Confirmer" in page(owner_client.get(f"/gestion/commandes/{order.pk}/vers/cancelled/"))
    order.refresh_from_db()
    assert order.status == Order.Status.DRAFT
    owner_client.post(f"/gestion/commandes/{order.pk}/vers/cancelled/")
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert owner_client.get(f"/gestion/commandes/{order.pk}/vers/draft/").status_code == 404
    assert owner_client.get(f"/gestion/commandes/{order.pk}/vers/nimporte/").status_code == 404


def test_a_move_not_allowed_is_explained(owner_client, org, customer):
    order = Order.objects.create(organisation=org, customer=customer, number="CMD-Z")
    response = owner_client.post(f"/gestion/commandes/{order.pk}/vers/in_progress/", follow=True)
    assert "Ajoutez au moins une ligne" in page(response)
    order.refresh_from_db()
    assert order.status == Order.Status.DRAFT


def test_read_only_staff_see_orders_but_cannot_write(reader_client, org, customer):
    order = Order.objects.create(organisation=org, customer=customer, number="CMD-R")
    detail = page(reader_client.get(f"/gestion/commandes/{order.pk}/"))
    assert "Ajouter une ligne" not in detail
    assert reader_client.post("/gestion/commandes/nouvelle/", {"customer": customer.pk}).status_code == 403
    assert reader_client.post(f"/gestion/commandes/{order.pk}/vers/cancelled/").status_code == 403
    order.refresh_from_db()
    assert order.status == Order.Status.DRAFT and Order.objects.count() == 1


def test_another_organisations_staff_get_404(foreign_client, org, customer, active):
    order = Order.objects.create(organisation=org, customer=customer, number="CMD-F")
    run = BillingRun.objects.create(organisation=org, kind=BillingRun.Kind.BILLING, run_date=CLOCK)
    for url in (
        f"/gestion/commandes/{order.pk}/",
        f"/gestion/commandes/{order.pk}/vers/cancelled/",
        f"/gestion/abonnements/{active.pk}/",
        f"/gestion/abonnements/{active.pk}/quantite/?quantity=2",
        f"/gestion/facturation/passages/{run.pk}/",
    ):
        assert foreign_client.get(url).status_code == 404, url
    assert foreign_client.post("/gestion/commandes/nouvelle/", {"customer": customer.pk}).status_code == 404
    assert foreign_client.post(f"/gestion/commandes/{order.pk}/vers/cancelled/").status_code == 404
    assert customer.name not in page(foreign_client.get("/gestion/commandes/"))
    assert customer.name not in page(foreign_client.get("/gestion/abonnements/"))
    order.refresh_from_db()
    assert order.status == Order.Status.DRAFT


# --- subscriptions ---


def test_subscription_list_filters(owner_client, org, customer, active):
    other = customer_with_card(org, name="Boulangerie Roy", email="roy@example.test")
    yearly = factories.product(org, sku="DOM", price="20.00", kind="yearly")
    subscription(other, yearly, started_on=CLOCK, period=Subscription.Period.YEARLY)
    listing = page(owner_client.get("/gestion/abonnements/"))
    assert customer.name in listing and other.name in listing
    assert other.name not in page(owner_client.get("/gestion/abonnements/", {"period": "monthly"}))
    assert customer.name not in page(owner_client.get("/gestion/abonnements/", {"product": yearly.pk}))
    assert other.name not in page(owner_client.get("/gestion/abonnements/", {"customer": customer.pk}))
    assert other.name not in page(owner_client.get("/gestion/abonnements/", {"site": active.site_id}))
    assert other.name not in page(owner_client.get("/gestion/abonnements/", {"q": "Café"}))
    assert customer.name not in page(owner_client.get("/gestion/abonnements/", {"status": "paused"}))
    # Bad filters are no filter, never a 500.
    for bad in ({"customer": "x"}, {"site": "-1"}, {"product": "abc"}, {"status": "zzz"}, {"page": "999"}):
        assert owner_client.get("/gestion/abonnements/", bad).status_code == 200


def test_quantity_change_shows_the_prorated_amount_before_confirming(owner_client, org, customer, active):
    owner_client.post("/gestion/facturation/lancer/")  # bills December and January, on the 10th
    assert BilledPeriod.objects.filter(subscription=active).count() == 2
    response = owner_client.get(f"/gestion/abonnements/{active.pk}/quantite/", {"quantity": "2"})
    confirm = page(response)
    assert "Supplément au prorata de" in confirm and "jours sur 31" in confirm
    active.refresh_from_db()
    assert active.quantity == 1  # nothing changed by looking
    owner_client.post(f"/gestion/abonnements/{active.pk}/quantite/", {"quantity": "2"})
    active.refresh_from_db()
    assert active.quantity == 2
    assert "Supplément au prorata" in page(owner_client.get(f"/gestion/abonnements/{active.pk}/"))


def test_cancellation_now_shows_a_credit_first(owner_client, org, customer, active):
    owner_client.post("/gestion/facturation/lancer/")
    confirm = page(owner_client.get(f"/gestion/abonnements/{active.pk}/resiliation/", {"when": "now"}))
    assert "Crédit au prorata de" in confirm
    owner_client.post(f"/gestion/abonnements/{active.pk}/resiliation/", {"when": "now"})
    active.refresh_from_db()
    assert active.status == Subscription.Status.CANCELLED


def test_bad_change_input_shows_the_form_again(owner_client, org, active, org_fr):
    foreign = factories.product(org_fr, sku="FR-2")
    for url, data in (
        ("quantite", {"quantity": "0"}),
        ("quantite", {"quantity": "1e400"}),
        ("quantite", {}),
        ("produit", {"product": foreign.pk}),
        ("resiliation", {"when": "hier"}),
    ):
        assert owner_client.get(f"/gestion/abonnements/{active.pk}/{url}/", data).status_code == 400
        assert owner_client.post(f"/gestion/abonnements/{active.pk}/{url}/", data).status_code == 400
    assert owner_client.get(f"/gestion/abonnements/{active.pk}/detruire/").status_code == 404
    active.refresh_from_db()
    assert active.quantity == 1 and active.status == Subscription.Status.ACTIVE


def test_read_only_staff_cannot_change_a_subscription(reader_client, active):
    assert "Modifier l'abonnement" not in page(reader_client.get(f"/gestion/abonnements/{active.pk}/"))
    assert reader_client.post(f"/gestion/abonnements/{active.pk}/pause/").status_code == 403
    active.refresh_from_db()
    assert active.status == Subscription.Status.ACTIVE


# --- billing: settings, runs, preview, clock ---


def test_owner_changes_the_billing_settings(owner_client, org):
    home = page(owner_client.get("/gestion/facturation/"))
    assert "America/Toronto" in home and "Horloge de test" in home
    response = owner_client.post(
        "/gestion/facturation/reglages/",
        {"bill_day": "5", "collection_day": "25", "time_zone": "Europe/Paris"},
    )
    assert response.status_code == 302
    found = BillingSettings.objects.get(organisation=org)
    assert (found.bill_day, found.collection_day, found.time_zone) == (5, 25, "Europe/Paris")
    for bad in (
        {"bill_day": "29", "collection_day": "22", "time_zone": "America/Toronto"},
        {"bill_day": "0", "collection_day": "22", "time_zone": "America/Toronto"},
        {"bill_day": "2", "collection_day": "x", "time_zone": "America/Toronto"},
        {"bill_day": "2", "collection_day": "22", "time_zone": "Lune/Tranquillité"},
        {"bill_day": "2", "collection_day": "22"},
    ):
        response = owner_client.post("/gestion/facturation/reglages/", bad)
        assert response.status_code == 400 and "errorlist" in response.content.decode()
    found.refresh_from_db()
    assert (found.bill_day, found.collection_day, found.time_zone) == (5, 25, "Europe/Paris")


def test_only_the_owner_changes_the_settings(client, org):
    client.force_login(factories.staff(org, email="compta@example.test", role="accountant"))
    assert "Seul le propriétaire" in page(client.get("/gestion/facturation/"))
    response = client.post(
        "/gestion/facturation/reglages/",
        {"bill_day": "5", "collection_day": "25", "time_zone": "Europe/Paris"},
    )
    assert response.status_code == 403
    assert selectors.billing_settings(org).bill_day == 2


def test_clock_buttons_run_the_runs_and_show_what_happened(owner_client, org, customer, active):
    response = owner_client.post("/gestion/facturation/horloge/", {"move": "bill_day"}, follow=True)
    home = page(response)
    assert selectors.today_for(org) == datetime.date(2026, 2, 2)
    assert "1 facture(s)" in home and "Facturation" in home
    owner_client.post("/gestion/facturation/horloge/", {"move": "collection_day"})
    assert selectors.today_for(org) == datetime.date(2026, 2, 22)
    kinds = list(
        BillingRun.objects.filter(
            organisation=org, kind__in=[BillingRun.Kind.BILLING, BillingRun.Kind.COLLECTION]
        )
        .order_by("started_at", "id")
        .values_list("kind", "run_date")
    )
    assert kinds[-2:] == [("billing", datetime.date(2026, 2, 2)), ("collection", datetime.date(2026, 2, 22))]
    owner_client.post("/gestion/facturation/horloge/", {"move": "month"})
    assert selectors.today_for(org) == datetime.date(2026, 3, 22)
    runs = page(owner_client.get("/gestion/facturation/passages/"))
    assert "Prélèvement" in runs
    run = BillingRun.objects.filter(organisation=org, kind=BillingRun.Kind.BILLING, invoices=1).first()
    detail = page(owner_client.get(f"/gestion/facturation/passages/{run.pk}/"))
    assert active.description in detail
    collection = BillingRun.objects.filter(organisation=org, kind=BillingRun.Kind.COLLECTION).first()
    only_billing = page(owner_client.get("/gestion/facturation/passages/", {"kind": "billing"}))
    assert f"/passages/{run.pk}/" in only_billing and f"/passages/{collection.pk}/" not in only_billing
    owner_client.post("/gestion/facturation/horloge/date-reelle/")
    assert selectors.billing_settings(org).test_clock is None


def test_clock_refuses_bad_dates_and_changes_nothing(owner_client, org):
    for bad in ("2026-01-09", "2026-01-10", "0001-01-01", "9999-12-31", "2026-02-30", "demain", ""):
        response = owner_client.post("/gestion/facturation/horloge/", {"to": bad})
        assert response.status_code == 400, bad
        assert "errorlist" in response.content.decode()
    assert selectors.today_for(org) == CLOCK
    assert not BillingRun.objects.exists()


def test_a_live_organisation_never_sees_the_clock_and_is_refused(owner_client, org):
    payments.disconnect_provider(organisation=org, provider=ProviderName.SANDBOX, actor=SYSTEM)
    assert "Horloge de test" not in page(owner_client.get("/gestion/facturation/"))
    response = owner_client.post("/gestion/facturation/horloge/", {"move": "month"}, follow=True)
    assert "production suit toujours la date réelle" in page(response)
    response = owner_client.post("/gestion/facturation/horloge/", {"to": "2026-06-01"})
    assert response.status_code == 400
    assert not BillingRun.objects.exists()


def test_preview_writes_nothing_and_run_now_asks_first(owner_client, org, customer, active):
    preview = page(owner_client.get("/gestion/facturation/apercu/"))
    assert customer.name in preview and "31,00" in preview
    assert not BilledPeriod.objects.exists() and not BillingRun.objects.exists()
    assert "Confirmer et facturer" in page(owner_client.get("/gestion/facturation/lancer/"))
    assert not BillingRun.objects.exists()
    response = owner_client.post("/gestion/facturation/lancer/")
    run = BillingRun.objects.get(organisation=org)
    assert response["Location"] == f"/gestion/facturation/passages/{run.pk}/"
    assert run.run_date == CLOCK and run.invoices == 1  # December and January, due by the 10th


def test_an_interrupted_run_has_its_own_badge_and_says_what_follows(owner_client, org):
    interrupted = BillingRun.objects.create(
        organisation=org, kind=BillingRun.Kind.BILLING, run_date=CLOCK, status=BillingRun.Status.INTERRUPTED
    )
    failed = BillingRun.objects.create(
        organisation=org, kind=BillingRun.Kind.BILLING, run_date=CLOCK, status=BillingRun.Status.FAILED
    )
    history = page(owner_client.get("/gestion/facturation/passages/"))
    assert '<span class="status run-interrupted">Interrompu</span>' in history
    assert '<span class="status run-failed">Terminé avec des erreurs</span>' in history
    detail = page(owner_client.get(f"/gestion/facturation/passages/{interrupted.pk}/"))
    assert "run-interrupted" in detail and "Le passage suivant reprend ce qui reste" in detail
    assert "Le passage suivant reprend" not in page(
        owner_client.get(f"/gestion/facturation/passages/{failed.pk}/")
    )
    owner_client.cookies["django_language"] = "en"
    assert ">Interrupted</span>" in page(owner_client.get("/gestion/facturation/passages/"))


def test_read_only_staff_cannot_run_or_move_the_clock(reader_client, org):
    home = page(reader_client.get("/gestion/facturation/"))
    assert "Lancer la facturation maintenant" not in home and "Aller au prochain" not in home
    assert reader_client.post("/gestion/facturation/lancer/").status_code == 403
    assert reader_client.post("/gestion/facturation/horloge/", {"move": "month"}).status_code == 403
    assert selectors.today_for(org) == CLOCK and not BillingRun.objects.exists()


@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_page_renders_in_both_languages(owner_client, org, customer, active, language):
    owner_client.cookies["django_language"] = language
    order = Order.objects.create(organisation=org, customer=customer, number="CMD-L")
    run = BillingRun.objects.create(organisation=org, kind=BillingRun.Kind.COLLECTION, run_date=CLOCK)
    for url in (
        "/gestion/commandes/",
        "/gestion/commandes/nouvelle/",
        f"/gestion/commandes/{order.pk}/",
        f"/gestion/commandes/{order.pk}/vers/cancelled/",
        "/gestion/abonnements/",
        f"/gestion/abonnements/{active.pk}/",
        f"/gestion/abonnements/{active.pk}/pause/",
        "/gestion/facturation/",
        "/gestion/facturation/passages/",
        f"/gestion/facturation/passages/{run.pk}/",
        "/gestion/facturation/apercu/",
        "/gestion/facturation/lancer/",
        f"/gestion/clients/{customer.pk}/",
    ):
        body = page(owner_client.get(url))
        assert f'lang="{language}' in body, url


def test_catalogue_price_change_follows_into_subscriptions(owner_client, org, active):
    product = active.product
    form = {
        "name": product.name,
        "unit_price": "35.00",
        "tax_category": product.tax_category_id,
        "kind": product.kind,
        "unit": product.unit,
        "sku": product.sku,
        "active": "on",
    }
    response = owner_client.post(f"/gestion/catalogue/{product.pk}/", form, follow=True)
    assert "prochaine période" in page(response)
    active.refresh_from_db()
    assert active.unit_price == Decimal("35.00")
    form["name"] = "Téléphonie"  # the same price: no subscription moves
    response = owner_client.post(f"/gestion/catalogue/{product.pk}/", form, follow=True)
    assert "prochaine période" not in page(response)
