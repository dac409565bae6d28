"""PDFs: content in both languages, PDF/A with Factur-X, pages, serving and access."""

import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from facturx import get_xml_from_pdf, xml_check_xsd
from lxml import etree
from pypdf import PdfReader

from acquitte.customers.services import create_staff_user
from acquitte.documents import facturx_xml, services
from acquitte.documents.models import RenderedDocument
from acquitte.invoicing import services as invoicing
from acquitte.invoicing.services import revoke_public_link
from tests import factories
from tests.factories import SYSTEM

RAM = "{urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100}"


def text_of(pdf: bytes) -> str:
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages)


def test_quebec_invoice_in_french_shows_taxes_and_registrations(org_qc, customer_qc):
    inv = factories.invoice(org_qc, customer_qc)
    text = text_of(services.invoice_pdf(inv))
    for expected in [
        "FACTURE",
        inv.number,
        "TPS",
        "TVQ",
        "5,00",
        "9,98",
        "114,98",
        "123456782RT0001",
        "1234567890TQ0001",
    ]:
        assert expected in text, expected
    assert not facturx_xml.eligible(inv)  # two taxes on a line: no EN 16931 XML for Quebec


def test_french_invoice_in_english_with_facturx(org_fr):
    customer = factories.customer(org_fr, name="Lumen GmbH", email="a@lumen.example", language="en")
    inv = factories.invoice(org_fr, customer, prices=("100.00", "50.00"))
    pdf = services.invoice_pdf(inv)
    text = text_of(pdf)
    for expected in ["INVOICE", inv.number, "VAT 20%", "Amount due 180,00 €", "€40", "SIREN"]:
        assert expected in text, expected
    reader = PdfReader(io.BytesIO(pdf))
    xmp = reader.xmp_metadata
    assert xmp is not None and b"pdfaid" in reader.trailer["/Root"]["/Metadata"].get_object().get_data()
    filename, xml = get_xml_from_pdf(pdf, check_xsd=False)
    assert filename == "factur-x.xml"
    assert xml_check_xsd(xml, flavor="factur-x", level="en16931")
    tree = etree.fromstring(xml)
    assert tree.findtext(f".//{RAM}GrandTotalAmount") == "180.00"
    assert tree.findtext(f".//{RAM}TaxTotalAmount") == "30.00"
    assert [t.findtext(f"{RAM}RateApplicablePercent") for t in tree.iter(f"{RAM}ApplicableTradeTax")][
        -1
    ] == "20"


def test_credit_note_and_proforma_have_their_own_titles(org_fr, customer_fr):
    inv = factories.invoice(org_fr, customer_fr)
    credit = invoicing.finalise_invoice(
        actor=SYSTEM, invoice=invoicing.create_credit_note(actor=SYSTEM, invoice=inv)
    )
    text = text_of(services.invoice_pdf(credit))
    assert "AVOIR" in text and inv.number in text
    _name, xml = get_xml_from_pdf(services.invoice_pdf(credit), check_xsd=True)
    assert b"<ram:TypeCode>381</ram:TypeCode>" in xml
    proforma = factories.invoice(org_fr, customer_fr, kind="proforma")
    text = text_of(services.invoice_pdf(proforma))
    assert "PRO FORMA" in text and "pas une facture" in text


def test_exemption_and_reverse_charge_mentions(org_fr, customer_fr):
    inv = invoicing.create_invoice(
        actor=SYSTEM,
        organisation=org_fr,
        customer=customer_fr,
        lines=[factories.line(org_fr, category_code="reverse")],
    )
    text = text_of(services.invoice_pdf(invoicing.finalise_invoice(actor=SYSTEM, invoice=inv)))
    assert "Autoliquidation" in text and "40 €" in text


def test_draft_is_marked_and_not_kept(org_qc, customer_qc):
    draft = factories.invoice(org_qc, customer_qc, finalise=False)
    assert "BROUILLON" in text_of(services.invoice_pdf(draft))
    assert not RenderedDocument.objects.exists()


def test_draft_shows_what_finalisation_will_freeze(org_fr, customer_fr):
    text = text_of(services.invoice_pdf(factories.invoice(org_fr, customer_fr, finalise=False)))
    assert "BROUILLON / DRAFT" in text and "SIREN" in text and "TVA 20 % —" in text


def test_finalised_document_is_rendered_once(org_qc, customer_qc):
    inv = factories.invoice(org_qc, customer_qc)
    first = services.invoice_pdf(inv)
    assert services.invoice_pdf(inv) == first
    assert RenderedDocument.objects.filter(invoice=inv).count() == 1


def test_300_lines_span_pages_with_repeated_headers(org_qc, customer_qc):
    inv = factories.invoice(org_qc, customer_qc, prices=tuple(f"{i}.00" for i in range(1, 301)))
    pages = PdfReader(io.BytesIO(services.invoice_pdf(inv))).pages
    assert len(pages) > 3
    for number, page in enumerate(pages, 1):
        text = page.extract_text()
        assert f"Page {number} / {len(pages)}" in text
        if number < len(pages):
            assert "Prix unitaire" in text


def test_serving_and_access(client, org_qc, customer_qc, org_fr):
    inv = factories.invoice(org_qc, customer_qc)
    assert client.get(f"/documents/factures/{inv.pk}/{inv.number}.pdf").status_code == 302  # sign in first
    outsider = create_staff_user(
        actor=SYSTEM, organisation=org_fr, email="o@fr.test", password="x-long-pass-1", role="owner"
    )
    client.force_login(outsider, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get(f"/documents/factures/{inv.pk}/{inv.number}.pdf").status_code == 404
    insider = create_staff_user(
        actor=SYSTEM, organisation=org_qc, email="o@qc.test", password="x-long-pass-1", role="read_only"
    )
    client.force_login(insider, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get(f"/documents/factures/{inv.pk}/{inv.number}.pdf")
    assert response["Content-Type"] == "application/pdf" and response.content.startswith(b"%PDF")
    assert inv.number in client.get(f"/documents/factures/{inv.pk}/impression/").content.decode()
    client.logout()
    assert client.get(f"/i/{inv.public_token}/pdf/").content.startswith(b"%PDF")
    old = inv.public_token
    revoke_public_link(actor=SYSTEM, invoice=inv)
    assert client.get(f"/i/{old}/pdf/").status_code == 404


def test_render_command(tmp_path, org_qc, customer_qc):
    inv = factories.invoice(org_qc, customer_qc)
    target = tmp_path / "out.pdf"
    call_command("render_document", inv.number, "-o", str(target), stdout=io.StringIO())
    assert target.read_bytes().startswith(b"%PDF")
    call_command("render_document", str(inv.pk), "-o", str(target), "--png", stdout=io.StringIO())
    assert (tmp_path / "out-1.png").read_bytes().startswith(b"\x89PNG")
    with pytest.raises(Exception, match="introuvable"):
        call_command("render_document", "F-1999-000001", stdout=io.StringIO())


def test_quote_template_renders_from_plain_data(org_fr, customer_fr):
    inv = factories.invoice(org_fr, customer_fr, finalise=False)
    document = services.document_data_for_invoice(inv)
    document.data.update(title="SOUMISSION / DEVIS", number="S-2026-00001", draft=False, acceptance=True)
    document.data["dates"] = [["Valable jusqu'au", "31 décembre 2026"]]
    text = text_of(services.render(document))
    assert "SOUMISSION" in text and "Bon pour accord" in text and "Valable jusqu'au" in text
    assert "BROUILLON" not in text


def test_every_demo_document_renders_and_its_facturx_passes_the_xsd(db):
    from acquitte.invoicing.models import Invoice

    call_command("load_demo", stdout=io.StringIO())
    checked = 0
    for invoice in Invoice.objects.select_related("organisation", "customer", "corrects"):
        pdf = services.invoice_pdf(invoice)
        assert invoice.number in text_of(pdf) or invoice.status == "draft"
        if facturx_xml.eligible(invoice):
            _name, xml = get_xml_from_pdf(pdf, check_xsd=False)
            assert xml_check_xsd(xml, flavor="factur-x", level="en16931")
            total = etree.fromstring(xml).findtext(f".//{RAM}GrandTotalAmount")
            assert Decimal(total) == invoice.total
            checked += 1
    assert checked >= 3


def test_total_label_follows_the_country(org_qc, customer_qc, org_fr, customer_fr):
    assert "Total TTC" not in text_of(services.invoice_pdf(factories.invoice(org_qc, customer_qc)))
    assert "Total TTC" in text_of(services.invoice_pdf(factories.invoice(org_fr, customer_fr)))
