"""The back office's API keys page through the test client: made and revoked by the owner, shown
once, stored hashed, read-only for other staff, out of reach of another organisation."""

import datetime

import pytest
from django.utils import timezone

from acquitte.api import services
from acquitte.api.models import KEY_START, ApiKey, hash_key
from acquitte.core.models import AuditLog
from tests import factories

SYSTEM = factories.SYSTEM
PAGE = "/gestion/cles-api/"


@pytest.fixture
def owner(org_qc):
    return factories.staff(org_qc)


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


def make_key(org, name="Panneau", scope=ApiKey.Scope.READ):
    return services.create_api_key(organisation=org, actor=SYSTEM, name=name, scope=scope)


def test_the_owner_creates_a_key_that_is_shown_once_and_stored_hashed(owner_client, owner, org_qc):
    assert PAGE in owner_client.get("/gestion/").content.decode()
    empty = owner_client.get(PAGE).content.decode()
    assert "Aucune clé d'API." in empty and "Créer une clé" in empty
    response = owner_client.post(PAGE, {"name": "  Panneau d'hébergement ", "scope": "write"})
    assert response.status_code == 200 and "Location" not in response
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    key = ApiKey.objects.get(organisation=org_qc)
    token = page.split("<code>", 1)[1].split("</code>", 1)[0]
    assert token.startswith(f"{KEY_START}{key.prefix}_") and len(token) > 50
    assert "Copiez cette clé maintenant : elle ne sera plus affichée." in page
    assert "curl http://testserver/api/v1/customers" in page
    assert f"Authorization: Bearer {token}" in page
    # Only the hash is kept, with the prefix people see and the scope chosen.
    assert key.key_hash == hash_key(token) and token not in str(ApiKey.objects.values().get())
    assert key.name == "Panneau d'hébergement" and key.scope == ApiKey.Scope.WRITE
    assert key.created_by == owner.email and key.revoked_at is None
    assert AuditLog.objects.filter(object_id=str(key.pk), action="create").exists()
    # A second look at the list names the key by its prefix, never by its text.
    again = owner_client.get(PAGE).content.decode()
    assert token not in again and token.split("_", 2)[2] not in again
    assert f"{KEY_START}{key.prefix}_…" in again and "Panneau d&#x27;hébergement" in again
    assert "Lecture et écriture" in again and owner.email in again
    assert "Jamais" in again and "Active" in again


def test_the_last_use_shows_instead_of_never(owner_client, org_qc):
    key, _token = make_key(org_qc)
    ApiKey.objects.filter(pk=key.pk).update(
        last_used_at=timezone.make_aware(datetime.datetime(2026, 3, 14, 9, 30))
    )
    page = owner_client.get(PAGE).content.decode()
    assert "Jamais" not in page and "2026" in page and "Lecture seule" in page
    assert "Automatique" in page  # made by the system: named by its errand, not "system:…"


def test_the_owner_revokes_a_key_after_confirming(owner_client, org_qc):
    key, _token = make_key(org_qc)
    revoke = f"/gestion/cles-api/{key.pk}/revoquer/"
    assert revoke in owner_client.get(PAGE).content.decode()
    confirm = owner_client.get(revoke)
    page = confirm.content.decode()
    assert confirm.status_code == 200 and "Confirmer la révocation" in page and key.prefix in page
    key.refresh_from_db()
    assert key.revoked_at is None  # the confirmation page changes nothing
    response = owner_client.post(revoke)
    assert response.status_code == 302 and response["Location"] == PAGE
    key.refresh_from_db()
    assert key.revoked_at is not None
    listed = owner_client.get(PAGE).content.decode()
    assert "révoquée : elle ne donne plus accès" in listed and "Révoquée" in listed
    assert revoke not in listed
    # Once revoked, the confirmation page sends back to the list, and revoking again changes nothing.
    assert owner_client.get(revoke)["Location"] == PAGE
    revoked_at = key.revoked_at
    owner_client.post(revoke)
    key.refresh_from_db()
    assert key.revoked_at == revoked_at


@pytest.mark.parametrize("role", ["accountant", "read_only"])
def test_other_staff_see_the_list_read_only_and_are_refused(client, org_qc, role):
    key, token = make_key(org_qc)
    client.force_login(factories.staff(org_qc, email="compta@example.test", role=role))
    assert PAGE in client.get("/gestion/").content.decode()
    page = client.get(PAGE)
    body = page.content.decode()
    assert page.status_code == 200 and key.prefix in body and token not in body
    assert "Créer une clé" not in body and f"/gestion/cles-api/{key.pk}/revoquer/" not in body
    assert "Seul le propriétaire" in body
    assert client.post(PAGE, {"name": "Intrus", "scope": "write"}).status_code == 403
    revoke = f"/gestion/cles-api/{key.pk}/revoquer/"
    assert client.get(revoke).status_code == 403
    assert client.post(revoke).status_code == 403
    assert ApiKey.objects.count() == 1 and ApiKey.objects.get().revoked_at is None


def test_another_organisations_key_looks_missing(owner_client, org_fr):
    key, token = make_key(org_fr, name="Clé du voisin")
    revoke = f"/gestion/cles-api/{key.pk}/revoquer/"
    assert owner_client.get(revoke).status_code == 404
    assert owner_client.post(revoke).status_code == 404
    page = owner_client.get(PAGE).content.decode()
    assert "Clé du voisin" not in page and key.prefix not in page and token not in page
    assert ApiKey.objects.get(pk=key.pk).revoked_at is None


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"name": ""}, "Ce champ est obligatoire."),
        ({"name": "   "}, "Ce champ est obligatoire."),
        ({"name": "x" * 81}, "au plus 80 caractères"),
        ({"name": "a\x00b"}, "caractère nul (U+0000)"),
        ({"name": "Panneau", "scope": "admin"}, "Sélectionnez un choix valide"),
        ({"name": "Panneau", "scope": ""}, "Ce champ est obligatoire."),
    ],
)
def test_bad_input_gets_a_french_error_and_saves_nothing(owner_client, fields, error):
    response = owner_client.post(PAGE, {"scope": "read", **fields})
    body = response.content.decode()
    assert response.status_code == 400 and error in body
    assert "Copiez cette clé" not in body and "curl " not in body
    if "\x00" not in fields["name"]:  # a nul character is refused before any view, on its own page
        assert "Créer la clé" in body and 'class="field invalid"' in body
    assert not ApiKey.objects.exists()


def test_the_page_in_english(owner_client, org_qc):
    owner_client.cookies["django_language"] = "en"
    make_key(org_qc)
    page = owner_client.get(PAGE).content.decode()
    for text in ["API keys", "Create a key", "Read-only", "Never", "Active", "Revoke"]:
        assert text in page, text
    assert "Clés d'API" not in page and "Jamais" not in page
    created = owner_client.post(PAGE, {"name": "Panel", "scope": "write"}).content.decode()
    assert "Copy this key now: it will not be shown again." in created and "Read and write" in created
    missing = owner_client.post(PAGE, {"name": "", "scope": "read"}).content.decode()
    assert "This field is required." in missing
    key = ApiKey.objects.get(name="Panel")
    confirm = owner_client.get(f"/gestion/cles-api/{key.pk}/revoquer/").content.decode()
    assert "Confirm the revocation" in confirm
