"""Reporting and reading findings over HTTP, on SQLite and on PostGIS.

Replays and id conflicts, concurrent replays, all-or-nothing batches, locating a finding and naming its
chiefs, GCJ-02 input, possible duplicates, listing filters and GeoJSON, and photos. Who may do what is
the authorization matrix's business (tests/test_authorization_matrix.py); here the caller is the
county-wide ``admin`` account unless a test says otherwise.

The small county (tests/factories_geo.py) on its lattice (x = 112.48 + 0.01 i, y = 29.28 + 0.01 j):

    town 430921100 (x 0..2): village ...100201 (y 0..2) = grid G0, micro-grids G0-01 (x 0..1), G0-02 (x 1..2)
                             village ...100202 (y 2..4) = grids G1 (y 2..3), G2 (y 3..4), one micro-grid each
    town 430921101 (x 2..4): village ...101201 = grids G3 (x 2..3; micro-grids y 0..2, y 2..4), G4 (x 3..4)

    chiefs: river ZH430921 for the county, forest ZL430921100 for town 100, field ZT430921100202 for
    village ...100202; nobody else.
"""

from __future__ import annotations

import hashlib
import io
import os
import sqlite3
import threading
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from PIL import ExifTags, Image
from pyproj import Geod
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.engine import make_url

import gridgov.findings.service as service
from gridgov.audit.models import AuditRecord
from gridgov.config import get_settings
from gridgov.findings.models import Finding, FindingPhoto
from gridgov.findings.schemas import FindingIn
from gridgov.geo.gcj02 import gcj02_to_wgs84, wgs84_to_gcj02
from gridgov.main import create_app
from gridgov.people.principal import cli_principal
from gridgov.storage.db import get_engine, transaction
from tests import audit_guard
from tests.conftest import bearer, import_dataset, seed_users
from tests.databases import POSTGIS_URL, app_url, new_database
from tests.factories_geo import COUNTY, GRIDS, TOWNS, VILLAGES, lattice

G0, G1, G2, G3, G4 = GRIDS
V1, V2, V3 = VILLAGES
T0, T1 = TOWNS
OBSERVED = "2026-01-05T09:00:00+08:00"
GEOD = Geod(ellps="GRS80")


# --- fixtures and helpers ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def template(backend, small_county_gpkg, tmp_path_factory) -> str:
    """The small county and its demo accounts, imported once per backend; tests work on copies of it."""
    url = new_database(backend, tmp_path_factory.mktemp("findings"), "findings_template")
    import_dataset(url, small_county_gpkg)
    seed_users(url)
    get_engine(url).dispose()  # PostgreSQL copies a template only while nobody is connected to it
    return url


def copy_of(url: str, folder) -> str:
    """A new database holding what the database at ``url`` holds."""
    parsed = make_url(url)
    name = f"findings_{uuid.uuid4().hex[:12]}"
    if parsed.get_backend_name() == "sqlite":
        target = folder / f"{name}.sqlite"
        with closing(sqlite3.connect(parsed.database)) as source, closing(sqlite3.connect(target)) as copy:
            source.backup(copy)
        return f"sqlite:///{target}"
    admin = create_engine(POSTGIS_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name} TEMPLATE {parsed.database}"))
    admin.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def county(template, tmp_path) -> str:
    """A database of its own for each test (findings change it), with the county and its demo accounts."""
    return copy_of(template, tmp_path)


@pytest.fixture
def api(county) -> TestClient:
    """The API, signed in as the county-wide admin."""
    with TestClient(create_app(app_url(county)), headers=bearer(county, "admin")) as client:
        yield client


@pytest.fixture
def settings(monkeypatch):
    """Set ``GRIDGOV_*`` variables for one test; the settings are read afresh now and after the test."""

    def set_env(**values) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"GRIDGOV_{name.upper()}", str(value))
        get_settings.cache_clear()

    yield set_env
    monkeypatch.undo()
    get_settings.cache_clear()


def item(point: tuple[float, float] = lattice(0.5, 2.5), category: str = "field_straw_burning", **fields) -> dict:
    """One finding as a phone sends it, with a fresh id."""
    lon, lat = point
    return {"id": str(uuid.uuid4()), "category_code": category, "lon": lon, "lat": lat,
            "observed_at": OBSERVED} | fields


def moved(point: tuple[float, float], metres: float, azimuth: float = 0.0) -> tuple[float, float]:
    """The point ``metres`` away from ``point`` towards ``azimuth`` (degrees from north), on GRS80."""
    lon, lat, _ = GEOD.fwd(point[0], point[1], azimuth, metres)
    return lon, lat


def metres_between(a: tuple[float, float], b: tuple[float, float]) -> float:
    return GEOD.inv(a[0], a[1], b[0], b[1])[2]


def count(url: str, model, *where) -> int:
    with transaction(get_engine(url)) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def stored(url: str, finding_id: str) -> Finding | None:
    with transaction(get_engine(url)) as session:
        return session.scalars(select(Finding).where(Finding.id == finding_id)).first()


def audit_actions(url: str, finding_id: str) -> list[str]:
    """The audit log's actions on one finding, oldest first."""
    with transaction(get_engine(url)) as session:
        return list(session.scalars(
            select(AuditRecord.action).where(AuditRecord.object_type == "finding",
                                             AuditRecord.object_id == finding_id).order_by(AuditRecord.id)))


def messages_by_index(details: list[dict]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = defaultdict(list)
    for detail in details:
        found[detail["index"]].append(detail["message"])
    return dict(found)


def moment(text: str) -> datetime:
    """An ISO 8601 moment from a response (a trailing Z allowed)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- 1. replays and conflicts --------------------------------------------------------------------------------

def test_a_replayed_report_answers_the_stored_finding_and_stores_it_once(county, api):
    body = item(description="田里有人焚烧秸秆")
    first = api.post("/api/v1/findings", json=body)
    second = api.post("/api/v1/findings", json=body)
    assert (first.status_code, second.status_code) == (201, 201), (first.text, second.text)
    assert second.json() == first.json()
    assert first.json()["id"] == body["id"]
    assert count(county, Finding, Finding.id == body["id"]) == 1
    assert count(county, Finding) == 1
    assert audit_actions(county, body["id"]) == ["report"]


def test_the_same_id_with_other_content_is_a_conflict_and_leaves_the_finding_as_it_was(county, api):
    body = item(description="第一次上报")
    original = api.post("/api/v1/findings", json=body)
    assert original.status_code == 201, original.text
    conflict = api.post("/api/v1/findings", json=body | {"description": "改过的描述"})
    assert conflict.status_code == 409, conflict.text
    assert conflict.json()["code"] == "id_conflict"
    assert conflict.json()["details"] == [
        {"index": 0, "id": body["id"], "message": "this id is already stored with different content"}]
    assert api.get(f"/api/v1/findings/{body['id']}").json() == original.json()
    assert stored(county, body["id"]).description == "第一次上报"
    assert count(county, Finding) == 1
    assert audit_actions(county, body["id"]) == ["report"]


def test_a_conflicting_item_refuses_the_whole_batch_including_its_new_items(county, api):
    old = item(description="a")
    assert api.post("/api/v1/findings", json=old).status_code == 201
    new = item(lattice(3.5, 1.0), "river_garbage")
    response = api.post("/api/v1/findings/batch", json={"items": [new, old | {"severity": "urgent"}]})
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "id_conflict"
    assert [d["index"] for d in response.json()["details"]] == [1]
    assert stored(county, new["id"]) is None
    assert stored(county, old["id"]).severity == "medium"


def test_a_failure_after_the_insert_leaves_nothing_stored(county, monkeypatch):
    """The request's transaction is the unit of work: a report whose audit record cannot be written must
    not be stored either (the finding's insert may not commit on its own)."""

    def audit_log_unavailable(**_kwargs):
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(service, "record_many", audit_log_unavailable)
    finding = FindingIn(**item())
    with pytest.raises(RuntimeError, match="audit log unavailable"):
        with transaction(get_engine(county)) as session:
            service.submit_findings(session=session, principal=cli_principal(session=session), items=[finding])
    assert stored(county, str(finding.id)) is None
    assert count(county, Finding) == 0


# --- 2. concurrent replays ---------------------------------------------------------------------------------------

N_THREADS = 8


def test_concurrent_http_replays_of_a_new_finding_store_one_record(county):
    body = item(description="同一条问题, 八次重发")
    app = create_app(app_url(county))
    headers = bearer(county, "admin")
    clients = [TestClient(app, headers=headers) for _ in range(N_THREADS)]
    start = threading.Barrier(N_THREADS, timeout=30)

    def send(client: TestClient):
        start.wait()
        return client.post("/api/v1/findings", json=body)

    with ThreadPoolExecutor(N_THREADS) as pool:
        responses = list(pool.map(send, clients))
    assert [r.status_code for r in responses] == [201] * N_THREADS, [r.text for r in responses]
    assert all(r.json() == responses[0].json() for r in responses)
    assert responses[0].json()["id"] == body["id"]
    assert count(county, Finding) == 1
    assert audit_actions(county, body["id"]) == ["report"]
    assert audit_guard.take() == []  # the losers' inserts changed no row: nothing for them to audit


def test_replays_racing_past_the_checks_still_give_one_record(county, monkeypatch):
    """Every thread checks the item as new (a barrier holds them all after the checks), then all insert at
    once: the primary key lets one in, and each loser finds it stored and replays it."""
    finding = FindingIn(**item())
    # Shorter than SQLite's 5 s busy timeout: should SQLite ever serialise whole transactions (BEGIN
    # IMMEDIATE), no second thread gets past the checks while the first waits, and the barrier breaks.
    after_checks = threading.Barrier(N_THREADS, timeout=3)
    new_rows = service._new_rows

    def new_rows_then_wait(session, principal, items, *args):
        rows = new_rows(session, principal, items, *args)
        if items:  # only a pass with new items goes on to insert
            try:
                after_checks.wait()
            except threading.BrokenBarrierError:
                pass
        return rows

    monkeypatch.setattr(service, "_new_rows", new_rows_then_wait)
    inserts = []

    def note_insert(_conn, _cursor, statement, *_args) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO FINDINGS"):
            inserts.append(statement)

    event.listen(get_engine(county), "before_cursor_execute", note_insert)

    def report(_):
        with transaction(get_engine(county)) as session:
            submitted = service.submit_findings(session=session, principal=cli_principal(session=session),
                                                items=[finding])
            return [f.id for f in submitted.findings], submitted.created, submitted.replayed

    try:
        with ThreadPoolExecutor(N_THREADS) as pool:
            results = list(pool.map(report, range(N_THREADS)))
    finally:
        event.remove(get_engine(county), "before_cursor_execute", note_insert)
    assert [ids for ids, _, _ in results] == [[str(finding.id)]] * N_THREADS
    assert sorted(created for _, created, _ in results) == [0] * (N_THREADS - 1) + [1]
    assert sorted(replayed for _, _, replayed in results) == [0] + [1] * (N_THREADS - 1)
    assert count(county, Finding) == 1
    assert audit_actions(county, str(finding.id)) == ["report"]
    assert audit_guard.take() == []  # the losers' inserts changed no row: nothing for them to audit
    if not after_checks.broken:  # all threads were past the checks before any inserted
        assert len(inserts) == N_THREADS  # so every loser did run into the primary key


# --- 3. batches: all or nothing ----------------------------------------------------------------------------

def five_items() -> list[dict]:
    return [
        item(lattice(0.5, 2.5), "field_straw_burning"),
        item(lattice(1.5, 1.0), "forest_fire_hazard"),
        item(lattice(2.5, 3.0), "river_garbage"),
        item(lattice(3.5, 1.0), "river_garbage"),
        item(lattice(1.0, 3.5), "field_abandonment"),
    ]


def test_a_batch_with_bad_items_is_refused_whole_with_one_message_per_problem(county, api):
    good = five_items()
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    outside = lattice(6.0, 6.0)
    bad = [dict(i) for i in good]
    bad[1]["category_code"] = "river_rubbish"
    bad[3] |= {"observed_at": future, "lon": outside[0], "lat": outside[1]}
    response = api.post("/api/v1/findings/batch", json={"items": bad})
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "batch_rejected"
    details = response.json()["details"]
    assert {(d["index"], d["id"]) for d in details} == {(1, bad[1]["id"]), (3, bad[3]["id"])}
    messages = messages_by_index(details)
    assert len(messages[1]) == 1 and "unknown category 'river_rubbish'" in messages[1][0]
    assert len(messages[3]) == 2
    assert "is in the future" in messages[3][0] and future[:19] in messages[3][0]
    assert "lies outside the county" in messages[3][1] and f"({outside[0]}, {outside[1]})" in messages[3][1]
    assert count(county, Finding) == 0

    fixed = api.post("/api/v1/findings/batch", json={"items": good})
    assert fixed.status_code == 201, fixed.text
    assert {k: fixed.json()[k] for k in ("count", "created", "replayed")} == {"count": 5, "created": 5, "replayed": 0}
    assert [f["id"] for f in fixed.json()["items"]] == [i["id"] for i in good]
    assert count(county, Finding) == 5

    again = api.post("/api/v1/findings/batch", json={"items": good})
    assert again.status_code == 201, again.text
    assert {k: again.json()[k] for k in ("count", "created", "replayed")} == {"count": 5, "created": 0, "replayed": 5}
    assert again.json()["items"] == fixed.json()["items"]
    assert count(county, Finding) == 5
    assert [audit_actions(county, i["id"]) for i in good] == [["report"]] * 5


def test_a_batch_of_stored_and_new_items_creates_only_the_new_ones(county, api):
    first = five_items()
    assert api.post("/api/v1/findings/batch", json={"items": first}).status_code == 201
    extra = item(lattice(3.5, 3.5), "forest_pests")
    response = api.post("/api/v1/findings/batch", json={"items": [*first[:2], extra, *first[2:]]})
    assert response.status_code == 201, response.text
    assert (response.json()["created"], response.json()["replayed"]) == (1, 5)
    assert [f["id"] for f in response.json()["items"]] == [i["id"] for i in [*first[:2], extra, *first[2:]]]
    assert count(county, Finding) == 6


def test_an_id_repeated_inside_one_batch_names_the_repeating_item(county, api):
    items = five_items()
    items[2]["id"] = items[0]["id"]
    response = api.post("/api/v1/findings/batch", json={"items": items})
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "batch_rejected"
    assert response.json()["details"] == [
        {"index": 2, "id": items[0]["id"], "message": "id repeats item 0 of this batch"}]
    assert count(county, Finding) == 0


def test_a_batch_over_the_limit_is_refused_before_anything_is_checked(county, api, settings):
    settings(batch_max_items=3)
    items = five_items()
    too_many = api.post("/api/v1/findings/batch", json={"items": items[:4]})
    assert too_many.status_code == 413, too_many.text
    assert too_many.json()["code"] == "too_many_items"
    assert "at most 3" in too_many.json()["description"]
    assert count(county, Finding) == 0
    at_limit = api.post("/api/v1/findings/batch", json={"items": items[:3]})
    assert at_limit.status_code == 201, at_limit.text
    assert count(county, Finding) == 3


# --- 4. locating and chiefs --------------------------------------------------------------------------------

# (point, category) -> (domain, micro-grid, grid, village, town, chiefs answering for the finding)
LOCATED = [
    ((lattice(0.5, 2.5), "field_straw_burning"),
     ("field", G1 + "01", G1, V2, T0, {"village": "ZT430921100202"})),
    ((lattice(1.0, 3.5), "field_illegal_building"),
     ("field", G2 + "01", G2, V2, T0, {"village": "ZT430921100202"})),
    ((lattice(0.5, 0.5), "field_abandonment"),  # village 100201 has no field chief
     ("field", G0 + "01", G0, V1, T0, {})),
    ((lattice(1.5, 1.0), "forest_fire_hazard"),
     ("forest", G0 + "02", G0, V1, T0, {"town": "ZL430921100"})),
    ((lattice(3.5, 1.0), "forest_pests"),  # town 101 has no forest chief
     ("forest", G4 + "01", G4, V3, T1, {})),
    ((lattice(2.5, 3.0), "river_garbage"),
     ("river", G3 + "02", G3, V3, T1, {"county": "ZH430921"})),
    ((lattice(2.5, 1.0), "river_sand_mining"),
     ("river", G3 + "01", G3, V3, T1, {"county": "ZH430921"})),
]


def test_a_finding_is_located_to_its_units_and_names_the_chiefs_of_its_domain_there(county, api):
    items = [item(point, category) for (point, category), _ in LOCATED]
    response = api.post("/api/v1/findings/batch", json={"items": items})
    assert response.status_code == 201, response.text
    for answered, sent, (_, expected) in zip(response.json()["items"], items, LOCATED, strict=True):
        domain, micro, grid, village, town, chiefs = expected
        got = {k: answered[k] for k in ("domain", "micro_grid_code", "grid_code", "village_code", "town_code",
                                        "chiefs")}
        assert got == {"domain": domain, "micro_grid_code": micro, "grid_code": grid, "village_code": village,
                       "town_code": town, "chiefs": chiefs}, sent["category_code"]
        assert api.get(f"/api/v1/findings/{sent['id']}").json() == answered
        assert stored(county, sent["id"]).county_code == COUNTY


# --- 5. GCJ-02 -------------------------------------------------------------------------------------------------

def test_a_gcj02_point_is_stored_converted_and_located_where_it_really_is(county, api):
    true_point = lattice(0.8, 1.0)  # micro-grid G0-01; the GCJ-02 offset (~560 m east) lands in G0-02
    gcj_lon, gcj_lat = wgs84_to_gcj02(*true_point)
    body = item((gcj_lon, gcj_lat), "forest_fire_hazard", crs="gcj02")
    response = api.post("/api/v1/findings", json=body)
    assert response.status_code == 201, response.text
    answered = response.json()
    expected_lon, expected_lat = gcj02_to_wgs84(gcj_lon, gcj_lat)
    assert answered["lon"] == pytest.approx(expected_lon, abs=1e-9)
    assert answered["lat"] == pytest.approx(expected_lat, abs=1e-9)
    assert (answered["lon"], answered["lat"]) == pytest.approx(true_point, abs=1e-9)
    assert 300 < metres_between((answered["lon"], answered["lat"]), (gcj_lon, gcj_lat)) < 1000
    assert answered["micro_grid_code"] == G0 + "01"
    row = stored(county, body["id"])
    assert row.gcj02_input is True
    assert (row.geom.x, row.geom.y) == (row.lon, row.lat) == (answered["lon"], answered["lat"])


def test_a_cgcs2000_point_is_stored_as_sent(county, api):
    body = item(lattice(0.8, 1.0), "forest_fire_hazard")
    answered = api.post("/api/v1/findings", json=body).json()
    assert (answered["lon"], answered["lat"]) == (body["lon"], body["lat"])
    assert answered["micro_grid_code"] == G0 + "01"
    assert stored(county, body["id"]).gcj02_input is False


# --- 6. possible duplicates ----------------------------------------------------------------------------------

def test_a_near_report_of_the_same_category_is_linked_to_the_open_one(county, api):
    here = lattice(2.5, 3.0)
    first = api.post("/api/v1/findings", json=item(here, "river_garbage")).json()
    assert (first["duplicate_of"], first["flags"]) == (None, [])

    near = api.post("/api/v1/findings", json=item(moved(here, 10), "river_garbage"))
    assert near.status_code == 201, near.text
    assert near.json()["duplicate_of"] == first["id"]
    assert "possible_duplicate" in near.json()["flags"]

    far = api.post("/api/v1/findings", json=item(moved(here, 200, azimuth=180), "river_garbage")).json()
    assert (far["duplicate_of"], far["flags"]) == (None, [])

    other_kind = api.post("/api/v1/findings", json=item(here, "river_dead_fish")).json()
    assert (other_kind["duplicate_of"], other_kind["flags"]) == (None, [])
    assert api.get(f"/api/v1/findings/{first['id']}").json() == first  # the open one is left as it was


def test_the_duplicate_radius_is_the_categorys(county, api):
    """40 m apart: beyond river garbage's 30 m, within straw burning's 100 m."""
    here = lattice(0.5, 2.5)
    river = api.post("/api/v1/findings", json=item(lattice(2.5, 1.0), "river_garbage")).json()
    field = api.post("/api/v1/findings", json=item(here, "field_straw_burning")).json()
    river_40 = api.post("/api/v1/findings", json=item(moved(lattice(2.5, 1.0), 40, 90), "river_garbage")).json()
    field_40 = api.post("/api/v1/findings", json=item(moved(here, 40, 90), "field_straw_burning")).json()
    assert river_40["duplicate_of"] is None
    assert field_40["duplicate_of"] == field["id"]
    assert river["id"] != field["id"]


def test_the_nearest_open_finding_is_the_one_linked(county, api):
    here = lattice(3.5, 2.0)
    far_one = api.post("/api/v1/findings", json=item(moved(here, 25, 90), "river_garbage")).json()
    near_one = api.post("/api/v1/findings", json=item(moved(here, 8, 270), "river_garbage")).json()
    assert near_one["duplicate_of"] is None  # the two are 33 m apart, beyond river garbage's 30 m
    new = api.post("/api/v1/findings", json=item(here, "river_garbage")).json()  # 25 m and 8 m from them
    assert new["duplicate_of"] == near_one["id"]
    assert far_one["id"] != near_one["id"]


def test_two_near_items_of_one_batch_link_the_second_to_the_first(county, api):
    here = lattice(1.5, 1.0)
    items = [item(here, "forest_fire_hazard"), item(moved(here, 10, 45), "forest_fire_hazard"),
             item(moved(here, 10, 45), "forest_pests")]
    response = api.post("/api/v1/findings/batch", json={"items": items})
    assert response.status_code == 201, response.text
    first, second, other = response.json()["items"]
    assert (first["duplicate_of"], first["flags"]) == (None, [])
    assert (second["duplicate_of"], second["flags"]) == (items[0]["id"], ["possible_duplicate"])
    assert (other["duplicate_of"], other["flags"]) == (None, [])


# --- 7. listing ------------------------------------------------------------------------------------------------

# key -> (point, category, observed_at); grid, village, town and domain as noted
LISTED = {
    "A": (lattice(0.5, 2.5), "field_straw_burning", "2026-01-05T01:00:00Z"),  # G1, V2, T0, field
    "B": (lattice(0.5, 0.5), "forest_fire_hazard", "2026-01-05T02:00:00Z"),  # G0, V1, T0, forest
    "C": (lattice(2.5, 3.0), "river_garbage", "2026-01-05T03:00:00Z"),  # G3, V3, T1, river
    "D": (lattice(3.5, 1.0), "river_garbage", "2026-01-05T04:00:00Z"),  # G4, V3, T1, river
    "E": (lattice(1.0, 3.5), "field_straw_burning", "2026-01-05T05:00:00Z"),  # G2, V2, T0, field
}


@pytest.fixture(scope="module")
def listing(template, tmp_path_factory):
    """A copy of the county holding the five findings of LISTED, shared by the read-only listing tests:
    (the admin's client, key -> id, database URL)."""
    url = copy_of(template, tmp_path_factory.mktemp("listing"))
    items = {key: item(point, category, observed_at=at) for key, (point, category, at) in LISTED.items()}
    with TestClient(create_app(app_url(url)), headers=bearer(url, "admin")) as client:
        response = client.post("/api/v1/findings/batch", json={"items": list(items.values())})
        assert response.status_code == 201, response.text
        yield client, {key: body["id"] for key, body in items.items()}, url


@pytest.mark.parametrize(("params", "expected"), [
    ({}, "EDCBA"),
    ({"grid_code": G3}, "C"),
    ({"village_code": V2}, "EA"),
    ({"town_code": T1}, "DC"),
    ({"town_code": T0}, "EBA"),
    ({"domain": "river"}, "DC"),
    ({"domain": "field"}, "EA"),
    ({"category_code": "forest_fire_hazard"}, "B"),
    ({"status": "dispatched"}, "EDCBA"),  # routed on arrival
    ({"status": "closed"}, ""),
    ({"since": "2026-01-05T02:00:00Z"}, "EDCB"),  # since is inclusive
    ({"until": "2026-01-05T04:00:00Z"}, "CBA"),  # until is exclusive
    ({"since": "2026-01-05T02:00:00Z", "until": "2026-01-05T04:00:00Z"}, "CB"),
    ({"bbox": ",".join(map(str, (*lattice(0.2, 2.2), *lattice(1.8, 3.8))))}, "EA"),
    ({"bbox": ",".join(map(str, (*lattice(1.8, 3.8), *lattice(0.2, 2.2))))}, ""),  # min above max: nothing
    ({"town_code": T1, "domain": "river", "since": "2026-01-05T03:30:00Z"}, "D"),
    ({"category_code": "river_garbage", "bbox": ",".join(map(str, (*lattice(3, 0), *lattice(4, 4))))}, "D"),
], ids=lambda v: "-".join(v) if isinstance(v, dict) else v or "none")
def test_listing_filters(listing, params, expected):
    api, listed, _ = listing
    response = api.get("/api/v1/findings", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [item["id"] for item in body["items"]] == [listed[key] for key in expected]
    assert body["count"] == len(expected)


def test_listing_pages_newest_first_with_the_total_count(listing):
    api, listed, _ = listing
    page = api.get("/api/v1/findings", params={"limit": 2, "offset": 1}).json()
    assert (page["count"], page["limit"], page["offset"]) == (5, 2, 1)
    assert [item["id"] for item in page["items"]] == [listed["D"], listed["C"]]
    last = api.get("/api/v1/findings", params={"limit": 2, "offset": 4}).json()
    assert [item["id"] for item in last["items"]] == [listed["A"]]
    beyond = api.get("/api/v1/findings", params={"offset": 5}).json()
    assert (beyond["count"], beyond["items"]) == (5, [])


def test_geojson_listing_is_a_feature_collection_at_the_stored_points(listing):
    api, listed, county = listing
    response = api.get("/api/v1/findings", params={"f": "geojson", "town_code": T1})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/geo+json")
    collection = response.json()
    assert collection["type"] == "FeatureCollection"
    assert (collection["numberMatched"], collection["numberReturned"]) == (2, 2)
    assert [f["id"] for f in collection["features"]] == [listed["D"], listed["C"]]
    as_json = api.get("/api/v1/findings", params={"town_code": T1}).json()["items"]
    for feature, item_json in zip(collection["features"], as_json, strict=True):
        row = stored(county, feature["id"])
        assert feature["type"] == "Feature"
        assert feature["geometry"] == {"type": "Point", "coordinates": [row.lon, row.lat]}
        assert feature["properties"] == {k: v for k, v in item_json.items() if k not in ("lon", "lat")}
        assert feature["properties"]["grid_code"] == row.grid_code


@pytest.mark.parametrize("bbox", ["112.48,29.28,112.52", "112.48,29.28,112.52,29.32,1", "a,b,c,d", "", "1;2;3;4"])
def test_a_malformed_bbox_is_a_bad_request(listing, bbox):
    api, _, _ = listing
    response = api.get("/api/v1/findings", params={"bbox": bbox})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "InvalidParameterValue"
    assert "bbox" in response.json()["description"]


def test_observed_at_keeps_its_instant_whatever_offset_the_phone_sends(api):
    """Phones in China send +08:00: the answer is the same instant, and since/until filters compare
    instants, whichever offset each side uses."""
    body = item(observed_at="2026-01-05T09:00:00+08:00")  # 01:00 UTC
    answered = api.post("/api/v1/findings", json=body).json()
    assert moment(answered["observed_at"]) == datetime(2026, 1, 5, 1, 0, tzinfo=UTC)

    def listed_with(**params) -> bool:
        response = api.get("/api/v1/findings", params=params)
        assert response.status_code == 200, response.text
        return body["id"] in [f["id"] for f in response.json()["items"]]

    assert listed_with(since="2026-01-05T00:30:00Z")
    assert listed_with(since="2026-01-05T08:30:00+08:00")
    assert not listed_with(since="2026-01-05T01:30:00Z")
    assert not listed_with(since="2026-01-05T09:30:00+08:00")
    assert listed_with(until="2026-01-05T09:30:00+08:00")
    assert not listed_with(until="2026-01-05T09:00:00+08:00")
    assert not listed_with(until="2026-01-05T01:00:00Z")


# --- 8. photos -------------------------------------------------------------------------------------------------

def png_bytes(size: tuple[int, int] = (32, 24)) -> bytes:
    """A PNG of random pixels: each call a different photo."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(buffer, "PNG")
    return buffer.getvalue()


def dms(degrees: float) -> tuple[float, float, float]:
    whole = int(degrees)
    minutes = (degrees - whole) * 60
    return float(whole), float(int(minutes)), round((minutes - int(minutes)) * 60, 4)


def phone_jpeg(*, taken: str, offset: str, lon: float, lat: float) -> bytes:
    """A JPEG with EXIF as a phone writes it: make, time taken with its offset, and GPS position."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make], exif[ExifTags.Base.Model] = "HUAWEI", "NOH-AN00"
    exif_ifd = exif.get_ifd(ExifTags.IFD.Exif)
    exif_ifd[ExifTags.Base.DateTimeOriginal], exif_ifd[ExifTags.Base.OffsetTimeOriginal] = taken, offset
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef], gps[ExifTags.GPS.GPSLatitude] = "N", dms(lat)
    gps[ExifTags.GPS.GPSLongitudeRef], gps[ExifTags.GPS.GPSLongitude] = "E", dms(lon)
    buffer = io.BytesIO()
    Image.frombytes("RGB", (40, 30), os.urandom(40 * 30 * 3)).save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


@pytest.fixture
def finding(api) -> dict:
    """One stored finding at lattice (0.5, 0.5), observed at 09:00 Beijing time."""
    response = api.post("/api/v1/findings", json=item(lattice(0.5, 0.5), "forest_fire_hazard"))
    assert response.status_code == 201, response.text
    return response.json()


def photo_files(sha256: str) -> list:
    return list(get_settings().photo_root.rglob(f"{sha256}.*"))


def test_a_png_photo_is_stored_and_read_back_byte_for_byte(county, api, finding):
    data = png_bytes()
    sha = hashlib.sha256(data).hexdigest()
    response = api.post(f"/api/v1/findings/{finding['id']}/photos", content=data,
                        headers={"Content-Type": "image/png"})
    assert response.status_code == 201, response.text
    photo = response.json()
    assert (photo["sha256"], photo["media_type"], photo["width"], photo["height"]) == (sha, "image/png", 32, 24)
    assert (photo["size_bytes"], photo["flags"], photo["taken_at"]) == (len(data), [], None)
    assert photo["href"] == f"/api/v1/findings/{finding['id']}/photos/{sha}"

    back = api.get(photo["href"])
    assert back.status_code == 200
    assert back.headers["content-type"] == "image/png"
    assert back.content == data
    assert api.get(f"/api/v1/findings/{finding['id']}/photos").json() == [photo]
    assert api.get(f"/api/v1/findings/{finding['id']}").json()["flags"] == []
    assert audit_actions(county, finding["id"]) == ["report", "add_photo"]


def test_text_sent_as_a_photo_is_unsupported_and_not_stored(county, api, finding):
    text = "巡查记录：河岸有垃圾\n".encode()
    response = api.post(f"/api/v1/findings/{finding['id']}/photos", content=text,
                        headers={"Content-Type": "image/jpeg"})
    assert response.status_code == 415, response.text
    assert response.json()["code"] == "not_an_image"
    assert count(county, FindingPhoto) == 0
    assert photo_files(hashlib.sha256(text).hexdigest()) == []


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
def test_a_photo_over_the_size_limit_is_refused_and_not_stored(county, api, finding, settings, streamed):
    data = png_bytes((64, 64))  # about 12 kB of noise
    settings(photo_max_bytes=4096)
    assert len(data) > 4096
    content = iter([data[i:i + 1000] for i in range(0, len(data), 1000)]) if streamed else data
    response = api.post(f"/api/v1/findings/{finding['id']}/photos", content=content,
                        headers={"Content-Type": "image/png"})
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "photo_too_large"
    assert count(county, FindingPhoto) == 0
    assert photo_files(hashlib.sha256(data).hexdigest()) == []
    assert api.get(f"/api/v1/findings/{finding['id']}/photos").json() == []
    assert audit_actions(county, finding["id"]) == ["report"]


def test_a_photo_taken_5_km_away_is_flagged_on_the_photo_and_the_finding(county, api, finding):
    lon, lat = moved((finding["lon"], finding["lat"]), 5000, 0)
    data = phone_jpeg(taken="2026:01:05 09:10:00", offset="+08:00", lon=lon, lat=lat)
    response = api.post(f"/api/v1/findings/{finding['id']}/photos", content=data,
                        headers={"Content-Type": "image/jpeg"})
    assert response.status_code == 201, response.text
    photo = response.json()
    assert photo["media_type"] == "image/jpeg"
    assert moment(photo["taken_at"]) == datetime(2026, 1, 5, 1, 10, tzinfo=UTC)
    assert photo["flags"], "a photo taken 5 km away must be flagged"
    assert any("5.0 km from where the finding was recorded" in flag for flag in photo["flags"]), photo["flags"]
    assert "photo_mismatch" in api.get(f"/api/v1/findings/{finding['id']}").json()["flags"]
    assert "photo_mismatch" in stored(county, finding["id"]).flags


def test_a_photo_taken_where_and_when_the_finding_was_made_is_not_flagged(county, api, finding):
    """Ten minutes after the report (both in Beijing time) and 50 m away: nothing to flag."""
    lon, lat = moved((finding["lon"], finding["lat"]), 50, 90)
    data = phone_jpeg(taken="2026:01:05 09:10:00", offset="+08:00", lon=lon, lat=lat)
    response = api.post(f"/api/v1/findings/{finding['id']}/photos", content=data,
                        headers={"Content-Type": "image/jpeg"})
    assert response.status_code == 201, response.text
    assert response.json()["flags"] == []
    assert api.get(f"/api/v1/findings/{finding['id']}").json()["flags"] == []
