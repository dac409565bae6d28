"""Changes to the catalogue: products and services, added from the catalogue or from a quote."""

from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _

from acquitte.core.actors import Actor
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.models import AuditAction
from acquitte.core.services import record_transition
from acquitte.core.tenancy import check_can_write, check_same_organisation
from acquitte.customers.services import _validated

from .models import Product

if TYPE_CHECKING:
    from acquitte.customers.models import Organisation


def _free_sku(organisation: "Organisation", name: str) -> str:
    """A readable SKU from the name, made unique in the organisation ("POSE-FENETRE-2")."""
    base = (slugify(name)[:56] or "article").upper()
    taken = set(
        Product.objects.filter(organisation=organisation, sku__startswith=base).values_list("sku", flat=True)
    )
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


@transaction.atomic
def save_product(*, product: Product, actor: Actor) -> Product:
    """Validate and save a product; a blank SKU is made from its name."""
    organisation = product.organisation
    check_can_write(actor, organisation)
    check_same_organisation(organisation, product.tax_category if product.tax_category_id else None)
    creating = product.pk is None
    product.currency = organisation.currency
    product.sku = (product.sku or "").strip() or _free_sku(organisation, product.name)
    duplicate = Product.objects.filter(organisation=organisation, sku=product.sku).exclude(pk=product.pk)
    if duplicate.exists():
        raise BusinessError({"sku": [_("Cette référence est déjà utilisée.")]}, code=ErrorCode.DUPLICATE)
    _validated(product)
    try:
        with transaction.atomic():
            product.save()
    except IntegrityError as exc:
        raise BusinessError(
            {"sku": [_("Cette référence est déjà utilisée.")]}, code=ErrorCode.DUPLICATE
        ) from exc
    record_transition(
        obj=product,
        organisation=organisation,
        actor=actor,
        action=AuditAction.CREATE if creating else AuditAction.UPDATE,
    )
    return product
