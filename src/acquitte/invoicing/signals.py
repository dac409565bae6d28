"""Events of invoicing that upper apps react to, so that invoicing never imports them."""

from django.dispatch import Signal

#: Sent inside the transaction that marks invoices paid, with ``organisation``, ``invoice_ids`` and
#: ``actor``: subscriptions moves a renewed service's expiry date on and lifts a suspension there.
invoices_paid = Signal()
