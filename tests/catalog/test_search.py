from acquitte.catalog.selectors import search_products
from tests import factories


def test_search_by_name_or_sku_within_one_organisation(org_qc, org_fr):
    factories.product(org_qc, sku="HEB-PRO", name="Hébergement Web Pro")
    factories.product(org_qc, sku="DOM-CA", name="Nom de domaine .ca")
    factories.product(org_qc, sku="OLD-1", name="Hébergement ancien", active=False)
    factories.product(org_fr, sku="HEB-FR", name="Hébergement France")
    assert [p.sku for p in search_products(organisation=org_qc, query="héberg")] == ["HEB-PRO"]
    assert [p.sku for p in search_products(organisation=org_qc, query="dom-ca")] == ["DOM-CA"]
    assert len(search_products(organisation=org_qc, query="héberg", active_only=False)) == 2
    assert len(search_products(organisation=org_qc)) == 2
