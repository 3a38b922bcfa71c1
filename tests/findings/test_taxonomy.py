"""The county edits its finding taxonomy (SQLite and PostGIS): add, change, retire; domains stay put."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from gridgov.audit.models import AuditRecord
from gridgov.main import create_app
from gridgov.storage.db import get_engine, transaction
from tests.conftest import bearer, import_dataset, seed_users
from tests.databases import app_url, new_database
from tests.factories_geo import lattice


@pytest.fixture(scope="module")
def county(backend, small_county_gpkg, tmp_path_factory) -> str:
    url = new_database(backend, tmp_path_factory.mktemp("taxonomy"), "taxonomy")
    import_dataset(url, small_county_gpkg)
    seed_users(url)
    return url


@pytest.fixture(scope="module")
def admin(county):
    with TestClient(create_app(app_url(county)), headers=bearer(county, "admin")) as client:
        yield client


def report(client: TestClient, category: str):
    lon, lat = lattice(0.5, 0.5)
    return client.post("/api/v1/findings", json={"id": str(uuid.uuid4()), "category_code": category, "lon": lon,
                                                 "lat": lat, "observed_at": "2026-03-01T09:00:00+08:00"})


def test_a_new_category_is_added_audited_and_usable(admin, county):
    response = admin.put("/api/v1/findings/categories/river_water_hyacinth",
                         json={"domain": "river", "name_zh": "水葫芦", "name_en": "Water hyacinth",
                               "duplicate_radius_m": 200})
    assert response.status_code == 200, response.text
    assert response.json() == {"code": "river_water_hyacinth", "domain": "river", "name_zh": "水葫芦",
                               "name_en": "Water hyacinth", "duplicate_radius_m": 200.0, "active": True}
    codes = {c["code"] for c in admin.get("/api/v1/findings/categories").json()}
    assert "river_water_hyacinth" in codes and len(codes) == 15
    assert report(admin, "river_water_hyacinth").status_code == 201
    with transaction(get_engine(county)) as session:
        [row] = session.scalars(select(AuditRecord).where(AuditRecord.object_type == "finding_category",
                                                          AuditRecord.object_id == "river_water_hyacinth"))
    assert (row.action, row.actor, row.before, row.after["duplicate_radius_m"]) == ("create", "admin", None, 200.0)


def test_a_retired_category_is_refused_for_new_reports_and_can_come_back(admin):
    assert admin.put("/api/v1/findings/categories/forest_pests", json={"domain": "forest", "active": False}).json()[
        "active"] is False
    refused = report(admin, "forest_pests")
    assert refused.status_code == 422 and "unknown category 'forest_pests'" in refused.text
    assert "forest_pests" not in {c["code"] for c in admin.get("/api/v1/findings/categories").json()}
    back = admin.put("/api/v1/findings/categories/forest_pests", json={"domain": "forest", "active": True})
    assert back.status_code == 200
    assert report(admin, "forest_pests").status_code == 201


@pytest.mark.parametrize(("code", "body", "status", "words"), [
    ("river_garbage", {"domain": "field"}, 409, "cannot change"),
    ("river_new_thing", {"domain": "river"}, 400, "needs name_zh and name_en"),
    ("Bad Code", {"domain": "river", "name_zh": "x", "name_en": "x"}, 422, "code"),
    ("river_garbage", {"domain": "river", "duplicate_radius_m": -1}, 422, "duplicate_radius_m"),
    ("river_garbage", {"domain": "river", "county_code": "430922"}, 422, "county_code"),
])
def test_bad_edits_are_refused_and_change_nothing(admin, code, body, status, words):
    before = admin.get("/api/v1/findings/categories").json()
    response = admin.put(f"/api/v1/findings/categories/{code}", json=body)
    assert response.status_code == status and words in response.text, response.text
    assert admin.get("/api/v1/findings/categories").json() == before
