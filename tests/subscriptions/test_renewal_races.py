"""Two renewal runs at once on PostgreSQL (issue 13): each domain is renewed once and charged once.

The runs are two threads, each with its own connection, started together at a barrier on the
expiry date, so that each has both the renewal invoices to issue and the chosen cards to charge.
"""

import datetime
import threading

import pytest
from django.db import connection

from acquitte.invoicing.models import Invoice
from acquitte.payments.models import SandboxCharge
from acquitte.subscriptions.models import CollectionAttempt, Service, ServiceRenewal
from acquitte.subscriptions.services import RenewalSummary, run_renewals
from tests import factories
from tests.subscriptions import builders
from tests.subscriptions.domain_builders import domain_product, service

pytestmark = pytest.mark.postgres

EXPIRES = datetime.date(2027, 3, 15)
CUSTOMERS = 12
DOMAINS_EACH = 3


def test_two_renewal_runs_at_once_renew_each_domain_once_and_charge_once(settings):
    settings.PAYMENTS_SANDBOX_LATENCY_MS = 50
    org = factories.quebec_organisation("renouvellements-pg")
    product = domain_product(org)
    domains = []
    for k in range(CUSTOMERS):
        customer = builders.customer_with_card(org, sites=1, name=f"Client {k}", email=f"c{k}@x.test")
        card = customer.payment_methods.get()
        domains += [
            service(
                customer,
                product,
                name=f"client{k}-{d}.ca",
                expires_on=EXPIRES,
                recurring=True,
                payment_method=card,
            )
            for d in range(DOMAINS_EACH)
        ]
    barrier = threading.Barrier(2)
    summaries: list[RenewalSummary] = []

    def run() -> None:
        try:
            barrier.wait()
            summaries.append(
                run_renewals(
                    organisation=org, as_of=EXPIRES, actor=builders.SYSTEM, chunk_size=4, concurrency=4
                )
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(summaries) == 2
    assert sum(s.failures for s in summaries) == 0
    assert sum(s.invoices for s in summaries) == len(domains)
    assert sum(s.charges for s in summaries) == len(domains)
    renewals = ServiceRenewal.objects.filter(service__in=domains)
    assert renewals.count() == len(domains)
    invoices = Invoice.objects.filter(pk__in=renewals.values("invoice_id"))
    assert invoices.filter(status=Invoice.Status.PAID).count() == len(domains)
    assert Invoice.objects.filter(organisation=org, kind=Invoice.Kind.INVOICE).count() == len(domains)
    assert SandboxCharge.objects.count() == len(domains)
    assert CollectionAttempt.objects.filter(outcome=CollectionAttempt.Outcome.CHARGED).count() == len(domains)
    moved = Service.objects.filter(pk__in=[d.pk for d in domains], expires_on=datetime.date(2028, 3, 15))
    assert moved.count() == len(domains)
