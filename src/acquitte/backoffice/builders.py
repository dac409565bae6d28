"""The line editor shared by quotes and one-off invoices: one set of views, two documents.

Each builder maps the editor's actions onto its app's services; views never decide the rules.
"""

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Generic, TypeVar

from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from acquitte.catalog.models import Product
from acquitte.core.actors import Actor
from acquitte.core.money import Amount
from acquitte.customers.models import Customer, Organisation
from acquitte.invoicing import services as invoicing
from acquitte.invoicing.models import Invoice, InvoiceLine
from acquitte.quotes import services as quotes
from acquitte.quotes.models import Quote, QuoteLine

D = TypeVar("D", Quote, Invoice)
L = TypeVar("L", QuoteLine, InvoiceLine)


class Builder(ABC, Generic[D, L]):
    """What the editor needs from a kind of document."""

    slug: ClassVar[str]
    model: type[D]
    title: ClassVar[Promise]
    new_url: ClassVar[str]
    #: What the customer form's "next" says when a customer is created from this document's picker.
    after_customer: ClassVar[str]

    @abstractmethod
    def create(self, organisation: Organisation, customer: Customer, actor: Actor) -> D: ...

    @abstractmethod
    def is_draft(self, doc: D) -> bool: ...

    @abstractmethod
    def add_product(self, doc: D, product: Product, actor: Actor) -> L: ...

    @abstractmethod
    def set_quantity(self, line: L, quantity: Amount, actor: Actor) -> L: ...

    @abstractmethod
    def remove(self, line: L, actor: Actor) -> None: ...

    @abstractmethod
    def next_url(self, doc: D) -> str: ...

    @abstractmethod
    def detail_url(self, doc: D) -> str: ...


class QuoteBuilder(Builder[Quote, QuoteLine]):
    slug = "soumissions"
    model = Quote
    title = _("Nouvelle soumission")
    new_url = "backoffice:quote_new"
    after_customer = "quote"

    def create(self, organisation: Organisation, customer: Customer, actor: Actor) -> Quote:
        return quotes.create_quote(organisation=organisation, customer=customer, actor=actor)

    def is_draft(self, doc: Quote) -> bool:
        return doc.status == Quote.Status.DRAFT

    def add_product(self, doc: Quote, product: Product, actor: Actor) -> QuoteLine:
        return quotes.add_product(quote=doc, product=product, actor=actor)

    def set_quantity(self, line: QuoteLine, quantity: Amount, actor: Actor) -> QuoteLine:
        return quotes.set_quantity(line=line, quantity=quantity, actor=actor)

    def remove(self, line: QuoteLine, actor: Actor) -> None:
        quotes.remove_line(line=line, actor=actor)

    def next_url(self, doc: Quote) -> str:
        return reverse("backoffice:quote_review", args=[doc.pk])

    def detail_url(self, doc: Quote) -> str:
        return reverse("backoffice:quote_detail", args=[doc.pk])


class InvoiceBuilder(Builder[Invoice, InvoiceLine]):
    slug = "factures"
    model = Invoice
    title = _("Nouvelle facture")
    new_url = "backoffice:invoice_new"
    after_customer = "invoice"

    def create(self, organisation: Organisation, customer: Customer, actor: Actor) -> Invoice:
        return invoicing.create_invoice(organisation=organisation, customer=customer, actor=actor)

    def is_draft(self, doc: Invoice) -> bool:
        return doc.status == Invoice.Status.DRAFT

    def add_product(self, doc: Invoice, product: Product, actor: Actor) -> InvoiceLine:
        return invoicing.add_product(invoice=doc, product=product, actor=actor)

    def set_quantity(self, line: InvoiceLine, quantity: Amount, actor: Actor) -> InvoiceLine:
        return invoicing.set_line_quantity(line=line, quantity=quantity, actor=actor)

    def remove(self, line: InvoiceLine, actor: Actor) -> None:
        invoicing.remove_line(line=line, actor=actor)

    def next_url(self, doc: Invoice) -> str:
        return reverse("backoffice:invoice_detail", args=[doc.pk])

    def detail_url(self, doc: Invoice) -> str:
        return reverse("backoffice:invoice_detail", args=[doc.pk])


#: The views pick a builder from the URL, so the kind of document is known only at run time.
BUILDERS: dict[str, Builder[Any, Any]] = {b.slug: b for b in (QuoteBuilder(), InvoiceBuilder())}
AFTER_CUSTOMER = {b.after_customer: b for b in BUILDERS.values()}
