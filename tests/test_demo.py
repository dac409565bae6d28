from decimal import Decimal

from django.core.management import call_command

from acquitte.customers.models import Customer, Organisation, User
from acquitte.customers.selectors import terms_to_accept
from acquitte.demo.data import FIRST_LOGIN_EMAIL
from acquitte.invoicing.models import Invoice
from acquitte.invoicing.selectors import receivables, receivables_by_age
from acquitte.portal.selectors import pending_order
from acquitte.subscriptions.models import BilledPeriod, BillingRun, Order, Subscription
from acquitte.subscriptions.selectors import billing_settings, next_debit


def test_load_demo_is_idempotent_and_covers_every_state(db, capsys):
    call_command("load_demo")
    first = capsys.readouterr().out
    assert "http://127.0.0.1:8000/" in first
    assert "proprio@laurentides.demo" in first and "client@cafebonjour.demo" in first
    counts = (Organisation.objects.count(), Invoice.objects.count(), User.objects.count())

    call_command("load_demo")
    assert "déjà présente" in capsys.readouterr().out
    assert (Organisation.objects.count(), Invoice.objects.count(), User.objects.count()) == counts

    states = {inv.display_status() for inv in Invoice.objects.filter(kind="invoice")}
    assert {"draft", "open", "partly_paid", "paid", "overdue", "void"} <= states
    assert Invoice.objects.filter(kind="credit_note", status="open").exists()
    assert Invoice.objects.filter(kind="proforma").exclude(number="").exists()
    assert set(Organisation.objects.values_list("currency", flat=True)) == {"CAD", "EUR"}

    northwind = Customer.objects.get(name__startswith="Northwind")
    figures = receivables(northwind)
    assert figures.overdue_amount > 0
    assert figures.amount_due > figures.overdue_amount
    assert figures.balance == figures.amount_due
    assert figures.amount_due == figures.amount_due.quantize(Decimal("0.01"))

    # The merchant's dashboard says what the customers' receivables say (issue 16 item 9).
    for org in Organisation.objects.all():
        bands = receivables_by_age(org)
        owed = [receivables(c) for c in Customer.objects.filter(organisation=org)]
        assert sum(b.amount for b in bands) == sum(r.amount_due for r in owed) > 0
        assert sum(b.amount for b in bands if b.key != "not_due") == sum(r.overdue_amount for r in owed)


def test_demo_orders_subscriptions_and_runs(db):
    """Issue 18 item 11: orders in every state, subscriptions in several states on several sites for
    customers of both companies, a prorated first invoice covering two sites made by the real
    billing run of a past bill day, a run history, and a customer still on the first-login flow."""
    call_command("load_demo")
    assert set(Order.objects.values_list("status", flat=True)) == set(Order.Status.values)
    subscriptions = Subscription.objects.all()
    assert {s.status for s in subscriptions} >= {"active", "paused", "cancelled"}
    assert subscriptions.filter(status="active", ends_on__isnull=False).exists()  # ends at period end
    for org in Organisation.objects.all():
        assert subscriptions.filter(organisation=org).values("customer").distinct().count() >= 2
        kinds = set(BillingRun.objects.filter(organisation=org).values_list("kind", flat=True))
        # The clock's days also run renewals and dunning when something was due on them.
        assert {"billing", "collection"} <= kinds <= set(BillingRun.Kind)
        assert BilledPeriod.objects.filter(organisation=org, prorated=True).exists()
        assert billing_settings(org).test_clock is None  # back on the real date

    two_sites = [
        invoice
        for invoice in Invoice.objects.filter(
            pk__in=BilledPeriod.objects.filter(prorated=True).values("invoice")
        )
        if BilledPeriod.objects.filter(invoice=invoice).values("subscription__site").distinct().count() >= 2
    ]
    assert two_sites, "a prorated first invoice covering two sites"
    first = two_sites[0]
    assert first.number and first.status == Invoice.Status.OPEN
    assert {line.period_start for line in first.lines.all()} >= {
        p.period_start for p in BilledPeriod.objects.filter(invoice=first)
    }
    assert next_debit(first.customer) is not None  # the home page's next automatic debit

    clinique = Customer.objects.get(email=FIRST_LOGIN_EMAIL)
    assert terms_to_accept(clinique) is not None
    assert pending_order(customer=clinique) is not None


def test_demo_domains_walk_seed_002(db):
    """Issue 13 item 2: a demo customer with domains and a yearly hosting service, one renewing
    soon, a card on file, and a billing sub-contact who is not the card holder; another customer's
    domain suspended for an overdue invoice."""
    from acquitte.subscriptions import service_selectors
    from acquitte.subscriptions.models import Service
    from acquitte.subscriptions.selectors import today_for

    call_command("load_demo")
    cafe = Customer.objects.get(email="client@cafebonjour.demo")
    live = list(service_selectors.customer_services(cafe))
    assert {s.kind for s in live} == {Service.Kind.DOMAIN, Service.Kind.SERVICE} and len(live) >= 3
    assert any((s.expires_on - today_for(cafe.organisation)).days <= 30 for s in live)
    card = service_selectors.recurring_cards(cafe)[0]
    contacts = service_selectors.billing_contacts(cafe)
    assert any(not service_selectors.holder_matches(c, card) for c in contacts)
    suspended = Service.objects.filter(status=Service.Status.SUSPENDED, suspensions__invoice__isnull=False)
    assert suspended.filter(suspensions__reactivation_invoice__isnull=False).exists()  # the fee to pay
    assert Service.objects.filter(organisation__slug="atelier", kind=Service.Kind.DOMAIN).exists()
