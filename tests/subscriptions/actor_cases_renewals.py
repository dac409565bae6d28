"""Foreign-actor cases for the renewal run and the renewals paid (``tests/test_actors.py`` loads them)."""

import datetime
from collections.abc import Callable
from typing import Any

from acquitte.core.actors import Actor
from acquitte.subscriptions import services
from acquitte.subscriptions.models import BillingRun, ServiceRenewal
from tests import factories
from tests.subscriptions.domain_builders import domain_product, service

EXPIRES = datetime.date(2027, 3, 15)


def set_up(w: Any) -> None:
    domain = service(w.customer, domain_product(w.org), name="acteurs.ca", expires_on=EXPIRES)
    ServiceRenewal.objects.create(
        organisation=w.org,
        service=domain,
        period_start=EXPIRES,
        period_end=datetime.date(2028, 3, 15),
        invoice=w.open_invoice,
    )
    w.extra["renewal_run"] = services.open_run(
        organisation=w.org,
        kind=BillingRun.Kind.RENEWAL,
        run_date=EXPIRES,
        chunks_total=1,
        actor=factories.SYSTEM,
    )


CASES: dict[str, tuple[Callable[[Any, Actor], Any], bool]] = {
    "subscriptions.run_renewals": (
        lambda w, a: services.run_renewals(organisation=w.org, as_of=EXPIRES, actor=a),
        False,
    ),
    "subscriptions.renew_run_chunk": (
        lambda w, a: services.renew_run_chunk(
            run=w.extra["renewal_run"],
            first_customer_id=w.customer.pk,
            last_customer_id=w.customer.pk,
            actor=a,
        ),
        False,
    ),
    "subscriptions.charge_invoices": (
        lambda w, a: services.charge_invoices(
            organisation=w.org,
            methods={w.open_invoice.pk: w.card},
            collection_date=EXPIRES,
            actor=a,
            run=w.extra["renewal_run"],
        ),
        False,
    ),
    "subscriptions.renew_paid_services": (
        lambda w, a: services.renew_paid_services(
            organisation=w.org, invoice_ids=[w.open_invoice.pk], actor=a
        ),
        True,
    ),
}
