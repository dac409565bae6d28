"""Gapless, chronological numbering per organisation and series."""

import datetime
import threading

import pytest
from django.db import connection, transaction

from acquitte.core.errors import BusinessError
from acquitte.core.models import NumberSeries
from acquitte.invoicing import services
from acquitte.invoicing.models import Invoice
from tests import factories
from tests.factories import SYSTEM


def test_numbers_are_consecutive_per_series_and_organisation(org_qc, customer_qc, org_fr, customer_fr):
    numbers = [factories.invoice(org_qc, customer_qc).number for _ in range(3)]
    assert [n[-6:] for n in numbers] == ["000001", "000002", "000003"]
    assert factories.invoice(org_fr, customer_fr).number.endswith("000001")
    proforma = factories.invoice(org_qc, customer_qc, kind="proforma")
    assert proforma.number.startswith("PF-") and proforma.number.endswith("000001")


def test_rolled_back_finalisation_gives_its_number_back(org_qc, customer_qc):
    first = factories.invoice(org_qc, customer_qc)
    draft = factories.invoice(org_qc, customer_qc, finalise=False)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.finalise_invoice(actor=SYSTEM, invoice=draft)
        raise RuntimeError("crash after numbering")
    draft.refresh_from_db()
    assert draft.status == "draft" and draft.number == ""
    second = services.finalise_invoice(actor=SYSTEM, invoice=draft)
    assert int(second.number[-6:]) == int(first.number[-6:]) + 1


def test_numbering_is_chronological_and_resets_yearly(org_qc, customer_qc):
    a = factories.invoice(org_qc, customer_qc, finalise=False)
    services.finalise_invoice(actor=SYSTEM, invoice=a, issue_date=datetime.date(2025, 12, 30))
    b = factories.invoice(org_qc, customer_qc, finalise=False)
    with pytest.raises(BusinessError, match="précéder"):
        services.finalise_invoice(actor=SYSTEM, invoice=b, issue_date=datetime.date(2025, 12, 1))
    b.refresh_from_db()
    assert b.status == "draft"
    b = services.finalise_invoice(actor=SYSTEM, invoice=b, issue_date=datetime.date(2026, 1, 2))
    assert b.number == "F-2026-000001"
    assert Invoice.objects.get(pk=a.pk).number == "F-2025-000001"


def test_bad_series_format_is_refused(org_qc):
    series = NumberSeries(organisation=org_qc, kind="invoice", format="F-{year}")
    with pytest.raises(Exception, match="seq"):
        series.clean()


@pytest.mark.postgres
def test_eight_concurrent_finalisations_get_eight_consecutive_numbers():
    org = factories.quebec_organisation("concurrent")
    customer = factories.customer(org)
    drafts = [factories.invoice(org, customer, finalise=False) for _ in range(8)]
    barrier = threading.Barrier(8)
    errors = []

    def finalise(invoice):
        try:
            barrier.wait()
            services.finalise_invoice(actor=SYSTEM, invoice=invoice)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=finalise, args=(d,)) for d in drafts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    numbers = sorted(Invoice.objects.filter(organisation=org).values_list("number", flat=True))
    assert [int(n[-6:]) for n in numbers] == list(range(1, 9))
    finalised = Invoice.objects.filter(organisation=org).order_by("finalised_at")
    assert [i.number for i in finalised] == numbers


def test_batch_finalisation_is_all_or_nothing_and_gapless(org_qc, customer_qc):
    drafts = [factories.invoice(org_qc, customer_qc, finalise=False) for _ in range(4)]
    credit_target = factories.invoice(org_qc, customer_qc)
    credit = services.create_credit_note(actor=SYSTEM, invoice=credit_target)
    empty = services.create_invoice(actor=SYSTEM, organisation=org_qc, customer=customer_qc)
    with pytest.raises(BusinessError, match="sans ligne"):
        services.finalise_invoices(actor=SYSTEM, organisation=org_qc, invoices=[*drafts, empty])
    assert Invoice.objects.filter(pk__in=[d.pk for d in drafts], status="draft").count() == 4
    done = services.finalise_invoices(actor=SYSTEM, organisation=org_qc, invoices=[*drafts, credit])
    assert [d.number[-6:] for d in done[:4]] == ["000002", "000003", "000004", "000005"]
    assert done[4].number.startswith("AV-") and done[4].corrects_id == credit_target.pk
    credit_target.refresh_from_db()
    assert credit_target.status == "paid"
    assert all(inv.taxes.count() == 2 and inv.bill_to["name"] == customer_qc.name for inv in done[:4])


def test_batch_refuses_other_organisations_drafts(org_qc, customer_qc, org_fr, customer_fr):
    theirs = factories.invoice(org_fr, customer_fr, finalise=False)
    with pytest.raises(BusinessError, match="introuvable"):
        services.finalise_invoices(actor=SYSTEM, organisation=org_qc, invoices=[theirs])
    theirs.refresh_from_db()
    assert theirs.status == "draft"
