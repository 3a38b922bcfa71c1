"""Large batches (SQLite and PostGIS): on PostgreSQL they go through COPY and one INSERT … SELECT, with
the same answers, replays and audit records as small ones, as the app role behind row-level security."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from gridgov.audit.models import AuditRecord
from gridgov.findings.models import Finding
from gridgov.main import create_app
from gridgov.storage.bulk import COPY_FROM_ROWS
from gridgov.storage.db import get_engine, transaction
from tests.conftest import bearer, import_dataset, seed_users
from tests.databases import app_url, new_database
from tests.factories_geo import lattice

N = 3 * COPY_FROM_ROWS


@pytest.fixture
def county(backend, small_county_gpkg, tmp_path) -> str:
    url = new_database(backend, tmp_path, "large")
    import_dataset(url, small_county_gpkg)
    seed_users(url)
    return url


def items(n: int, seed: int) -> list[dict]:
    """Findings in the officer's first grid (lattice square 0..1 × 0..1, about 1 km a side), one per cell of
    a 20 × 20 division (about 46 × 53 m), so none lies within the 30 m duplicate radius of another."""
    rng = np.random.default_rng(seed)
    cells = rng.choice(400, size=n, replace=False)
    return [{"id": str(uuid.uuid4()), "category_code": "river_garbage", "severity": "low",
             "lon": lattice(0.02 + 0.048 * (c % 20), 0.02 + 0.048 * (c // 20))[0],
             "lat": lattice(0.02 + 0.048 * (c % 20), 0.02 + 0.048 * (c // 20))[1],
             "observed_at": "2026-03-01T09:00:00+08:00"} for c in cells]


def counts(url: str) -> tuple[int, int]:
    with transaction(get_engine(url)) as session:
        return (session.scalar(select(func.count()).select_from(Finding)),
                session.scalar(select(func.count()).select_from(AuditRecord).where(AuditRecord.action == "report")))


def test_a_large_batch_stores_every_finding_once_with_its_audit_record(county):
    batch = items(N, seed=1)
    with TestClient(create_app(app_url(county)), headers=bearer(county, "w4309210001")) as client:
        first = client.post("/api/v1/findings/batch", json={"items": batch})
        assert first.status_code == 201, first.text
        assert (first.json()["created"], first.json()["replayed"]) == (N, 0)
        assert counts(county) == (N, N)
        stored = {f["id"]: f for f in first.json()["items"]}
        assert [f["id"] for f in first.json()["items"]] == [i["id"] for i in batch]
        assert all(f["grid_code"] and f["micro_grid_code"].startswith(f["grid_code"]) for f in stored.values())

        again = client.post("/api/v1/findings/batch", json={"items": batch})
        assert again.status_code == 201
        assert (again.json()["created"], again.json()["replayed"]) == (0, N)
        assert again.json()["items"] == first.json()["items"]

        half = batch[: N // 2] + items(N // 2, seed=2)
        mixed = client.post("/api/v1/findings/batch", json={"items": half})
        assert (mixed.json()["created"], mixed.json()["replayed"]) == (N // 2, N // 2)
        assert counts(county) == (N + N // 2, N + N // 2)


def test_a_large_batch_with_one_bad_item_stores_nothing(county):
    batch = items(N, seed=3)
    batch[N - 1]["category_code"] = "no_such_category"
    with TestClient(create_app(app_url(county)), headers=bearer(county, "w4309210001")) as client:
        response = client.post("/api/v1/findings/batch", json={"items": batch})
    assert response.status_code == 422
    assert [d["index"] for d in response.json()["details"]] == [N - 1]
    assert counts(county) == (0, 0)


def test_a_long_live_batch_of_fixes_is_stored_in_full(county):
    """Many fixes in one batch take the bulk path on PostgreSQL; every one is stored, in order."""
    from datetime import UTC, datetime, timedelta

    from gridgov.patrols.models import TrackFix

    patrol_id = str(uuid.uuid4())
    start = datetime.now(UTC) - timedelta(hours=2)
    with TestClient(create_app(app_url(county)), headers=bearer(county, "w4309210001")) as client:
        assert client.post("/api/v1/patrols", json={"id": patrol_id, "grid_code": "43092110020101",
                                                     "started_at": start.isoformat()}).status_code == 201
        fixes = [{"lon": lattice(0.1 + 0.8 * k / N, 0.5)[0], "lat": lattice(0.1, 0.5)[1],
                  "time": (start + timedelta(seconds=10 * k)).isoformat(), "accuracy_m": 5.0 if k % 2 else None}
                 for k in range(N)]
        response = client.post(f"/api/v1/patrols/{patrol_id}/fixes", json={"id": str(uuid.uuid4()), "fixes": fixes})
        assert response.status_code == 201, response.text
    with transaction(get_engine(county)) as session:
        stored = session.execute(select(TrackFix.seq, TrackFix.accuracy_m, TrackFix.t)
                                 .where(TrackFix.patrol_id == patrol_id).order_by(TrackFix.seq)).all()
    assert [seq for seq, _, _ in stored] == list(range(N))
    assert [a for _, a, _ in stored] == [5.0 if k % 2 else None for k in range(N)]
    first = stored[0][2] if stored[0][2].tzinfo else stored[0][2].replace(tzinfo=UTC)
    assert abs((first - start).total_seconds()) < 0.001
