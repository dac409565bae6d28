"""Customers, with their addresses, contacts (billing sub-contacts among them) and sites."""

from typing import Literal

from django.db import transaction
from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from acquitte.customers import services
from acquitte.customers.models import Customer
from acquitte.customers.selectors import customer_of, search_customers

from .. import auth
from ..pagination import page
from ..problems import not_found
from ..schemas import PROBLEMS, Text

router = Router(tags=["customers"])


class AddressOut(Schema):
    id: int
    label: str
    name: str
    line1: str
    line2: str
    city: str
    region: str
    postal_code: str
    country: str
    is_default: bool


class ContactOut(Schema):
    id: int
    name: str
    company: str
    email: str
    phone: str
    is_primary: bool
    is_billing: bool


class SiteOut(Schema):
    id: int
    name: str
    line1: str
    city: str
    postal_code: str
    country: str
    active: bool


class CustomerOut(Schema):
    id: int
    number: str
    kind: str
    name: str
    email: str
    phone: str
    language: str
    currency: str
    vat_number: str
    created_at: str
    addresses: list[AddressOut]
    contacts: list[ContactOut]
    sites: list[SiteOut]

    @staticmethod
    def resolve_created_at(obj: Customer) -> str:
        return obj.created_at.isoformat()

    @staticmethod
    def resolve_addresses(obj: Customer) -> list[object]:
        return list(obj.addresses.all())

    @staticmethod
    def resolve_contacts(obj: Customer) -> list[object]:
        return list(obj.contacts.all())

    @staticmethod
    def resolve_sites(obj: Customer) -> list[object]:
        return list(obj.sites.all())


class CustomerPage(Schema):
    data: list[CustomerOut]
    next_cursor: str | None


class CustomerIn(Schema):
    name: Text = Field(min_length=1, max_length=200)
    email: Text = Field(max_length=254)
    kind: Literal["company", "person"] = "company"
    phone: Text = Field("", max_length=20)
    language: Literal["fr", "en"] = "fr"
    vat_number: Text = Field("", max_length=20)


class CustomerPatch(Schema):
    name: Text | None = Field(None, min_length=1, max_length=200)
    email: Text | None = Field(None, max_length=254)
    phone: Text | None = Field(None, max_length=20)
    language: Literal["fr", "en"] | None = None
    vat_number: Text | None = Field(None, max_length=20)


def _with_parts(rows):  # type: ignore[no-untyped-def]
    return rows.prefetch_related("addresses", "contacts", "sites")


def owned_customer(request: HttpRequest, customer_id: int) -> Customer:
    """The key's organisation's customer, or 404 as for a missing one."""
    found = customer_of(organisation=auth.organisation(request), pk=customer_id)
    if found is None:
        raise not_found()
    return found


@router.get("", response={200: CustomerPage, **PROBLEMS}, operation_id="listCustomers")
def list_customers(
    request: HttpRequest,
    q: str = Query("", max_length=100, description="Name, number, e-mail or phone fragment."),
    cursor: str = Query("", max_length=40),
    limit: int = Query(20, ge=1, le=100),
) -> dict[str, object]:
    rows = _with_parts(search_customers(organisation=auth.organisation(request), query=q))
    found, following = page(rows, cursor=cursor, limit=limit)
    return {"data": found, "next_cursor": following}


@router.get("/{customer_id}", response={200: CustomerOut, **PROBLEMS}, operation_id="getCustomer")
def get_customer(request: HttpRequest, customer_id: int) -> Customer:
    found = owned_customer(request, customer_id)
    return _with_parts(Customer.objects.filter(pk=found.pk)).get()


@router.post("", response={201: CustomerOut, **PROBLEMS}, operation_id="createCustomer")
def create_customer(request: HttpRequest, payload: CustomerIn) -> Status[Customer]:
    fields = payload.dict()
    customer = services.create_customer(
        organisation=auth.organisation(request),
        actor=auth.actor(request),
        name=fields.pop("name"),
        email=fields.pop("email"),
        **fields,
    )
    return Status(201, _with_parts(Customer.objects.filter(pk=customer.pk)).get())


@router.patch("/{customer_id}", response={200: CustomerOut, **PROBLEMS}, operation_id="updateCustomer")
def update_customer(request: HttpRequest, customer_id: int, payload: CustomerPatch) -> Customer:
    customer = owned_customer(request, customer_id)
    with transaction.atomic():
        for name, value in payload.dict(exclude_unset=True).items():
            if value is not None:
                setattr(customer, name, value)
        services.save_customer(customer=customer, actor=auth.actor(request))
    return _with_parts(Customer.objects.filter(pk=customer.pk)).get()
