"""The line editor shared by quotes and one-off invoices: one set of views, two documents.

Each builder maps the editor's actions onto its app's services; views never decide the rules.
"""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from acquitte.invoicing import services as invoicing
from acquitte.invoicing.models import Invoice
from acquitte.quotes import services as quotes
from acquitte.quotes.models import Quote


class QuoteBuilder:
    slug = "soumissions"
    model = Quote
    title = _("Nouvelle soumission")
    new_url = "backoffice:quote_new"
    #: What the customer form's "next" says when a customer is created from this document's picker.
    after_customer = "quote"

    def create(self, organisation, customer, actor):
        return quotes.create_quote(organisation=organisation, customer=customer, actor=actor)

    def is_draft(self, doc) -> bool:
        return doc.status == Quote.Status.DRAFT

    def add_product(self, doc, product, actor):
        return quotes.add_product(quote=doc, product=product, actor=actor)

    def set_quantity(self, line, quantity, actor):
        return quotes.set_quantity(line=line, quantity=quantity, actor=actor)

    def remove(self, line, actor):
        quotes.remove_line(line=line, actor=actor)

    def next_url(self, doc) -> str:
        return reverse("backoffice:quote_review", args=[doc.pk])

    def detail_url(self, doc) -> str:
        return reverse("backoffice:quote_detail", args=[doc.pk])


class InvoiceBuilder:
    slug = "factures"
    model = Invoice
    title = _("Nouvelle facture")
    new_url = "backoffice:invoice_new"
    after_customer = "invoice"

    def create(self, organisation, customer, actor):
        return invoicing.create_invoice(organisation=organisation, customer=customer, actor=actor)

    def is_draft(self, doc) -> bool:
        return doc.status == Invoice.Status.DRAFT

    def add_product(self, doc, product, actor):
        return invoicing.add_product(invoice=doc, product=product, actor=actor)

    def set_quantity(self, line, quantity, actor):
        return invoicing.set_line_quantity(line=line, quantity=quantity, actor=actor)

    def remove(self, line, actor):
        invoicing.remove_line(line=line, actor=actor)

    def next_url(self, doc) -> str:
        return reverse("backoffice:invoice_detail", args=[doc.pk])

    def detail_url(self, doc) -> str:
        return reverse("backoffice:invoice_detail", args=[doc.pk])


BUILDERS = {b.slug: b for b in (QuoteBuilder(), InvoiceBuilder())}
AFTER_CUSTOMER = {b.after_customer: b for b in BUILDERS.values()}
