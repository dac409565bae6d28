"""Invoice life cycle: immutability, credit notes, pro-formas, void, audit."""

from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType

from acquitte.core.errors import BusinessError
from acquitte.core.models import AuditLog
from acquitte.invoicing import services
from acquitte.invoicing.models import Invoice, InvoiceLine, LedgerEntry
from acquitte.payments.services import record_payment
from tests import factories
from tests.factories import SYSTEM


def test_finalised_invoice_cannot_be_edited(org_qc, customer_qc):
    inv = factories.invoice(org_qc, customer_qc)
    line = inv.lines.get()
    changes = [
        lambda: setattr(inv, "total", Decimal("1.00")) or inv.save(),
        lambda: setattr(inv, "number", "X") or inv.save(),
        lambda: setattr(inv, "bill_to", {"name": "autre"}) or inv.save(),
        lambda: setattr(line, "unit_price", Decimal("1.00")) or line.save(),
        line.delete,
        inv.delete,
        lambda: services.add_line(actor=SYSTEM, invoice=inv, line=factories.line(org_qc)),
        lambda: services.replace_draft_lines(actor=SYSTEM, invoice=inv, lines=[]),
        lambda: services.update_draft(actor=SYSTEM, invoice=inv, notes="x"),
        lambda: services.finalise_invoice(actor=SYSTEM, invoice=inv),
    ]
    for change in changes:
        fresh = Invoice.objects.get(pk=inv.pk)
        inv, line = fresh, fresh.lines.get()
        with pytest.raises(BusinessError):
            change()
    stored = Invoice.objects.get(pk=inv.pk)
    assert (stored.total, stored.number, stored.lines.count()) == (Decimal("114.98"), inv.number, 1)
    assert InvoiceLine.objects.get(pk=line.pk).unit_price == Decimal("100.00")


def test_bill_to_is_frozen_to_the_billing_sub_contact(org_qc, customer_qc):
    from acquitte.customers.services import add_address, add_contact

    address = add_address(
        actor=SYSTEM, customer=customer_qc, line1="1 rue Comptable", city="Laval", postal_code="H7N 1A1"
    )
    contact = add_contact(
        actor=SYSTEM,
        customer=customer_qc,
        name="Gestion XYZ",
        email="f@xyz.example",
        is_billing=True,
        address=address,
    )
    inv = factories.invoice(org_qc, customer_qc, billing_contact=contact)
    assert inv.bill_to["name"] == "Gestion XYZ"
    assert inv.bill_to["email"] == "f@xyz.example"
    assert inv.bill_to["address"][0] == "1 rue Comptable"
    contact.name = "Renommé"
    contact.save()
    assert Invoice.objects.get(pk=inv.pk).bill_to["name"] == "Gestion XYZ"


def test_credit_notes_correct_and_cannot_exceed_the_invoice(org_qc, customer_qc):
    inv = factories.invoice(org_qc, customer_qc, prices=("100.00", "50.00"))
    partial = services.create_credit_note(
        actor=SYSTEM, invoice=inv, lines=[factories.line(org_qc, price="50.00")]
    )
    partial = services.finalise_invoice(actor=SYSTEM, invoice=partial)
    assert partial.number.startswith("AV-") and partial.corrects_id == inv.pk
    inv.refresh_from_db()
    assert inv.amount_due == inv.total - partial.total
    too_much = services.create_credit_note(actor=SYSTEM, invoice=inv)
    with pytest.raises(BusinessError, match="dépasser"):
        services.finalise_invoice(actor=SYSTEM, invoice=too_much)
    rest = services.create_credit_note(
        actor=SYSTEM, invoice=inv, lines=[factories.line(org_qc, price="100.00")]
    )
    services.finalise_invoice(actor=SYSTEM, invoice=rest)
    inv.refresh_from_db()
    assert inv.status == "paid"


def test_proforma_has_its_own_series_and_becomes_an_invoice_when_paid(org_qc, customer_qc):
    proforma = factories.invoice(org_qc, customer_qc, kind="proforma")
    assert proforma.number.startswith("PF-")
    assert not LedgerEntry.objects.filter(invoice=proforma).exists()
    record_payment(
        actor=SYSTEM,
        organisation=org_qc,
        customer=customer_qc,
        amount=proforma.total,
        method="cheque",
        invoice=proforma,
    )
    proforma.refresh_from_db()
    invoice = proforma.converted_to
    assert invoice.kind == "invoice" and invoice.number.startswith("F-")
    assert invoice.status == "paid" and invoice.total == proforma.total
    assert services.convert_proforma(actor=SYSTEM, proforma=proforma) == invoice
    assert AuditLog.objects.filter(object_id=str(proforma.pk), action="convert", to_state="paid").count() == 1


def test_void_reverses_the_ledger_and_refuses_paid_invoices(org_qc, customer_qc):
    inv = factories.invoice(org_qc, customer_qc)
    services.void_invoice(actor=SYSTEM, invoice=inv, reason="erreur")
    assert sum(e.amount for e in LedgerEntry.objects.filter(customer=customer_qc)) == 0
    paid = factories.invoice(org_qc, customer_qc)
    record_payment(
        actor=SYSTEM, organisation=org_qc, customer=customer_qc, amount="10.00", method="cash", invoice=paid
    )
    with pytest.raises(BusinessError):
        services.void_invoice(actor=SYSTEM, invoice=paid)
    with pytest.raises(BusinessError):
        services.void_invoice(actor=SYSTEM, invoice=inv)


def test_every_state_change_is_audited(org_qc, customer_qc):
    inv = factories.invoice(org_qc, customer_qc)
    record_payment(
        actor=SYSTEM,
        organisation=org_qc,
        customer=customer_qc,
        amount=inv.total,
        method="cheque",
        invoice=inv,
    )
    rows = AuditLog.objects.filter(
        content_type=ContentType.objects.get_for_model(Invoice), object_id=str(inv.pk)
    )
    assert [(r.action, r.from_state, r.to_state) for r in rows.order_by("id")] == [
        ("create", "", "draft"),
        ("finalise", "draft", "open"),
        ("paid", "open", "paid"),
    ]
    other = factories.invoice(org_qc, customer_qc)
    services.void_invoice(actor=SYSTEM, invoice=other)
    assert AuditLog.objects.filter(object_id=str(other.pk), action="void", to_state="void").exists()


def test_public_link_revocation(org_qc, customer_qc):
    from acquitte.invoicing.selectors import invoice_by_public_token

    inv = factories.invoice(org_qc, customer_qc)
    token = inv.public_token
    assert len(token) >= 43
    assert invoice_by_public_token(token) == inv
    assert invoice_by_public_token(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    services.revoke_public_link(actor=SYSTEM, invoice=inv)
    assert invoice_by_public_token(token) is None
    inv.refresh_from_db()
    assert invoice_by_public_token(inv.public_token) == inv


def test_who_acts_is_checked_on_every_change(org_qc, org_fr, customer_qc):
    """No actor is full rights: a public link, another organisation's staff or another customer's
    link is refused, and only a customer's own link (or staff) may settle that customer's invoice."""
    from django.core.exceptions import PermissionDenied

    from acquitte.core.actors import PublicLink

    draft = factories.invoice(org_qc, customer_qc, finalise=False)
    foreign_staff = factories.staff(org_fr, email="gerant@example.test")
    own_link = PublicLink(token="t" * 43, organisation_id=org_qc.pk, customer_id=customer_qc.pk)
    other = factories.customer(org_qc, name="Autre client", email="autre@example.test")
    other_link = PublicLink(token="u" * 43, organisation_id=org_qc.pk, customer_id=other.pk)
    for actor in (foreign_staff, own_link):
        with pytest.raises(PermissionDenied):
            services.finalise_invoice(invoice=draft, actor=actor)
        with pytest.raises(PermissionDenied):
            services.create_invoice(organisation=org_qc, customer=customer_qc, actor=actor)
        with pytest.raises(PermissionDenied):
            services.add_line(invoice=draft, actor=actor, line=factories.line(org_qc))
    invoice = services.finalise_invoice(invoice=draft, actor=SYSTEM)
    for actor in (foreign_staff, own_link):
        with pytest.raises(PermissionDenied):
            services.void_invoice(invoice=invoice, actor=actor)
        with pytest.raises(PermissionDenied):
            services.revoke_public_link(invoice=invoice, actor=actor)
    credit = services.create_credit_note(
        invoice=invoice, actor=SYSTEM, lines=[factories.line(org_qc, price="10.00")]
    )
    with pytest.raises(PermissionDenied):
        services.allocate(invoice=invoice, amount=Decimal("1.00"), credit_note=credit, actor=other_link)
    assert Invoice.objects.get(pk=invoice.pk).amount_paid == 0


def test_batch_finalisation_keeps_the_frozen_fields_guarded(org_qc, customer_qc):
    """After the raw UPDATE of a batch, the returned invoices know their stored row."""
    drafts = [factories.invoice(org_qc, customer_qc, finalise=False) for _ in range(2)]
    first, second = services.finalise_invoices(organisation=org_qc, invoices=drafts, actor=SYSTEM)
    assert (first.status, second.status) == (Invoice.Status.OPEN, Invoice.Status.OPEN)
    first.total = Decimal("1.00")
    with pytest.raises(BusinessError, match="émettez un avoir") as refused:
        first.save()
    assert refused.value.error_code == "document_finalised"
