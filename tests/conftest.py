import os

import pytest
from django.db import connection

from tests import factories


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("postgres"):
            item.add_marker(pytest.mark.django_db(transaction=True), append=False)


def pytest_runtest_setup(item):
    if item.get_closest_marker("postgres") and connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Under CI=true on PostgreSQL, a skipped PostgreSQL test is a failure, not a pass."""
    if os.environ.get("CI", "").lower() != "true" or connection.vendor != "postgresql":
        return
    skipped = terminalreporter.stats.get("skipped", [])
    pg_skips = [r for r in skipped if "postgres" in getattr(r, "keywords", {})]
    if pg_skips:
        terminalreporter.write_line(f"FAIL: {len(pg_skips)} PostgreSQL test(s) skipped under CI")
        terminalreporter._session.exitstatus = 1


@pytest.fixture
def org_qc(db):
    return factories.quebec_organisation()


@pytest.fixture
def org_fr(db):
    return factories.french_organisation()


@pytest.fixture
def customer_qc(org_qc):
    return factories.customer(org_qc)


@pytest.fixture
def customer_fr(org_fr):
    return factories.customer(org_fr, name="Boulangerie Martin", email="compta@martin.example")
