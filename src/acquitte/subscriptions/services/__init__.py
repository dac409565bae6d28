"""Every operation of the subscriptions app that changes state, one module per concern.

The names callers use are re-exported here; reads live in ``acquitte.subscriptions.selectors``.
"""

from .runs import count_chunk, open_run

__all__ = [
    "count_chunk",
    "open_run",
]
