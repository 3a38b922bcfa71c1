"""GET and POST /api/v1/locate on the small county, both backends."""

from __future__ import annotations

import pytest

from tests.factories_geo import GRIDS, TOWNS, VILLAGES, lattice


def test_a_point_is_located_at_every_level(small_client):
    lon, lat = lattice(3.5, 1.0)
    body = small_client.get(f"/api/v1/locate?lon={lon}&lat={lat}").json()
    assert body == {
        "lon": lon, "lat": lat, "inside": True, "town_code": TOWNS[1], "village_code": VILLAGES[2],
        "grid_code": GRIDS[4], "micro_grid_code": GRIDS[4] + "01",
    }


def test_a_point_outside_the_county_is_a_clear_404(small_client):
    response = small_client.get("/api/v1/locate?lon=113.5&lat=29.3")
    assert response.status_code == 404
    assert "outside" in response.json()["description"]


@pytest.mark.parametrize("query", ["lon=abc&lat=29.3", "lon=112.5", "lon=200&lat=29.3", "lon=112.5&lat=-91",
                                   "lon=nan&lat=29.3", "lon=inf&lat=29.3"])
def test_bad_numbers_answer_422(small_client, query):
    response = small_client.get(f"/api/v1/locate?{query}")
    assert response.status_code == 422, response.text


def test_batch_keeps_order_and_reports_outside_points(small_client):
    points = [lattice(0.5, 0.5), (113.5, 29.3), lattice(1.5, 3.5)]
    response = small_client.post("/api/v1/locate", json={"lon": [p[0] for p in points], "lat": [p[1] for p in points]})
    body = response.json()
    assert response.status_code == 200
    assert body["count"] == 3 and body["outside"] == 1
    assert [loc["micro_grid_code"] for loc in body["locations"]] == [GRIDS[0] + "01", None, GRIDS[2] + "01"]


@pytest.mark.parametrize("body", ['{"lon": [NaN], "lat": [29.3]}', '{"lon": [112.5], "lat": [Infinity]}',
                                  '{"lon": [181], "lat": [29.3]}', '{"lon": ["x"], "lat": [29.3]}', '{"lon": [1]}',
                                  "not json"])
def test_batch_with_bad_numbers_is_refused(small_client, body):
    response = small_client.post("/api/v1/locate", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text


def test_batch_with_mismatched_arrays_is_refused(small_client):
    response = small_client.post("/api/v1/locate", json={"lon": [112.5, 112.6], "lat": [29.3]})
    assert response.status_code == 400
    assert "lat has 1" in response.json()["description"]
