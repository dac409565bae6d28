"""Demo data: a Quebec hosting company (CAD, GST/QST) and a French studio (EUR, TVA).

Built only through the services, with dates relative to today so that "overdue" and
"partly paid" stay true whenever the demo is loaded.
"""

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from acquitte.api.models import ApiKey
from acquitte.api.selectors import api_keys_of
from acquitte.api.services import create_api_key, revoke_api_key
from acquitte.catalog.models import Product, TaxCategory
from acquitte.core.actors import PublicLink, System
from acquitte.core.models import TaxRate
from acquitte.customers import services as customers
from acquitte.customers.models import Customer, Organisation, Site, TermsVersion, User
from acquitte.customers.selectors import terms_to_accept
from acquitte.invoicing import services as invoicing
from acquitte.invoicing.models import Invoice
from acquitte.invoicing.services import LineInput
from acquitte.payments.models import PaymentMethod
from acquitte.payments.services import add_bank_account, add_card, record_payment
from acquitte.quotes import services as quotes
from acquitte.quotes.models import Quote
from acquitte.subscriptions import services as subscriptions
from acquitte.subscriptions.models import BillingSettings, Order, Service, Subscription
from acquitte.subscriptions.periods import add_months, anniversary
from acquitte.subscriptions.selectors import billing_settings, today_for

from .webhooks import ensure_demo_endpoint

DEMO_PASSWORD = "demo-acquitte-2026"
#: Demo data is built by the system, through the same services as the pages.
DEMO = System(reason="demo data")
#: The customer kept on the first-login terms flow: staff took its card by phone for its first
#: order, and it has yet to accept the terms (seed 001, "Afficher la commande").
FIRST_LOGIN_EMAIL = "admin@cliniqueplateau.demo"
#: Work done once a demo organisation is committed: orders and the runs that bill them, which call
#: the payment provider and so never run inside the organisation's transaction.
After = Callable[[], None]


@dataclass
class DemoResult:
    created: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _category(org: Organisation, code: str, name: str, rate_codes: list[str]) -> TaxCategory:
    category = TaxCategory.objects.create(organisation=org, code=code, name=name)
    category.rates.set(TaxRate.objects.filter(code__in=rate_codes))
    return category


def _product(
    org: Organisation,
    sku: str,
    name: str,
    kind: str,
    price: str,
    category: TaxCategory,
    unit: str = "",
    description: str = "",
) -> Product:
    return Product.objects.create(
        organisation=org,
        sku=sku,
        name=name,
        kind=kind,
        unit_price=Decimal(price),
        currency=org.currency,
        tax_category=category,
        unit=unit,
        description=description,
    )


def _line(product: Product, quantity: str = "1", **extra: Any) -> LineInput:
    return LineInput(
        description=extra.pop("description", product.name),
        quantity=Decimal(quantity),
        unit_price=product.unit_price,
        tax_category=product.tax_category,
        unit=product.unit,
        product=product,
        **extra,
    )


def _invoice(
    org: Organisation,
    customer: Customer,
    lines: list[LineInput],
    *,
    issued: datetime.date | None = None,
    kind: str = Invoice.Kind.INVOICE,
    **extra: Any,
) -> Invoice:
    invoice = invoicing.create_invoice(
        actor=DEMO, organisation=org, customer=customer, kind=kind, lines=lines, **extra
    )
    if issued is None:
        return invoice
    return invoicing.finalise_invoice(actor=DEMO, invoice=invoice, issue_date=issued)


def _quote(
    org: Organisation, customer: Customer, products: list[tuple[Product, int]], *, send: bool = False
) -> Quote:
    quote = quotes.create_quote(actor=DEMO, organisation=org, customer=customer)
    for product, quantity in products:
        quotes.add_product(actor=DEMO, quote=quote, product=product, quantity=quantity)
    return quotes.send_quote(actor=DEMO, quote=quote) if send else quote


def _portal_user(customer: Customer, email: str, full_name: str = "") -> None:
    User.objects.create_user(
        email, DEMO_PASSWORD, customer=customer, full_name=full_name, language=customer.language
    )


def _staff(org: Organisation, email: str, role: str, name: str) -> None:
    customers.create_staff_user(
        actor=DEMO, organisation=org, email=email, password=DEMO_PASSWORD, role=role, full_name=name
    )


def _terms(org: Organisation, today: datetime.date) -> None:
    TermsVersion.objects.create(
        organisation=org,
        version="2026-01",
        body_fr=(
            "Conditions générales de vente et de service.\n\n1. Les factures sont payables à "
            "l'échéance indiquée.\n2. Les services récurrents sont facturés d'avance et "
            "prélevés sur le mode de paiement par défaut.\n3. Un service impayé peut être "
            "suspendu après préavis; des frais de réactivation peuvent s'appliquer."
        ),
        body_en=(
            "Terms and conditions of sale and service.\n\n1. Invoices are payable by the due "
            "date shown.\n2. Recurring services are billed in advance and charged to the "
            "default payment method.\n3. An unpaid service may be suspended after notice; a "
            "reactivation fee may apply."
        ),
        published_at=timezone.make_aware(
            datetime.datetime.combine(today.replace(month=1, day=1), datetime.time())
        ),
    )


def _reactivation_fee(org: Organisation, category: TaxCategory, price: str) -> None:
    """The fee a service suspended for non-payment costs to reactivate (seeds 000, 002)."""
    fee = _product(org, "REACTIVATION", "Frais de réactivation", "one_time", price, category)
    subscriptions.update_dunning_settings(organisation=org, actor=DEMO, reactivation_fee=fee)


def _card(customer: Customer, holder: str, number: str = "4242424242424242") -> None:
    expiry = f"12/{(timezone.localdate().year + 3) % 100:02d}"
    add_card(customer=customer, holder=holder, number=number, cvv="123", expiry=expiry, actor=DEMO)


OrderLines = list[tuple[Site, Product, str]]


def _order(
    customer: Customer,
    lines: OrderLines,
    to: Order.Status,
    kind: Order.Kind = Order.Kind.NEW,
    notes: str = "",
    *,
    description: str = "",
) -> Order:
    """An order taken to ``to`` through the staff's moves: placed, shipped when it has hardware,
    completed, or cancelled once placed. ``description`` names its lines (a domain's name)."""
    order = subscriptions.create_order(
        organisation=customer.organisation, customer=customer, kind=kind, notes=notes, actor=DEMO
    )
    for site, product, quantity in lines:
        subscriptions.add_order_line(
            order=order, product=product, site=site, quantity=quantity, description=description, actor=DEMO
        )
    if to == Order.Status.DRAFT:
        return order
    order = subscriptions.place_order(order=order, actor=DEMO)
    hardware = any(product.kind == Product.Kind.HARDWARE for _, product, _ in lines)
    if hardware and to in (Order.Status.SHIPPED, Order.Status.COMPLETED):
        order = subscriptions.ship_order(order=order, actor=DEMO)
    if to == Order.Status.COMPLETED:
        return subscriptions.complete_order(order=order, actor=DEMO)
    if to == Order.Status.CANCELLED:
        return subscriptions.cancel_order(order=order, actor=DEMO)
    return order


def _last_bill_day(org: Organisation, today: datetime.date) -> datetime.date:
    bill_day = billing_settings(org).bill_day
    return (
        today.replace(day=bill_day) if today.day >= bill_day else add_months(today, -1).replace(day=bill_day)
    )


def _lived(org: Organisation, today: datetime.date, steps: list[tuple[datetime.date, After]]) -> None:
    """Live the organisation's recent past on its test clock: start the clock on the first step's
    date, do each step on its day, moving the clock through the services (so every billing and
    collection run in between fires as it would have), up to ``today``, then back to the real date.

    Only the clock's first setting is written directly: a fresh organisation has no past to move from.
    """
    BillingSettings.objects.filter(pk=billing_settings(org).pk).update(test_clock=steps[0][0])
    for day, step in steps:
        if day > today_for(org):
            subscriptions.advance_test_clock(organisation=org, actor=DEMO, to=day)
        step()
    if today > today_for(org):
        subscriptions.advance_test_clock(organisation=org, actor=DEMO, to=today)
    subscriptions.reset_test_clock(organisation=org, actor=DEMO)


def _subscription(customer: Customer, product: Product) -> Subscription:
    return Subscription.objects.get(customer=customer, product=product, status=Subscription.Status.ACTIVE)


def _older_domain(
    customer: Customer, site: Site, product: Product, name: str, expires_on: datetime.date
) -> Service:
    """A domain registered before the demo's past begins, so that one renews soon: its order and
    earlier renewals are not lived, so its subscription and service are written here."""
    subscription = Subscription.objects.create(
        organisation=customer.organisation,
        customer=customer,
        site=site,
        product=product,
        description=name,
        quantity=Decimal("1"),
        unit_price=product.unit_price,
        period=Subscription.Period.YEARLY,
        started_on=anniversary(expires_on, -1),
    )
    return Service.objects.create(
        organisation=customer.organisation,
        customer=customer,
        subscription=subscription,
        kind=Service.Kind.DOMAIN,
        name=name,
        expires_on=expires_on,
    )


def build_quebec(result: DemoResult, today: datetime.date) -> After:
    org = customers.create_organisation(
        actor=DEMO,
        name="Hébergement Laurentides inc.",
        slug="laurentides",
        currency="CAD",
        locale="fr-CA",
        line1="1200, rue Sherbrooke Ouest, bureau 400",
        city="Montréal",
        region="QC",
        postal_code="H3A 1H6",
        country="CA",
        gst_number="876543216RT0001",
        qst_number="1219876543TQ0001",
        payment_terms_days=30,
        bank_details="Banque Nationale — transit 00123, institution 006, compte 1234567",
        cheque_payee="Hébergement Laurentides inc.",
        support_email="support@laurentides.demo",
        support_phone="+1 514 555 0100",
        transfer_grace_days=7,
    )
    _terms(org, today)
    _staff(org, "proprio@laurentides.demo", "owner", "Sophie Tremblay")
    _staff(org, "compta@laurentides.demo", "accountant", "Marc Gagnon")
    _staff(org, "lecture@laurentides.demo", "read_only", "Julie Roy")
    qc = _category(org, "qc", "Taxable Québec (TPS + TVQ)", ["CA-GST", "CA-QC-QST"])
    _category(org, "on", "Taxable Ontario (TVH 13 %)", ["CA-ON-HST"])
    _category(org, "exempt", "Exonéré", ["CA-EXEMPT"])
    setup = _product(org, "INST-01", "Installation et configuration", "one_time", "150.00", qc)
    web = _product(org, "HEB-PRO", "Hébergement Web Pro", "monthly", "29.95", qc, "mois")
    voip = _product(org, "VOIP-POSTE", "Téléphonie IP — poste", "monthly", "24.95", qc, "mois")
    ssl = _product(org, "SSL-AN", "Certificat SSL", "yearly", "89.00", qc, "an")
    phone = _product(org, "HW-T54W", "Téléphone IP Yealink T54W", "hardware", "239.00", qc)
    dom_ca = _product(org, "DOM-CA", "Nom de domaine .ca — 1 an", "domain", "24.99", qc, "an")
    dom_com = _product(org, "DOM-COM", "Nom de domaine .com — 1 an", "domain", "19.99", qc, "an")
    yearly_web = _product(org, "HEB-AN", "Hébergement Web — forfait annuel", "yearly", "299.00", qc, "an")
    _reactivation_fee(org, qc, "25.00")

    cafe = customers.create_customer(
        actor=DEMO,
        organisation=org,
        name="Café Bonjour inc.",
        email="client@cafebonjour.demo",
        phone="514 555 0142",
        language="fr",
    )
    customers.add_address(
        actor=DEMO,
        customer=cafe,
        label="Siège social",
        line1="4521, boul. Saint-Laurent",
        city="Montréal",
        region="QC",
        postal_code="H2T 1R2",
        country="CA",
    )
    billing_address = customers.add_address(
        actor=DEMO,
        customer=cafe,
        label="Comptabilité",
        line1="88, rue Wellington",
        city="Sherbrooke",
        region="QC",
        postal_code="J1H 5B7",
        country="CA",
    )
    customers.add_contact(
        actor=DEMO,
        customer=cafe,
        name="Isabelle Côté",
        email="isabelle@cafebonjour.demo",
        phone="514 555 0143",
        is_primary=True,
    )
    sub = customers.add_contact(
        actor=DEMO,
        customer=cafe,
        name="Gestion Côté SENC",
        company="Gestion Côté SENC",
        email="factures@gestioncote.demo",
        is_billing=True,
        address=billing_address,
    )
    customers.add_site(
        actor=DEMO,
        customer=cafe,
        name="Café Bonjour — Plateau",
        line1="4521, boul. Saint-Laurent",
        city="Montréal",
        region="QC",
        postal_code="H2T 1R2",
    )
    customers.add_site(
        actor=DEMO,
        customer=cafe,
        name="Café Bonjour — Vieux-Port",
        line1="12, rue de la Commune O.",
        city="Montréal",
        region="QC",
        postal_code="H2Y 2C6",
    )
    _portal_user(cafe, "client@cafebonjour.demo", "Isabelle Côté")

    northwind = customers.create_customer(
        actor=DEMO,
        organisation=org,
        name="Northwind Consulting Ltd.",
        email="billing@northwind.demo",
        phone="+1 416 555 0199",
        language="en",
    )
    customers.add_address(
        actor=DEMO,
        customer=northwind,
        line1="200 Bay Street, Suite 1200",
        city="Toronto",
        region="ON",
        postal_code="M5J 2J2",
        country="CA",
    )
    customers.add_site(
        actor=DEMO,
        customer=northwind,
        name="Toronto HQ",
        line1="200 Bay Street",
        city="Toronto",
        region="ON",
        postal_code="M5J 2J2",
    )
    customers.add_site(
        actor=DEMO,
        customer=northwind,
        name="Montreal office",
        line1="1000 de la Gauchetière O.",
        city="Montréal",
        region="QC",
        postal_code="H3B 4W5",
    )
    customers.add_contact(
        actor=DEMO,
        customer=northwind,
        name="Northwind Accounts Payable",
        company="Northwind Consulting Ltd.",
        email="ap@northwind.demo",
        is_billing=True,
    )
    _portal_user(northwind, "billing@northwind.demo", "Emily Clarke")

    clinique = customers.create_customer(
        actor=DEMO,
        organisation=org,
        name="Clinique dentaire du Plateau",
        email="admin@cliniqueplateau.demo",
        language="fr",
    )
    customers.add_address(
        actor=DEMO,
        customer=clinique,
        line1="1650, av. du Mont-Royal Est",
        city="Montréal",
        region="QC",
        postal_code="H2J 1Z5",
        country="CA",
    )
    customers.add_site(
        actor=DEMO,
        customer=clinique,
        name="Clinique — Mont-Royal",
        line1="1650, av. du Mont-Royal Est",
        city="Montréal",
        region="QC",
        postal_code="H2J 1Z5",
    )
    _portal_user(clinique, "admin@cliniqueplateau.demo", "Dr Alain Lefebvre")

    d = lambda days: today - datetime.timedelta(days=days)  # noqa: E731
    paid = _invoice(org, cafe, [_line(setup), _line(phone, "2"), _line(web)], issued=d(110))
    record_payment(
        actor=DEMO,
        organisation=org,
        customer=cafe,
        amount=paid.total,
        method="cheque",
        reference="Chèque 004512",
        invoice=paid,
        received_on=d(95),
    )
    overdue = _invoice(org, northwind, [_line(voip, "6"), _line(web)], issued=d(80))
    void = _invoice(org, clinique, [_line(ssl)], issued=d(70))
    invoicing.void_invoice(actor=DEMO, invoice=void, reason="Doublon")
    monthly = _invoice(
        org,
        cafe,
        [_line(web, period_start=d(21).replace(day=1)), _line(voip, "3", period_start=d(21).replace(day=1))],
        issued=d(21),
        billing_contact=sub,
    )
    record_payment(
        actor=DEMO,
        organisation=org,
        customer=cafe,
        amount=Decimal("50.00"),
        method="bank_transfer",
        reference="Virement Desjardins 7731",
        invoice=monthly,
        received_on=d(10),
    )  # partly paid
    open_inv = _invoice(org, northwind, [_line(voip, "6"), _line(dom_com, "3")], issued=d(5))
    credit = invoicing.create_credit_note(
        actor=DEMO,
        invoice=open_inv,
        lines=[_line(dom_com, "1", description="Nom de domaine .com — annulé")],
    )
    invoicing.finalise_invoice(actor=DEMO, invoice=credit, issue_date=d(4))
    proforma = _invoice(
        org,
        cafe,
        [_line(dom_ca, "2"), _line(ssl)],
        kind=Invoice.Kind.PROFORMA,
        notes="Renouvellement anticipé des domaines",
    )
    invoicing.finalise_invoice(actor=DEMO, invoice=proforma, issue_date=d(2))
    _invoice(org, clinique, [_line(web), _line(ssl)], issued=d(1))  # open
    _invoice(org, clinique, [_line(web), _line(dom_ca)])  # draft
    _quote(org, cafe, [(setup, 1), (phone, 2)], send=True)  # waiting for the customer
    _quote(org, clinique, [(web, 12), (ssl, 1)])  # draft
    converted = _quote(org, northwind, [(voip, 4), (setup, 1)], send=True)
    signer = PublicLink(
        token=converted.public_token,
        organisation_id=org.pk,
        customer_id=northwind.pk,
        name="Dana Whitfield",
    )
    quotes.approve_quote(quote=converted, actor=signer, ip_address="192.0.2.10")
    _card(cafe, "Isabelle Côté")
    _card(northwind, "Emily Clarke", "5555555555554444")
    _card(clinique, "Alain Lefebvre")
    result.created.append(org.name)

    def orders() -> None:
        plateau, port = cafe.sites.get(name__endswith="Plateau"), cafe.sites.get(name__endswith="Vieux-Port")
        toronto, montreal = (
            northwind.sites.get(name="Toronto HQ"),
            northwind.sites.get(name="Montreal office"),
        )
        mont_royal = clinique.sites.get()
        bill_day = _last_bill_day(org, today)

        def northwind_first() -> None:
            _order(
                northwind,
                [(toronto, voip, "6"), (montreal, web, "1"), (toronto, ssl, "1")],
                Order.Status.COMPLETED,
            )
            _order(
                northwind,
                [(toronto, dom_com, "1")],
                Order.Status.COMPLETED,
                description="northwind-consulting.com",
            )

        def cafe_first() -> None:
            _order(
                cafe,
                [(plateau, setup, "1"), (plateau, web, "1"), (port, voip, "3"), (port, phone, "3")],
                Order.Status.COMPLETED,
                notes="Ouverture du second café",
            )
            _order(cafe, [(plateau, dom_ca, "1")], Order.Status.COMPLETED, description="cafebonjour.ca")
            _order(
                cafe,
                [(plateau, yearly_web, "1")],
                Order.Status.COMPLETED,
                description="Hébergement cafebonjour.ca",
            )

        def today_orders() -> None:
            _order(
                cafe,
                [(port, dom_ca, "1")],
                Order.Status.DRAFT,
                Order.Kind.ADD_ON,
                description="cafe-vieuxport.ca",
            )
            _order(
                northwind,
                [(montreal, phone, "2"), (montreal, voip, "2")],
                Order.Status.SHIPPED,
                Order.Kind.ADD_ON,
            )
            _order(
                northwind,
                [(toronto, web, "2")],
                Order.Status.CANCELLED,
                Order.Kind.ADD_ON,
                "Remplacée par CMD suivante",
            )
            _order(
                clinique,
                [(mont_royal, setup, "1"), (mont_royal, web, "1"), (mont_royal, voip, "4")],
                Order.Status.IN_PROGRESS,
            )
            subscriptions.pause_subscription(subscription=_subscription(northwind, ssl), actor=DEMO)
            subscriptions.cancel_subscription(
                subscription=_subscription(northwind, web), at_period_end=True, actor=DEMO
            )

        _lived(
            org,
            today,
            [
                (add_months(bill_day, -2).replace(day=10), northwind_first),
                (add_months(bill_day, -1).replace(day=15), cafe_first),
                (today, today_orders),
            ],
        )
        # Seed 002 on the portal: Café Bonjour's card is Isabelle Côté's, its billing sub-contact
        # « Gestion Côté SENC » is not her ("Attention !"), and one of its domains renews soon.
        _older_domain(cafe, plateau, dom_com, "cafe-bonjour.com", today + datetime.timedelta(days=12))
        # Northwind's invoice is long overdue: the lived dunning runs suspend its domain, or this does.
        northwind_domain = Service.objects.get(organisation=org, name="northwind-consulting.com")
        if northwind_domain.status == Service.Status.ACTIVE:
            subscriptions.suspend_service(
                service=northwind_domain,
                reason=Service.SuspensionReason.OVERDUE,
                note="",
                invoice=overdue,
                actor=DEMO,
            )

    return orders


def build_france(result: DemoResult, today: datetime.date) -> After:
    org = customers.create_organisation(
        actor=DEMO,
        name="Atelier Numérique SAS",
        slug="atelier",
        currency="EUR",
        locale="fr-FR",
        line1="12, rue de la République",
        city="Lyon",
        postal_code="69002",
        country="FR",
        siren="443061841",
        siret="44306184100013",
        vat_number="FR64443061841",
        legal_form="SAS au capital de 10 000 € — RCS Lyon 443 061 841",
        payment_terms_days=30,
        late_penalty_rate=Decimal("12.15"),
        iban="FR7630006000011234567890189",
        bic="AGRIFRPP",
        bank_details="Crédit Agricole Centre-Est — IBAN FR76 3000 6000 0112 3456 7890 189",
        cheque_payee="Atelier Numérique SAS",
        support_email="contact@atelier.demo",
        support_phone="+33 4 78 00 00 00",
    )
    _terms(org, today)
    _staff(org, "gerant@atelier.demo", "owner", "Claire Dubois")
    _staff(org, "comptable@atelier.demo", "accountant", "Nicolas Petit")
    _staff(org, "lecture@atelier.demo", "read_only", "Hugo Bernard")
    tva20 = _category(org, "tva-20", "TVA 20 %", ["FR-TVA-20"])
    tva55 = _category(org, "tva-5.5", "TVA 5,5 %", ["FR-TVA-5.5"])
    _category(org, "tva-10", "TVA 10 %", ["FR-TVA-10"])
    reverse = _category(org, "autoliquidation", "Autoliquidation (UE)", ["EU-REVERSE"])
    dev = _product(org, "DEV-JOUR", "Développement web — journée", "one_time", "650.00", tva20, "jour")
    hosting = _product(org, "HEB-M", "Hébergement et maintenance", "monthly", "49.00", tva20, "mois")
    support = _product(org, "SUPPORT-AN", "Contrat de support annuel", "yearly", "480.00", tva20, "an")
    book = _product(org, "LIVRE-GUIDE", "Guide imprimé « Bien vendre en ligne »", "hardware", "24.00", tva55)
    dom_fr = _product(org, "DOM-FR", "Nom de domaine .fr — 1 an", "domain", "12.00", tva20, "an")
    _reactivation_fee(org, tva20, "20.00")

    martin = customers.create_customer(
        actor=DEMO,
        organisation=org,
        name="Boulangerie Martin SARL",
        email="compta@boulangerie-martin.demo",
        phone="04 72 00 11 22",
        language="fr",
    )
    customers.add_address(
        actor=DEMO,
        customer=martin,
        line1="3, place des Terreaux",
        city="Lyon",
        postal_code="69001",
        country="FR",
    )
    customers.add_address(
        actor=DEMO,
        customer=martin,
        label="Second magasin",
        line1="45, cours Vitton",
        city="Lyon",
        postal_code="69006",
        country="FR",
    )
    customers.add_contact(
        actor=DEMO,
        customer=martin,
        name="Paul Martin",
        email="paul@boulangerie-martin.demo",
        is_primary=True,
        is_billing=True,
    )
    customers.add_site(
        actor=DEMO,
        customer=martin,
        name="Terreaux",
        line1="3, place des Terreaux",
        city="Lyon",
        postal_code="69001",
        country="FR",
    )
    customers.add_site(
        actor=DEMO,
        customer=martin,
        name="Vitton",
        line1="45, cours Vitton",
        city="Lyon",
        postal_code="69006",
        country="FR",
    )
    _portal_user(martin, "compta@boulangerie-martin.demo", "Paul Martin")

    lumen = customers.create_customer(
        actor=DEMO,
        organisation=org,
        name="Lumen Studio GmbH",
        email="accounts@lumen.demo",
        language="en",
        vat_number="DE811149139",
        tax_category=reverse,
    )
    customers.add_address(
        actor=DEMO, customer=lumen, line1="Torstraße 140", city="Berlin", postal_code="10119", country="DE"
    )
    customers.add_contact(
        actor=DEMO, customer=lumen, name="Lumen Buchhaltung", email="buchhaltung@lumen.demo", is_billing=True
    )
    customers.add_site(
        actor=DEMO,
        customer=lumen,
        name="Studio Berlin",
        line1="Torstraße 140",
        city="Berlin",
        postal_code="10119",
        country="DE",
    )
    _portal_user(lumen, "accounts@lumen.demo", "Lena Vogel")

    d = lambda days: today - datetime.timedelta(days=days)  # noqa: E731
    paid = _invoice(org, martin, [_line(dev, "3"), _line(book, "10")], issued=d(90))
    record_payment(
        actor=DEMO,
        organisation=org,
        customer=martin,
        amount=paid.total,
        method="bank_transfer",
        reference="VIR SEPA 20260412",
        invoice=paid,
        received_on=d(70),
    )
    _invoice(org, lumen, [_line(dev, "5", discount_percent=Decimal("10"))], issued=d(60))  # overdue
    _invoice(org, martin, [_line(hosting), _line(support), _line(dom_fr, "2")], issued=d(6))  # open
    _invoice(org, martin, [_line(dev, "2")])  # draft
    _quote(org, martin, [(dev, 3), (hosting, 1)], send=True)
    subscriptions.update_billing_settings(
        organisation=org, actor=DEMO, bill_day=2, collection_day=22, time_zone="Europe/Paris"
    )
    add_bank_account(
        customer=martin, holder="Paul Martin", scheme="sepa", iban="FR7630006000011234567890189", actor=DEMO
    )
    _card(lumen, "Lena Vogel")
    result.created.append(org.name)

    def orders() -> None:
        terreaux, vitton = martin.sites.get(name="Terreaux"), martin.sites.get(name="Vitton")
        berlin = lumen.sites.get()
        bill_day = _last_bill_day(org, today)

        def lumen_first() -> None:
            _order(lumen, [(berlin, hosting, "1"), (berlin, support, "1")], Order.Status.COMPLETED)

        def martin_first() -> None:
            _order(
                martin,
                [(terreaux, hosting, "1"), (vitton, hosting, "1"), (vitton, book, "2")],
                Order.Status.COMPLETED,
            )
            _order(
                martin, [(terreaux, dom_fr, "1")], Order.Status.COMPLETED, description="boulangerie-martin.fr"
            )

        def today_orders() -> None:
            _order(
                martin,
                [(vitton, dom_fr, "1")],
                Order.Status.DRAFT,
                Order.Kind.ADD_ON,
                description="martin-vitton.fr",
            )
            _order(lumen, [(berlin, dev, "2")], Order.Status.IN_PROGRESS, Order.Kind.ADD_ON)
            subscriptions.cancel_subscription(
                subscription=_subscription(lumen, hosting), at_period_end=False, actor=DEMO
            )

        _lived(
            org,
            today,
            [
                (add_months(bill_day, -2).replace(day=20), lumen_first),
                (add_months(bill_day, -1).replace(day=12), martin_first),
                (today, today_orders),
            ],
        )

    return orders


def accept_terms_of_card_holders(org: Organisation) -> int:
    """Terms first (seed 001): a demo customer who holds a saved card or bank account has accepted
    the current terms, as the portal now requires before saving one, except the one kept on the
    first-login flow. Also run on a demo loaded earlier, whose customers may have saved methods
    without an acceptance; returns how many."""
    holders = (
        Customer.objects.filter(organisation=org, payment_methods__status=PaymentMethod.Status.VALID)
        .exclude(email=FIRST_LOGIN_EMAIL)
        .distinct()
    )
    accepted = 0
    for customer in holders:
        terms = terms_to_accept(customer)
        if terms is not None:
            customers.accept_terms(customer=customer, actor=DEMO, terms=terms, ip_address="127.0.0.1")
            accepted += 1
    return accepted


def load_demo(
    *, today: datetime.date | None = None, log: Callable[[str], object] = lambda message: None
) -> DemoResult:
    """Create each demo organisation unless it exists already; idempotent."""
    today = today or timezone.localdate()
    result = DemoResult()
    for slug, build in (("laurentides", build_quebec), ("atelier", build_france)):
        if Organisation.objects.filter(slug=slug).exists():
            result.skipped.append(slug)
            log(f"  {slug}: déjà présente, rien à faire")
            continue
        log(f"  {slug}: création…")
        with transaction.atomic():
            orders = build(result, today)
        orders()
    for org in Organisation.objects.filter(slug__in=("laurentides", "atelier")):
        accepted = accept_terms_of_card_holders(org)
        if accepted:
            log(f"  {org.slug}: conditions acceptées pour {accepted} client(s) ayant un moyen de paiement")
        if webhooks := ensure_demo_endpoint(org):
            log(f"  {org.slug}: {webhooks}")
    return result


#: The name of the key ``load_demo`` makes for the README's curl example.
DEMO_KEY_NAME = "Démo (load_demo)"


def fresh_demo_api_key(org: Organisation) -> str:
    """A read-write key for the demo organisation, its text printed once: the previous demo key
    is revoked, since its text was never kept (a key is only ever stored hashed)."""
    owner = User.objects.get(organisation=org, role=User.Role.OWNER, email__endswith=".demo")
    for key in api_keys_of(org).filter(name=DEMO_KEY_NAME, revoked_at__isnull=True):
        revoke_api_key(key=key, actor=owner)
    _key, token = create_api_key(organisation=org, actor=owner, name=DEMO_KEY_NAME, scope=ApiKey.Scope.WRITE)
    return token
