"""The subscriptions app's rows: the monthly runs' (``billing``), the services that renew on their
expiry date (``services``) and the dunning schedule's (``dunning``)."""

from .billing import (
    RECURRING_KINDS,
    Adjustment,
    BilledPeriod,
    BillingRun,
    BillingSettings,
    CollectionAttempt,
    Order,
    OrderCharge,
    OrderLine,
    Subscription,
)
from .dunning import CardExpiryNotice, DunningSettings, DunningStep
from .services import Service, ServiceRenewal, ServiceSuspension

__all__ = [
    "RECURRING_KINDS",
    "Adjustment",
    "BilledPeriod",
    "BillingRun",
    "BillingSettings",
    "CardExpiryNotice",
    "CollectionAttempt",
    "DunningSettings",
    "DunningStep",
    "Order",
    "OrderCharge",
    "OrderLine",
    "Service",
    "ServiceRenewal",
    "ServiceSuspension",
    "Subscription",
]
