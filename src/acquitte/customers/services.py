"""Operations on organisations, customers and their people."""

from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Model, ProtectedError
from django.utils import timezone
from django.utils.translation import gettext as _

from acquitte.core.actors import Actor, Person, System
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.models import AuditAction, NumberSeries
from acquitte.core.services import next_number, record_transition
from acquitte.core.tenancy import check_can_act_for, check_can_manage_settings, check_can_write

from .models import (
    Address,
    Contact,
    Customer,
    Organisation,
    Site,
    TermsAcceptance,
    TermsVersion,
    User,
)
from .signals import organisation_created

DEFAULT_SERIES = {
    NumberSeries.Kind.INVOICE: ("F-{year}-{seq:06d}", True),
    NumberSeries.Kind.CREDIT_NOTE: ("AV-{year}-{seq:06d}", True),
    NumberSeries.Kind.PROFORMA: ("PF-{year}-{seq:06d}", True),
    NumberSeries.Kind.QUOTE: ("S-{year}-{seq:05d}", True),
    NumberSeries.Kind.CUSTOMER: ("C{seq:05d}", False),
}

CustomerPart = Address | Contact | Site
M = TypeVar("M", bound=Model)


def _validated(instance: M) -> M:
    """Run the model's checks; a ValidationError becomes a BusinessError and nothing is saved."""
    try:
        instance.full_clean()
    except ValidationError as exc:
        raise BusinessError(
            exc.message_dict if hasattr(exc, "error_dict") else exc.messages, code=ErrorCode.INVALID_INPUT
        ) from exc
    return instance


@transaction.atomic
def create_organisation(*, actor: Actor, **fields: Any) -> Organisation:
    """Create a tenant with its default numbering series. Only the system or a superuser may."""
    if not (isinstance(actor, System) or (isinstance(actor, Person) and actor.is_superuser)):
        raise PermissionDenied(_("Vous n'avez pas accès à cette organisation."))
    organisation = _validated(Organisation(**fields))
    organisation.save()
    NumberSeries.objects.bulk_create(
        NumberSeries(organisation=organisation, kind=kind, format=fmt, reset_yearly=reset)
        for kind, (fmt, reset) in DEFAULT_SERIES.items()
    )
    organisation_created.send(sender=Organisation, organisation=organisation, actor=actor)
    return organisation


@transaction.atomic
def create_staff_user(
    *,
    organisation: Organisation,
    actor: Actor,
    email: str,
    password: str,
    role: str,
    full_name: str = "",
    language: str = "fr",
) -> User:
    check_can_manage_settings(actor, organisation)
    if role not in User.Role.values:
        raise BusinessError(_("Rôle inconnu."), code=ErrorCode.INVALID_INPUT)
    if User.objects.filter(email__iexact=email).exists():
        raise BusinessError(_("Un compte existe déjà avec ce courriel."), code=ErrorCode.DUPLICATE)
    return User.objects.create_user(
        email,
        password,
        organisation=organisation,
        role=role,
        full_name=full_name,
        is_staff=True,
        language=language,
    )


@transaction.atomic
def create_customer(
    *, organisation: Organisation, actor: Actor, name: str, email: str, **fields: Any
) -> Customer:
    """Create a customer with the next number of the organisation's customer series."""
    fields.setdefault("currency", organisation.currency)
    return save_customer(
        customer=Customer(organisation=organisation, name=name, email=email, **fields), actor=actor
    )


@transaction.atomic
def save_customer(*, customer: Customer, actor: Actor) -> Customer:
    """Validate and save a customer; a new one takes the next customer number."""
    check_can_write(actor, customer.organisation)
    creating = customer.pk is None
    if creating:
        customer.number = "pending"
    _validated(customer)
    if creating:
        customer.number = next_number(
            organisation=customer.organisation,
            kind=NumberSeries.Kind.CUSTOMER,
            issue_date=timezone.localdate(),
        )
    customer.save()
    record_transition(
        obj=customer,
        organisation=customer.organisation,
        actor=actor,
        action=AuditAction.CREATE if creating else AuditAction.UPDATE,
    )
    return customer


def _add_address(*, customer: Customer, is_default: bool, fields: dict[str, Any]) -> Address:
    has_default = customer.addresses.filter(is_default=True).exists()
    if is_default and has_default:
        raise BusinessError(
            _("Ce client a déjà une adresse par défaut ; utilisez « Définir par défaut »."),
            code=ErrorCode.DUPLICATE,
        )
    address = _validated(Address(customer=customer, is_default=is_default or not has_default, **fields))
    try:
        with transaction.atomic():
            address.save()
    except IntegrityError as exc:
        raise BusinessError(_("Ce client a déjà une adresse par défaut."), code=ErrorCode.DUPLICATE) from exc
    return address


def _set_default_address(address: Address) -> Address:
    Customer.objects.select_for_update().get(pk=address.customer_id)
    Address.objects.filter(customer_id=address.customer_id, is_default=True).update(is_default=False)
    address.is_default = True
    address.save(update_fields=["is_default"])
    return address


@transaction.atomic
def add_address(*, customer: Customer, actor: Actor, is_default: bool = False, **fields: Any) -> Address:
    """Add a billing address. The first one is the default; a second default is refused."""
    check_can_write(actor, customer.organisation)
    return _add_address(customer=customer, is_default=is_default, fields=fields)


@transaction.atomic
def set_default_address(*, address: Address, actor: Actor) -> Address:
    check_can_write(actor, address.customer.organisation)
    return _set_default_address(address)


@transaction.atomic
def add_contact(*, customer: Customer, actor: Actor, **fields: Any) -> Contact:
    check_can_write(actor, customer.organisation)
    if fields.get("is_primary") and customer.contacts.filter(is_primary=True).exists():
        raise BusinessError(_("Ce client a déjà un contact principal."), code=ErrorCode.DUPLICATE)
    contact = _validated(Contact(customer=customer, **fields))
    contact.save()
    return contact


@transaction.atomic
def add_site(*, customer: Customer, actor: Actor, **fields: Any) -> Site:
    check_can_write(actor, customer.organisation)
    site = _validated(Site(customer=customer, **fields))
    site.save()
    return site


@transaction.atomic
def update_part(*, part: CustomerPart, actor: Actor, **fields: Any) -> CustomerPart:
    """Change an address, contact or site. Finalised invoices keep the snapshot they froze."""
    check_can_write(actor, part.customer.organisation)
    for name, value in fields.items():
        setattr(part, name, value)
    _validated(part)
    try:
        with transaction.atomic():
            part.save()
    except IntegrityError as exc:
        raise BusinessError(_("Ce client a déjà un contact principal."), code=ErrorCode.DUPLICATE) from exc
    record_transition(
        obj=part.customer, organisation=part.customer.organisation, actor=actor, action=AuditAction.UPDATE
    )
    return part


@transaction.atomic
def remove_part(*, part: CustomerPart, actor: Actor) -> None:
    """Remove an address, contact or site that no draft or invoice points to."""
    check_can_write(actor, part.customer.organisation)
    if isinstance(part, Address) and part.is_default:
        raise BusinessError(
            _("Choisissez d'abord une autre adresse par défaut."), code=ErrorCode.INVALID_STATE
        )
    try:
        with transaction.atomic():
            part.delete()
    except ProtectedError as exc:
        raise BusinessError(
            _("Une facture y fait référence : il ne peut pas être supprimé."), code=ErrorCode.IN_USE
        ) from exc
    record_transition(
        obj=part.customer, organisation=part.customer.organisation, actor=actor, action=AuditAction.UPDATE
    )


def _accept_terms(
    *, customer: Customer, actor: Actor, terms: TermsVersion, ip_address: str
) -> TermsAcceptance:
    if terms.organisation_id != customer.organisation_id:
        raise BusinessError(_("Objet introuvable."), code=ErrorCode.NOT_FOUND)
    acceptance, _created = TermsAcceptance.objects.get_or_create(
        customer=customer,
        terms=terms,
        defaults={"user": actor if isinstance(actor, User) else None, "ip_address": ip_address},
    )
    return acceptance


@transaction.atomic
def accept_terms(
    *, customer: Customer, actor: Actor, terms: TermsVersion, ip_address: str
) -> TermsAcceptance:
    """Record that ``actor`` accepted ``terms`` for ``customer``; accepting twice changes nothing."""
    check_can_act_for(actor, customer)
    return _accept_terms(customer=customer, actor=actor, terms=terms, ip_address=ip_address)


@transaction.atomic
def complete_first_login(
    *,
    customer: Customer,
    actor: Actor,
    terms: TermsVersion,
    ip_address: str,
    address: Address | None = None,
    new_address: dict[str, Any] | None = None,
    contact: dict[str, str],
) -> TermsAcceptance:
    """Seed 001's first login: confirm or create the billing address, give the main contact,
    accept the terms — all or nothing."""
    check_can_act_for(actor, customer)
    if address is not None and address.customer_id != customer.pk:
        raise BusinessError(_("Objet introuvable."), code=ErrorCode.NOT_FOUND)
    if address is None:
        if not new_address:
            raise BusinessError(
                _("Choisissez ou créez une adresse de facturation."), code=ErrorCode.INVALID_INPUT
            )
        address = _add_address(customer=customer, is_default=False, fields=new_address)
    _set_default_address(address)
    name = (contact.get("name") or "").strip()
    if not name:
        raise BusinessError(_("Le nom du contact principal est obligatoire."), code=ErrorCode.INVALID_INPUT)
    primary = customer.contacts.filter(is_primary=True).first() or Contact(customer=customer, is_primary=True)
    primary.name, primary.email, primary.phone = name, contact.get("email", ""), contact.get("phone", "")
    _validated(primary).save()
    return _accept_terms(customer=customer, actor=actor, terms=terms, ip_address=ip_address)


@transaction.atomic
def unlock_account(*, organisation: Organisation, user: User, actor: Actor) -> int:
    """Lift a sign-in lockout: forget the recent failures of one account of this organisation
    (its staff or a portal user of one of its customers). The organisation's owner only.

    Returns how many failure records were removed. Lockouts of an address (password spraying)
    are not an account's, and lapse after the cool-off.
    """
    from axes.utils import reset

    check_can_manage_settings(actor, organisation)
    belongs = user.organisation_id == organisation.pk or (
        user.customer is not None and user.customer.organisation_id == organisation.pk
    )
    if not belongs:
        raise BusinessError(_("Objet introuvable."), code=ErrorCode.NOT_FOUND)
    removed = reset(username=user.email)
    record_transition(
        obj=user,
        organisation=organisation,
        actor=actor,
        action=AuditAction.UPDATE,
        detail={"unlocked": True, "failures_removed": removed},
    )
    return int(removed)
