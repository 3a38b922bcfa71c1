"""What a worker remembers between requests (SQLite and PostGIS): reused while nothing changes, forgotten
as soon as an audited change touches it, never trusted for a disabled account."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from gridgov.main import create_app
from gridgov.people import users
from gridgov.people.auth import resolve_principal
from gridgov.people.models import User
from gridgov.people.principal import cli_principal
from gridgov.storage import memo
from gridgov.storage.db import get_engine, transaction
from tests.conftest import bearer, import_dataset, seed_users
from tests.databases import app_url, new_database
from tests.factories_geo import GRIDS, TOWNS


@pytest.fixture
def county(backend, small_county_gpkg, tmp_path) -> str:
    url = new_database(backend, tmp_path, "memo")
    import_dataset(url, small_county_gpkg)
    seed_users(url)
    return url


def test_a_value_is_computed_once_until_something_changes():
    calls = []
    memo.changed()
    assert memo.remembered("k", lambda: calls.append(1) or len(calls)) == 1
    assert memo.remembered("k", lambda: calls.append(1) or len(calls)) == 1
    memo.changed()
    assert memo.remembered("k", lambda: calls.append(1) or len(calls)) == 2


def test_off_when_cache_seconds_is_zero(monkeypatch):
    from gridgov.config import get_settings

    monkeypatch.setenv("GRIDGOV_CACHE_SECONDS", "0")
    get_settings.cache_clear()
    try:
        calls = []
        memo.remembered("off", lambda: calls.append(1))
        memo.remembered("off", lambda: calls.append(1))
        assert len(calls) == 2
    finally:
        monkeypatch.delenv("GRIDGOV_CACHE_SECONDS")
        get_settings.cache_clear()


def test_the_principal_is_remembered_and_a_grant_is_seen_at_once(county, monkeypatch):
    resolved = []
    real = resolve_principal

    def counting(**kwargs):
        resolved.append(kwargs["user"].username)
        return real(**kwargs)

    monkeypatch.setattr("gridgov.people.auth.resolve_principal", counting)
    with TestClient(create_app(app_url(county)), headers=bearer(county, "w4309210001")) as client:
        def grids() -> set[str]:
            features = client.get("/ogc/collections/grids/items").json()["features"]
            return {f["id"] for f in features}

        assert grids() == {GRIDS[0], GRIDS[1]}
        assert grids() == {GRIDS[0], GRIDS[1]}
        assert resolved == ["w4309210001"]  # the second request reused it
        with transaction(get_engine(county)) as session:
            users.grant_role(session=session, principal=cli_principal(session=session), username="w4309210001",
                             role="supervisor", unit_code=TOWNS[1])
        assert grids() == {GRIDS[0], GRIDS[1], GRIDS[3], GRIDS[4]}  # the audited grant made the worker forget
        assert resolved == ["w4309210001", "w4309210001"]
        with transaction(get_engine(county)) as session:
            user = session.scalars(select(User).where(User.username == "w4309210001")).one()
            users.update_user(session=session, principal=cli_principal(session=session), username=user.username,
                              disabled=True)
        assert client.get("/ogc/collections/grids/items").status_code == 401
