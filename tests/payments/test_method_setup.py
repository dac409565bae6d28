"""The setup contract through the sandbox (its hosted setup page is ours), and seed 002's rule."""

import datetime
import urllib.parse

import pytest

from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.customers.models import User
from acquitte.payments import selectors, services
from acquitte.payments.models import MethodSetup, PaymentMethod
from tests import factories

PASSWORD = "un-mot-de-passe-solide-42"
NEXT_YEAR = f"12/{(datetime.date.today().year + 1) % 100:02d}"


@pytest.fixture
def customer(org_qc):
    return factories.customer(org_qc)


@pytest.fixture
def user(customer):
    return User.objects.create_user("client@cafe.test", PASSWORD, customer=customer)


@pytest.fixture
def sandbox(org_qc):
    if not selectors.sandbox_saves_methods(org_qc.pk):
        from tests.payments.test_hosted_payments import connect

        connect(org_qc, "sandbox", {"webhook_secret": "s"})


def test_the_sandbox_hosted_setup_saves_a_card_once(client, customer, user, sandbox):
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    url = services.start_method_setup(customer=customer, kind="card", actor=user)
    page = client.get(url)
    assert page.status_code == 200
    back = client.post(
        url, {"holder": "Marie Roy", "number": "4242424242424242", "cvv": "123", "expiry": NEXT_YEAR}
    )
    back_path = urllib.parse.urlsplit(back["Location"]).path
    done = client.get(back_path, follow=True)
    assert "Moyen de paiement ajouté" in done.content.decode()
    client.get(back_path)
    method = PaymentMethod.objects.get(provider="sandbox", last4="4242")
    assert method.is_default and method.holder == "Marie Roy" and method.exp_month == 12
    assert MethodSetup.objects.get().method == method
    assert client.get(url).status_code == 404  # the page is used up


def test_a_bad_card_on_the_setup_page_saves_nothing(client, customer, user, sandbox):
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    url = services.start_method_setup(customer=customer, kind="card", actor=user)
    page = client.post(
        url, {"holder": "Marie Roy", "number": "4242424242424241", "cvv": "123", "expiry": NEXT_YEAR}
    )
    assert page.status_code == 200 and not PaymentMethod.objects.exists()


def test_an_unknown_kind_is_refused(customer, user, sandbox):
    with pytest.raises(BusinessError) as refused:
        services.start_method_setup(customer=customer, kind="bitcoin", actor=user)
    assert refused.value.error_code == ErrorCode.INVALID_INPUT
    assert not MethodSetup.objects.exists()


def test_the_card_for_recurring_payment_must_be_the_customers(org_qc, customer, sandbox):
    card = services.add_card(
        customer=customer,
        holder="Marie Roy",
        number="4242424242424242",
        cvv="123",
        expiry=NEXT_YEAR,
        actor=factories.SYSTEM,
    )
    selectors.check_method_of(customer, card)
    other = factories.customer(org_qc, name="Voisin", email="v@example.test")
    with pytest.raises(BusinessError) as refused:
        selectors.check_method_of(other, card)
    assert refused.value.error_code == ErrorCode.NOT_FOUND
    services.remove_method(method=card, actor=factories.SYSTEM)
    with pytest.raises(BusinessError) as revoked:
        selectors.check_method_of(customer, card)
    assert revoked.value.error_code == ErrorCode.PAYMENT_METHOD_INVALID
