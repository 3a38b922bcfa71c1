"""OGC API – Features Part 1 Core on the small county, both backends."""

from __future__ import annotations

import pytest
import shapely
from fastapi.testclient import TestClient

from gridgov.config import get_settings
from gridgov.main import create_app
from gridgov.people.demo import DEMO_PASSWORD
from tests.databases import app_url
from tests.factories_geo import GRIDS, VILLAGES, lattice


def test_landing_and_conformance(small_client):
    landing = small_client.get("/ogc/")
    assert landing.status_code == 200
    rels = {link["rel"] for link in landing.json()["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= rels
    conformance = small_client.get("/ogc/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conformance
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in conformance


def test_collections_have_extents(small_client):
    body = small_client.get("/ogc/collections").json()
    ids = [c["id"] for c in body["collections"]]
    assert ids == ["towns", "villages", "grids", "micro-grids", "rivers", "forests", "farmland", "findings", "patrols"]
    grids = small_client.get("/ogc/collections/grids").json()
    assert grids["extent"]["spatial"]["bbox"] == [[*lattice(0, 0), *lattice(4, 4)]]
    assert any(link["rel"] == "items" for link in grids["links"])


def test_items_page_with_next_links_until_all_are_read(small_client):
    seen, url, pages = [], "/ogc/collections/micro-grids/items?limit=3", 0
    while url:
        response = small_client.get(url)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/geo+json")
        body = response.json()
        assert body["numberMatched"] == 7
        assert body["numberReturned"] == len(body["features"]) <= 3
        seen += [f["id"] for f in body["features"]]
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
        pages += 1
    assert pages == 3
    assert len(seen) == len(set(seen)) == 7


def test_features_carry_code_name_parent_and_geometry(small_client):
    feature = small_client.get(f"/ogc/collections/grids/items/{GRIDS[0]}").json()
    assert feature["type"] == "Feature" and feature["id"] == GRIDS[0]
    assert feature["properties"]["code"] == GRIDS[0]
    assert feature["properties"]["parent_code"] == VILLAGES[0]
    assert feature["properties"]["name"] == "东风村第一网格"
    geom = shapely.geometry.shape(feature["geometry"])
    assert geom.geom_type == "MultiPolygon"
    assert shapely.equals(geom, shapely.box(*lattice(0, 0), *lattice(2, 2)))


def test_bbox_selects_exactly_the_intersecting_features(small_client):
    # A box inside the eastern village touches only the two grids of 胜利村.
    x0, y0 = lattice(2.2, 0.2)
    x1, y1 = lattice(3.8, 0.8)
    body = small_client.get(f"/ogc/collections/grids/items?bbox={x0},{y0},{x1},{y1}").json()
    assert sorted(f["id"] for f in body["features"]) == [GRIDS[3], GRIDS[4]]
    # The river's envelope meets this box but the line itself does not: the filter is exact.
    bx0, by0 = lattice(2.05, 2.5)
    bx1, by1 = lattice(2.3, 3.9)
    body = small_client.get(f"/ogc/collections/rivers/items?bbox={bx0},{by0},{bx1},{by1}").json()
    assert body["numberMatched"] == 0


def test_property_filters(small_client):
    body = small_client.get(f"/ogc/collections/micro-grids/items?parent_code={GRIDS[0]}").json()
    assert sorted(f["id"] for f in body["features"]) == [GRIDS[0] + "01", GRIDS[0] + "02"]


def test_limit_above_the_maximum_is_clamped(small_client, monkeypatch):
    monkeypatch.setattr(get_settings(), "ogc_max_limit", 2)
    body = small_client.get("/ogc/collections/micro-grids/items?limit=1000000").json()
    assert body["numberReturned"] == 2
    assert "limit=2" in next(link["href"] for link in body["links"] if link["rel"] == "next")


@pytest.mark.parametrize(
    "query",
    [
        "limit=abc", "limit=0", "limit=-5", "offset=-1", "bbox=1,2,3", "bbox=a,b,c,d", "bbox=112,29,113,28",
        "bbox=0,0,200,10", "bbox=nan,0,1,1", "bbox-crs=EPSG:4490&bbox=1,2,3,4", "datetime=yesterday",
        "f=xml", "colour=red", "offset=99999999999999999999999", "parent_code=%00",
    ],
)
def test_invalid_parameters_answer_400(small_client, query):
    response = small_client.get(f"/ogc/collections/grids/items?{query}")
    assert response.status_code == 400, response.text
    assert response.json()["description"]


def test_unknown_collection_and_feature_answer_404(small_client):
    assert small_client.get("/ogc/collections/roads").status_code == 404
    assert small_client.get("/ogc/collections/roads/items").status_code == 404
    assert small_client.get("/ogc/collections/grids/items/nope").status_code == 404
    # A village code is not a grid.
    assert small_client.get(f"/ogc/collections/grids/items/{VILLAGES[0]}").status_code == 404
    assert small_client.get("/ogc/collections/grids/items/%00").status_code == 404


def test_a_well_formed_datetime_is_accepted(small_client):
    response = small_client.get("/ogc/collections/grids/items?datetime=2026-01-01T00:00:00Z/..")
    assert response.status_code == 200 and response.json()["numberMatched"] == 5


def test_the_overview_page_needs_a_signed_in_user(small_county_db):
    # https: the session cookie is Secure outside the demo.
    with TestClient(create_app(app_url(small_county_db)), base_url="https://testserver") as client:
        page = client.get("/", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/sign-in"
        signed_in = client.post("/sign-in", data={"username": "admin", "password": DEMO_PASSWORD},
                                follow_redirects=False)
        assert signed_in.status_code == 303
        page = client.get("/")
    assert page.status_code == 200
    assert "南县" in page.text and "/ogc/collections/grids/items" in page.text
