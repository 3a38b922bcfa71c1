"""The planner view in a real browser: every grid drawn, vacant grids marked and listed, a grid's panel equal to
/planner/grids.json; and its change sets: a micro-grid split by a line drawn with the mouse, previewed, applied
and seen by the supervisor, and a stale draft refused with 412 and reloaded."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import shapely
from shapely.geometry import shape
from shapely.ops import split
from sqlalchemy import select, update

from gridgov.audit.service import record
from gridgov.people.models import OfficerAssignment
from gridgov.people.principal import cli_principal
from gridgov.storage.db import get_engine, transaction
from tests.browser.conftest import SCREENSHOTS, only_live_server, open_grid_page, sign_in
from tests.browser.test_accessibility import AXE

ALL_GRIDS = 780
PLANNING = "/api/v1/planning"


def _set_end(url: str, grid: str, valid_to) -> None:
    with transaction(get_engine(url)) as session:
        session.execute(update(OfficerAssignment).where(OfficerAssignment.grid_code == grid,
                                                        OfficerAssignment.valid_to.is_(None) if valid_to else
                                                        OfficerAssignment.valid_to.is_not(None))
                        .values(valid_to=valid_to))
        record(session=session, principal=cli_principal(session=session), action="close" if valid_to else "open",
               object_type="officer_assignment", object_id=grid, unit_code=grid,
               after={"valid_to": valid_to and valid_to.isoformat()})


@pytest.fixture
def vacant_grid(live_server):
    """The county's last grid loses its officer today (every demo grid has one; the assignment service
    refuses to leave one without, but an imported roster can), and gets them back afterwards."""
    with transaction(get_engine(live_server.database_url)) as session:
        grid = session.scalar(select(OfficerAssignment.grid_code).order_by(OfficerAssignment.grid_code.desc()).limit(1))
    _set_end(live_server.database_url, grid, datetime.now(ZoneInfo("Asia/Shanghai")).date())
    yield grid
    _set_end(live_server.database_url, grid, None)



def _panel(page) -> dict:
    """What the grid panel shows: the grid, the officer's code ("" for none) and each part's value."""
    return page.evaluate("""() => {
        const detail = document.getElementById('grid-detail');
        return {grid: detail.querySelector('h3').dataset.grid,
                officer: detail.querySelector('[data-officer]').dataset.officer,
                parts: Object.fromEntries([...detail.querySelectorAll('[data-part]')]
                                          .map(e => [e.dataset.part, Number(e.dataset.value)]))};
    }""")


def _clickable_grid(page, data: dict) -> tuple[str, float, float]:
    """A grid with an officer, and a point of the screen where a click lands on that grid's own path."""
    found = page.evaluate("""(covered) => {
        for (const path of document.querySelectorAll('#map path[data-grid]')) {
            if (!covered.includes(path.dataset.grid)) continue;
            const box = path.getBoundingClientRect();
            const x = box.x + box.width / 2, y = box.y + box.height / 2;
            if (document.elementFromPoint(x, y) === path) return [path.dataset.grid, x, y];
        }
        return null;
    }""", [code for code, grid in data["grids"].items() if grid["officer"]])
    assert found, "no grid could be clicked at its middle"
    return found[0], found[1], found[2]


def test_the_planner_sees_every_grid_vacant_ones_marked_and_each_grids_figures(page, outbound, vacant_grid):
    sign_in(page, "planner")
    assert open_grid_page(page, "/planner") == ALL_GRIDS
    assert page.locator("#map path.leaflet-interactive").count() == ALL_GRIDS

    uncovered = page.request.get("/api/v1/assignments/uncovered").json()
    assert uncovered["grid_codes"] == [vacant_grid]
    assert page.locator("#map path.vacant").count() == uncovered["count"] == 1
    assert page.get_attribute("#map path.vacant", "data-grid") == vacant_grid
    assert page.get_attribute("#map path.vacant", "fill") == "url(#vacant-hatch)"
    assert page.locator("#vacant-list button").all_inner_texts() == uncovered["grid_codes"]
    assert page.inner_text("#vacant-count") == "1"

    data = page.request.get("/planner/grids.json").json()
    code, x, y = _clickable_grid(page, data)
    page.mouse.click(x, y)
    shown = _panel(page)
    assert shown == {"grid": code, "officer": data["grids"][code]["officer"]["code"],
                     "parts": data["grids"][code]["workload"]}
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "planner.png")

    page.focus("#vacant-list button")  # the keyboard way in: the list of vacant grids
    page.keyboard.press("Enter")
    assert _panel(page) == {"grid": vacant_grid, "officer": "", "parts": data["grids"][vacant_grid]["workload"]}
    assert page.evaluate("document.activeElement.id") == "grid-detail"
    assert outbound.urls == []


def test_the_officers_table_sorts_by_keyboard(page, outbound):
    sign_in(page, "planner")
    open_grid_page(page, "/planner")
    data = page.request.get("/planner/grids.json").json()
    heaviest = max(data["officers"], key=lambda o: o["workload"]["index"])
    assert page.get_attribute("#officers tbody tr", "data-officer") == heaviest["code"]

    page.focus("#officers button[data-sort=grids]")
    page.keyboard.press("Enter")
    assert page.get_attribute("#officers th:has(button[data-sort=grids])", "aria-sort") == "descending"
    counts = page.evaluate("[...document.querySelectorAll('#officers tbody tr')]"
                           ".map(r => r.querySelectorAll('button[data-grid]').length)")
    assert counts == sorted(counts, reverse=True) and counts[0] == max(len(o["grids"]) for o in data["officers"])
    page.keyboard.press("Enter")
    assert page.get_attribute("#officers th:has(button[data-sort=grids])", "aria-sort") == "ascending"
    assert page.get_attribute("#officers th:has(button[data-sort=index])", "aria-sort") == "none"
    assert outbound.urls == []


def _micro_grids(page) -> dict[str, shapely.Geometry]:
    collection = page.request.get(f"{PLANNING}/map?level=micro_grid").json()
    return {f["properties"].get("code", f.get("id")): shape(f["geometry"]) for f in collection["features"]}


def _halved_by_its_middle(micro_grids: dict[str, shapely.Geometry]) -> str:
    """A micro-grid that a west-east line through the middle of its bounds cuts into two pieces of fair size,
    so the line a test draws there with the mouse is a valid split."""
    for code, geometry in sorted(micro_grids.items()):
        west, south, east, north = geometry.bounds
        middle = shapely.LineString([(west - 1, (south + north) / 2), (east + 1, (south + north) / 2)])
        pieces = split(geometry, middle).geoms
        if len(pieces) == 2 and min(p.area for p in pieces) > 0.35 * geometry.area:
            return code
    raise AssertionError("no micro-grid is halved by its middle line")


def _create_draft(page, title: str) -> dict:
    page.fill("#draft-title", title)
    page.click("#new-draft button[type=submit]")
    page.wait_for_selector("#draft:not([hidden])")
    page.wait_for_function("(document.body.dataset.unitsDrawn || '').startsWith('micro_grid:')", timeout=20_000)
    return page.request.get(f"{PLANNING}/change-sets/{page.evaluate('document.body.dataset.draft')}").json()


def _pick(page, tool: str, code: str) -> None:
    """Choose ``tool`` and pick ``code`` the keyboard way (typed code), which also frames it on the map."""
    page.click(f"#draft [data-tool={tool}]")
    page.fill("#unit-code", code)
    page.press("#unit-code", "Enter")
    page.wait_for_function("(tool) => document.body.dataset.drawing === tool", arg=tool)
    page.wait_for_timeout(400)  # the map's fitBounds animation


def _wait_for(page, key: str, value: str) -> None:
    """Wait until ``document.body.dataset[key]`` is ``value``, or the status line shows a problem (which then
    fails the test with the server's description)."""
    page.wait_for_function("""([key, value]) => document.body.dataset[key] === value
                               || document.getElementById('plan-status').classList.contains('problem')""",
                           arg=[key, value], timeout=30_000)
    assert page.evaluate("(key) => document.body.dataset[key]", key) == value, page.inner_text("#plan-status")


def _serious_axe_violations(page) -> list[dict]:
    """What axe-core finds serious or critical (WCAG 2 A/AA) on the page as it is now: the accessibility
    test audits /planner as it loads, this audits the open draft and its preview."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("""() => axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa"]},
                                                      resultTypes: ["violations"]})""")
    return [{"rule": v["id"], "where": [n["target"] for n in v["nodes"][:5]]}
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def _screen_row_across(page, code: str) -> list[tuple[float, float]]:
    """Two screen points left and right of the unit's path, on the row through the middle of its box."""
    return page.evaluate("""(code) => {
        const box = document.querySelector('#map path[data-unit="' + code + '"]').getBoundingClientRect();
        const y = box.y + box.height / 2;
        return [[box.x - 25, y], [box.x + box.width + 25, y]];
    }""", code)


def test_a_planner_splits_a_micro_grid_on_the_map_previews_applies_and_the_supervisor_sees_it(
        page, browser, live_server, outbound):
    sign_in(page, "planner")
    open_grid_page(page, "/planner")
    before = _micro_grids(page)
    code = _halved_by_its_middle(before)
    _create_draft(page, "Split " + code)
    _pick(page, "split", code)
    assert page.get_attribute(f'#map path[data-unit="{code}"]', "stroke") == "#c25e00"  # picked

    start, end = _screen_row_across(page, code)
    for point in (start, end, end):  # the last point again ends the line
        page.mouse.click(*point)
        page.wait_for_timeout(150)  # a person's pace: leaflet-draw ignores a click 50 ms after the last one
    _wait_for(page, "edits", "1")
    draft = page.request.get(f"{PLANNING}/change-sets/{page.evaluate('document.body.dataset.draft')}").json()
    [edit] = draft["edits"]
    assert edit["op"] == "split" and edit["code"] == code and edit["retired"] == [code]
    created = sorted(edit["created"])
    assert len(created) == 2 and all(new.startswith(code[:-2]) for new in created)
    assert code in page.inner_text("#edits li") and page.locator("#edits button[data-remove]").count() == 1
    units = page.evaluate("[...document.querySelectorAll('#map path[data-unit]')].map(p => p.dataset.unit)")
    assert set(created) <= set(units) and code not in units  # the draft's pieces, ready for further edits

    page.click("#preview-draft")
    page.wait_for_selector("#preview[data-ready]", timeout=30_000)
    rows = page.evaluate("""() => [...document.querySelectorAll('#preview-units tbody tr')]
                                  .map(r => [r.dataset.code, r.dataset.change])""")
    assert sorted(row for row in rows if row[1] != "reshaped") == sorted([[code, "retired"],
                                                                          *([new, "new"] for new in created)])
    shown = page.request.get(f"{PLANNING}/change-sets/{draft['id']}/preview").json()
    assert sorted(code for code, change in rows if change == "reshaped") == sorted(shown["reshaped"])
    assert sorted(page.evaluate("[...document.querySelectorAll('#map path[data-status=new]')]"
                                ".map(p => p.dataset.code)")) == created
    assert page.locator("#map path[data-code]").count() >= 3  # the old micro-grid dashed, the two new ones
    assert _serious_axe_violations(page) == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "planner-preview.png")

    page.click("#apply-draft")
    _wait_for(page, "lastChangeSet", "applied")
    assert page.locator("#draft").is_hidden()

    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900},
                                  locale="zh-CN", service_workers="block")
    context.route("**/*", only_live_server(live_server, outbound))
    supervisor = context.new_page()
    try:
        sign_in(supervisor, "supervisor")
        assert open_grid_page(supervisor, "/map") == ALL_GRIDS
        after = _micro_grids(supervisor)
        assert set(created) <= set(after) and code not in after
        pieces = shapely.union_all([after[new] for new in created])
        assert pieces.symmetric_difference(before[code]).area < 1e-6 * before[code].area  # the same ground
        west, south, east, north = before[code].bounds
        items = supervisor.request.get("/ogc/collections/micro-grids/items",
                                       params={"bbox": f"{west},{south},{east},{north}", "limit": 100}).json()
        ogc_codes = {f["properties"].get("code", f.get("id")) for f in items["features"]}
        assert set(created) <= ogc_codes and code not in ogc_codes
        supervisor.fill("input[name=grid]", code[:-2])  # the map's own way to a grid: fit it, zoom 13 or more
        supervisor.click("#go-to-grid")
        supervisor.wait_for_function("document.body.dataset.microGridsDrawn !== undefined", timeout=20_000)
        drawn = supervisor.evaluate("[...document.querySelectorAll('#map path[data-micro-grid]')]"
                                    ".map(p => p.dataset.microGrid)")
        assert set(created) <= set(drawn) and code not in drawn  # the supervisor's map shows the new units
    finally:
        context.close()
    assert outbound.urls == []


def test_a_stale_draft_is_refused_and_reloaded_and_refusals_are_shown(page, outbound):
    sign_in(page, "planner")
    open_grid_page(page, "/planner")
    micro_grids = _micro_grids(page)
    code = _halved_by_its_middle(micro_grids)
    draft = _create_draft(page, "Stale " + code)

    _pick(page, "split", code)
    west, south, east, north = micro_grids[code].bounds
    page.click("#typed-line summary")
    page.fill("#line-text", f"{west - 0.01}, {north + 0.01}\n{east + 0.01}, {north + 0.02}")  # misses it
    page.click("#use-line")
    page.wait_for_function("document.getElementById('plan-status').classList.contains('problem')")
    assert page.inner_text("#plan-status").startswith(code)  # the server's 422, naming the unit
    assert page.evaluate("document.body.dataset.edits") == "0"

    middle = (south + north) / 2
    line = {"type": "LineString", "coordinates": [[west - 0.001, middle], [east + 0.001, middle]]}
    changed = page.request.post(f"{PLANNING}/change-sets/{draft['id']}/edits", headers={"If-Match": draft["etag"]},
                                data={"op": "split", "code": code, "line": line})
    assert changed.status == 200, changed.text()  # another planner's edit, behind the page's back
    page.click("#discard-draft")
    page.wait_for_function("document.body.dataset.edits === '1'", timeout=20_000)
    assert page.inner_text("#plan-status") == page.evaluate(
        "t('Someone else changed this draft meanwhile; it has been reloaded. Check it and try again.')")
    assert code in page.inner_text("#edits li")
    page.click("#discard-draft")  # now with the draft's current ETag
    page.wait_for_function("document.body.dataset.lastChangeSet === 'discarded'", timeout=20_000)
    assert page.request.get(f"{PLANNING}/change-sets/{draft['id']}").json()["status"] == "discarded"
    assert outbound.urls == []
