from decimal import Decimal

from django.core.management import call_command

from acquitte.customers.models import Customer, Organisation, User
from acquitte.invoicing.models import Invoice
from acquitte.invoicing.selectors import receivables


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
