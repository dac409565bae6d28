import logging
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from acquitte.customers.models import Organisation, User
from acquitte.demo.data import DEMO_PASSWORD, fresh_demo_api_key, load_demo
from acquitte.invoicing.models import Invoice
from acquitte.quotes.models import Quote


class Command(BaseCommand):
    help = "Charge les données de démonstration si elles sont absentes (idempotent)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000/")

    def handle(self, *args: Any, url: str, **options: Any) -> None:
        # Tasks run in-process here (no broker); their per-task log lines would bury the logins.
        logging.getLogger("celery").setLevel(logging.WARNING)
        self.stdout.write("Données de démonstration :")
        result = load_demo(log=self.stdout.write)
        if result.created:
            self.stdout.write(self.style.SUCCESS(f"  créées : {', '.join(result.created)}"))
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"Acquitte : {url}"))
        self.stdout.write(f"Back-office (équipe du marchand) : {url}gestion/  — administration : {url}admin/")
        self.stdout.write(f"Portail client : {url}connexion/")
        self.stdout.write(f"Mot de passe de tous les comptes de démonstration : {DEMO_PASSWORD}")
        for organisation in Organisation.objects.order_by("id"):
            invoice = (
                Invoice.objects.filter(
                    organisation=organisation, kind=Invoice.Kind.INVOICE, status=Invoice.Status.OPEN
                )
                .order_by("due_date")
                .first()
            )
            if invoice:
                self.stdout.write(
                    f"Lien de paiement public ({organisation.name}, {invoice.number}) : {url}i/{invoice.public_token}/"
                )
        quebec = Organisation.objects.filter(slug="laurentides").first()
        if quebec is not None:
            token = fresh_demo_api_key(quebec)
            self.stdout.write(f"API ({quebec.name}) : {url}api/v1/docs  — clé de démonstration : {token}")
            self.stdout.write(
                f'  curl -H "Authorization: Bearer {token}" "{url}api/v1/invoices?expand=customer"'
            )
        for quote in (
            Quote.objects.filter(status__in=[Quote.Status.SENT, Quote.Status.VIEWED])
            .select_related("organisation")
            .order_by("organisation_id", "pk")
        ):
            self.stdout.write(
                f"Lien de soumission ({quote.organisation.name}, {quote.number}) : {url}q/{quote.public_token}/"
            )
        demo_users = User.objects.filter(email__endswith=".demo").select_related("organisation", "customer")
        roles: dict[str, int] = {User.Role.OWNER: 0, User.Role.ACCOUNTANT: 1, User.Role.READ_ONLY: 2}
        # Staff first (owner, accountant, read-only, per company), then the customers' portal logins.
        ordered = sorted(
            demo_users,
            key=lambda u: (u.customer_id is not None, u.organisation_id or 0, roles.get(u.role, 3), u.email),
        )
        for user in ordered:
            customer_name = user.customer.name if user.customer else ""
            who = user.organisation.name if user.organisation else f"client {customer_name}"
            role = user.get_role_display() if user.role else "portail client"
            self.stdout.write(f"  {user.email:<36} {role:<16} {who}")
