"""Shared fixtures: every database test runs on real SQLite and on real PostGIS."""

from __future__ import annotations

import os
import secrets
import tempfile
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gridgov.config import REPO_ROOT, get_settings
from gridgov.main import create_app
from gridgov.storage.db import get_engine, transaction
from tests import audit_guard
from tests.databases import POSTGIS_URL, app_url, new_database

# A real secret for the suite: the app refuses the placeholder outside the demo.
os.environ.setdefault("GRIDGOV_SECRET_KEY", secrets.token_urlsafe(48))
# Photos the suite uploads go to a folder of this run, never into the checkout.
os.environ.setdefault("GRIDGOV_PHOTO_ROOT", tempfile.mkdtemp(prefix="gridgov-photos-"))
# No scheduler in the apps tests build: a test runs `tick` and delivery itself, when it means to.
os.environ.setdefault("GRIDGOV_SCHEDULER_SECONDS", "0")
os.environ.setdefault("GRIDGOV_NOTIFY_LOG_PATH", os.path.join(tempfile.mkdtemp(prefix="gridgov-notify-"), "n.jsonl"))
get_settings.cache_clear()

audit_guard.install()

DEMO_GPKG = REPO_ROOT / "geodata" / "nan_county" / "nan_county.gpkg"
DEMO_TODAY = date(2026, 11, 20)
"""The day the demo database's history runs up to (the demo itself uses the real date)."""
BACKENDS = ["sqlite", "postgis"]


@pytest.fixture(autouse=True)
def every_mutation_is_audited():
    """Fails a test whose commits (or whose fixtures' commits) changed data without an audit record."""
    yield
    if found := audit_guard.take():
        pytest.fail("Mutations without an audit record:\n" + "\n".join(found), pytrace=False)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request) -> str:
    """The storage backend under test; PostGIS is required when scripts/test runs the suite."""
    if request.param == "postgis" and not POSTGIS_URL:
        if os.environ.get("GRIDGOV_REQUIRE_POSTGIS"):
            pytest.fail("GRIDGOV_TEST_POSTGIS_URL is not set but PostGIS is required (run scripts/test).")
        pytest.skip("PostGIS not configured: run the suite with scripts/test")
    return request.param


@pytest.fixture
def empty_db(backend, tmp_path) -> str:
    """URL of a new, migrated, empty database."""
    return new_database(backend, tmp_path, "empty")


def import_dataset(url: str, path: Path, *, defaults: bool = True, **read_kwargs) -> None:
    """Read, validate and import a dataset the way `gridgov import` does (fails on any defect), with the
    county's default checklists, patrol rules and finding categories unless ``defaults`` is False (tests
    of the audit log itself want the import's record alone)."""
    from gridgov.findings.taxonomy import seed_county_defaults
    from gridgov.grids.importing import import_path
    from gridgov.people.principal import cli_principal

    with transaction(get_engine(url)) as session:
        import_path(session=session, path=path, **read_kwargs)
        if defaults:
            seed_county_defaults(session=session, principal=cli_principal(session=session))


def seed_users(url: str) -> None:
    """The demo accounts: one per officer and chief, plus admin, supervisors and a planner."""
    from gridgov.grids.service import only_county_code
    from gridgov.people.demo import seed_demo_users

    with transaction(get_engine(url)) as session:
        seed_demo_users(session=session, county_code=only_county_code(session=session))


def bearer(url: str, username: str) -> dict[str, str]:
    """An Authorization header for ``username`` of the database at ``url``."""
    from sqlalchemy import select

    from gridgov.people.auth import issue_token
    from gridgov.people.models import User
    from gridgov.people.security import TokenKind

    with transaction(get_engine(url)) as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        token, _ = issue_token(user=user, kind=TokenKind.ACCESS)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="session")
def small_county_gpkg(tmp_path_factory) -> Path:
    """The hand-built small county of tests/factories_geo.py as a GeoPackage."""
    from tests.factories_geo import small_county_layers, write_gpkg

    path = tmp_path_factory.mktemp("small") / "small_county.gpkg"
    write_gpkg(small_county_layers(), path)
    return path


@pytest.fixture(scope="session")
def small_county_db(backend, small_county_gpkg, tmp_path_factory) -> str:
    """URL of a database holding the small hand-built county (committed; tests must not change it)."""
    url = new_database(backend, tmp_path_factory.mktemp("smalldb"), "small")
    import_dataset(url, small_county_gpkg)
    seed_users(url)
    return url


@pytest.fixture(scope="session")
def demo_db(backend, tmp_path_factory) -> str:
    """URL of a database holding the whole Nan County demo, with its synthetic patrol and finding history
    up to DEMO_TODAY, as `gridgov demo` builds it (committed; tests must not change it)."""
    from gridgov.findings.demo import seed_demo_history
    from gridgov.grids.service import only_county_code

    url = new_database(backend, tmp_path_factory.mktemp("demodb"), "demo")
    import_dataset(url, DEMO_GPKG)
    seed_users(url)
    with transaction(get_engine(url)) as session:
        seed_demo_history(session=session, county_code=only_county_code(session=session), today=DEMO_TODAY)
    return url


@pytest.fixture
def small_client(small_county_db) -> TestClient:
    """A client signed in as the county-wide admin of the small county."""
    with TestClient(create_app(app_url(small_county_db)), headers=bearer(small_county_db, "admin")) as client:
        yield client
