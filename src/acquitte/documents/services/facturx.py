"""Factur-X: the EN 16931 XML, checked against the XSD, and the XMP that declares it.

Typst attaches the XML itself (``pdf.attach`` in document.typ: factur-x.xml, AFRelationship Data,
text/xml, in the catalog's /AF), so the PDF is written once. Typst cannot write custom XMP yet
(typst/typst#5667), so the Factur-X properties and their PDF/A extension schema are added with
pikepdf (qpdf), which copies every other object as it is: about 1 ms, against 20-30 ms for
factur-x's pypdf rewrite of the whole file.
"""

import functools
import importlib.resources
import os
import tempfile

import pikepdf
from lxml import etree

from acquitte.invoicing.models import Invoice

from .. import facturx_xml

FILENAME = "factur-x.xml"
FX = "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#"
#: The values Factur-X 1.0 requires in the XMP for the EN 16931 profile.
FX_PROPERTIES = {
    "DocumentType": "INVOICE",
    "DocumentFileName": FILENAME,
    "Version": "1.0",
    "ConformanceLevel": "EN 16931",
}
_FX_DESCRIPTIONS = {
    "DocumentType": "The type of the hybrid document in capital letters, e.g. INVOICE or ORDER",
    "DocumentFileName": "The name of the embedded XML document",
    "Version": "The actual version of the standard applying to the embedded XML document",
    "ConformanceLevel": "The conformance level of the embedded XML document",
}
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
PDFA_EXTENSION = "http://www.aiim.org/pdfa/ns/extension/"
PDFA_SCHEMA = "http://www.aiim.org/pdfa/ns/schema#"
PDFA_PROPERTY = "http://www.aiim.org/pdfa/ns/property#"
_XMP_PARSER = etree.XMLParser(remove_blank_text=False, resolve_entities=False, no_network=True)
#: qpdf works on files: memory-backed ones when the system has them (1.2 against 1.6 ms a page
#: quiet, 2.0 against 3.9 under load with /tmp on disk); TMPDIR otherwise.
_SCRATCH = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


@functools.cache
def _en16931_schema() -> etree.XMLSchema:
    """The EN 16931 XSD, parsed once: factur-x would parse it again for every document."""
    from facturx.facturx import FACTURX_LEVEL2xsd

    xsd = importlib.resources.files("facturx") / "xsd_and_schematron" / FACTURX_LEVEL2xsd["en16931"]
    return etree.XMLSchema(file=str(xsd))


def checked_xml(invoice: Invoice) -> bytes:
    """The invoice's EN 16931 CII XML; raises if it does not pass the XSD (a bug, never user input)."""
    xml = facturx_xml.build(invoice)
    _en16931_schema().assertValid(etree.fromstring(xml))
    return xml


def _rdf(name: str) -> str:
    return f"{{{RDF}}}{name}"


def facturx_xmp(xmp: bytes) -> bytes:
    """The XMP packet with the Factur-X properties and their schema in pdfaExtension:schemas."""
    tree = etree.ElementTree(etree.fromstring(xmp, _XMP_PARSER))
    rdf = tree.find(f".//{_rdf('RDF')}")
    if rdf is None:
        raise ValueError("XMP without rdf:RDF")
    if rdf.find(f"{_rdf('Description')}/{{{FX}}}DocumentType") is not None:
        return xmp
    bag = rdf.find(f"{_rdf('Description')}/{{{PDFA_EXTENSION}}}schemas/{_rdf('Bag')}")
    description = etree.SubElement(rdf, _rdf("Description"), {_rdf("about"): ""}, nsmap={"fx": FX})
    if bag is None:
        schemas = etree.SubElement(
            description, f"{{{PDFA_EXTENSION}}}schemas", nsmap={"pdfaExtension": PDFA_EXTENSION}
        )
        bag = etree.SubElement(schemas, _rdf("Bag"))
    schema = etree.SubElement(
        bag,
        _rdf("li"),
        {_rdf("parseType"): "Resource"},
        nsmap={"pdfaSchema": PDFA_SCHEMA, "pdfaProperty": PDFA_PROPERTY},
    )
    etree.SubElement(schema, f"{{{PDFA_SCHEMA}}}schema").text = "Factur-X PDFA Extension Schema"
    etree.SubElement(schema, f"{{{PDFA_SCHEMA}}}namespaceURI").text = FX
    etree.SubElement(schema, f"{{{PDFA_SCHEMA}}}prefix").text = "fx"
    properties = etree.SubElement(etree.SubElement(schema, f"{{{PDFA_SCHEMA}}}property"), _rdf("Seq"))
    for name, text in FX_PROPERTIES.items():
        prop = etree.SubElement(properties, _rdf("li"), {_rdf("parseType"): "Resource"})
        etree.SubElement(prop, f"{{{PDFA_PROPERTY}}}name").text = name
        etree.SubElement(prop, f"{{{PDFA_PROPERTY}}}valueType").text = "Text"
        etree.SubElement(prop, f"{{{PDFA_PROPERTY}}}category").text = "external"
        etree.SubElement(prop, f"{{{PDFA_PROPERTY}}}description").text = _FX_DESCRIPTIONS[name]
        etree.SubElement(description, f"{{{FX}}}{name}").text = text
    return etree.tostring(tree, encoding="UTF-8", xml_declaration=False)


def with_facturx_xmp(pdf: bytes) -> bytes:
    """Typst's PDF/A-3b (factur-x.xml already attached) with the Factur-X XMP.

    qpdf reads and writes files faster than Python streams (1.3 against 1.8 ms a page), streams
    are copied undecoded, and the XMP stays uncompressed as PDF/A wants it.
    """
    with tempfile.TemporaryDirectory(prefix="facturx-", dir=_SCRATCH) as folder:
        source, target = os.path.join(folder, "in.pdf"), os.path.join(folder, "out.pdf")
        with open(source, "wb") as file:
            file.write(pdf)
        with pikepdf.open(source) as document:
            metadata = document.Root.get("/Metadata")
            if not isinstance(metadata, pikepdf.Stream):
                raise ValueError("PDF/A without XMP metadata")
            metadata.write(facturx_xmp(metadata.read_bytes()))
            document.Root.PageMode = pikepdf.Name.UseAttachments
            document.save(
                target,
                fix_metadata_version=False,
                compress_streams=False,
                stream_decode_level=pikepdf.StreamDecodeLevel.none,
                object_stream_mode=pikepdf.ObjectStreamMode.preserve,
            )
        with open(target, "rb") as file:
            return file.read()
