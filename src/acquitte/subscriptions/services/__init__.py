"""Every operation of the subscriptions app that changes state, one module per concern.

The names callers use are re-exported here; reads live in ``acquitte.subscriptions.selectors``.
"""

from .billing import ChunkResult, RunSummary, bill_customers, bill_run_chunk, run_billing
from .changes import (
    cancel_subscription,
    change_product,
    change_quantity,
    follow_catalogue_price,
    pause_subscription,
    resume_subscription,
)
from .clock import advance_test_clock, reset_test_clock, update_billing_settings
from .collection import CollectionSummary, charge_invoices, collect_customers, collection_key, run_collection
from .domains import change_recurring, request_renewals, set_recurring, stop_recurring
from .dunning import DunningSummary, dun_customers, run_dunning, update_dunning_settings
from .orders import (
    add_order_line,
    cancel_order,
    complete_order,
    create_order,
    place_order,
    remove_order_line,
    ship_order,
    update_order_line,
)
from .renewals import (
    RenewalAction,
    RenewalChunkResult,
    RenewalSummary,
    renew_paid_services,
    renew_run_chunk,
    run_renewals,
)
from .runs import close_stalled_runs, count_chunk, open_run
from .suspensions import suspend_service, terminate_service, unsuspend_service

__all__ = [
    "ChunkResult",
    "CollectionSummary",
    "DunningSummary",
    "RenewalAction",
    "RenewalChunkResult",
    "RenewalSummary",
    "RunSummary",
    "add_order_line",
    "advance_test_clock",
    "bill_customers",
    "bill_run_chunk",
    "cancel_order",
    "cancel_subscription",
    "change_product",
    "change_quantity",
    "change_recurring",
    "charge_invoices",
    "close_stalled_runs",
    "collect_customers",
    "collection_key",
    "complete_order",
    "count_chunk",
    "create_order",
    "dun_customers",
    "follow_catalogue_price",
    "open_run",
    "pause_subscription",
    "place_order",
    "remove_order_line",
    "renew_paid_services",
    "renew_run_chunk",
    "request_renewals",
    "reset_test_clock",
    "resume_subscription",
    "run_billing",
    "run_collection",
    "run_dunning",
    "run_renewals",
    "set_recurring",
    "ship_order",
    "stop_recurring",
    "suspend_service",
    "terminate_service",
    "unsuspend_service",
    "update_billing_settings",
    "update_dunning_settings",
    "update_order_line",
]
