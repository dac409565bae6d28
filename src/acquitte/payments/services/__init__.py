"""Every operation of the payments app that changes state, one module per concern.

The names callers use are re-exported here; reads live in ``acquitte.payments.selectors``.
"""

from .accounts import connect_provider, disconnect_provider, set_online_payment_default
from .batch import Call, ChargeRequest, OpenedCharges, apply_charge_results, open_charges
from .charges import make_payment, pay_invoice, pay_invoice_once
from .checkout import start_checkout
from .hosted import finish_hosted_payment, start_hosted_payment
from .manual import declare_transfer, record_payment
from .methods import add_bank_account, add_card, bank_account_number, remove_method, set_default_method
from .oauth import finish_connect, oauth_providers, start_connect
from .outcomes import TRANSITIONS, apply_charge_result, transition
from .reconciliation import reconcile_payments
from .refunds import apply_refund_result, refund
from .setup import apply_method_event, complete_method_setup, start_method_setup, sweep_abandoned_setups
from .webhooks import process_webhook_event, receive_webhook, webhook_secret

__all__ = [
    "TRANSITIONS",
    "Call",
    "ChargeRequest",
    "OpenedCharges",
    "add_bank_account",
    "add_card",
    "apply_charge_result",
    "apply_charge_results",
    "apply_method_event",
    "apply_refund_result",
    "bank_account_number",
    "complete_method_setup",
    "connect_provider",
    "declare_transfer",
    "disconnect_provider",
    "finish_connect",
    "finish_hosted_payment",
    "make_payment",
    "oauth_providers",
    "open_charges",
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
    "start_connect",
    "start_hosted_payment",
    "start_method_setup",
    "sweep_abandoned_setups",
    "transition",
    "webhook_secret",
]
