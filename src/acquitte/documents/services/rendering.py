"""Rendering with Typst: PDF/A-3b (with Factur-X when due) and PNG pages for checking a layout."""

import hashlib
import json
import threading
from pathlib import Path

import typst
from django.db import IntegrityError, transaction
from django.http import HttpResponse

from acquitte.invoicing.models import Invoice

from .. import facturx_xml
from ..models import RenderedDocument
from ..selectors import kept_pdf
from .blocks import DocumentData
from .data import document_data_for_invoice
from .facturx import checked_xml, with_facturx_xmp

TEMPLATE = Path(__file__).parent.parent / "templates_typst" / "document.typ"
FONT_PATHS = [p for p in ("/usr/share/fonts/truetype/dejavu",) if Path(p).is_dir()]


class _Compiler:
    """One Typst compiler per process keeps the template and fonts loaded; a lock serialises its
    use because it is not documented as thread-safe."""

    def __init__(self) -> None:
        self._compiler: typst.Compiler | None = None
        self._lock = threading.Lock()

    def pdf(self, document: DocumentData, *, facturx: bytes | None = None) -> bytes:
        inputs = {"data": json.dumps(document.data, ensure_ascii=False)}
        if facturx is not None:
            inputs["facturx"] = facturx.decode()
        with self._lock:
            if self._compiler is None:
                self._compiler = typst.Compiler(str(TEMPLATE), font_paths=FONT_PATHS)
            pdf = self._compiler.compile(
                format="pdf",
                sys_inputs=inputs,
                pdf_standards=["a-3b"],
            )
        if not isinstance(pdf, bytes):
            raise RuntimeError("Typst returned no single PDF")
        return pdf


_compiler = _Compiler()


def render(document: DocumentData) -> bytes:
    """A PDF/A-3b of the document (Typst, a few milliseconds a page)."""
    return _compiler.pdf(document)


def render_facturx(document: DocumentData, invoice: Invoice) -> bytes:
    """The PDF/A-3b with the invoice's EN 16931 XML attached by Typst and the Factur-X XMP."""
    return with_facturx_xmp(_compiler.pdf(document, facturx=checked_xml(invoice)))


def render_png(document: DocumentData, *, ppi: float = 96) -> list[bytes]:
    """One PNG per page, for checking a layout without a PDF viewer."""
    pages = typst.compile(
        str(TEMPLATE),
        format="png",
        ppi=ppi,
        font_paths=FONT_PATHS,
        sys_inputs={"data": json.dumps(document.data, ensure_ascii=False)},
    )
    if isinstance(pages, list):
        return pages
    return [pages] if pages is not None else []


def invoice_pdf(invoice: Invoice) -> bytes:
    """The invoice's PDF: drafts on demand; finalised documents rendered once and kept by hash."""
    document = document_data_for_invoice(invoice)
    if document.draft:
        return render(document)
    facturx = facturx_xml.eligible(invoice)
    source = json.dumps(document.data, sort_keys=True, ensure_ascii=False).encode() + TEMPLATE.read_bytes()
    digest = hashlib.sha256(source + (b"facturx" if facturx else b"")).hexdigest()
    kept = kept_pdf(invoice, digest)
    if kept is not None:
        return kept
    pdf = render_facturx(document, invoice) if facturx else render(document)
    try:
        with transaction.atomic():
            RenderedDocument.objects.create(invoice=invoice, sha256=digest, pdf=pdf)
    except IntegrityError:
        pass  # rendered by a concurrent request: same content
    return pdf


def pdf_response(invoice: Invoice, *, download: bool = False) -> HttpResponse:
    response = HttpResponse(invoice_pdf(invoice), content_type="application/pdf")
    name = f"{invoice.number or 'brouillon-' + str(invoice.pk)}.pdf"
    response["Content-Disposition"] = f'{"attachment" if download else "inline"}; filename="{name}"'
    return response
