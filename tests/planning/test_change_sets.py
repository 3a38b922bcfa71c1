"""Change sets through the API (SQLite and PostGIS): draft, preview, apply, revert; history and as-of;
ETags and two planners; what is refused.

The small county (tests/factories_geo.py) is a lattice of 0.01° cells; micro-grid ``GRIDS[0] + "01"`` is
the 1×2 cell column x 0..1, y 0..2 of grid ``GRIDS[0]`` (officer A).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import shapely
from fastapi.testclient import TestClient
from sqlalchemy import select

from gridgov.config import county_today
from gridgov.findings.models import Finding
from gridgov.grids.models import Unit, UnitCode, UnitVersion
from gridgov.main import create_app
from gridgov.notifications.models import Notification
from gridgov.people import users
from gridgov.people.demo import DEMO_PASSWORD
from gridgov.people.principal import cli_principal
from gridgov.planning import applying, flows
from gridgov.planning.hours import DEFAULT_RATES
from gridgov.storage.db import get_engine, transaction
from tests.conftest import bearer
from tests.databases import app_url
from tests.factories_geo import COUNTY, GRIDS, TOWNS, VILLAGES, lattice
from tests.findings.test_findings_api import copy_of, template  # noqa: F401 (the fixture)
from tests.findings.test_workflow_api import report, take

A, B, C = "W4309210001", "W4309210002", "W4309210003"  # A: grids 0, 1; B: grids 2, 3; C: grid 4
MICRO = GRIDS[0] + "01"
ACROSS = {"type": "LineString", "coordinates": [lattice(-0.3, 1), lattice(1.3, 1)]}  # cuts MICRO at y = 1
API = "/api/v1/planning"


@pytest.fixture
def county(template, tmp_path) -> str:  # noqa: F811
    return copy_of(template, tmp_path)


def client(county: str, username: str) -> TestClient:
    return TestClient(create_app(app_url(county)), headers=bearer(county, username))


def draft(api: TestClient, title: str = "Split Dongfeng 1", **fields) -> dict:
    response = api.post(f"{API}/change-sets", json={"title": title, **fields})
    assert response.status_code == 201, response.text
    assert response.headers["ETag"] == response.json()["etag"]
    return response.json()


def edit(api: TestClient, change_set: dict, body: dict, etag: str | None = "current"):
    headers = {} if etag is None else {"If-Match": change_set["etag"] if etag == "current" else etag}
    return api.post(f"{API}/change-sets/{change_set['id']}/edits", json=body, headers=headers)


def act(api: TestClient, change_set: dict, action: str):
    return api.post(f"{API}/change-sets/{change_set['id']}/{action}", headers={"If-Match": change_set["etag"]})


def live_map(url: str) -> dict[str, tuple[str, str, str, bytes]]:
    """Every live unit: code → (level, parent, name, WKB), to compare maps exactly."""
    with transaction(get_engine(url)) as session:
        return {u.code: (u.level, u.parent_code, u.name, shapely.to_wkb(u.geom)) for u in session.scalars(select(Unit))}


def split_micro(api: TestClient) -> dict:
    change_set = draft(api)
    response = edit(api, change_set, {"op": "split", "code": MICRO, "line": ACROSS})
    assert response.status_code == 200, response.text
    return response.json()


def test_a_split_is_previewed_applied_kept_in_history_and_reverted_exactly(county):
    original = live_map(county)
    with client(county, "admin") as officer_side:
        open_finding = report(officer_side, lattice(0.5, 0.5), "field_abandonment")
        closed_finding = report(officer_side, lattice(0.5, 1.5), "field_abandonment")
        assert take(officer_side, closed_finding, "reject", reason="duplicate of a known case").status_code == 201
    with client(county, "planner") as api:
        change_set = split_micro(api)
        [step] = change_set["edits"]
        pieces = [GRIDS[0] + "03", GRIDS[0] + "04"]  # the lowest sequences never used under the grid
        assert (step["retired"], step["created"]) == ([MICRO], pieces)

        preview = api.get(f"{API}/change-sets/{change_set['id']}/preview").json()
        assert (preview["retired"], preview["created"], preview["stale"]) == ([MICRO], pieces, [])
        assert [f["id"] for f in preview["before"]["features"]] == [MICRO]
        assert sorted(f["id"] for f in preview["after"]["features"]) == pieces
        [move] = preview["findings"]
        # The southern piece is the larger (a degree of longitude is wider further south), so it comes first.
        assert (move["id"], move["from"], move["to"]) == (open_finding["id"], MICRO, GRIDS[0] + "03")
        assert live_map(county) == original  # a preview stores nothing

        applied = act(api, change_set, "apply")
        assert applied.status_code == 200, applied.text
        assert applied.json()["status"] == "applied"
        after = api.get(f"{API}/change-sets/{change_set['id']}/preview")
        assert after.status_code == 409 and "nothing left to preview" in after.json()["description"]

        today = county_today()
        micro_now = {f["id"] for f in api.get(f"{API}/map", params={"level": "micro_grid"}).json()["features"]}
        assert set(pieces) <= micro_now and MICRO not in micro_now
        micro_then = {f["id"] for f in api.get(f"{API}/map", params={
            "level": "micro_grid", "as_of": (today - timedelta(days=1)).isoformat()}).json()["features"]}
        assert MICRO in micro_then and not set(pieces) & micro_then
        old = api.get(f"{API}/units/{MICRO}", params={"as_of": (today - timedelta(days=1)).isoformat()})
        assert old.status_code == 200 and old.headers["ETag"] == f'"u-{MICRO}-1"'
        gone = api.get(f"{API}/units/{MICRO}")
        assert gone.status_code == 404 and f"until {today}" in gone.json()["description"]
        # The same through OGC API - Features: the map of a day, or every shape over a period.
        def ogc(when: str) -> list[tuple[str, int]]:
            body = api.get("/ogc/collections/micro-grids/items", params={"datetime": when, "limit": 100}).json()
            return sorted((f["id"], f["properties"]["version"]) for f in body["features"] if f["id"][:14] == GRIDS[0])
        yesterday = (today - timedelta(days=1)).isoformat()
        assert ogc(yesterday) == [(MICRO, 1), (GRIDS[0] + "02", 1)]
        assert ogc(f"{today.isoformat()}T12:00:00+08:00") == [(GRIDS[0] + "02", 1), (pieces[0], 1), (pieces[1], 1)]
        assert ogc(f"{yesterday}/..") == [(MICRO, 1), (GRIDS[0] + "02", 1), (pieces[0], 1), (pieces[1], 1)]

    with transaction(get_engine(county)) as session:
        moved, kept = (session.get(Finding, (COUNTY, f["id"])) for f in (open_finding, closed_finding))
        assert (moved.micro_grid_code, kept.micro_grid_code) == (GRIDS[0] + "03", MICRO)
        registry = session.get(UnitCode, (COUNTY, MICRO))
        assert registry.retired_on == today
        assert session.get(Unit, (COUNTY, pieces[0])).name == "东风一组 03"  # after the unit it was cut from
        assert session.get(UnitCode, (COUNTY, pieces[0])).change_set_id == change_set["id"]
    with client(county, "admin") as api:
        timeline = api.get(f"/api/v1/findings/{open_finding['id']}/timeline").json()
    relocation = [e for e in timeline["events"] if e["action"] == "relocate"]
    assert len(relocation) == 1 and relocation[0]["data"]["from"]["micro_grid"] == MICRO

    with client(county, "planner") as api:
        undo = api.post(f"{API}/change-sets/{change_set['id']}/revert")
        assert undo.status_code == 201, undo.text
        assert undo.json()["reverts"] == change_set["id"]
        assert act(api, undo.json(), "apply").status_code == 200
        assert api.get(f"{API}/change-sets/{change_set['id']}").json()["status"] == "reverted"
    assert live_map(county) == original  # codes, parents and every coordinate
    with transaction(get_engine(county)) as session:
        versions = session.scalars(select(UnitVersion).where(UnitVersion.code == MICRO)
                                   .order_by(UnitVersion.version)).all()
        assert [(v.version, v.valid_to) for v in versions] == [(1, today), (2, None)]
        assert session.get(Finding, (COUNTY, open_finding["id"])).micro_grid_code == MICRO


def test_a_point_s_unit_officer_and_kpis_before_and_after_a_merge(county):
    before_day = county_today() - timedelta(days=1)
    with client(county, "admin") as api:
        finding = report(api, lattice(3.5, 0.5), "river_garbage")  # in grid 4 (officer C), stays open
    with client(county, "planner") as api:
        change_set = draft(api, "Merge Shengli grids", effective_on=county_today().isoformat())
        response = edit(api, change_set, {"op": "merge", "codes": [GRIDS[3], GRIDS[4]]})
        assert response.status_code == 200, response.text
        change_set = response.json()
        merged = VILLAGES[2] + "03"
        assert change_set["edits"][0]["created"][0] == merged
        response = api.post(f"{API}/change-sets/{change_set['id']}/reassignments",
                            json={"grid_code": merged, "officer_code": C}, headers={"If-Match": change_set["etag"]})
        assert response.status_code == 200, response.text
        change_set = response.json()
        preview = api.get(f"{API}/change-sets/{change_set['id']}/preview").json()
        officers = {row["grid_code"]: (row["before"], row["after"]) for row in preview["officers"]}
        assert officers == {GRIDS[3]: (B, None), GRIDS[4]: (C, None), merged: (None, C)}
        assert [(c["unit_code"], c["domain"]) for c in preview["chiefs"]] == [(COUNTY, "river")]
        assert {p["grid_code"] for p in preview["patrols"]} == {GRIDS[3], GRIDS[4]}
        hours = {row["grid_code"]: (row["before_hours"], row["after_hours"]) for row in preview["workload"]}
        # The same ground, one patrol rule instead of two: the merged grid's hours are the sum less one rule.
        assert hours[merged][1] == pytest.approx(hours[GRIDS[3]][0] + hours[GRIDS[4]][0] - DEFAULT_RATES.grid_hours,
                                                 abs=0.02)
        assert act(api, change_set, "apply").status_code == 200

        point = dict(zip(("lon", "lat"), lattice(3.5, 0.5)))
        then = api.get(f"{API}/locate", params={**point, "as_of": before_day.isoformat()}).json()
        now = api.get(f"{API}/locate", params=point).json()
    with transaction(get_engine(county)) as session:
        told = {(n.recipient, n.kind): n.payload for n in session.scalars(
            select(Notification).where(Notification.subject_id == change_set["id"]))}
    assert set(told) == {(B, "grids_changed"), (C, "grids_changed"), ("ZH" + COUNTY, "area_replanned")}
    assert (told[B, "grids_changed"]["leaves"], told[B, "grids_changed"]["takes"]) == ([GRIDS[3]], [])
    assert (told[C, "grids_changed"]["leaves"], told[C, "grids_changed"]["takes"]) == ([GRIDS[4]], [merged])
    assert (then["grid"], then["micro_grid"], then["officer"]) == (GRIDS[4], GRIDS[4] + "01", C)
    assert (now["grid"], now["officer"], now["village"]) == (merged, C, VILLAGES[2])
    assert now["micro_grid"].startswith(merged)

    with client(county, "admin") as api:
        def grids_with_findings(since, until):
            rows = api.get("/api/v1/kpis", params={"since": since.isoformat(), "until": until.isoformat(),
                                                   "group_by": "grid"}).json()["rows"]
            return {row["grid_code"]: row["registered"] for row in rows}
        reported = datetime.fromisoformat(finding["received_at"])
        just_before_apply = reported + timedelta(microseconds=1)  # ended before the merge: the old map
        assert grids_with_findings(reported - timedelta(hours=1), just_before_apply) == {GRIDS[4]: 1}
        assert grids_with_findings(reported - timedelta(hours=1), datetime.now(UTC) + timedelta(hours=1)) \
            == {merged: 1}


def test_two_planners_on_one_unit_one_gets_412_and_nothing_is_lost(county):
    with client(county, "planner") as first, client(county, "admin") as second:
        mine = split_micro(first)
        theirs = draft(second, "Their split")
        line = {"type": "LineString", "coordinates": [lattice(0.5, -0.3), lattice(0.5, 2.3)]}
        theirs = edit(second, theirs, {"op": "split", "code": MICRO, "line": line}).json()
        assert act(first, mine, "apply").status_code == 200
        stale = act(second, theirs, "apply")
        assert stale.status_code == 412, stale.text
        assert stale.json()["description"].startswith(MICRO)
        kept = second.get(f"{API}/change-sets/{theirs['id']}").json()
        assert (kept["status"], len(kept["edits"]), kept["etag"]) == ("draft", 1, theirs["etag"])

        # Two writes to one draft made against the same revision: the second is refused, the first stays.
        shared = draft(first, "Shared draft")
        one = edit(first, shared, {"op": "merge", "codes": [GRIDS[1], GRIDS[2]]})
        two = edit(second, shared, {"op": "merge", "codes": [GRIDS[3], GRIDS[4]]})
        missing = edit(second, shared, {"op": "merge", "codes": [GRIDS[3], GRIDS[4]]}, etag=None)
        assert (one.status_code, two.status_code, missing.status_code) == (200, 412, 428)
        assert [e["codes"] for e in first.get(f"{API}/change-sets/{shared['id']}").json()["edits"]] \
            == [[GRIDS[1], GRIDS[2]]]


@pytest.mark.parametrize(("body", "status", "unit", "words"), [
    ({"op": "split", "code": MICRO, "line": {"type": "LineString", "coordinates": [lattice(2.2, 0.5),
                                                                                  lattice(2.8, 0.5)]}},
     422, MICRO, "does not cut"),
    ({"op": "merge", "codes": [GRIDS[0] + "01", GRIDS[1] + "01"]}, 422, GRIDS[1] + "01", "parent"),
    ({"op": "merge", "codes": [GRIDS[0], GRIDS[3]]}, 422, GRIDS[3], "parent"),
    ({"op": "merge", "codes": [GRIDS[3] + "01", GRIDS[4] + "01"]}, 422, GRIDS[4] + "01", "parent"),
    ({"op": "split", "code": "4309211002019999", "line": ACROSS}, 404, "4309211002019999", "no grid"),
    ({"op": "split", "code": VILLAGES[0], "line": ACROSS}, 422, VILLAGES[0], "village"),
    ({"op": "split", "code": MICRO, "line": {"type": "LineString", "coordinates": [lattice(-0.3, 0.002),
                                                                                  lattice(1.3, 0.002)]}},
     422, MICRO, "sliver"),
])
def test_bad_edits_are_refused_naming_the_unit_and_nothing_is_stored(county, body, status, unit, words):
    with client(county, "planner") as api:
        change_set = draft(api)
        response = edit(api, change_set, body)
        assert response.status_code == status, response.text
        assert response.json()["description"].startswith(f"{unit}:")
        assert words in response.json()["description"]
        assert api.get(f"{API}/change-sets/{change_set['id']}").json()["edits"] == []


def test_drafts_are_scoped_dated_and_reviewed(county):
    with client(county, "planner") as api:
        too_early = api.post(f"{API}/change-sets", json={"title": "Late", "effective_on": "2020-01-01"})
        assert too_early.status_code == 400 and "days in the past" in too_early.json()["description"]
        change_set = split_micro(api)
        own_review = api.post(f"{API}/change-sets/{change_set['id']}/review", json={"approve": True},
                              headers={"If-Match": change_set["etag"]})
        assert own_review.status_code == 403
    with client(county, "admin") as reviewer:
        rejected = reviewer.post(f"{API}/change-sets/{change_set['id']}/review",
                                 json={"approve": False, "note": "follow the road instead"},
                                 headers={"If-Match": change_set["etag"]})
        assert rejected.status_code == 200, rejected.text
        refused = act(reviewer, rejected.json(), "apply")
        assert refused.status_code == 409 and "follow the road" in refused.json()["description"]
    with client(county, "town.supervisor") as other:
        assert other.get(f"{API}/change-sets/{change_set['id']}").status_code == 404
        assert other.post(f"{API}/change-sets", json={"title": "x"}).status_code == 403
    with client(county, "w4309210001") as officer:
        assert officer.get(f"{API}/change-sets").status_code == 403


def test_a_town_planner_applies_inside_the_town_only(county):
    """On PostGIS this runs under row-level security: the new units and the relocated finding are written
    for a planner whose jurisdiction lists only the town's units of before the change."""
    with transaction(get_engine(county)) as session:
        operator = cli_principal(session=session)
        users.create_user(session=session, principal=operator, username="town.planner", display_name="Town planner",
                          password=DEMO_PASSWORD)
        users.grant_role(session=session, principal=operator, username="town.planner", role="planner",
                         unit_code=TOWNS[0])
    with client(county, "admin") as api:
        finding = report(api, lattice(0.5, 0.5), "field_abandonment")
    with client(county, "town.planner") as api:
        change_set = draft(api)
        assert change_set["scope_code"] == TOWNS[0]
        other_town = edit(api, change_set, {"op": "merge", "codes": [GRIDS[3], GRIDS[4]]})
        assert other_town.status_code == 404 and other_town.json()["description"].startswith(GRIDS[3])
        change_set = edit(api, change_set, {"op": "split", "code": MICRO, "line": ACROSS}).json()
        applied = act(api, change_set, "apply")
        assert applied.status_code == 200, applied.text
        micro_now = {f["id"] for f in api.get(f"{API}/map", params={"level": "micro_grid"}).json()["features"]}
        yesterday = (county_today() - timedelta(days=1)).isoformat()
        micro_then = {f["id"] for f in api.get(f"{API}/map", params={"level": "micro_grid", "as_of": yesterday})
                      .json()["features"]}
    assert {GRIDS[0] + "03", GRIDS[0] + "04"} <= micro_now and not any(c.startswith(TOWNS[1]) for c in micro_now)
    assert MICRO in micro_then and not any(c.startswith(TOWNS[1]) for c in micro_then)  # retired, still seen
    with transaction(get_engine(county)) as session:
        assert session.get(Finding, (COUNTY, finding["id"])).micro_grid_code == GRIDS[0] + "03"
        assert session.get(Unit, (COUNTY, GRIDS[0] + "04")) is not None


def test_a_balancing_proposal_is_a_draft_that_gives_each_officer_one_grid(county):
    with client(county, "planner") as api:
        town = api.post(f"{API}/balance", json={"scope_code": TOWNS[0]})
        assert town.status_code == 201, town.text
        assert town.json()["scope_code"] == TOWNS[0] and all(
            e.get("village", e.get("code", "")).startswith(TOWNS[0]) for e in town.json()["edits"])
        assert act(api, town.json(), "discard").status_code == 200
        response = api.post(f"{API}/balance", json={})
        assert response.status_code == 201, response.text
        proposal = response.json()
        figures = proposal["result"]["proposal"]
        assert figures["contiguous"] and figures["officers"] == 3
        # Three officers for three villages leave no choice here; the spread is reported, whatever it is, and no
        # proposal keeping grids in their villages goes under the bound.
        assert figures["after_max_mean"] >= figures["bound_max_mean"] - 1e-9 and figures["before_max_mean"] > 1
        # Three officers, three villages: each village becomes one grid (village 1 already is one).
        assert [e["op"] for e in proposal["edits"]] == ["regroup", "regroup"]
        applied = act(api, proposal, "apply")
        assert applied.status_code == 200, applied.text
        grids = api.get(f"{API}/map", params={"level": "grid"}).json()["features"]
    assert len(grids) == 3 and {g["properties"]["parent_code"] for g in grids} == set(VILLAGES)
    with transaction(get_engine(county)) as session:
        held = flows.officers_of(session=session, county_code=COUNTY, grid_codes=[g["id"] for g in grids],
                                       on=county_today())
    assert sorted(held.values()) == [A, B, C]  # one person, one grid


def test_a_change_set_dated_later_is_scheduled_and_applied_on_its_day(county):
    tomorrow = county_today() + timedelta(days=1)
    other_line = {"type": "LineString", "coordinates": [lattice(0.5, -0.3), lattice(0.5, 2.3)]}
    with client(county, "planner") as api:
        first, second = draft(api, "First", effective_on=tomorrow.isoformat()), draft(api, "Second",
                                                                                         effective_on=tomorrow.isoformat())
        first = edit(api, first, {"op": "split", "code": MICRO, "line": ACROSS}).json()
        second = edit(api, second, {"op": "split", "code": MICRO, "line": other_line}).json()
        for change_set in (first, second):
            scheduled = act(api, change_set, "apply")
            assert scheduled.status_code == 200 and scheduled.json()["status"] == "scheduled", scheduled.text
    assert MICRO in live_map(county)
    with transaction(get_engine(county)) as session:
        assert applying.apply_due(session=session) == applying.DueReport(applied=[], back_to_draft={})
    with transaction(get_engine(county)) as session:
        report = applying.apply_due(session=session, today=tomorrow)
    # The first applies on its day; the second was drawn on the micro-grid the first retired: back to draft.
    assert report.applied == [first["id"]] and list(report.back_to_draft) == [second["id"]]
    assert report.back_to_draft[second["id"]].startswith(MICRO)
    assert MICRO not in live_map(county)
    with client(county, "planner") as api:
        back = api.get(f"{API}/change-sets/{second['id']}").json()
        assert back["status"] == "draft" and back["result"]["schedule_failed"].startswith(MICRO)
        assert api.get(f"{API}/change-sets/{first['id']}").json()["applied_by"] == "system for planner"
    with transaction(get_engine(county)) as session:
        [old] = session.scalars(select(UnitVersion).where(UnitVersion.code == MICRO)).all()
        assert old.valid_to == tomorrow


def test_two_applies_at_once_on_one_unit_one_wins_and_the_other_is_refused_whole(county):
    """Two planners press apply at the same moment on drafts that both split one micro-grid."""
    other_line = {"type": "LineString", "coordinates": [lattice(0.5, -0.3), lattice(0.5, 2.3)]}
    with client(county, "planner") as first, client(county, "admin") as second:
        one = edit(first, draft(first, "One"), {"op": "split", "code": MICRO, "line": ACROSS}).json()
        two = edit(second, draft(second, "Two"), {"op": "split", "code": MICRO, "line": other_line}).json()
    gate = threading.Barrier(2, timeout=30)

    def press(args):
        username, change_set = args
        with client(county, username) as api:
            gate.wait()
            return act(api, change_set, "apply").status_code

    with ThreadPoolExecutor(2) as pool:
        codes = sorted(pool.map(press, [("planner", one), ("admin", two)]))
    assert codes == [200, 412]
    with transaction(get_engine(county)) as session:
        pieces = session.scalars(select(Unit.code).where(Unit.parent_code == GRIDS[0])).all()
        versions = session.scalars(select(UnitVersion).where(UnitVersion.code == MICRO)).all()
    assert len(pieces) == 3 and MICRO not in pieces  # one split applied, whole: 02 and two new pieces
    assert [(v.version, v.valid_to is not None) for v in versions] == [(1, True)]


def test_a_reassignment_left_without_its_grid_is_refused_whole(county):
    with client(county, "planner") as api:
        change_set = draft(api, "Merge and staff", effective_on=county_today().isoformat())
        change_set = edit(api, change_set, {"op": "merge", "codes": [GRIDS[3], GRIDS[4]]}).json()
        merged = change_set["edits"][0]["created"][0]
        change_set = api.post(f"{API}/change-sets/{change_set['id']}/reassignments",
                              json={"grid_code": merged, "officer_code": C},
                              headers={"If-Match": change_set["etag"]}).json()
        change_set = api.delete(f"{API}/change-sets/{change_set['id']}/edits/0",
                                headers={"If-Match": change_set["etag"]}).json()
        before = live_map(county)
        refused = act(api, change_set, "apply")
        assert refused.status_code == 409 and refused.json()["description"].startswith(merged)
    assert live_map(county) == before
