# ruff: noqa: I001  (bench/_setup must configure Django before Django is imported)
"""Documents rendered per second on one core: plain PDF/A-3b, and with embedded Factur-X.

    uv run python bench/pdf.py [N]        (default 200 one-page invoices)

The invoice is built once; each iteration renders it afresh (no cache), as a first view does.
A Factur-X iteration also builds the XML from the database and checks it against the XSD.
Aims (issue 17): facturx_pdf_per_s >= 150 on one core (taskset -c 0) and ratio >= 0.3, where the
ratio is Factur-X over plain, both measured in this run. The last line is `ratio: <value>`.
"""

import logging
import sys
import time
import uuid

import _setup  # noqa: F401
from django.core.management import call_command

from acquitte.documents import services
from tests import factories


def rate(n: int, work) -> float:
    start = time.perf_counter()
    for _ in range(n):
        work()
    return n / (time.perf_counter() - start)


def main(n: int) -> None:
    logging.getLogger("factur-x").setLevel(logging.WARNING)
    call_command("migrate", verbosity=0)
    org = factories.french_organisation(f"bench-{uuid.uuid4().hex[:8]}")
    invoice = factories.invoice(org, factories.customer(org), prices=("650.00", "49.00", "12.00"))
    document = services.document_data_for_invoice(invoice)
    services.render(document)  # warm-up: fonts and template parsed once
    plain = rate(n, lambda: services.render(document))
    print(f"pdf_per_s: {plain:.0f}", flush=True)
    services.render_facturx(document, invoice)  # warm-up: the XSD parsed once
    facturx = rate(n, lambda: services.render_facturx(document, invoice))
    print(f"facturx_pdf_per_s: {facturx:.0f}", flush=True)
    print(f"ratio: {facturx / plain:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
