"""Every operation of the payments app that changes state, one module per concern.

The names callers use are re-exported here; reads live in ``acquitte.payments.selectors``.
"""

from .accounts import connect_provider, disconnect_provider, set_online_payment_default
from .charges import make_payment, pay_invoice, pay_invoice_once
from .checkout import start_checkout
from .hosted import finish_hosted_payment, start_hosted_payment
from .manual import declare_transfer, record_payment
from .methods import add_bank_account, add_card, bank_account_number, remove_method, set_default_method
from .outcomes import TRANSITIONS, apply_charge_result, transition
from .reconciliation import reconcile_payments
from .refunds import apply_refund_result, refund
from .webhooks import process_webhook_event, receive_webhook, webhook_secret

__all__ = [
    "TRANSITIONS",
    "add_bank_account",
    "add_card",
    "apply_charge_result",
    "apply_refund_result",
    "bank_account_number",
    "connect_provider",
    "declare_transfer",
    "disconnect_provider",
    "finish_hosted_payment",
    "make_payment",
    "pay_invoice",
    "pay_invoice_once",
    "process_webhook_event",
    "receive_webhook",
    "reconcile_payments",
    "record_payment",
    "refund",
    "remove_method",
    "set_default_method",
    "set_online_payment_default",
    "start_checkout",
    "start_hosted_payment",
    "transition",
    "webhook_secret",
]
