from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from acquitte.documents import services
from acquitte.invoicing.models import Invoice


class Command(BaseCommand):
    help = "Produit le PDF d'un document (facture, avoir, pro forma) dans un fichier, pour vérifier une mise en page."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("document", help="numéro (F-2026-000001) ou identifiant")
        parser.add_argument("--organisation", help="slug de l'organisation, si le numéro est ambigu")
        parser.add_argument("-o", "--output", help="fichier de sortie (défaut : <numéro>.pdf)")
        parser.add_argument("--png", action="store_true", help="une image PNG par page au lieu du PDF")

    def handle(
        self,
        *args: Any,
        document: str,
        organisation: str | None,
        output: str | None,
        png: bool,
        **options: Any,
    ) -> None:
        qs = Invoice.objects.select_related("organisation", "customer")
        if organisation:
            qs = qs.filter(organisation__slug=organisation)
        matches = (
            list(qs.filter(pk=int(document))) if document.isdigit() else list(qs.filter(number=document))
        )
        if not matches:
            raise CommandError(f"Document introuvable : {document}")
        if len(matches) > 1:
            raise CommandError("Plusieurs organisations ont ce numéro : précisez --organisation.")
        invoice = matches[0]
        path = Path(output or f"{invoice.number or f'brouillon-{invoice.pk}'}.pdf")
        if png:
            pages = services.render_png(services.document_data_for_invoice(invoice))
            for number, image in enumerate(pages, 1):
                page_path = path.with_name(f"{path.stem}-{number}.png")
                page_path.write_bytes(image)
                self.stdout.write(str(page_path))
            return
        path.write_bytes(services.invoice_pdf(invoice))
        self.stdout.write(f"{path} ({path.stat().st_size} octets)")
