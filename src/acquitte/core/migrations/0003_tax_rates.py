"""Reference tax rates: Canada (GST, QST, HST) and France (TVA), with exempt and reverse charge."""

from decimal import Decimal

from django.db import migrations

RATES = [
    # code, country, region, name_fr, name_en, rate, treatment, mention_fr, mention_en, exemption
    ("CA-GST", "CA", "", "TPS", "GST", "5", "standard", "", "", ""),
    ("CA-QC-QST", "CA", "QC", "TVQ", "QST", "9.975", "standard", "", "", ""),
    ("CA-ON-HST", "CA", "ON", "TVH Ontario", "HST Ontario", "13", "standard", "", "", ""),
    (
        "CA-NB-HST",
        "CA",
        "NB",
        "TVH Nouveau-Brunswick",
        "HST New Brunswick",
        "15",
        "standard",
        "",
        "",
        "",
    ),
    (
        "CA-NL-HST",
        "CA",
        "NL",
        "TVH Terre-Neuve-et-Labrador",
        "HST Newfoundland and Labrador",
        "15",
        "standard",
        "",
        "",
        "",
    ),
    (
        "CA-NS-HST",
        "CA",
        "NS",
        "TVH Nouvelle-Écosse",
        "HST Nova Scotia",
        "14",
        "standard",
        "",
        "",
        "",
    ),
    (
        "CA-PE-HST",
        "CA",
        "PE",
        "TVH Île-du-Prince-Édouard",
        "HST Prince Edward Island",
        "15",
        "standard",
        "",
        "",
        "",
    ),
    (
        "CA-EXEMPT",
        "CA",
        "",
        "Exonéré de taxes",
        "Tax exempt",
        "0",
        "exempt",
        "Fourniture exonérée de TPS/TVQ.",
        "Exempt supply: no GST/QST charged.",
        "",
    ),
    (
        "CA-ZERO",
        "CA",
        "",
        "Détaxé (taux zéro)",
        "Zero-rated",
        "0",
        "zero",
        "Fourniture détaxée (taux zéro).",
        "Zero-rated supply.",
        "",
    ),
    ("FR-TVA-20", "FR", "", "TVA 20 %", "VAT 20%", "20", "standard", "", "", ""),
    ("FR-TVA-10", "FR", "", "TVA 10 %", "VAT 10%", "10", "standard", "", "", ""),
    ("FR-TVA-5.5", "FR", "", "TVA 5,5 %", "VAT 5.5%", "5.5", "standard", "", "", ""),
    ("FR-TVA-2.1", "FR", "", "TVA 2,1 %", "VAT 2.1%", "2.1", "standard", "", "", ""),
    (
        "FR-TVA-EXEMPT",
        "FR",
        "",
        "Exonération de TVA",
        "VAT exemption",
        "0",
        "exempt",
        "TVA non applicable, art. 293 B du CGI.",
        "VAT not applicable, article 293 B of the French Tax Code.",
        "VATEX-FR-FRANCHISE",
    ),
    (
        "EU-REVERSE",
        "FR",
        "",
        "Autoliquidation",
        "Reverse charge",
        "0",
        "reverse_charge",
        "Autoliquidation — TVA due par le preneur, art. 283-2 du CGI et art. 196 de la directive 2006/112/CE.",
        "Reverse charge — VAT due by the customer, article 196 of Directive 2006/112/EC.",
        "VATEX-EU-AE",
    ),
]


def load(apps, schema_editor):
    TaxRate = apps.get_model("core", "TaxRate")
    for code, country, region, name_fr, name_en, rate, treatment, m_fr, m_en, exemption in RATES:
        TaxRate.objects.update_or_create(
            code=code,
            defaults=dict(
                country=country,
                region=region,
                name_fr=name_fr,
                name_en=name_en,
                rate=Decimal(rate),
                treatment=treatment,
                legal_mention_fr=m_fr,
                legal_mention_en=m_en,
                exemption_code=exemption,
            ),
        )


class Migration(migrations.Migration):
    dependencies = [("core", "0002_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
