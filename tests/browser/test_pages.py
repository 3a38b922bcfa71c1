"""The pages in a real browser, with every request that would leave the machine blocked."""

from __future__ import annotations

import json

from tests.browser.conftest import SCREENSHOTS, sign_in

ALL_GRIDS = 780
DRAWN = "path.leaflet-interactive"


def _open_map(page) -> int:
    """Open /map and wait until the grid layer is on it; the number of grids the page says it drew."""
    page.goto("/map")
    page.wait_for_function("document.body.dataset.gridsDrawn !== undefined || document.body.dataset.gridsError",
                           timeout=20_000)
    assert page.evaluate("document.body.dataset.gridsError") is None
    return int(page.evaluate("document.body.dataset.gridsDrawn"))


def test_the_supervisor_map_draws_every_grid_from_local_files_only(page, outbound):
    sign_in(page, "supervisor")
    assert _open_map(page) == ALL_GRIDS
    assert page.locator(f"#map svg {DRAWN}").count() == ALL_GRIDS
    scripts = page.evaluate("[...document.scripts].map(s => s.src).filter(Boolean)")
    sheets = page.evaluate("[...document.querySelectorAll('link[rel=stylesheet]')].map(l => l.href)")
    assert [s.split("/static/")[1] for s in scripts + sheets] == ["vendor/leaflet/leaflet.js",
                                                                  "vendor/leaflet/leaflet.css"]
    assert "cdn" not in page.content().lower()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "supervisor-map.png")
    assert outbound.urls == []


def test_an_officer_sees_only_their_own_grids(page, outbound):
    sign_in(page, "w4309210001")
    me = page.request.get("/api/v1/me")
    assert me.ok
    own = sorted(me.json()["officer_grids"])
    assert own
    assert _open_map(page) == len(own)
    assert page.locator(f"#map svg {DRAWN}").count() == len(own)
    layer = json.loads(page.request.get("/map/grids.geojson").text())
    assert sorted(f["properties"]["code"] for f in layer["features"]) == own
    assert outbound.urls == []


def test_an_anonymous_visitor_is_sent_to_sign_in(page, outbound):
    page.goto("/map")
    assert page.url.endswith("/sign-in")
    assert page.locator("form[action='/sign-in']").count() == 1
    assert page.request.get("/map/grids.geojson").status == 401
    assert outbound.urls == []


def test_a_page_reaching_for_the_internet_is_caught(page, outbound):
    """The harness itself: a request to anywhere but the live server is aborted and recorded."""
    page.goto("/sign-in")
    page.evaluate("fetch('https://unpkg.com/leaflet@1.9.4/dist/leaflet.js').catch(() => null)")
    page.wait_for_timeout(200)
    assert outbound.urls == ["https://unpkg.com/leaflet@1.9.4/dist/leaflet.js"]
    outbound.urls.clear()  # seen; the fixture's own check at teardown must pass
