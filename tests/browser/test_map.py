"""The supervisor map in a real browser, every request off the machine blocked: all grids drawn, a grid's
figures equal the KPI API's, a finding's timeline and steps, filters that agree with /map/findings.json."""

from __future__ import annotations

import json

from tests.browser.conftest import SCREENSHOTS, open_grid_page, sign_in

ALL_GRIDS = 780
DRAWN = "path.leaflet-interactive"
SINCE, UNTIL = "2026-09-01", "2026-11-20"
PERIOD = f"since={SINCE}&until={UNTIL}"
API_PERIOD = "since=2026-09-01T00:00:00%2B08:00&until=2026-11-21T00:00:00%2B08:00"
MICRO_GRIDS = "/map/micro-grids.topojson"



def _get(page, path: str):
    """A JSON answer fetched inside the page, so the session cookie signs the request in."""
    return page.evaluate("p => fetch(p).then(r => r.json())", path)


def _apply(page, **fields) -> int:
    """Set the filter form's period (and any other fields), apply it, and wait for the markers."""
    page.fill("input[name=since]", SINCE)
    page.fill("input[name=until]", UNTIL)
    for name, value in fields.items():
        page.select_option(f"select[name={name}]", value)
    page.evaluate("delete document.body.dataset.findingsDrawn")
    page.click("#filters button[type=submit]")
    page.wait_for_function("document.body.dataset.findingsDrawn !== undefined", timeout=20_000)
    return int(page.evaluate("document.body.dataset.findingsDrawn"))


def _open_grid(page, code: str) -> None:
    page.fill("input[name=grid]", code)
    page.click("#go-to-grid")
    page.wait_for_selector(f"#panel:not([hidden]) h2:has-text('{code}')", timeout=20_000)


def test_the_supervisor_map_draws_every_grid_from_local_files_only(page, outbound):
    sign_in(page, "supervisor")
    assert open_grid_page(page, "/map") == ALL_GRIDS
    assert page.locator(f"#map svg {DRAWN}").count() == ALL_GRIDS
    scripts = page.evaluate("[...document.scripts].map(s => s.src).filter(Boolean)")
    sheets = page.evaluate("[...document.querySelectorAll('link[rel=stylesheet]')].map(l => l.href)")
    assert scripts and sheets
    assert all(url.startswith(page.url.split("/map")[0] + "/static/") for url in scripts + sheets), scripts + sheets
    assert "vendor/leaflet/leaflet.js" in " ".join(scripts)
    assert "cdn" not in page.content().lower()
    assert page.eval_on_selector("select[name=status]", "s => s.value") == "open"  # what still needs doing
    drawn = _apply(page)
    assert drawn == _get(page, f"/map/findings.json?{PERIOD}&status=open")["count"] > 0
    assert page.locator("#legend li").count() >= 2
    assert page.locator(f"#map svg {DRAWN}").count() == ALL_GRIDS  # markers and outlines are not grid paths
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "supervisor-map.png")
    assert outbound.urls == []


def test_an_officer_sees_only_their_own_grids(page, outbound):
    sign_in(page, "w4309210001")
    me = page.request.get("/api/v1/me")
    assert me.ok
    own = sorted(me.json()["officer_grids"])
    assert own
    assert open_grid_page(page, "/map") == len(own)
    assert page.locator(f"#map svg {DRAWN}").count() == len(own)
    layer = json.loads(page.request.get("/map/grids.geojson").text())
    assert sorted(f["properties"]["code"] for f in layer["features"]) == own
    assert outbound.urls == []


def test_an_anonymous_visitor_is_sent_to_sign_in(page, outbound):
    page.goto("/map")
    assert page.url.endswith("/sign-in")
    assert page.locator("form[action='/sign-in']").count() == 1
    assert page.request.get("/map/grids.geojson").status == 401
    assert page.request.get("/map/grid-stats.json").status == 401
    assert outbound.urls == []


def test_clicking_a_grid_shows_its_officer_kpis_and_open_findings(page, outbound):
    sign_in(page, "supervisor")
    open_grid_page(page, "/map")
    _apply(page)
    stats = _get(page, f"/map/grid-stats.json?{PERIOD}")["grids"]
    code = max(stats, key=lambda c: stats[c]["open"])
    page.uncheck("input[name=markers]")  # the clusters would lie over the grid
    page.click(f"#map svg {DRAWN}[data-grid='{code}']")
    page.wait_for_selector(f"#panel:not([hidden]) h2:has-text('{code}')", timeout=20_000)
    officer = _get(page, f"/api/v1/grids/{code}/officer")["officer"]
    assert page.inner_text("#grid-officer") == officer["officer_name"]
    [expected] = [r for r in _get(page, f"/api/v1/kpis?{API_PERIOD}&group_by=grid")["rows"] if r["grid_code"] == code]
    shown = page.evaluate("Object.fromEntries([...document.querySelectorAll('#grid-kpis [data-kpi]')]"
                          ".map(e => [e.dataset.kpi, e.dataset.value]))")
    assert shown
    for name, value in shown.items():
        assert (value == "" and expected[name] is None) or float(value) == float(expected[name]), name
    assert page.locator("#grid-findings button[data-finding]").count() == stats[code]["open"] > 0
    assert outbound.urls == []


def test_a_finding_shows_its_timeline_and_a_supervisor_step_changes_it(page, outbound):
    sign_in(page, "supervisor")
    open_grid_page(page, "/map")
    _apply(page)
    resolved = _get(page, f"/map/findings.json?{PERIOD}&status=resolved")["rows"]
    finding = next(f for f in (_get(page, f"/api/v1/findings/{row[0]}/timeline") for row in resolved[:20])
                   if "verify" in f["allowed"])
    fid, grid = finding["finding"]["id"], finding["finding"]["grid_code"]
    _open_grid(page, grid)
    page.click(f"#grid-findings button[data-finding='{fid}']")
    page.wait_for_selector(f"#panel h2[data-finding='{fid}']")
    events = len(finding["events"])
    assert page.locator("#timeline li").count() == events
    shown = page.evaluate("[...document.querySelectorAll('#finding-actions button')].map(b => b.dataset.action)")
    assert shown == finding["allowed"]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "finding-panel.png")
    page.click("#finding-actions button[data-action=verify]")
    page.fill("#step-form textarea", "Checked on site.")
    page.click("#step-form button[type=submit]")
    page.wait_for_function(f"document.querySelectorAll('#timeline li').length === {events + 1}", timeout=20_000)
    after = _get(page, f"/api/v1/findings/{fid}/timeline")
    assert after["finding"]["status"] == "verified" and after["events"][-1]["actor"] == "supervisor"
    # Verifying again is refused by the server; its message is shown, not swallowed.
    assert "verify" not in page.evaluate("[...document.querySelectorAll('#finding-actions button')]"
                                         ".map(b => b.dataset.action)")
    assert outbound.urls == []


def test_a_stale_step_shows_the_servers_refusal(page, outbound):
    sign_in(page, "supervisor")
    open_grid_page(page, "/map")
    _apply(page)
    rows = _get(page, f"/map/findings.json?{PERIOD}&status=dispatched")["rows"]
    finding = _get(page, f"/api/v1/findings/{rows[0][0]}/timeline")["finding"]
    _open_grid(page, finding["grid_code"])
    page.click(f"#grid-findings button[data-finding='{finding['id']}']")
    page.click("#finding-actions button[data-action=reject]")
    page.click("#step-form button[type=submit]")  # no reason: the browser's own check stops it
    before = _get(page, f"/api/v1/findings/{finding['id']}/timeline")["events"]
    assert page.locator("#timeline li").count() == len(before)
    page.fill("#step-form textarea", "Not a problem.")
    # someone else moves the finding on meanwhile: the page's version is stale
    moved = page.evaluate("id => fetch('/api/v1/findings/' + id + '/steps', {method: 'POST', headers: "
                          "{'Content-Type': 'application/json'}, body: JSON.stringify({action: 'reject', "
                          "reason: 'duplicate'})}).then(r => r.status)", finding["id"])
    assert moved == 201
    page.click("#step-form button[type=submit]")
    page.wait_for_selector("#step-form .error:not(:empty)")
    assert "moved on" in page.inner_text("#step-form .error")
    assert outbound.urls == []


def test_filters_change_the_drawn_findings_like_the_findings_endpoint(page, outbound):
    sign_in(page, "supervisor")
    open_grid_page(page, "/map")
    every = _apply(page, status="")  # all statuses, not just the open default
    river = _apply(page, domain="river")
    assert river == _get(page, f"/map/findings.json?{PERIOD}&domain=river")["count"]
    town = _get(page, "/map/options.json")["towns"][0]["code"]
    narrowed = _apply(page, domain="river", status="verified", town=town)
    assert narrowed == _get(page, f"/map/findings.json?{PERIOD}&domain=river&status=verified&town={town}")["count"]
    assert 0 < narrowed < river < every
    assert outbound.urls == []


def test_zooming_in_swaps_the_overview_geometry_for_the_fine_one(page, outbound):
    sign_in(page, "supervisor")
    open_grid_page(page, "/map")
    assert page.evaluate("document.body.dataset.gridDetail") == "overview"
    code = _get(page, "/map/options.json")["towns"][0]["code"]  # any grid of the first town will do
    grid = next(g for g in _get(page, "/map/grid-stats.json")["grids"] if g.startswith(code))
    vertices = f"document.querySelector('path[data-grid=\"{grid}\"]').getAttribute('d').split(/[LM]/).length"
    _open_grid(page, grid)  # fits the map to the grid: zoom 13 or more
    page.wait_for_function("document.body.dataset.gridDetail === 'fine'", timeout=20_000)
    page.wait_for_timeout(300)  # the swapped paths are redrawn on the next frame
    assert page.evaluate(vertices) > 4
    overview = json.loads(page.request.get("/map/grids.topojson?detail=overview").text())
    fine = json.loads(page.request.get("/map/grids.topojson?detail=fine").text())
    assert sum(map(len, fine["arcs"])) > 1.5 * sum(map(len, overview["arcs"]))
    assert page.locator(f"#map svg {DRAWN}").count() == ALL_GRIDS  # the same paths, new geometry
    assert outbound.urls == []


def test_zooming_in_draws_micro_grid_outlines_that_the_overview_never_fetched(page, outbound):
    asked = []
    page.on("request", lambda request: asked.append(request.url) if MICRO_GRIDS in request.url else None)
    sign_in(page, "supervisor")
    open_grid_page(page, "/map")
    page.wait_for_function("document.body.dataset.findingsDrawn !== undefined", timeout=20_000)
    assert asked == [] and page.locator("#map path[data-micro-grid]").count() == 0  # the overview's bytes only

    layer = json.loads(page.request.get(MICRO_GRIDS).text())["objects"]["micro_grids"]["geometries"]
    grid = layer[0]["properties"]["grid"]
    _open_grid(page, grid)  # fits the map to the grid: zoom 13 or more
    page.wait_for_function("document.body.dataset.microGridsDrawn !== undefined", timeout=20_000)
    drawn = page.evaluate("[...document.querySelectorAll('#map path[data-micro-grid]')].map(p => p.dataset.microGrid)")
    assert int(page.evaluate("document.body.dataset.microGridsDrawn")) == len(drawn) == len(layer) > ALL_GRIDS
    assert sorted(drawn) == sorted(g["id"] for g in layer)
    assert page.locator(f"#map svg {DRAWN}").count() == ALL_GRIDS  # outlines only: no Tab stop, no click taken
    page.uncheck("input[name=markers]")  # the clusters would lie over the grid
    under = page.evaluate("""(code) => {  // what a click in the middle of a micro-grid lands on
        const box = document.querySelector('#map path[data-micro-grid="' + code + '"]').getBoundingClientRect();
        const hit = document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2);
        return hit && hit.dataset.grid;
    }""", next(g["id"] for g in layer if g["properties"]["grid"] == grid))
    assert under, "the micro-grid outlines took the click from the grid beneath"
    _open_grid(page, layer[-1]["properties"]["grid"])  # zooming again draws from what it has
    assert len(asked) == 1
    assert outbound.urls == []


def test_the_downloaded_map_draws_on_its_own(page, outbound):
    """The snapshot (folium, Leaflet written in) opened as a page of its own: every grid is drawn and it asks
    nothing of any server."""
    sign_in(page, "supervisor")
    open_grid_page(page, "/map")
    href = page.get_attribute("#snapshot", "href")
    assert href.startswith("/map/snapshot.html?") and "status=open" in href
    snapshot = page.request.get(href)
    assert snapshot.ok and "attachment" in snapshot.headers["content-disposition"]
    page.goto("about:blank")
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.set_content(snapshot.text(), wait_until="load")
    page.wait_for_function(f"document.querySelectorAll('{DRAWN}').length >= {ALL_GRIDS}", timeout=20_000)
    assert [url for url in requests if not url.startswith(("about:", "data:"))] == []
    assert outbound.urls == []
