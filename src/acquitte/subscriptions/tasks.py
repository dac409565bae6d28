"""Celery tasks of the subscriptions app: the daily runs and their chunks. No business rules here."""

import datetime

from celery import shared_task

from acquitte.core.actors import Actor, System
from acquitte.customers.models import Organisation, User
from acquitte.notifications.services import deliver

from . import services
from .dunning_selectors import dunning_due
from .models import BillingRun
from .renewal_selectors import renewal_due
from .selectors import billing_due, collection_due, today_for

BILLING_RUN = System(reason="billing_run")
COLLECTION_RUN = System(reason="collection_run")
DELIVERY = System(reason="outbox delivery")
SWEEP = System(reason="stalled runs")


@shared_task
def run_due_billing() -> int:
    """Each organisation's billing run for its today (missed days caught up: what is due by today
    is billed), when something is due; returns how many runs started. The chunks go to the
    workers; this task does not wait for them."""
    started = 0
    for organisation in Organisation.objects.order_by("pk").iterator():
        as_of = today_for(organisation)
        if billing_due(organisation, as_of):
            services.run_billing(organisation=organisation, as_of=as_of, actor=BILLING_RUN, wait=False)
            started += 1
    return started


def _actor(user_id: int | None, reason: str) -> Actor:
    """Who started the run: the staff member again (checked again by the service), or the system."""
    if user_id is not None:
        return User.objects.get(pk=user_id)
    return System(reason=reason.removeprefix("system:"))


@shared_task
def bill_chunk(
    organisation_id: int,
    as_of: str,
    first_customer_id: int,
    last_customer_id: int,
    run_id: int,
    user_id: int | None = None,
    reason: str = "billing_run",
) -> dict[str, int]:
    """One chunk of a billing run (only ids and strings: any worker on any machine can take it)."""
    run = BillingRun.objects.select_related("organisation").get(
        pk=run_id, organisation_id=organisation_id, kind=BillingRun.Kind.BILLING
    )
    if run.run_date != datetime.date.fromisoformat(as_of):
        raise ValueError("bill_chunk: the date is not its run's")
    result = services.bill_run_chunk(
        run=run,
        first_customer_id=first_customer_id,
        last_customer_id=last_customer_id,
        actor=_actor(user_id, reason),
    )
    return {"invoices": result.invoices, "failures": result.failures}


@shared_task
def close_stalled_runs() -> int:
    """Runs whose worker died are marked interrupted, so that nobody waits on them."""
    return services.close_stalled_runs(actor=SWEEP)


@shared_task
def deliver_run_messages(message_ids: list[int]) -> None:
    """The e-mails of one chunk's invoices, after its commit."""
    for message_id in message_ids:
        deliver(message_id=message_id, actor=DELIVERY)


@shared_task
def run_due_collections() -> int:
    """Each organisation's collection of its latest collection day (missed days caught up), when it
    has something to collect; returns how many runs started."""
    started = 0
    for organisation in Organisation.objects.order_by("pk").iterator():
        as_of = today_for(organisation)
        if collection_due(organisation, as_of):
            services.run_collection(organisation=organisation, as_of=as_of, actor=COLLECTION_RUN)
            started += 1
    return started


@shared_task
def collect_chunk(
    run_id: int,
    customer_ids: list[int],
    concurrency: int,
    user_id: int | None = None,
    reason: str = "collection_run",
) -> dict[str, int]:
    """One chunk of a collection run (only ids: any worker on any machine can take it)."""
    run = BillingRun.objects.select_related("organisation").get(pk=run_id, kind=BillingRun.Kind.COLLECTION)
    result = services.collect_customers(
        organisation=run.organisation,
        customer_ids=customer_ids,
        collection_date=run.run_date,
        actor=_actor(user_id, reason),
        run=run,
        concurrency=concurrency,
    )
    return {"charges": result.charges, "failures": result.failures}


DUNNING_RUN = System(reason="dunning_run")


@shared_task
def run_due_dunning() -> int:
    """Each organisation's dunning steps of its today (missed days caught up, once each), when it
    has an invoice to look at; returns how many runs started."""
    started = 0
    for organisation in Organisation.objects.order_by("pk").iterator():
        as_of = today_for(organisation)
        if dunning_due(organisation, as_of):
            services.run_dunning(organisation=organisation, as_of=as_of, actor=DUNNING_RUN)
            started += 1
    return started


@shared_task
def dunning_chunk(
    run_id: int, customer_ids: list[int], user_id: int | None = None, reason: str = "dunning_run"
) -> dict[str, int]:
    """One chunk of a dunning run (only ids: any worker on any machine can take it)."""
    run = BillingRun.objects.select_related("organisation").get(pk=run_id, kind=BillingRun.Kind.DUNNING)
    result = services.dun_customers(
        organisation=run.organisation,
        customer_ids=customer_ids,
        as_of=run.run_date,
        actor=_actor(user_id, reason),
        run=run,
    )
    return {"steps": result.steps, "charges": result.charges, "failures": result.failures}


RENEWAL_RUN = System(reason="renewal_run")


@shared_task
def run_due_renewals() -> int:
    """Each organisation's renewal run of its today (missed days caught up: what is due by then is
    invoiced once), when it has something to do; returns how many runs started. The chunks go to
    the workers; this task does not wait for them."""
    started = 0
    for organisation in Organisation.objects.order_by("pk").iterator():
        as_of = today_for(organisation)
        if renewal_due(organisation, as_of):
            services.run_renewals(organisation=organisation, as_of=as_of, actor=RENEWAL_RUN, wait=False)
            started += 1
    return started


@shared_task
def renew_chunk(
    organisation_id: int,
    as_of: str,
    first_customer_id: int,
    last_customer_id: int,
    run_id: int,
    concurrency: int,
    user_id: int | None = None,
    reason: str = "renewal_run",
) -> dict[str, int]:
    """One chunk of a renewal run (only ids and strings: any worker on any machine can take it)."""
    run = BillingRun.objects.select_related("organisation").get(
        pk=run_id, organisation_id=organisation_id, kind=BillingRun.Kind.RENEWAL
    )
    if run.run_date != datetime.date.fromisoformat(as_of):
        raise ValueError("renew_chunk: the date is not its run's")
    result = services.renew_run_chunk(
        run=run,
        first_customer_id=first_customer_id,
        last_customer_id=last_customer_id,
        actor=_actor(user_id, reason),
        concurrency=concurrency,
    )
    return {
        "invoices": result.invoices,
        "charges": result.charges,
        "expired": result.expired,
        "notices": result.notices,
        "failures": result.failures,
    }
