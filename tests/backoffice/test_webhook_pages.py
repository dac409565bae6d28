"""The owner's webhook pages through the test client, and the demo receiver inside the app."""

import pytest
from django.test import TestCase

from acquitte.demo.models import ReceivedWebhook
from acquitte.demo.webhooks import ensure_demo_endpoint, receiver_url
from acquitte.notifications import services
from acquitte.notifications.models import WebhookDelivery, WebhookEndpoint
from acquitte.notifications.services.webhooks import signed_request
from tests import factories
from tests.notifications.test_webhooks import Receiver

SYSTEM = factories.SYSTEM


@pytest.fixture
def owner(org_qc):
    return factories.staff(org_qc)


@pytest.fixture
def owner_client(client, owner, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    client.force_login(owner)
    return client


def hook(org, url="https://hooks.example.test/acquitte"):
    return services.create_webhook_endpoint(
        organisation=org, url=url, description="", event_types=[], actor=SYSTEM
    )


def test_the_owner_adds_an_endpoint_sends_a_test_event_and_replays_it(owner_client, org_qc):
    assert "Webhooks" in owner_client.get("/gestion/").content.decode()
    with Receiver() as fake:
        response = owner_client.post(
            "/gestion/webhooks/",
            {"url": fake.url + "/hooks", "description": "Panneau", "event_types": ["service.suspended"]},
        )
        endpoint = WebhookEndpoint.objects.get(organisation=org_qc)
        assert response["Location"] == f"/gestion/webhooks/{endpoint.pk}/"
        assert endpoint.event_types == ["service.suspended"] and endpoint.description == "Panneau"
        page = owner_client.get(response["Location"]).content.decode()
        assert endpoint.secret in page and "Afficher le secret" in page
        assert "Envoyer un événement de test" in page
        with TestCase.captureOnCommitCallbacks(execute=True):
            owner_client.post(f"/gestion/webhooks/{endpoint.pk}/test/")
        delivery = WebhookDelivery.objects.get(endpoint=endpoint)
        assert delivery.status == WebhookDelivery.Status.DELIVERED and len(fake.received) == 1
        log = owner_client.get(f"/gestion/webhooks/{endpoint.pk}/?status=delivered").content.decode()
        assert f"/gestion/webhooks/envois/{delivery.pk}/" in log
        empty = owner_client.get(f"/gestion/webhooks/{endpoint.pk}/?status=failed").content.decode()
        assert f"/gestion/webhooks/envois/{delivery.pk}/" not in empty
        detail = owner_client.get(f"/gestion/webhooks/envois/{delivery.pk}/").content.decode()
        assert delivery.message_id in detail and "webhook-signature" in detail and "webhook.test" in detail
        assert owner_client.get(f"/gestion/webhooks/envois/{delivery.pk}/renvoyer/").status_code == 405
        with TestCase.captureOnCommitCallbacks(execute=True):
            owner_client.post(f"/gestion/webhooks/envois/{delivery.pk}/renvoyer/")
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and delivery.attempt_log.count() == 2
    assert [h["webhook-id"] for _, h in fake.received] == [delivery.message_id] * 2


def test_the_owner_edits_disables_rotates_and_deletes(owner_client, org_qc):
    endpoint = hook(org_qc)
    secret = endpoint.secret
    response = owner_client.post(
        f"/gestion/webhooks/{endpoint.pk}/",
        {"url": "https://autre.example.test/", "description": "Nouveau", "event_types": []},
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.url == "https://autre.example.test/" and not endpoint.active
    owner_client.post(f"/gestion/webhooks/{endpoint.pk}/secret/")
    endpoint.refresh_from_db()
    assert endpoint.secret != secret
    assert owner_client.post(f"/gestion/webhooks/{endpoint.pk}/inconnu/").status_code == 404
    owner_client.post(f"/gestion/webhooks/{endpoint.pk}/supprimer/")
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"url": "ftp://example.test/"}, "Saisissez une adresse web complète"),
        ({"url": "pas une adresse"}, "Saisissez une adresse web complète"),
        ({"url": "https://hooks.example.test/\x00"}, "caractère nul (U+0000)"),
        ({"url": "https://hooks.example.test/", "description": "a\x00b"}, "caractère nul (U+0000)"),
        ({"url": "https://hooks.example.test/", "event_types": ["service.deleted"]}, "Sélectionnez un choix"),
        ({"url": "x" * 600}, "au plus 500 caractères"),
    ],
)
def test_bad_input_gets_a_french_error_and_saves_nothing(owner_client, org_qc, fields, error):
    response = owner_client.post("/gestion/webhooks/", {"description": "", **fields})
    assert response.status_code == 400 and error in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_a_private_address_is_refused_in_french_outside_development(owner_client, org_qc, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    response = owner_client.post("/gestion/webhooks/", {"url": "http://127.0.0.1:8000/x"})
    assert response.status_code == 400 and "réseau privé" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_another_organisations_endpoint_and_deliveries_look_missing(owner_client, org_fr):
    endpoint = hook(org_fr)
    (delivery,) = services.queue_webhook_event(
        organisation=org_fr, event_type="service.renewed", data={}, actor=SYSTEM
    )
    assert owner_client.get(f"/gestion/webhooks/{endpoint.pk}/").status_code == 404
    assert owner_client.post(f"/gestion/webhooks/{endpoint.pk}/secret/").status_code == 404
    assert owner_client.post(f"/gestion/webhooks/{endpoint.pk}/supprimer/").status_code == 404
    assert owner_client.get(f"/gestion/webhooks/envois/{delivery.pk}/").status_code == 404
    assert owner_client.post(f"/gestion/webhooks/envois/{delivery.pk}/renvoyer/").status_code == 404
    assert endpoint.secret not in owner_client.get("/gestion/webhooks/").content.decode()
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == endpoint.secret


def test_staff_other_than_the_owner_are_refused(client, org_qc, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    endpoint = hook(org_qc)
    client.force_login(factories.staff(org_qc, email="compta@example.test", role="accountant"))
    assert "/gestion/webhooks/" not in client.get("/gestion/").content.decode()
    assert client.get("/gestion/webhooks/").status_code == 403
    assert client.get(f"/gestion/webhooks/{endpoint.pk}/").status_code == 403
    assert client.post("/gestion/webhooks/", {"url": "https://x.example.test/"}).status_code == 403
    assert WebhookEndpoint.objects.count() == 1


def test_the_demo_receiver_keeps_a_verified_delivery_and_refuses_a_forged_one(
    client, org_qc, owner, settings
):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    assert ensure_demo_endpoint(org_qc) and ensure_demo_endpoint(org_qc) == ""
    endpoint = WebhookEndpoint.objects.get(organisation=org_qc)
    assert endpoint.url == receiver_url(org_qc)
    (delivery,) = services.queue_webhook_event(
        organisation=org_qc, event_type="service.suspended", data={"service": 7}, actor=SYSTEM
    )
    body, headers = signed_request(delivery, secret=endpoint.secret)
    path = f"/demo/webhooks/{org_qc.slug}/"
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k != "content-type"}
    assert client.post(path, body, content_type="application/json", **extra).status_code == 204
    forged = body.replace(b'"service":7', b'"service":8')
    assert client.post(path, forged, content_type="application/json", **extra).status_code == 401
    assert client.post(path, b"x" * (64 * 1024 + 1), content_type="application/json").status_code == 413
    assert client.post("/demo/webhooks/inconnue/", body, content_type="application/json").status_code == 404
    kept, refused = ReceivedWebhook.objects.order_by("pk")
    assert kept.verified and kept.event_type == "service.suspended" and kept.message_id == delivery.message_id
    assert not refused.verified and refused.error
    client.force_login(owner)
    page = client.get("/demo/webhooks-recus/").content.decode()
    assert delivery.message_id in page and "Vérifiée" in page and "Refusée" in page
    assert "/demo/webhooks-recus/" in client.get(f"/gestion/webhooks/{endpoint.pk}/").content.decode()


def test_outside_development_the_demo_endpoint_needs_the_setting(org_qc, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    assert "WEBHOOKS_ALLOW_PRIVATE" in ensure_demo_endpoint(org_qc)
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_event_travels_over_http_to_the_demo_receiver(live_server, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    settings.PUBLIC_BASE_URL = live_server.url
    org = factories.quebec_organisation("demo-live")
    ensure_demo_endpoint(org)
    (delivery,) = services.queue_webhook_event(
        organisation=org, event_type="service.renewed", data={"expires_on": "2027-11-02"}, actor=SYSTEM
    )
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED and delivery.last_status_code == 204
    received = ReceivedWebhook.objects.get(organisation=org)
    assert received.verified and received.message_id == delivery.message_id
