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
from .collection import CollectionSummary, collect_customers, collection_key, run_collection
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
from .runs import close_stalled_runs, count_chunk, open_run

__all__ = [
    "ChunkResult",
    "CollectionSummary",
    "RunSummary",
    "add_order_line",
    "advance_test_clock",
    "bill_customers",
    "bill_run_chunk",
    "cancel_order",
    "cancel_subscription",
    "change_product",
    "change_quantity",
    "close_stalled_runs",
    "collect_customers",
    "collection_key",
    "complete_order",
    "count_chunk",
    "create_order",
    "follow_catalogue_price",
    "open_run",
    "pause_subscription",
    "place_order",
    "remove_order_line",
    "reset_test_clock",
    "resume_subscription",
    "run_billing",
    "run_collection",
    "ship_order",
    "update_billing_settings",
    "update_order_line",
]
