"""The map as one file: folium's page with Leaflet written in, no link to anywhere, the caller's grids only."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from gridgov.main import create_app
from tests.conftest import bearer
from tests.databases import app_url

PERIOD = "since=2026-09-01&until=2026-11-20"


@pytest.fixture(scope="module")
def app(demo_db):
    return create_app(app_url(demo_db))


def _grid_codes(page: str) -> set[str]:
    return set(re.findall(r'"code":\s*"(\d{14})"', page))


def test_the_snapshot_is_one_file_with_every_grid_and_no_link_out(app, demo_db):
    with TestClient(app, headers=bearer(demo_db, "supervisor")) as client:
        response = client.get(f"/map/snapshot.html?{PERIOD}&status=open")
        findings = client.get(f"/map/findings.json?{PERIOD}&status=open").json()
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"] == (
        'attachment; filename="gridgov-map-430921-2026-09-01-2026-11-20.html"')
    page = response.text
    # nothing to fetch, not even from the server: the only links are Leaflet's controls (in-page fragments)
    # and its credit, a link for the reader to follow, never loaded
    links = re.findall(r"""(?:src|href)\s*=\s*["'](?!#)([^"']+)""", page)
    assert set(links) <= {"https://leafletjs.com"}, links
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", page)  # no stylesheet reaching out either
    assert "L.map(" in page and "window.L" in page  # folium's map, on the inlined Leaflet
    assert len(_grid_codes(page)) == 780
    assert page.count("L.circleMarker(") == findings["count"] > 0
    assert "问题分布图" in page and "2026-09-01 至 2026-11-20" in page


def test_an_officer_gets_their_own_grids_in_english(app, demo_db):
    with TestClient(app, headers=bearer(demo_db, "w4309210001")) as client:
        own = set(client.get("/api/v1/me").json()["officer_grids"])
        page = client.get(f"/map/snapshot.html?{PERIOD}&lang=en").text
    assert _grid_codes(page) == own
    assert "Findings map" in page and "问题分布图" not in page


def test_anonymous_and_bad_filters(app, demo_db):
    with TestClient(app) as client:
        assert client.get("/map/snapshot.html").status_code == 401
    with TestClient(app, headers=bearer(demo_db, "supervisor")) as client:
        response = client.get("/map/snapshot.html?status=lost")
        assert response.status_code == 422 and "status" in response.text


def test_a_town_outside_the_callers_area_gives_a_map_without_grids_not_an_error(app, demo_db):
    with TestClient(app, headers=bearer(demo_db, "town.supervisor")) as client:
        own = client.get(f"/map/snapshot.html?{PERIOD}").text
        other = client.get(f"/map/snapshot.html?{PERIOD}&town=430921101")
    assert _grid_codes(own) and all(code.startswith("430921100") for code in _grid_codes(own))
    assert other.status_code == 200, other.text
    assert _grid_codes(other.text) == set() and "L.map(" in other.text
