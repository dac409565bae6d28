import importlib
import os

import pytest
from django.db import connection
from hypothesis import settings as hypothesis_settings

from tests import factories

# CI runs the same examples every time: a red build is reproducible, never a roll of the dice.
hypothesis_settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI", "").lower() == "true":
    hypothesis_settings.load_profile("ci")


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


@pytest.fixture(autouse=True)
def _reference_tax_rates(request):
    """Transactional tests (and the browser tests' live server) flush every table afterwards, data
    migrations included: whichever test runs next on that worker gets the reference tax rates back,
    so test order and the split over workers cannot change results."""
    names = request.fixturenames
    marker = request.node.get_closest_marker("django_db")
    transactional = bool(marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))
    if transactional or "transactional_db" in names or "live_server" in names:
        request.getfixturevalue("transactional_db")
    elif marker or "db" in names:
        request.getfixturevalue("db")
    else:
        return
    from django.apps import apps

    from acquitte.core.models import TaxRate

    if not TaxRate.objects.exists():
        importlib.import_module("acquitte.core.migrations.0003_tax_rates").load(apps, None)


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Rate-limit counters live in the (per-process) cache: each test starts with none."""
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    if isinstance(caches["default"], LocMemCache):  # never empty a shared Redis
        caches["default"].clear()


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
