"""The planner view in a real browser: every grid drawn, vacant grids marked and listed, a grid's panel equal to
/planner/grids.json."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from gridgov.audit.service import record
from gridgov.people.models import OfficerAssignment
from gridgov.people.principal import cli_principal
from gridgov.storage.db import get_engine, transaction
from tests.browser.conftest import SCREENSHOTS, open_grid_page, sign_in

ALL_GRIDS = 780


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
