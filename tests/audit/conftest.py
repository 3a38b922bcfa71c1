"""Audit fixtures: a county of our own per module (tests here write to it), and rolled-back sessions."""

from __future__ import annotations

import pytest

from gridgov.storage.db import get_engine, session_factory
from tests.conftest import import_dataset
from tests.databases import new_database


@pytest.fixture(scope="module")
def county_db(backend, small_county_gpkg, tmp_path_factory) -> str:
    """URL of a new database holding the small county, for this module's audit records alone."""
    url = new_database(backend, tmp_path_factory.mktemp("audit"), "audit")
    import_dataset(url, small_county_gpkg, defaults=False)
    return url


@pytest.fixture
def session(county_db):
    """A session on ``county_db`` whose work is rolled back at the end (audit services never commit)."""
    with session_factory(get_engine(county_db))() as session:
        yield session
        session.rollback()
