"""The demo's synthetic history (gridgov.findings.demo) on the Nan County demo database, both backends.

``demo_db`` is seeded up to DEMO_TODAY by the same call as `gridgov demo`; these tests only read it. The
idempotency and determinism tests seed fresh databases of the small county instead.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from gridgov.api_types import as_utc
from gridgov.audit.models import AuditRecord
from gridgov.findings.demo import CHINA, SOURCE, seed_demo_history
from gridgov.findings.models import Finding, FindingEvent
from gridgov.findings.service import LAYER_OF_DOMAIN
from gridgov.findings.taxonomy import DEFAULT_CATEGORIES
from gridgov.geo.crs import to_metric
from gridgov.grids.models import Unit
from gridgov.main import create_app
from gridgov.patrols.checklists import grid_resources
from gridgov.patrols.models import Patrol, PatrolCheck, TrackBatch, TrackFix
from gridgov.patrols.service import compliance, measure
from gridgov.people.models import OfficerAssignment, User
from gridgov.people.principal import cli_principal
from gridgov.storage.db import get_engine, session_factory, transaction
from tests.conftest import DEMO_TODAY, bearer, import_dataset, seed_users
from tests.databases import app_url, new_database
from tests.factories_geo import COUNTY as SMALL_COUNTY

COUNTY = "430921"
GRIDS, WEEKS = 780, 8
OPEN_STATES = {"dispatched", "accepted", "in_progress", "reopened"}
WORKFLOW = OPEN_STATES | {"resolved", "verified", "rejected"}  # "reported" lasts no time: dispatched on arrival
MEASURED = ("fix_count", "length_m", "duration_s", "micro_grids", "coverage_river", "coverage_forest",
            "coverage_farmland", "flags", "min_x", "min_y", "max_x", "max_y")


@pytest.fixture(scope="module")
def demo(demo_db):
    """A read-only session on the demo database (rolled back, never committed)."""
    session = session_factory(get_engine(demo_db))()
    yield session
    session.rollback()
    session.close()


@pytest.fixture(scope="module")
def patrols(demo) -> list[Patrol]:
    return list(demo.scalars(select(Patrol).where(Patrol.county_code == COUNTY).order_by(Patrol.id)))


@pytest.fixture(scope="module")
def findings(demo) -> list[Finding]:
    return list(demo.scalars(select(Finding).where(Finding.county_code == COUNTY).order_by(Finding.id)))


def _count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def test_counts_are_believable(demo, patrols, findings):
    n = len(patrols)
    assert 0.85 * GRIDS * WEEKS < n < 0.97 * GRIDS * WEEKS  # most grid-weeks patrolled, not all
    assert all(p.source == SOURCE and p.status == "ended" for p in patrols)
    fixes = _count(demo, TrackFix, TrackFix.county_code == COUNTY)
    assert 60 < fixes / n < 200  # a fix every 25-40 m over 2-4 km, plus stops
    assert _count(demo, TrackBatch, TrackBatch.county_code == COUNTY) == n  # one batch per patrol
    assert 0.15 < len(findings) / n < 0.3
    lengths = np.array([p.length_m for p in patrols])
    minutes = np.array([p.duration_s for p in patrols]) / 60
    assert 2000 < np.median(lengths) < 4500 and 30 < np.median(minutes) < 70
    checks = demo.execute(select(PatrolCheck.answer, func.count()).where(PatrolCheck.county_code == COUNTY)
                          .group_by(PatrolCheck.answer)).all()
    answers = dict(checks)
    assert answers["ok"] > 0.9 * sum(answers.values()) and answers["problem"] >= len(findings) * 0.5


def test_every_step_is_audited(demo, patrols, findings):
    def audited(action: str, object_type: str) -> int:
        return _count(demo, AuditRecord, AuditRecord.county_code == COUNTY, AuditRecord.action == action,
                      AuditRecord.object_type == object_type)

    assert audited("seed_demo", "patrol") == len(patrols)
    assert audited("report", "finding") == len(findings)
    walked = demo.scalars(select(FindingEvent.finding_id).where(FindingEvent.county_code == COUNTY,
                                                                 FindingEvent.seq > 2).distinct()).all()
    assert walked and audited("seed_demo_workflow", "finding") == len(walked)


def test_every_category_and_workflow_state_is_there(findings):
    assert {f.category_code for f in findings} == {code for code, *_ in DEFAULT_CATEGORIES}
    assert WORKFLOW - {"reopened"} <= {f.status for f in findings} <= WORKFLOW
    assert {f.severity for f in findings} == {"low", "medium", "high", "urgent"}
    cutoff_old = datetime.combine(DEMO_TODAY - timedelta(days=28), datetime.min.time(), UTC)
    cutoff_new = datetime.combine(DEMO_TODAY - timedelta(days=7), datetime.min.time(), UTC)
    old = [f.status for f in findings if as_utc(f.observed_at) < cutoff_old]
    recent = [f.status for f in findings if as_utc(f.observed_at) >= cutoff_new]
    assert old and recent
    assert Counter(old)["verified"] > 0.6 * len(old)  # older findings mostly closed
    open_old = sum(s in OPEN_STATES for s in old) / len(old)
    open_recent = sum(s in OPEN_STATES for s in recent) / len(recent)
    assert open_recent > 0.25 and open_recent > 3 * open_old  # recent ones still open far more often
    duplicates = [f for f in findings if f.duplicate_of]
    assert duplicates and all(f.flags == ["possible_duplicate"] for f in duplicates)


def test_findings_are_reported_on_their_patrol_and_resource(demo, findings):
    sample = findings[:: max(len(findings) // 120, 1)]
    assert len(sample) >= 100
    grids = {}
    for finding in sample:
        patrol = demo.get(Patrol, (COUNTY, finding.patrol_id))
        assert patrol is not None
        assert (finding.grid_code, finding.reporter) == (patrol.grid_code, patrol.username)
        assert as_utc(patrol.started_at) <= as_utc(finding.observed_at) <= as_utc(patrol.ended_at)
        assert as_utc(finding.received_at) >= as_utc(patrol.ended_at)
        assert finding.chiefs and set(finding.chiefs) <= {"village", "town", "county"}
        if finding.grid_code not in grids:
            grid = demo.get(Unit, (COUNTY, finding.grid_code))
            grids[grid.code] = grid_resources(session=demo, county_code=COUNTY, grid=grid)
        resource = grids[finding.grid_code][LAYER_OF_DOMAIN[finding.domain]]
        where = to_metric(shapely.Point(finding.lon, finding.lat))
        # On the river (or its bank), inside the forest patch or field; a re-report a few metres off.
        assert shapely.distance(shapely.union_all(to_metric(np.array(resource, dtype=object))), where) < 30


def test_patrols_are_by_the_grids_officer_on_weekdays_in_daytime(demo, patrols):
    assignments = demo.execute(select(OfficerAssignment.grid_code, OfficerAssignment.officer_code,
                                      OfficerAssignment.valid_from, OfficerAssignment.valid_to)
                               .where(OfficerAssignment.county_code == COUNTY)).all()
    usernames = dict(demo.execute(select(User.person_code, User.username).where(User.county_code == COUNTY)).all())
    by_grid = {}
    for grid, officer, valid_from, valid_to in assignments:
        by_grid.setdefault(grid, []).append((officer, valid_from, valid_to))
    for patrol in patrols:
        local = as_utc(patrol.started_at).astimezone(CHINA)
        day = local.date()
        holders = [o for o, start, end in by_grid[patrol.grid_code] if start <= day and (end is None or end > day)]
        assert holders == [patrol.officer_code]
        assert patrol.username == usernames[patrol.officer_code] == patrol.officer_code.lower()
        assert local.weekday() < 5 and 8 <= local.hour < 17
        assert DEMO_TODAY - timedelta(days=7 * WEEKS) <= day < DEMO_TODAY
    # One patrol per grid and week at most.
    weeks = Counter((p.grid_code, ((DEMO_TODAY - as_utc(p.started_at).astimezone(CHINA).date()).days - 1) // 7)
                    for p in patrols)
    assert max(weeks.values()) == 1


def test_stored_metrics_are_what_measure_computes(demo, patrols):
    sample = [p.id for p in patrols if p.flags][:4]  # the suspicious ones too
    sample += [p.id for p in patrols[:: len(patrols) // 20] if p.id not in sample][:20 - len(sample)]
    assert len(set(sample)) == 20
    with session_factory(demo.get_bind())() as session, session.no_autoflush:
        for patrol_id in sample:
            patrol = session.get(Patrol, (COUNTY, patrol_id))
            stored = {column: getattr(patrol, column) for column in MEASURED}
            track = patrol.track
            measure(session=session, patrol=patrol)
            for column in MEASURED:
                value = getattr(patrol, column)
                if isinstance(value, float):
                    assert stored[column] == pytest.approx(value, rel=1e-12, abs=1e-12), (patrol_id, column)
                else:
                    assert stored[column] == value, (patrol_id, column)
            assert shapely.equals_exact(track, patrol.track, tolerance=0), patrol_id
        session.rollback()


def test_compliance_is_partial_and_some_tracks_are_suspicious(demo, patrols):
    rule, rows = compliance(session=demo, principal=cli_principal(session=demo), on=DEMO_TODAY - timedelta(days=1))
    compliant = sum(n >= rule.min_patrols for _code, _last, n in rows)
    assert len(rows) == GRIDS and 0.6 * GRIDS < compliant < GRIDS
    short = [p for p in patrols if p.duration_s < rule.min_minutes * 60 or p.length_m < rule.min_km * 1000]
    assert 0.01 * len(patrols) < len(short) < 0.1 * len(patrols)
    kinds = Counter(flag["kind"] for p in patrols for flag in p.flags)
    assert kinds["speed_jump"] and kinds["repeated_fixes"]
    assert 0.003 * len(patrols) < sum(bool(p.flags) for p in patrols) < 0.03 * len(patrols)


def test_tracks_follow_rivers_and_cover_the_grid(patrols):
    river = np.array([p.coverage_river for p in patrols if p.coverage_river is not None])
    farmland = np.array([p.coverage_farmland for p in patrols if p.coverage_farmland is not None])
    assert np.median(river) > 0.3  # walked along the river
    assert 0.1 < np.median(farmland) < 0.9
    assert all(any(code.startswith(p.grid_code) for code in p.micro_grids) for p in patrols)


@pytest.mark.parametrize("collection", ["findings", "patrols"])
def test_ogc_collections_show_the_history(demo_db, demo, collection):
    model = Finding if collection == "findings" else Patrol
    with TestClient(create_app(app_url(demo_db)), headers=bearer(demo_db, "admin")) as client:
        response = client.get(f"/ogc/collections/{collection}/items?limit=5")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["numberReturned"] == 5
    assert body["numberMatched"] == _count(demo, model, model.county_code == COUNTY)
    geometry = "Point" if collection == "findings" else "LineString"
    assert {f["geometry"]["type"] for f in body["features"]} == {geometry}


def _seed(url: str) -> dict:
    with transaction(get_engine(url)) as session:
        return seed_demo_history(session=session, county_code=SMALL_COUNTY, today=DEMO_TODAY)


def _contents(url: str) -> dict:
    with transaction(get_engine(url)) as session:
        return {
            "patrols": session.execute(select(Patrol.id, Patrol.grid_code, Patrol.started_at, Patrol.length_m)
                                       .order_by(Patrol.id)).all(),
            "fixes": session.execute(select(TrackFix.batch_id, TrackFix.seq, TrackFix.lon, TrackFix.lat, TrackFix.t)
                                     .order_by(TrackFix.batch_id, TrackFix.seq)).all(),
            "findings": session.execute(select(Finding.id, Finding.lon, Finding.lat, Finding.status,
                                               Finding.duplicate_of).order_by(Finding.id)).all(),
            "checks": session.execute(select(PatrolCheck.patrol_id, PatrolCheck.item_code, PatrolCheck.answer)
                                      .order_by(PatrolCheck.patrol_id, PatrolCheck.item_code)).all(),
            "audit": session.scalar(select(func.count()).select_from(AuditRecord)),
        }


def test_seeding_again_adds_nothing_and_a_seed_gives_the_same_history(backend, tmp_path, small_county_gpkg):
    urls = []
    for name in ("first", "second"):
        url = new_database(backend, tmp_path, name)
        import_dataset(url, small_county_gpkg)
        seed_users(url)
        urls.append(url)
    counts = _seed(urls[0])
    assert counts["patrols"] > 30 and counts["findings"] > 0 and counts["skipped"] == 0
    seeded = _contents(urls[0])
    again = _seed(urls[0])
    assert again["skipped"] == 1 and again["patrols"] == again["findings"] == 0
    assert _contents(urls[0]) == seeded  # not even an audit record
    assert _seed(urls[1]) == counts
    other = _contents(urls[1])
    assert {key: value for key, value in other.items() if key != "audit"} == {
        key: value for key, value in seeded.items() if key != "audit"}


def test_the_workflow_history_follows_the_rules_and_the_kpis_recount_it(demo, demo_db, findings):
    """Every demo finding's events replay to its status along allowed steps, most closed ones on time,
    some escalated; and the county's /api/v1/kpis equal a count of the same events."""
    from fastapi.testclient import TestClient

    from gridgov.findings.workflow import STEP_OF, Action, State, replay
    from gridgov.main import create_app
    from tests.conftest import bearer
    from tests.databases import app_url

    events = demo.scalars(select(FindingEvent).where(FindingEvent.county_code == COUNTY)
                          .order_by(FindingEvent.finding_id, FindingEvent.seq)).all()
    streams: dict[str, list] = {}
    for event in events:
        streams.setdefault(event.finding_id, []).append(event)
    assert set(streams) == {f.id for f in findings}
    for finding in findings:
        stream = streams[finding.id]
        assert [e.seq for e in stream] == list(range(1, len(stream) + 1)) and finding.version == len(stream)
        assert replay((e.action, e.to_state) for e in stream).value == finding.status
        for event in stream[1:]:
            assert State(event.from_state) in STEP_OF[Action(event.action)].sources
        assert [as_utc(e.at) for e in stream] == sorted(as_utc(e.at) for e in stream)
    escalated = {e.finding_id for e in events if e.action == "escalate"}
    assert 0.02 * len(findings) < len(escalated) < 0.5 * len(findings)
    since, until = DEMO_TODAY - timedelta(days=7 * WEEKS + 7), DEMO_TODAY + timedelta(days=1)
    with TestClient(create_app(app_url(demo_db)), headers=bearer(demo_db, "admin")) as api:
        answer = api.get("/api/v1/kpis", params={"since": f"{since}T00:00:00+08:00",
                                                 "until": f"{until}T00:00:00+08:00", "group_by": "county"})
        towns = api.get("/api/v1/kpis", params={"since": f"{since}T00:00:00+08:00",
                                                "until": f"{until}T00:00:00+08:00", "group_by": "town", "f": "csv"})
    assert answer.status_code == 200, answer.text
    row = answer.json()["rows"][0]
    closed = sum(1 for s in streams.values() if s[-1].to_state in ("verified", "rejected")
                 or any(e.action in ("verify", "reject") for e in s))
    assert row["registered"] == len(findings)
    assert row["closed"] == closed and row["completion_rate"] == pytest.approx(closed / len(findings))
    assert row["escalations"] == sum(1 for e in events if e.action == "escalate")
    assert 0.5 < row["on_time_rate"] < 1.0  # most closed on time, not all
    assert row["grids"] == GRIDS and 0.5 < row["patrol_compliance"] < 1.0  # most grids patrolled as the rule asks
    assert towns.status_code == 200 and towns.text.startswith("town_code,registered,closed,completion_rate")
    assert sum(int(line.split(",")[1]) for line in towns.text.strip().splitlines()[1:]) == len(findings)
