"""Every admin page, as staff of one organisation, names nothing of another (issue 11, item 4).

The other organisation's rows all carry the marker "fuiteb" (names, e-mails, references, slugs),
so a leak through a changelist, its filter sidebar and facets, an add or change form (its
dropdowns and inlines), an object's history or the autocomplete endpoint shows it in the page.
"""

import datetime
import json
import uuid

import pytest
from django.contrib import admin
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.urls import reverse
from django.utils import timezone

from acquitte.catalog.models import TaxCategory
from acquitte.customers import services as customers
from acquitte.customers.models import Organisation, TermsVersion, User
from acquitte.notifications.models import Notification, OutboundMessage
from acquitte.payments import services as payments
from acquitte.payments.models import WebhookEvent
from acquitte.quotes import services as quotes
from tests import factories

MARKER = "fuiteb"
SYSTEM = factories.SYSTEM
NEXT_YEAR = f"12/{(datetime.date.today().year + 1) % 100:02d}"


def populate(org: Organisation, tag: str) -> None:
    """One of everything the admin lists, every text carrying ``tag``."""
    TaxCategory.objects.filter(organisation=org).update(name=Concat(Value(f"{tag} "), F("name")))
    customer = factories.customer(org, name=f"{tag} Client", email=f"compta@{tag.lower()}.example")
    customers.add_contact(
        customer=customer, actor=SYSTEM, name=f"{tag} Contact", email=f"c@{tag.lower()}.example"
    )
    customers.add_site(
        customer=customer,
        actor=SYSTEM,
        name=f"{tag} Site",
        line1="1 rue",
        city="Ville",
        postal_code="H2X 1Y4",
        country=org.country,
    )
    terms = TermsVersion.objects.create(
        organisation=org, version=f"{tag}-1", body_fr=f"{tag} conditions", published_at=timezone.now()
    )
    portal_user = User.objects.create_user(
        email=f"portail@{tag.lower()}.example", password="x-Long-Password-1", customer=customer
    )
    customers.accept_terms(customer=customer, actor=portal_user, terms=terms, ip_address="127.0.0.1")
    factories.staff(org, email=f"comptable@{tag.lower()}.example", role="accountant")
    factories.product(org, sku=f"{tag.upper()}-1", name=f"{tag} Produit")
    card = payments.add_card(
        customer=customer, holder=f"{tag} Titulaire", number="4242424242424242", cvv="123",
        expiry=NEXT_YEAR, actor=SYSTEM,
    )  # fmt: skip
    paid = factories.invoice(org, customer)
    payments.pay_invoice(
        invoice=paid, payment_method=card, idempotency_key=f"{tag}-{uuid.uuid4()}", actor=SYSTEM
    )
    open_invoice = factories.invoice(org, customer)
    payments.declare_transfer(
        invoice=open_invoice, kind="bank_transfer", reference=f"{tag}-VIR", sent_on=timezone.localdate(),
        amount="1.00", actor=SYSTEM,
    )  # fmt: skip
    payments.record_payment(
        organisation=org,
        customer=customer,
        amount="5.00",
        method="cheque",
        reference=f"{tag}-CHQ",
        actor=SYSTEM,
    )
    staff = factories.staff(org, email=f"patron@{tag.lower()}.example")
    quote = quotes.create_quote(organisation=org, customer=customer, actor=staff)
    quotes.add_product(quote=quote, product=factories.product(org, sku=f"{tag.upper()}-2"), actor=staff)
    quotes.send_quote(quote=quote, actor=staff)
    Notification.objects.create(organisation=org, kind="t", subject=f"{tag} notification")
    OutboundMessage.objects.create(
        organisation=org, channel=OutboundMessage.Channel.EMAIL, kind="t", to=f"x@{tag.lower()}.example",
        subject=f"{tag} message", body="b",
    )  # fmt: skip
    WebhookEvent.objects.create(
        organisation=org, provider="sandbox", event_id=f"evt_{tag}", event_type=f"{tag}.event", payload={}
    )


@pytest.fixture
def staff_of_a(db, settings, client):
    settings.PAYMENTS_SANDBOX = True
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    a = factories.quebec_organisation("alpha")
    b = factories.french_organisation(MARKER)
    Organisation.objects.filter(pk=b.pk).update(name="Fuiteb Atelier SAS", support_email="s@fuiteb.example")
    populate(a, "Alpha")
    populate(b, "Fuiteb")
    owner = factories.staff(a, email="owner@alpha.example")
    client.force_login(owner, backend="django.contrib.auth.backends.ModelBackend")
    return a


def _pages(organisation: Organisation) -> list[str]:
    """Every changelist (plain, with facets, with every filter shown), add form, change form and
    history page of every registered model, for one object of the organisation each."""
    urls = []
    for model in admin.site._registry:
        info = (model._meta.app_label, model._meta.model_name)
        changelist = reverse("admin:{}_{}_changelist".format(*info))
        urls += [changelist, f"{changelist}?_facets=True", reverse("admin:{}_{}_add".format(*info))]
        qs = model._default_manager.all()
        if model is Organisation:
            qs = qs.filter(pk=organisation.pk)
        elif hasattr(model, "organisation_id") or model is User:
            qs = qs.filter(organisation=organisation)
        obj = qs.first()
        if obj is not None:
            urls.append(reverse("admin:{}_{}_change".format(*info), args=[obj.pk]))
            urls.append(reverse("admin:{}_{}_history".format(*info), args=[obj.pk]))
    return urls


def test_every_admin_page_names_nothing_of_the_other_organisation(client, staff_of_a):
    walked = 0
    for url in _pages(staff_of_a):
        response = client.get(url)
        assert response.status_code in (200, 302, 403), (url, response.status_code)
        body = response.content.decode().lower()
        assert MARKER not in body, url
        walked += response.status_code == 200
    assert walked > 40  # the walk did see the pages, not only refusals


def test_the_filter_sidebar_offers_only_own_relations(client, staff_of_a):
    body = client.get("/admin/catalog/product/?_facets=True").content.decode()
    assert "Alpha Taxable Québec" in body and "Fuiteb" not in body


def test_autocomplete_offers_only_own_rows(client, staff_of_a):
    """Django answers autocomplete for any relation whose target admin has search fields."""
    checked = 0
    for model in admin.site._registry:
        for field in model._meta.get_fields():
            if not (field.is_relation and field.concrete and field.related_model in admin.site._registry):
                continue
            if not admin.site._registry[field.related_model].search_fields:
                continue
            params = {"app_label": model._meta.app_label, "model_name": model._meta.model_name}
            for term in ("", "fuiteb", "a"):
                response = client.get(
                    "/admin/autocomplete/", {**params, "field_name": field.name, "term": term}
                )
                if response.status_code == 200:
                    checked += 1
                    assert MARKER not in json.dumps(response.json()).lower(), (model, field.name, term)
    assert checked > 0
