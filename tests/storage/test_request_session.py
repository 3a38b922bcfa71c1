"""One request, one transaction: committed before the answer is sent, rolled back when the route fails."""

from __future__ import annotations

import sqlite3

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

import gridgov.storage.session as request_session
from gridgov.audit.models import AuditRecord
from gridgov.main import create_app
from gridgov.storage.db import get_engine, transaction
from tests.conftest import bearer, import_dataset, seed_users
from tests.databases import app_url, new_database


@pytest.fixture
def county(backend, small_county_gpkg, tmp_path) -> str:
    url = new_database(backend, tmp_path, "request_session")
    import_dataset(url, small_county_gpkg)
    seed_users(url)
    return url


def audit_records(url: str) -> int:
    with transaction(get_engine(url)) as session:
        return session.scalar(select(func.count()).select_from(AuditRecord))


def rename(client: TestClient, name: str):
    """Rename a finding category: a write that is audited."""
    return client.put("/api/v1/findings/categories/river_garbage", json={"domain": "river", "name_zh": name})


def test_a_commit_that_fails_is_not_answered_as_a_success(county, monkeypatch):
    """The commit runs before the answer leaves: had it run after, the client would hold a 200 for a
    change that was never stored."""
    end = request_session._end

    def failing_commit(session, *, commit: bool) -> None:
        if commit:
            session.rollback()
            session.close()
            raise RuntimeError("the database refused the commit")
        end(session, commit=commit)

    before = audit_records(county)
    monkeypatch.setattr(request_session, "_end", failing_commit)
    with TestClient(create_app(app_url(county)), headers=bearer(county, "admin"),
                    raise_server_exceptions=False) as client:
        response = rename(client, "提交失败的改名")
    assert response.status_code == 500
    assert audit_records(county) == before


def test_a_route_that_succeeds_is_committed_and_one_that_fails_is_rolled_back(county):
    with TestClient(create_app(app_url(county)), headers=bearer(county, "admin")) as client:
        before = audit_records(county)
        assert rename(client, "改名成功").status_code == 200
        assert audit_records(county) == before + 1
        refused = client.put("/api/v1/findings/categories/river_garbage", json={"domain": "forest", "name_zh": "x"})
        assert refused.status_code in (409, 422), refused.text
        assert audit_records(county) == before + 1


def test_a_write_that_waits_too_long_for_sqlite_s_lock_is_a_503_and_changes_nothing(county):
    """SQLite lets one writer at a time; another writer holding the lock past the 5 s wait (a county-wide
    change set being applied) gets the caller a 503 with Retry-After, not a 500."""
    if not county.startswith("sqlite"):
        pytest.skip("PostgreSQL writers wait on row locks, not on one database lock")
    before = audit_records(county)
    holder = sqlite3.connect(make_url(county).database)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with TestClient(create_app(app_url(county)), headers=bearer(county, "admin")) as client:
            response = rename(client, "河道垃圾 busy")
    finally:
        holder.rollback()
        holder.close()
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert "nothing was changed" in response.json()["description"]
    assert audit_records(county) == before
