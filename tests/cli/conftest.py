"""Fixtures of the command-line tests."""

from __future__ import annotations

import pytest

from gridgov.config import get_settings
from tests.conftest import import_dataset


@pytest.fixture
def county(empty_db, small_county_gpkg, monkeypatch) -> str:
    """The small county in a fresh database that the `gridgov` command reads, run by OS user ``ops``."""
    import_dataset(empty_db, small_county_gpkg)
    monkeypatch.setenv("GRIDGOV_DATABASE_URL", empty_db)
    monkeypatch.setenv("LOGNAME", "ops")
    get_settings.cache_clear()
    yield empty_db
    get_settings.cache_clear()
