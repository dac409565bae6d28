"""Events of this app that upper apps react to, so that customers never imports them."""

from django.dispatch import Signal

#: Sent inside the creating transaction with ``organisation`` and ``actor``; payments connects
#: the sandbox provider on it.
organisation_created = Signal()
