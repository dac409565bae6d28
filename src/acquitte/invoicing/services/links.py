"""The public consultation link of an invoice."""

from django.db import transaction
from django.utils import timezone

from acquitte.core.actors import Actor
from acquitte.core.models import AuditAction
from acquitte.core.services import record_transition
from acquitte.core.tenancy import check_can_write

from ..models import Invoice, new_public_token


@transaction.atomic
def revoke_public_link(*, invoice: Invoice, actor: Actor) -> Invoice:
    """Kill the consultation link; a new one replaces it so the invoice can be shared again."""
    invoice = (
        Invoice.objects.select_for_update(of=("self",)).select_related("organisation").get(pk=invoice.pk)
    )
    check_can_write(actor, invoice.organisation)
    invoice.public_token = new_public_token()
    invoice.public_token_revoked_at = timezone.now()
    invoice.save(update_fields=["public_token", "public_key", "public_token_revoked_at"])
    record_transition(
        obj=invoice, organisation=invoice.organisation, actor=actor, action=AuditAction.REVOKE_LINK
    )
    return invoice
