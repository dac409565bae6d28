"""Quotes: drafting, sending by e-mail and SMS, the customer's decision, and conversion to an invoice."""

from .decisions import approve_quote, decline_quote, is_decidable, mark_viewed
from .drafts import add_line, add_product, create_quote, delete_draft, remove_line, set_quantity, update_quote
from .expiry import expire_quotes
from .sending import public_url, send_quote

__all__ = [
    "add_line",
    "add_product",
    "approve_quote",
    "create_quote",
    "decline_quote",
    "delete_draft",
    "expire_quotes",
    "is_decidable",
    "mark_viewed",
    "public_url",
    "remove_line",
    "send_quote",
    "set_quantity",
    "update_quote",
]
