"""The catalogue: products and services with their price and tax category."""

from decimal import Decimal
from typing import Literal

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from acquitte.catalog import services
from acquitte.catalog.models import Product, TaxCategory
from acquitte.catalog.selectors import search_products
from acquitte.core.errors import BusinessError, ErrorCode

from .. import auth
from ..pagination import page
from ..problems import not_found
from ..schemas import PROBLEMS, MoneyIn, Text, money

router = Router(tags=["products"])

Kind = Literal["one_time", "monthly", "yearly", "hardware", "domain"]


class ProductOut(Schema):
    id: int
    sku: str
    name: str
    description: str
    kind: str
    unit: str
    unit_price: str = Field(examples=["30.00"])
    currency: str
    tax_category_id: int
    active: bool

    @staticmethod
    def resolve_unit_price(obj: Product) -> str | None:
        return money(obj.unit_price)


class ProductPage(Schema):
    data: list[ProductOut]
    next_cursor: str | None


class ProductIn(Schema):
    name: Text = Field(min_length=1, max_length=200)
    sku: Text = Field("", max_length=64)
    description: Text = Field("", max_length=5000)
    kind: Kind = "one_time"
    unit: Text = Field("", max_length=20)
    unit_price: MoneyIn
    tax_category: int = Field(description="Id of one of the organisation's tax categories.")


@router.get("", response={200: ProductPage, **PROBLEMS}, operation_id="listProducts")
def list_products(
    request: HttpRequest,
    q: str = Query("", max_length=100),
    include_inactive: bool = False,
    cursor: str = Query("", max_length=40),
    limit: int = Query(20, ge=1, le=100),
) -> dict[str, object]:
    rows = search_products(organisation=auth.organisation(request), query=q, active_only=not include_inactive)
    found, following = page(rows, cursor=cursor, limit=limit)
    return {"data": found, "next_cursor": following}


@router.get("/{product_id}", response={200: ProductOut, **PROBLEMS}, operation_id="getProduct")
def get_product(request: HttpRequest, product_id: int) -> Product:
    found = Product.objects.filter(organisation=auth.organisation(request), pk=product_id).first()
    if found is None:
        raise not_found()
    return found


@router.post("", response={201: ProductOut, **PROBLEMS}, operation_id="createProduct")
def create_product(request: HttpRequest, payload: ProductIn) -> Status[Product]:
    organisation = auth.organisation(request)
    category = TaxCategory.objects.filter(organisation=organisation, pk=payload.tax_category).first()
    if category is None:
        raise BusinessError(
            {"tax_category": [_("Catégorie de taxe introuvable.")]}, code=ErrorCode.INVALID_INPUT
        )
    product = Product(
        organisation=organisation,
        name=payload.name,
        sku=payload.sku,
        description=payload.description,
        kind=payload.kind,
        unit=payload.unit,
        unit_price=Decimal(payload.unit_price),
        tax_category=category,
    )
    return Status(201, services.save_product(product=product, actor=auth.actor(request)))
