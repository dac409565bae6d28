"""Operations on organisations, customers and their people."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.translation import gettext as _

from acquitte.core.errors import BusinessError
from acquitte.core.models import NumberSeries
from acquitte.core.services import next_number, record_transition
from acquitte.core.tenancy import check_can_write

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

DEFAULT_SERIES = {
    NumberSeries.Kind.INVOICE: ("F-{year}-{seq:06d}", True),
    NumberSeries.Kind.CREDIT_NOTE: ("AV-{year}-{seq:06d}", True),
    NumberSeries.Kind.PROFORMA: ("PF-{year}-{seq:06d}", True),
    NumberSeries.Kind.QUOTE: ("S-{year}-{seq:05d}", True),
    NumberSeries.Kind.CUSTOMER: ("C{seq:05d}", False),
}


def _validated(instance):
    """Run the model's checks; a ValidationError becomes a BusinessError and nothing is saved."""
    try:
        instance.full_clean()
    except ValidationError as exc:
        raise BusinessError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages) from exc
    return instance


@transaction.atomic
def create_organisation(**fields) -> Organisation:
    """Create a tenant with its default numbering series."""
    organisation = _validated(Organisation(**fields))
    organisation.save()
    NumberSeries.objects.bulk_create(
        NumberSeries(organisation=organisation, kind=kind, format=fmt, reset_yearly=reset)
        for kind, (fmt, reset) in DEFAULT_SERIES.items()
    )
    if settings.PAYMENTS_SANDBOX:
        from acquitte.payments.services import connect_provider

        connect_provider(organisation=organisation, provider="sandbox", credentials={})
    return organisation


@transaction.atomic
def create_staff_user(
    *, organisation, email: str, password: str, role: str, full_name: str = "", language="fr"
) -> User:
    if role not in User.Role.values:
        raise BusinessError(_("Rôle inconnu."))
    if User.objects.filter(email__iexact=email).exists():
        raise BusinessError(_("Un compte existe déjà avec ce courriel."))
    user = User.objects.create_user(
        email,
        password,
        organisation=organisation,
        role=role,
        full_name=full_name,
        is_staff=True,
        language=language,
    )
    return user


@transaction.atomic
def create_customer(*, organisation, actor=None, name: str, email: str, **fields) -> Customer:
    """Create a customer with the next number of the organisation's customer series."""
    fields.setdefault("currency", organisation.currency)
    return save_customer(
        customer=Customer(organisation=organisation, name=name, email=email, **fields), actor=actor
    )


@transaction.atomic
def save_customer(*, customer: Customer, actor=None) -> Customer:
    """Validate and save a customer; a new one takes the next customer number."""
    check_can_write(actor, customer.organisation)
    creating = customer.pk is None
    if creating:
        customer.number = "pending"
    _validated(customer)
    if creating:
        customer.number = next_number(
            organisation=customer.organisation, kind="customer", issue_date=timezone.localdate()
        )
    customer.save()
    record_transition(
        obj=customer,
        organisation=customer.organisation,
        actor=actor,
        action="create" if creating else "update",
    )
    return customer


@transaction.atomic
def add_address(*, customer, actor=None, is_default: bool = False, **fields) -> Address:
    """Add a billing address. The first one is the default; a second default is refused."""
    check_can_write(actor, customer.organisation)
    has_default = customer.addresses.filter(is_default=True).exists()
    if is_default and has_default:
        raise BusinessError(_("Ce client a déjà une adresse par défaut ; utilisez « Définir par défaut »."))
    address = _validated(Address(customer=customer, is_default=is_default or not has_default, **fields))
    try:
        with transaction.atomic():
            address.save()
    except IntegrityError as exc:
        raise BusinessError(_("Ce client a déjà une adresse par défaut.")) from exc
    return address


@transaction.atomic
def set_default_address(*, address: Address, actor=None) -> Address:
    check_can_write(actor, address.customer.organisation)
    Customer.objects.select_for_update().get(pk=address.customer_id)
    Address.objects.filter(customer_id=address.customer_id, is_default=True).update(is_default=False)
    address.is_default = True
    address.save(update_fields=["is_default"])
    return address


@transaction.atomic
def add_contact(*, customer, actor=None, **fields) -> Contact:
    check_can_write(actor, customer.organisation)
    if fields.get("is_primary") and customer.contacts.filter(is_primary=True).exists():
        raise BusinessError(_("Ce client a déjà un contact principal."))
    contact = _validated(Contact(customer=customer, **fields))
    contact.save()
    return contact


@transaction.atomic
def add_site(*, customer, actor=None, **fields) -> Site:
    check_can_write(actor, customer.organisation)
    site = _validated(Site(customer=customer, **fields))
    site.save()
    return site


@transaction.atomic
def update_part(*, part, actor=None, **fields):
    """Change an address, contact or site. Finalised invoices keep the snapshot they froze."""
    check_can_write(actor, part.customer.organisation)
    for name, value in fields.items():
        setattr(part, name, value)
    _validated(part)
    try:
        with transaction.atomic():
            part.save()
    except IntegrityError as exc:
        raise BusinessError(_("Ce client a déjà un contact principal.")) from exc
    record_transition(
        obj=part.customer, organisation=part.customer.organisation, actor=actor, action="update"
    )
    return part


@transaction.atomic
def remove_part(*, part, actor=None) -> None:
    """Remove an address, contact or site that no draft or invoice points to."""
    check_can_write(actor, part.customer.organisation)
    if isinstance(part, Address) and part.is_default:
        raise BusinessError(_("Choisissez d'abord une autre adresse par défaut."))
    try:
        with transaction.atomic():
            part.delete()
    except ProtectedError as exc:
        raise BusinessError(_("Une facture y fait référence : il ne peut pas être supprimé.")) from exc
    record_transition(
        obj=part.customer, organisation=part.customer.organisation, actor=actor, action="update"
    )


def current_terms(organisation) -> TermsVersion | None:
    return organisation.terms_versions.order_by("-published_at").first()


@transaction.atomic
def accept_terms(*, customer, user, terms: TermsVersion, ip_address: str) -> TermsAcceptance:
    """Record that ``user`` accepted ``terms`` for ``customer``; accepting twice changes nothing."""
    if terms.organisation_id != customer.organisation_id:
        raise BusinessError(_("Objet introuvable."))
    acceptance, _created = TermsAcceptance.objects.get_or_create(
        customer=customer, terms=terms, defaults={"user": user, "ip_address": ip_address}
    )
    return acceptance


@transaction.atomic
def complete_first_login(
    *,
    customer,
    user,
    terms: TermsVersion,
    ip_address: str,
    address: Address | None = None,
    new_address: dict | None = None,
    contact: dict,
) -> TermsAcceptance:
    """Seed 001's first login: confirm or create the billing address, give the main contact,
    accept the terms — all or nothing."""
    if address is not None and address.customer_id != customer.pk:
        raise BusinessError(_("Objet introuvable."))
    if address is None:
        if not new_address:
            raise BusinessError(_("Choisissez ou créez une adresse de facturation."))
        address = add_address(customer=customer, **new_address)
    set_default_address(address=address)
    name = (contact.get("name") or "").strip()
    if not name:
        raise BusinessError(_("Le nom du contact principal est obligatoire."))
    primary = customer.contacts.filter(is_primary=True).first() or Contact(customer=customer, is_primary=True)
    primary.name, primary.email, primary.phone = name, contact.get("email", ""), contact.get("phone", "")
    _validated(primary).save()
    return accept_terms(customer=customer, user=user, terms=terms, ip_address=ip_address)


def terms_to_accept(customer) -> TermsVersion | None:
    """The current terms if this customer has not accepted them yet."""
    terms = current_terms(customer.organisation)
    if terms is None or customer.terms_acceptances.filter(terms=terms).exists():
        return None
    return terms
