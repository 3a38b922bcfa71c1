"""The supervisor map's JSON endpoints on the Nan County demo: counts agree with the findings, everything is
scoped to the caller, the grid panel's KPIs are the KPI API's, bad filters answer 422."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from gridgov.main import create_app
from tests.conftest import bearer
from tests.databases import app_url

PERIOD = "since=2026-09-01&until=2026-11-20"
API_PERIOD = "since=2026-09-01T00:00:00%2B08:00&until=2026-11-21T00:00:00%2B08:00"
OPEN = {"reported", "dispatched", "accepted", "in_progress", "resolved", "returned", "reopened", "suspended"}


@pytest.fixture(scope="module")
def app(demo_db):
    return create_app(app_url(demo_db))


@pytest.fixture(scope="module")
def as_user(app, demo_db):
    made: dict[str, TestClient] = {}

    def client(username: str) -> TestClient:
        if username not in made:
            made[username] = TestClient(app, headers=bearer(demo_db, username))
        return made[username]

    return client


def _rows(doc: dict) -> list[dict]:
    return [dict(zip(doc["columns"], row, strict=True)) for row in doc["rows"]]


def test_grid_counts_add_up_to_the_findings_drawn(as_user):
    supervisor = as_user("supervisor")
    stats = supervisor.get(f"/map/grid-stats.json?{PERIOD}").json()
    findings = _rows(supervisor.get(f"/map/findings.json?{PERIOD}").json())
    assert len(stats["grids"]) == 780
    assert stats["totals"]["open"] == sum(f["status"] in OPEN for f in findings) > 0
    assert stats["totals"]["overdue"] == sum(f["overdue"] for f in findings) > 0
    overdue_api = supervisor.get("/api/v1/overdue?limit=1000").json()
    assert {f["id"] for f in findings if f["overdue"]} <= {f["id"] for f in overdue_api["items"]}
    breaks = stats["classes"]["open"]["breaks"]
    for grid in stats["grids"].values():
        k = grid["open_class"]
        assert grid["open"] <= breaks[k] and (k == 0 or grid["open"] > breaks[k - 1])


def test_the_open_and_overdue_filters_group_the_states(as_user):
    supervisor = as_user("supervisor")
    every = _rows(supervisor.get(f"/map/findings.json?{PERIOD}").json())
    open_rows = _rows(supervisor.get(f"/map/findings.json?{PERIOD}&status=open").json())
    overdue_rows = _rows(supervisor.get(f"/map/findings.json?{PERIOD}&status=overdue").json())
    assert {f["id"] for f in open_rows} == {f["id"] for f in every if f["status"] in OPEN}
    assert {f["id"] for f in overdue_rows} == {f["id"] for f in every if f["overdue"]}
    assert 0 < len(overdue_rows) < len(open_rows) < len(every)
    options = supervisor.get("/map/options.json").json()
    assert options["default_status"] == "open" and options["statuses"][:2] == ["open", "overdue"]
    stats = supervisor.get(f"/map/grid-stats.json?{PERIOD}&status=overdue").json()
    assert stats["totals"]["open"] == stats["totals"]["overdue"] == len(overdue_rows)


def test_filters_narrow_the_findings_consistently(as_user):
    supervisor = as_user("supervisor")
    every = _rows(supervisor.get(f"/map/findings.json?{PERIOD}").json())
    town = every[0]["id"] and supervisor.get(f"/api/v1/findings/{every[0]['id']}").json()["town_code"]
    query = f"{PERIOD}&domain=river&status=in_progress&town={town}"
    narrowed = supervisor.get(f"/map/findings.json?{query}").json()
    listed = supervisor.get(f"/api/v1/findings?since=2026-09-01T00:00:00%2B08:00&until=2026-11-21T00:00:00%2B08:00"
                            f"&domain=river&status=in_progress&town_code={town}&limit=1000").json()
    assert narrowed["count"] == listed["count"] == len(narrowed["rows"])
    assert {r[0] for r in narrowed["rows"]} == {f["id"] for f in listed["items"]}
    stats = supervisor.get(f"/map/grid-stats.json?{query}").json()
    assert all(code.startswith(town) for code in stats["grids"])
    assert stats["totals"]["open"] == narrowed["count"]


def test_an_officer_sees_only_their_grids_and_their_findings(as_user):
    officer = as_user("w4309210001")
    own = sorted(officer.get("/api/v1/me").json()["officer_grids"])
    stats = officer.get(f"/map/grid-stats.json?{PERIOD}").json()
    assert sorted(stats["grids"]) == own
    visible = {f["id"] for f in officer.get("/api/v1/findings?limit=10000").json()["items"]}
    assert {r[0] for r in officer.get(f"/map/findings.json?{PERIOD}").json()["rows"]} <= visible
    assert officer.get(f"/map/grids/{own[0]}/panel.json?{PERIOD}").status_code == 200
    other = next(code for code in as_user("supervisor").get(f"/map/grid-stats.json?{PERIOD}").json()["grids"]
                 if code not in own)
    assert officer.get(f"/map/grids/{other}/panel.json?{PERIOD}").status_code == 404


def test_a_field_chief_gets_farmland_and_no_other_resource_layer(as_user):
    chief = as_user("zt430921100")  # town field chief of 南洲镇
    options = chief.get("/map/options.json").json()
    assert options["resource_domains"] == ["field"]
    assert chief.get("/map/resources/river.json").json()["features"] == []
    parcels = chief.get("/map/resources/field.json").json()["features"]
    assert parcels and all(f["id"].startswith("430921100") for f in parcels)
    county = as_user("supervisor").get("/map/resources/field.json").json()["features"]
    assert len(county) == 5620 and len(parcels) < len(county)


def test_the_grid_panel_shows_the_kpi_apis_figures_and_its_open_findings(as_user):
    supervisor = as_user("supervisor")
    stats = supervisor.get(f"/map/grid-stats.json?{PERIOD}").json()
    code = max(stats["grids"], key=lambda c: stats["grids"][c]["open"])
    panel = supervisor.get(f"/map/grids/{code}/panel.json?{PERIOD}").json()
    [expected] = [r for r in supervisor.get(f"/api/v1/kpis?{API_PERIOD}&group_by=grid").json()["rows"]
                  if r["grid_code"] == code]
    assert panel["kpis"] == expected
    officer = supervisor.get(f"/api/v1/grids/{code}/officer").json()["officer"]
    assert panel["officer"] == {"code": officer["officer_code"], "name": officer["officer_name"]}
    assert {c["level"] for c in panel["chiefs"]} == {"village", "town"}
    assert panel["findings"]["count"] == stats["grids"][code]["open"] > 0
    assert all(r[3] in OPEN for r in panel["findings"]["rows"])


def test_reroute_targets_are_the_people_a_step_accepts(as_user):
    supervisor = as_user("supervisor")
    finding = _rows(supervisor.get(f"/map/findings.json?{PERIOD}&status=dispatched").json())[0]
    targets = supervisor.get(f"/map/findings/{finding['id']}/reroute-targets.json").json()
    assert {t["post"] for t in targets} == {f"{finding['domain']}_chief", "grid_officer"}
    assert sum(t["current"] for t in targets) <= 1
    assert all(t["name"] for t in targets)


def test_tracks_of_the_last_days_are_simplified_lines_in_the_county(as_user):
    supervisor = as_user("supervisor")
    week = supervisor.get("/map/tracks.json?days=14&until=2026-11-20").json()["features"]
    day = supervisor.get("/map/tracks.json?days=3&until=2026-11-20").json()["features"]
    assert 0 < len(day) < len(week)
    assert {f["geometry"]["type"] for f in week} == {"LineString"}
    xs = [x for f in week for x, _y in f["geometry"]["coordinates"]]
    assert 112.1 < min(xs) and max(xs) < 112.9
    officer = as_user("w4309210001")
    own = set(officer.get("/api/v1/me").json()["officer_grids"])
    tracks = officer.get("/map/tracks.json?days=31&until=2026-11-20").json()["features"]
    assert {f["properties"]["grid"] for f in tracks} <= own


@pytest.mark.parametrize(("query", "words"), [
    ("/map/findings.json?since=2026-11-20&until=2026-11-01", "starts"),
    ("/map/grid-stats.json?status=lost", "status must be one of"),
    ("/map/grid-stats.json?town=430921999", "No town"),
    ("/map/findings.json?category=no_such", "No finding category"),
    ("/map/findings.json?domain=sea", "Invalid request"),
    ("/map/tracks.json?days=400", "Invalid request"),
    ("/map/resources/sea.json", "Invalid request"),
    ("/map/grids/430921100201/panel.json?since=yesterday", "Invalid request"),
])
def test_bad_filters_answer_422_with_a_message(as_user, query, words):
    response = as_user("supervisor").get(query)
    assert response.status_code == 422, response.text
    assert words in response.json()["description"]


def test_anonymous_callers_get_401(app):
    anonymous = TestClient(app)
    for path in ("/map/options.json", "/map/grid-stats.json", "/map/findings.json", "/map/tracks.json",
                 "/map/resources/river.json", "/map/grids/x/panel.json", "/map/findings/x/reroute-targets.json"):
        assert anonymous.get(path).status_code == 401, path
