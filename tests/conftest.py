"""Shared fixtures: personas, signed-in clients, and the checks CI relies on."""
import os

import pytest
from django.core.cache import cache
from django.db import connection

from portal.tenancy import tenant_scope, unscoped
from tests.personas import build_world


@pytest.fixture(autouse=True)
def _fresh_cache():
    from collections_work.worklist.claim import forget_process_cache

    cache.clear()  # rate limits live in the cache
    forget_process_cache()
    yield
    cache.clear()
    forget_process_cache()


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def signed_in(client):
    """signed_in(user) -> the test client signed in as user (with allauth's session)."""

    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


@pytest.fixture
def as_tenant():
    """as_tenant(agency) -> context manager scoping ORM queries in the test body."""
    return tenant_scope


@pytest.fixture
def all_tenants():
    return unscoped


def pytest_sessionstart(session):
    """CI sets REQUIRE_POSTGRES=1: refuse to pass on SQLite."""
    if os.environ.get("REQUIRE_POSTGRES") == "1":
        from django.conf import settings

        engine = settings.DATABASES["default"]["ENGINE"]
        if "postgresql" not in engine:
            raise pytest.UsageError(f"REQUIRE_POSTGRES=1 but the tests would run on {engine}; set DATABASE_URL.")
        if not settings.REDIS_URL:
            raise pytest.UsageError("REQUIRE_POSTGRES=1 expects REDIS_URL too.")


_skipped_browser_tests = []


def pytest_runtest_logreport(report):
    if report.skipped and "tests/e2e/" in report.nodeid.replace("\\", "/"):
        _skipped_browser_tests.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    """CI sets REQUIRE_BROWSER=1: a skipped browser test fails the run."""
    if os.environ.get("REQUIRE_BROWSER") == "1" and _skipped_browser_tests:
        print(f"\nREQUIRE_BROWSER=1 but {len(_skipped_browser_tests)} browser tests were skipped:")
        for nodeid in _skipped_browser_tests:
            print("  " + nodeid)
        session.exitstatus = 1


@pytest.fixture(scope="session")
def localstripe():
    """The real localstripe on a free loopback port for the whole session (tests/stripe_local.py)."""
    from tests.stripe_local import start_localstripe

    server, stop = start_localstripe()
    yield server
    stop()


@pytest.fixture
def db_vendor(db):
    return connection.vendor
