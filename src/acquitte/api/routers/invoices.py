"""Invoices: drafts with lines, finalisation, sending, the PDF and the public link."""

import datetime
from decimal import Decimal
from typing import Annotated, Literal

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from acquitte.catalog.models import Product, TaxCategory
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.documents import services as documents
from acquitte.invoicing import services
from acquitte.invoicing.models import Invoice, InvoiceLine
from acquitte.invoicing.selectors import staff_invoices
from acquitte.invoicing.services import LineInput, product_line

from .. import auth
from ..pagination import page
from ..problems import not_found
from ..schemas import PROBLEMS, MoneyIn, QuantityIn, Text, money
from .customers import CustomerOut, owned_customer

router = Router(tags=["invoices"])


class LineOut(Schema):
    id: int
    position: int
    product_id: int | None
    description: str
    quantity: str
    unit: str
    unit_price: str
    discount_percent: str
    tax_category_id: int
    net_amount: str
    period_start: datetime.date | None
    period_end: datetime.date | None

    @staticmethod
    def resolve_quantity(obj: InvoiceLine) -> str:
        return f"{obj.quantity.normalize():f}"

    @staticmethod
    def resolve_unit_price(obj: InvoiceLine) -> str | None:
        return money(obj.unit_price)

    @staticmethod
    def resolve_discount_percent(obj: InvoiceLine) -> str | None:
        return money(obj.discount_percent)

    @staticmethod
    def resolve_net_amount(obj: InvoiceLine) -> str | None:
        return money(obj.net_amount)


class InvoiceSummary(Schema):
    id: int
    number: str
    kind: str
    status: str
    customer_id: int
    customer: CustomerOut | None = Field(None, description="With `expand=customer`.")
    currency: str
    issue_date: datetime.date | None
    due_date: datetime.date | None
    subtotal: str
    tax_total: str
    total: str
    amount_paid: str
    amount_due: str

    @staticmethod
    def resolve_customer(obj: Invoice, context: dict[str, object]) -> object:
        request = context["request"]
        return obj.customer if "customer" in getattr(request, "api_expand", ()) else None

    @staticmethod
    def resolve_subtotal(obj: Invoice) -> str | None:
        return money(obj.subtotal)

    @staticmethod
    def resolve_tax_total(obj: Invoice) -> str | None:
        return money(obj.tax_total)

    @staticmethod
    def resolve_total(obj: Invoice) -> str | None:
        return money(obj.total)

    @staticmethod
    def resolve_amount_paid(obj: Invoice) -> str | None:
        return money(obj.amount_paid)

    @staticmethod
    def resolve_amount_due(obj: Invoice) -> str | None:
        return money(obj.amount_due)


class InvoiceOut(InvoiceSummary):
    notes: str
    online_payment: bool
    lines: list[LineOut]

    @staticmethod
    def resolve_lines(obj: Invoice) -> list[InvoiceLine]:
        return list(obj.lines.all())


class InvoicePage(Schema):
    data: list[InvoiceSummary]
    next_cursor: str | None


class LineIn(Schema):
    """A catalogue product (its price and tax), or a free line with its own."""

    product: int | None = None
    description: Text = Field("", max_length=500)
    quantity: QuantityIn = "1"
    unit_price: MoneyIn | None = None
    tax_category: int | None = None
    discount_percent: Annotated[str, Field(pattern=r"^\d{1,3}(\.\d{1,2})?$")] = "0"
    unit: Text = Field("", max_length=20)
    period_start: datetime.date | None = None
    period_end: datetime.date | None = None


class InvoiceIn(Schema):
    customer: int
    lines: list[LineIn] = Field(default_factory=list, max_length=500)
    issue_date: datetime.date | None = None
    due_date: datetime.date | None = None
    notes: Text = Field("", max_length=5000)
    online_payment: bool | None = None


class InvoicePatch(Schema):
    lines: list[LineIn] | None = Field(None, max_length=500)
    issue_date: datetime.date | None = None
    due_date: datetime.date | None = None
    notes: Text | None = Field(None, max_length=5000)
    online_payment: bool | None = None


class PublicLinkOut(Schema):
    url: str


def _line_input(request: HttpRequest, line: LineIn, index: int) -> LineInput:
    organisation = auth.organisation(request)
    quantity = Decimal(line.quantity)
    if line.product is not None:
        product = (
            Product.objects.filter(organisation=organisation, pk=line.product)
            .select_related("tax_category")
            .first()
        )
        if product is None:
            raise BusinessError(
                {f"lines.{index}.product": [_("Produit introuvable.")]}, code=ErrorCode.INVALID_INPUT
            )
        found = product_line(product, quantity)
        if line.unit_price is not None:
            found.unit_price = Decimal(line.unit_price)
        if line.description:
            found.description = line.description
    else:
        category = (
            TaxCategory.objects.filter(organisation=organisation, pk=line.tax_category).first()
            if line.tax_category is not None
            else None
        )
        errors: dict[str, list[str]] = {}
        if category is None:
            errors[f"lines.{index}.tax_category"] = [_("Catégorie de taxe introuvable.")]
        if line.unit_price is None:
            errors[f"lines.{index}.unit_price"] = [_("Ce champ est obligatoire.")]
        if not line.description.strip():
            errors[f"lines.{index}.description"] = [_("Ce champ est obligatoire.")]
        if errors or category is None or line.unit_price is None:
            raise BusinessError(errors, code=ErrorCode.INVALID_INPUT)
        found = LineInput(
            description=line.description,
            quantity=quantity,
            unit_price=Decimal(line.unit_price),
            tax_category=category,
            unit=line.unit,
        )
    found.discount_percent = Decimal(line.discount_percent)
    found.unit = line.unit or found.unit
    found.period_start, found.period_end = line.period_start, line.period_end
    return found


def _full(invoice: Invoice) -> Invoice:
    return Invoice.objects.select_related("customer").prefetch_related("lines").get(pk=invoice.pk)


def owned_invoice(request: HttpRequest, invoice_id: int) -> Invoice:
    found = Invoice.objects.filter(organisation=auth.organisation(request), pk=invoice_id).first()
    if found is None:
        raise not_found()
    return found


@router.get("", response={200: InvoicePage, **PROBLEMS}, operation_id="listInvoices")
def list_invoices(
    request: HttpRequest,
    status: Literal["", "draft", "open", "paid", "void", "overdue"] = "",
    kind: Literal["", "invoice", "credit_note", "proforma"] = "",
    customer: int | None = None,
    issued_from: datetime.date | None = None,
    issued_to: datetime.date | None = None,
    q: str = Query("", max_length=100, description="Number or customer name fragment."),
    expand: list[Literal["customer"]] | None = Query(None),
    cursor: str = Query("", max_length=40),
    limit: int = Query(20, ge=1, le=100),
) -> dict[str, object]:
    organisation = auth.organisation(request)
    rows = staff_invoices(
        organisation,
        status=status,
        kind=kind,
        query=q,
        customer=owned_customer(request, customer) if customer is not None else None,
        date_from=issued_from,
        date_to=issued_to,
    )
    request.api_expand = set(expand or ())  # type: ignore[attr-defined]
    if "customer" in request.api_expand:  # type: ignore[attr-defined]
        rows = rows.prefetch_related("customer__addresses", "customer__contacts", "customer__sites")
    found, following = page(rows, cursor=cursor, limit=limit)
    return {"data": found, "next_cursor": following}


@router.get("/{invoice_id}", response={200: InvoiceOut, **PROBLEMS}, operation_id="getInvoice")
def get_invoice(request: HttpRequest, invoice_id: int) -> Invoice:
    return _full(owned_invoice(request, invoice_id))


@router.post("", response={201: InvoiceOut, **PROBLEMS}, operation_id="createInvoice")
def create_invoice(request: HttpRequest, payload: InvoiceIn) -> Status[Invoice]:
    customer = owned_customer(request, payload.customer)
    with transaction.atomic():
        invoice = services.create_invoice(
            organisation=auth.organisation(request),
            customer=customer,
            actor=auth.actor(request),
            lines=[_line_input(request, line, n) for n, line in enumerate(payload.lines)],
            issue_date=payload.issue_date,
            due_date=payload.due_date,
            notes=payload.notes,
            online_payment=payload.online_payment,
        )
    return Status(201, _full(invoice))


@router.patch("/{invoice_id}", response={200: InvoiceOut, **PROBLEMS}, operation_id="updateInvoice")
def update_invoice(request: HttpRequest, invoice_id: int, payload: InvoicePatch) -> Invoice:
    invoice = owned_invoice(request, invoice_id)
    actor = auth.actor(request)
    with transaction.atomic():
        if payload.lines is not None:
            services.replace_draft_lines(
                invoice=invoice,
                actor=actor,
                lines=[_line_input(request, line, n) for n, line in enumerate(payload.lines)],
            )
        header = payload.dict(exclude_unset=True, exclude={"lines"})
        if header:
            services.update_draft(invoice=invoice, actor=actor, **header)
    return _full(invoice)


@router.post("/{invoice_id}/finalize", response={200: InvoiceOut, **PROBLEMS}, operation_id="finalizeInvoice")
def finalize_invoice(request: HttpRequest, invoice_id: int) -> Invoice:
    invoice = owned_invoice(request, invoice_id)
    return _full(services.finalise_invoice(invoice=invoice, actor=auth.actor(request)))


@router.post("/{invoice_id}/send", response={200: InvoiceOut, **PROBLEMS}, operation_id="sendInvoice")
def send_invoice(request: HttpRequest, invoice_id: int) -> Invoice:
    invoice = owned_invoice(request, invoice_id)
    documents.send_invoice(invoice=invoice, actor=auth.actor(request))
    return _full(invoice)


@router.get(
    "/{invoice_id}/pdf",
    response={200: bytes, **PROBLEMS},
    operation_id="getInvoicePdf",
    openapi_extra={
        "responses": {
            200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}
        }
    },
)
def invoice_pdf(request: HttpRequest, invoice_id: int) -> HttpResponse:
    return documents.pdf_response(owned_invoice(request, invoice_id), download=True)


@router.get(
    "/{invoice_id}/public-link",
    response={200: PublicLinkOut, **PROBLEMS},
    operation_id="getInvoicePublicLink",
)
def invoice_public_link(request: HttpRequest, invoice_id: int) -> dict[str, str]:
    invoice = owned_invoice(request, invoice_id)
    if invoice.status == Invoice.Status.DRAFT or invoice.public_token_revoked_at is not None:
        raise BusinessError(_("Ce document n'a pas de lien public."), code=ErrorCode.INVALID_STATE)
    return {"url": documents.public_url(invoice)}
