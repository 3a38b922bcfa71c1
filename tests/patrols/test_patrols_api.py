"""Patrols over HTTP (SQLite and PostGIS): starting, replays, late batches, metrics and coverage against
hand-computed answers, suspicious-track flags, checklists, GPX/GeoJSON uploads, compliance and listing.

Expected values never come from the code under test: lengths, coverage shares and micro-grids are computed
here from the small county's layout (tests/factories_geo.py) with pyproj and shapely in EPSG:4546, the
county's metric CRS (CGCS2000 Gauss-Krüger CM 111E).
"""

from __future__ import annotations

import json
import math
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer
from sqlalchemy import func, select

from gridgov.audit.models import AuditRecord
from gridgov.config import get_settings
from gridgov.main import create_app
from gridgov.patrols.models import Patrol, TrackFix
from gridgov.storage.db import get_engine, transaction
from tests.conftest import bearer, import_dataset, seed_users
from tests.databases import app_url, new_database
from tests.factories_geo import GRIDS, lattice, small_county_layers

OFFICER, OTHER_OFFICER = "w4309210001", "w4309210002"  # W4309210001 holds GRIDS[0] and [1]; ...0002 [2] and [3]
G0, G1, G3 = GRIDS[0], GRIDS[1], GRIDS[3]
TO_METRIC = Transformer.from_crs(4490, 4546, always_xy=True)
NOW = datetime.now(UTC).replace(microsecond=0)
T0 = NOW - timedelta(hours=3)
"""Patrols of this module start here unless they say otherwise: safely in the past, whole seconds."""

FOREST_CORNERS = (lattice(0.2, 0.2), lattice(0.8, 0.8))
"""The forest box of village VILLAGES[0], which GRIDS[0] covers whole."""

LAYERS = small_county_layers()
CHINA = timezone(timedelta(hours=8))


# Helpers: time, geometry and the requests of one patrol


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def metric(points) -> list[tuple[float, float]]:
    """Lon/lat points projected to EPSG:4546 metres."""
    return [TO_METRIC.transform(lon, lat) for lon, lat in points]


def path_length_m(points) -> float:
    """Length of the path through ``points`` (lon/lat, in walking order), step by step in EPSG:4546."""
    xy = metric(points)
    return sum(math.dist(a, b) for a, b in zip(xy, xy[1:]))


def metric_polygon(polygon: shapely.Polygon) -> shapely.Polygon:
    return shapely.Polygon(metric(polygon.exterior.coords))


def layer_geometry(layer: str, code: str) -> shapely.Geometry:
    frame = LAYERS[layer]
    return frame.geometry[frame["code"] == code].iloc[0]


def micro_grids_crossed(points) -> list[str]:
    """Codes of the factory's micro-grids the path through ``points`` runs in (for some length)."""
    path = shapely.LineString(points)
    frame = LAYERS["micro_grids"]
    return sorted(code for code, geom in zip(frame["code"], frame.geometry) if path.intersection(geom).length > 0)


def fixes_at(points, start: datetime, step_s: float = 60) -> list[dict]:
    """One fix per point, ``step_s`` seconds apart from ``start``."""
    return [{"lon": lon, "lat": lat, "time": iso(start + timedelta(seconds=step_s * k))}
            for k, (lon, lat) in enumerate(points)]


def start(client, *, grid=G0, started_at=T0, patrol_id=None, headers=None):
    body = {"id": patrol_id or str(uuid.uuid4()), "grid_code": grid, "started_at": iso(started_at)}
    return client.post("/api/v1/patrols", json=body, headers=headers)


def started(client, **kwargs) -> str:
    response = start(client, **kwargs)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def send(client, patrol_id: str, fixes: list[dict], batch_id: str | None = None):
    return client.post(f"/api/v1/patrols/{patrol_id}/fixes", json={"id": batch_id or str(uuid.uuid4()), "fixes": fixes})


def sent(client, patrol_id: str, fixes: list[dict], batch_id: str | None = None) -> dict:
    response = send(client, patrol_id, fixes, batch_id)
    assert response.status_code == 201, response.text
    return response.json()


def end(client, patrol_id: str, ended_at: datetime | str):
    moment = ended_at if isinstance(ended_at, str) else iso(ended_at)
    return client.post(f"/api/v1/patrols/{patrol_id}/end", json={"ended_at": moment})


def walk(client, points, *, grid=G0, started_at=T0, step_s: float = 60) -> dict:
    """A whole live patrol: started at ``started_at``, one batch of fixes, ended at its last fix."""
    patrol_id = started(client, grid=grid, started_at=started_at)
    fixes = fixes_at(points, started_at, step_s)
    sent(client, patrol_id, fixes)
    response = end(client, patrol_id, fixes[-1]["time"])
    assert response.status_code == 200, response.text
    return response.json()


def kinds(patrol: dict) -> set[str]:
    return {flag["kind"] for flag in patrol["flags"]}


def rows(url: str, model, **where) -> int:
    with transaction(get_engine(url)) as session:
        return session.scalar(select(func.count()).select_from(model).where(
            *(getattr(model, name) == value for name, value in where.items())))


# Fixtures


def county(backend: str, gpkg, folder) -> str:
    url = new_database(backend, folder, "patrols")
    import_dataset(url, gpkg)
    seed_users(url)
    return url


@pytest.fixture(scope="module")
def db(backend, small_county_gpkg, tmp_path_factory) -> str:
    """The small county for this module's tests that count nothing county-wide (each its own patrols)."""
    return county(backend, small_county_gpkg, tmp_path_factory.mktemp("patrols"))


@pytest.fixture
def fresh_db(backend, small_county_gpkg, tmp_path) -> str:
    """A small county of one test's own, for tests that count or list every patrol."""
    return county(backend, small_county_gpkg, tmp_path)


def officer_client(url: str, username: str = OFFICER) -> TestClient:
    return TestClient(create_app(app_url(url)), headers=bearer(url, username))


@pytest.fixture
def client(db):
    with officer_client(db) as client:
        yield client


@pytest.fixture
def setting(monkeypatch):
    """``setting(name, value)`` sets a GRIDGOV_* variable for one test; the settings are re-read after it."""
    def set_(name: str, value) -> None:
        monkeypatch.setenv(name, str(value))
        get_settings.cache_clear()

    yield set_
    monkeypatch.undo()
    get_settings.cache_clear()


# 1. Starting a patrol


def overlaps(resource: shapely.Geometry, grid: shapely.Polygon) -> bool:
    """Whether a resource has area (or, for a river, length) inside the grid: touching its border is not."""
    part = shapely.intersection(resource, grid)
    return part.area > 0 if resource.geom_type.endswith("Polygon") else part.length > 0


def test_factory_resources_per_grid():
    """What the checklist tests rely on: GRIDS[0] holds forest only, GRIDS[1] farmland only."""
    grids = {code: geom for code, geom in zip(LAYERS["grids"]["code"], LAYERS["grids"].geometry)}
    for grid, expected in ((G0, {"forests"}), (G1, {"farmland"})):
        held = {layer for layer in ("rivers", "forests", "farmland")
                if any(overlaps(geom, grids[grid]) for geom in LAYERS[layer].geometry)}
        assert held == expected, grid


@pytest.mark.parametrize(("grid", "items"), [(G0, ["F01", "F02", "F03", "F04"]), (G1, ["T01", "T02", "T03", "T04"])])
def test_start_carries_the_checklists_of_the_grid_resources(client, grid, items):
    patrol_id = str(uuid.uuid4())
    response = start(client, grid=grid, patrol_id=patrol_id)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["id"], body["grid_code"], body["officer_code"], body["username"]) == (
        patrol_id, grid, "W4309210001", OFFICER)
    assert (body["status"], body["source"], body["fix_count"]) == ("open", "live", 0)
    assert parse(body["started_at"]) == T0 and body["ended_at"] is None
    assert [item["item_code"] for item in body["checklist"]] == items
    assert {item["domain"] for item in body["checklist"]} == {"forest" if grid == G0 else "field"}
    assert all(item["answer"] is None and item["text_zh"] and item["text_en"] for item in body["checklist"])


def test_start_on_another_officers_grid_is_not_found(client, db):
    patrol_id = str(uuid.uuid4())
    response = start(client, grid=G3, patrol_id=patrol_id)
    assert response.status_code == 404, response.text
    assert G3 in response.json()["description"]
    assert rows(db, Patrol, id=patrol_id) == 0


@pytest.mark.parametrize("username", ["supervisor", "admin"])
def test_staff_cannot_start_patrols(client, db, username):
    patrol_id = str(uuid.uuid4())
    response = start(client, patrol_id=patrol_id, headers=bearer(db, username))
    assert response.status_code == 403, response.text
    assert rows(db, Patrol, id=patrol_id) == 0


def test_start_in_the_future_is_refused(client, db):
    patrol_id = str(uuid.uuid4())
    response = start(client, patrol_id=patrol_id, started_at=datetime.now(UTC) + timedelta(hours=1))
    assert response.status_code == 422, response.text
    assert "future" in response.json()["description"]
    assert rows(db, Patrol, id=patrol_id) == 0


# 2. Replays


def test_starting_again_with_the_same_content_answers_the_stored_patrol(client, db):
    patrol_id = str(uuid.uuid4())
    first = start(client, patrol_id=patrol_id)
    again = start(client, patrol_id=patrol_id, started_at=T0.astimezone(CHINA))  # the same moment, Beijing time
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.json() == first.json()
    assert rows(db, Patrol, id=patrol_id) == 1

    assert start(client, patrol_id=patrol_id, grid=G1).status_code == 409
    assert start(client, patrol_id=patrol_id, started_at=T0 - timedelta(minutes=1)).status_code == 409
    assert rows(db, Patrol, id=patrol_id) == 1


def test_resending_a_batch_is_a_replay_and_changing_it_a_conflict(client, db):
    patrol_id = started(client)
    batch_id = str(uuid.uuid4())
    fixes = fixes_at([lattice(0.5, 0.5), lattice(0.6, 0.5), lattice(0.7, 0.5)], T0)
    first = send(client, patrol_id, fixes, batch_id)
    assert first.status_code == 201, first.text
    assert first.json() == {"id": batch_id, "patrol_id": patrol_id, "fix_count": 3, "patrol_fix_count": 3}

    again = send(client, patrol_id, fixes, batch_id)
    assert again.status_code == 201, again.text
    assert again.json() == first.json()
    assert client.get(f"/api/v1/patrols/{patrol_id}").json()["fix_count"] == 3
    assert rows(db, TrackFix, patrol_id=patrol_id) == 3

    changed = [*fixes[:2], {**fixes[2], "lat": lattice(0.7, 0.6)[1]}]
    conflict = send(client, patrol_id, changed, batch_id)
    assert conflict.status_code == 409, conflict.text
    assert batch_id in conflict.json()["description"]
    assert rows(db, TrackFix, patrol_id=patrol_id) == 3


# 3. Batches late and out of order


PATH = [lattice(0.5, 0.5), lattice(0.8, 0.5), lattice(1.2, 0.5), lattice(1.5, 0.5), lattice(1.5, 1.0),
        lattice(1.5, 1.5)]
"""A walk east across the border of GRIDS[0]'s two micro-grids (x = 1), then north, inside GRIDS[0]."""


def send_late_batches_and_end(client) -> dict:
    """PATH, a fix a minute, sent as its second half (batch B) before its first half (batch A)."""
    patrol_id = started(client)
    fixes = fixes_at(PATH, T0 + timedelta(minutes=1))
    assert sent(client, patrol_id, fixes[3:])["patrol_fix_count"] == 3
    assert sent(client, patrol_id, fixes[:3])["patrol_fix_count"] == 6
    response = end(client, patrol_id, T0 + timedelta(minutes=10))
    assert response.status_code == 200, response.text
    return response.json()


def test_late_batches_are_measured_in_time_order(client):
    patrol = send_late_batches_and_end(client)
    assert patrol["status"] == "ended" and patrol["fix_count"] == 6
    received_order = PATH[3:] + PATH[:3]
    assert path_length_m(received_order) > path_length_m(PATH) + 500  # so the two orders cannot be confused
    assert patrol["length_m"] == pytest.approx(path_length_m(PATH), abs=0.5)
    assert patrol["duration_s"] == 5 * 60
    assert patrol["micro_grids"] == micro_grids_crossed(PATH) == [G0 + "01", G0 + "02"]


def test_batches_arriving_in_reverse_order_are_not_flagged_out_of_order(client):
    """Each batch is in time order; only their arrival is late, which the API explicitly allows."""
    patrol = send_late_batches_and_end(client)
    assert "out_of_order" not in kinds(patrol), patrol["flags"]
    assert patrol["flags"] == []


def test_a_batch_with_decreasing_times_is_flagged_out_of_order(client):
    patrol_id = started(client)
    fixes = fixes_at(PATH, T0 + timedelta(minutes=1))
    shuffled = [fixes[0], fixes[2], fixes[1], *fixes[3:]]  # fix 2 of the batch is dated before fix 1
    sent(client, patrol_id, shuffled)
    patrol = end(client, patrol_id, T0 + timedelta(minutes=10)).json()
    assert kinds(patrol) == {"out_of_order"}
    (flag,) = patrol["flags"]
    assert flag["index"] == 2 and "earlier than fix 1" in flag["message"]
    assert patrol["length_m"] == pytest.approx(path_length_m(PATH), abs=0.5)


# 4. Coverage with known answers


DIAGONAL = [lattice(0.1 + 0.1 * k, 0.1 + 0.1 * k) for k in range(9)]
"""Straight across the forest box, corner to corner, a fix every 0.001° (~150 m)."""


def forest_share_within(points, distance: float) -> float:
    """Share of the forest's area within ``distance`` metres of the path, by shapely in EPSG:4546."""
    forest = metric_polygon(shapely.box(*FOREST_CORNERS[0], *FOREST_CORNERS[1]))
    near = shapely.LineString(metric(points)).buffer(distance, quad_segs=64)
    return shapely.intersection(forest, near).area / forest.area


@pytest.mark.parametrize("distance", [100.0, 40.0])
def test_forest_coverage_of_a_track_across_the_forest(client, setting, distance):
    if distance != 100.0:
        setting("GRIDGOV_AREA_COVERAGE_M", distance)
    expected = forest_share_within(DIAGONAL, distance)
    assert 0.15 < expected < 0.85  # a real fraction, not a trivial 0 or 1
    patrol = walk(client, DIAGONAL)
    assert patrol["coverage"]["forest"] == pytest.approx(expected, abs=0.01)
    assert patrol["coverage"]["river"] is None and patrol["coverage"]["farmland"] is None
    assert patrol["flags"] == []  # a clean walk inside the grid
    assert patrol["length_m"] == pytest.approx(path_length_m(DIAGONAL), abs=0.5)
    assert patrol["micro_grids"] == [G0 + "01"]


def test_a_track_far_from_the_forest_covers_none_of_it(client):
    far = [lattice(1.5, 0.2 + 0.1 * k) for k in range(14)]  # ~680 m east of the forest's east edge
    forest = metric_polygon(shapely.box(*FOREST_CORNERS[0], *FOREST_CORNERS[1]))
    assert shapely.distance(forest, shapely.LineString(metric(far))) > 600
    patrol = walk(client, far)
    assert patrol["coverage"] == {"river": None, "forest": 0.0, "farmland": None}
    assert patrol["micro_grids"] == [G0 + "02"]


def test_river_coverage_of_a_track_crossing_the_river(db, setting):
    """GRIDS[3] holds the river's reach west of x = 3 (~1.3 km); an east-west track crosses it once."""
    setting("GRIDGOV_RIVER_COVERAGE_M", 80)
    river = layer_geometry("rivers", "430921101201R001").intersection(layer_geometry("grids", G3))
    crossing = [lattice(2.2 + 0.1 * k, 1.0) for k in range(8)]
    river_m = shapely.LineString(metric(river.coords))
    expected = shapely.intersection(river_m, shapely.LineString(metric(crossing)).buffer(80, quad_segs=64)).length \
        / river_m.length
    assert 0.05 < expected < 0.5
    with officer_client(db, OTHER_OFFICER) as client:
        patrol = walk(client, crossing, grid=G3)
    assert patrol["coverage"]["river"] == pytest.approx(expected, abs=0.01)
    assert patrol["coverage"]["forest"] is None and patrol["coverage"]["farmland"] is None
    assert [item["item_code"] for item in patrol["checklist"]] == ["R01", "R02", "R03", "R04", "R05", "R06"]


# 5. Flags


def speed_jump() -> list[dict]:
    a, b = lattice(0.2, 0.2), lattice(3.8, 3.8)
    assert path_length_m([a, b]) > 5000
    return fixes_at([a, b], T0, step_s=10)


def far_outside() -> list[dict]:
    # lattice x 3.5 is 0.015° (~1.46 km) east of GRIDS[0]'s east edge; 30 minutes later, so no speed jump
    return fixes_at([lattice(1.5, 1.0), lattice(3.5, 1.0), lattice(3.5, 1.2)], T0, step_s=30 * 60)


def repeated() -> list[dict]:
    return fixes_at([lattice(0.5, 0.5)] * 5 + [lattice(0.6, 0.5)], T0)


def future() -> list[dict]:
    fixes = fixes_at([lattice(0.5, 0.5), lattice(0.6, 0.5)], T0)
    return [*fixes, {"lon": lattice(0.7, 0.5)[0], "lat": lattice(0.7, 0.5)[1], "time": iso(NOW + timedelta(hours=1))}]


@pytest.mark.parametrize(("make", "expected", "kind", "index", "words"), [
    (speed_jump, {"speed_jump", "far_outside_grid"}, "speed_jump", 1, "km/h"),
    (far_outside, {"far_outside_grid"}, "far_outside_grid", 1, "outside the grid"),
    (repeated, {"repeated_fixes"}, "repeated_fixes", 0, "identical position"),
    (future, {"future_time"}, "future_time", 2, "after now"),
], ids=["speed_jump", "far_outside_grid", "repeated_fixes", "future_time"])
def test_suspicious_tracks_are_flagged(client, make, expected, kind, index, words):
    patrol_id = started(client)
    sent(client, patrol_id, make())
    response = end(client, patrol_id, NOW - timedelta(minutes=1))
    assert response.status_code == 200, response.text
    patrol = response.json()
    assert kinds(patrol) == expected, patrol["flags"]
    (flag,) = [f for f in patrol["flags"] if f["kind"] == kind]
    assert flag["index"] == index and words in flag["message"], flag
    assert all(f["message"] for f in patrol["flags"])


def test_a_fix_a_little_ahead_of_the_server_clock_is_not_flagged(client):
    """Phone clocks drift: up to 5 minutes ahead is tolerated."""
    patrol_id = started(client)
    ahead = datetime.now(UTC) + timedelta(minutes=2)
    sent(client, patrol_id, fixes_at([lattice(0.5, 0.5), lattice(0.6, 0.5)], ahead - timedelta(minutes=1)))
    patrol = end(client, patrol_id, datetime.now(UTC)).json()
    assert patrol["flags"] == [] and patrol["fix_count"] == 2


def test_ending_before_the_start_is_refused(client):
    patrol_id = started(client)
    sent(client, patrol_id, fixes_at([lattice(0.5, 0.5), lattice(0.6, 0.5)], T0))
    response = end(client, patrol_id, T0 - timedelta(minutes=1))
    assert response.status_code == 422, response.text
    assert "before it started" in response.json()["description"]
    patrol = client.get(f"/api/v1/patrols/{patrol_id}").json()
    assert (patrol["status"], patrol["ended_at"], patrol["length_m"]) == ("open", None, None)


def test_ending_again_at_another_moment_is_a_conflict(client):
    patrol = walk(client, DIAGONAL[:3])
    assert end(client, patrol["id"], patrol["ended_at"]).json() == patrol
    assert end(client, patrol["id"], T0 + timedelta(minutes=30)).status_code == 409


# 6. A late batch after the end


def test_a_late_batch_after_the_end_is_measured_and_audited(client, db):
    first, detour, last = [lattice(0.5, 0.5)], [lattice(0.5, 1.5), lattice(1.5, 1.5)], [lattice(1.5, 0.5)]
    patrol_id = started(client)
    sent(client, patrol_id, [*fixes_at(first, T0), *fixes_at(last, T0 + timedelta(minutes=30))])
    ended = end(client, patrol_id, T0 + timedelta(minutes=31)).json()
    assert ended["length_m"] == pytest.approx(path_length_m(first + last), abs=0.5)

    late_id = str(uuid.uuid4())  # the fixes between, from a phone that was offline in between
    assert sent(client, patrol_id, fixes_at(detour, T0 + timedelta(minutes=10)), late_id)["patrol_fix_count"] == 4
    patrol = client.get(f"/api/v1/patrols/{patrol_id}").json()
    assert patrol["status"] == "ended" and patrol["fix_count"] == 4
    assert patrol["length_m"] == pytest.approx(path_length_m(first + detour + last), abs=0.5)
    assert patrol["length_m"] > ended["length_m"] + 2000
    assert patrol["duration_s"] == ended["duration_s"] == 30 * 60
    assert patrol["micro_grids"] == [G0 + "01", G0 + "02"]

    with transaction(get_engine(db)) as session:
        records = session.scalars(select(AuditRecord).where(
            AuditRecord.object_type == "patrol", AuditRecord.object_id == patrol_id)).all()
        late = [r.after for r in records if r.action == "add_fixes" and r.after["batch_id"] == late_id]
        actions = sorted(r.action for r in records)
    assert late == [{"batch_id": late_id, "fixes": 2, "patrol_fixes": 4}]
    assert actions == ["add_fixes", "add_fixes", "end", "start"]


# 7. Checklist answers


def test_checklist_answers_are_stored_and_read_back(client):
    patrol_id = started(client)
    answers = [{"item_code": "F01", "answer": "ok"},
               {"item_code": "F02", "answer": "problem", "note": "林带边有焚烧痕迹 (burn marks by the belt)"}]
    response = client.put(f"/api/v1/patrols/{patrol_id}/checks", json={"answers": answers})
    assert response.status_code == 200, response.text
    for body in (response.json(), client.get(f"/api/v1/patrols/{patrol_id}").json()):
        got = {item["item_code"]: (item["answer"], item["note"]) for item in body["checklist"]}
        assert got == {"F01": ("ok", None), "F02": ("problem", answers[1]["note"]), "F03": (None, None),
                       "F04": (None, None)}

    again = {"answers": [{"item_code": "F01", "answer": "not_checked"}]}  # answering again replaces the answer
    changed = client.put(f"/api/v1/patrols/{patrol_id}/checks", json=again).json()
    assert [(i["item_code"], i["answer"]) for i in changed["checklist"]][:2] == [("F01", "not_checked"),
                                                                                ("F02", "problem")]


def test_an_item_of_another_domain_is_refused_by_name(client):
    patrol_id = started(client)
    answers = [{"item_code": "F01", "answer": "ok"}, {"item_code": "R01", "answer": "ok"}]
    response = client.put(f"/api/v1/patrols/{patrol_id}/checks", json={"answers": answers})
    assert response.status_code == 422, response.text
    assert "R01" in response.json()["description"] and "F01" not in response.json()["description"]
    assert all(item["answer"] is None for item in client.get(f"/api/v1/patrols/{patrol_id}").json()["checklist"])


@pytest.mark.parametrize(("username", "status"), [(OTHER_OFFICER, 404), ("supervisor", 403)])
def test_only_the_patrols_officer_answers_its_checklist(client, db, username, status):
    patrol_id = started(client)
    response = client.put(f"/api/v1/patrols/{patrol_id}/checks", headers=bearer(db, username),
                          json={"answers": [{"item_code": "F01", "answer": "ok"}]})
    assert response.status_code == status, response.text
    assert client.get(f"/api/v1/patrols/{patrol_id}").json()["checklist"][0]["answer"] is None


# 8. Uploading a GPX or GeoJSON track


UPLOADED = [lattice(0.3, 0.3), lattice(0.6, 0.3), lattice(0.9, 0.3), lattice(1.2, 0.3), lattice(1.2, 0.6)]


def gpx(fixes: list[dict]) -> bytes:
    points = "".join(f'<trkpt lat="{f["lat"]}" lon="{f["lon"]}"><time>{f["time"]}</time></trkpt>' for f in fixes)
    return (f'<?xml version="1.0" encoding="UTF-8"?><gpx version="1.1" creator="test" '
            f'xmlns="http://www.topografix.com/GPX/1/1"><trk><name>巡查</name><trkseg>{points}</trkseg></trk></gpx>'
            ).encode()


def geojson(fixes: list[dict]) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [f["lon"], f["lat"]]},
         "properties": {"time": f["time"]}} for f in fixes]}).encode()


FORMATS = {"gpx": ("track.gpx", gpx, b'<?xml version="1.0"?><gpx version="1.1"><trk><trkseg><trkpt lat="29.2'),
           "geojson": ("track.geojson", geojson, b'{"type": "FeatureCollection", "features": [{"type": ')}


def upload(client, source: str, content: bytes, patrol_id: str, grid: str = G0):
    filename = FORMATS[source][0]
    return client.post("/api/v1/patrols/upload", files={"file": (filename, content, "application/octet-stream")},
                       data={"grid_code": grid, "id": patrol_id})


@pytest.mark.parametrize("source", FORMATS)
def test_an_uploaded_track_is_an_ended_measured_patrol(client, db, source):
    patrol_id = str(uuid.uuid4())
    fixes = fixes_at(UPLOADED, T0, step_s=120)
    response = upload(client, source, FORMATS[source][1](fixes), patrol_id)
    assert response.status_code == 201, response.text
    patrol = response.json()
    assert (patrol["id"], patrol["source"], patrol["status"], patrol["fix_count"]) == (patrol_id, source, "ended", 5)
    assert (parse(patrol["started_at"]), parse(patrol["ended_at"])) == (T0, T0 + timedelta(minutes=8))
    assert patrol["duration_s"] == 8 * 60
    assert patrol["length_m"] == pytest.approx(path_length_m(UPLOADED), abs=0.5)
    assert patrol["micro_grids"] == micro_grids_crossed(UPLOADED) == [G0 + "01", G0 + "02"]
    assert patrol["coverage"]["forest"] == pytest.approx(forest_share_within(UPLOADED, 100.0), abs=0.01)
    assert patrol["flags"] == []

    again = upload(client, source, FORMATS[source][1](fixes), patrol_id)  # the phone retries the upload
    assert again.status_code == 201, again.text
    assert again.json() == patrol
    assert rows(db, Patrol, id=patrol_id) == 1 and rows(db, TrackFix, patrol_id=patrol_id) == 5


@pytest.mark.parametrize("source", FORMATS)
def test_a_malformed_file_is_refused_and_nothing_stored(client, db, source):
    patrol_id = str(uuid.uuid4())
    response = upload(client, source, FORMATS[source][2], patrol_id)
    assert response.status_code == 422, response.text
    description = response.json()["description"]
    assert FORMATS[source][0] in description and ("GPX" in description if source == "gpx" else "JSON" in description)
    assert "/vsimem/" not in description
    assert client.get(f"/api/v1/patrols/{patrol_id}").status_code == 404
    assert rows(db, Patrol, id=patrol_id) == 0


@pytest.mark.parametrize("source", FORMATS)
def test_a_one_point_track_is_refused(client, db, source):
    patrol_id = str(uuid.uuid4())
    response = upload(client, source, FORMATS[source][1](fixes_at(UPLOADED[:1], T0)), patrol_id)
    assert response.status_code == 422, response.text
    assert "at least 2 fixes" in response.json()["description"]
    assert rows(db, Patrol, id=patrol_id) == 0


@pytest.mark.parametrize("source", FORMATS)
def test_a_track_with_more_fixes_than_allowed_is_too_large(client, db, setting, source):
    setting("GRIDGOV_TRACK_MAX_FIXES", 4)
    patrol_id = str(uuid.uuid4())
    response = upload(client, source, FORMATS[source][1](fixes_at(UPLOADED, T0)), patrol_id)
    assert response.status_code == 413, response.text
    assert "limit is 4" in response.json()["description"]
    assert rows(db, Patrol, id=patrol_id) == 0


@pytest.mark.parametrize("source", FORMATS)
def test_a_track_outside_the_county_is_refused_and_nothing_stored(client, db, source):
    patrol_id = str(uuid.uuid4())
    beijing = [(116.40, 39.90), (116.40, 39.91), (116.41, 39.91)]
    response = upload(client, source, FORMATS[source][1](fixes_at(beijing, T0)), patrol_id)
    assert response.status_code == 422, response.text
    assert "outside the county" in response.json()["description"]
    # The patrol was started before its fixes were refused: the whole upload must be undone.
    assert client.get(f"/api/v1/patrols/{patrol_id}").status_code == 404
    assert rows(db, Patrol, id=patrol_id) == 0


def test_live_batches_have_a_size_limit(client, setting):
    setting("GRIDGOV_BATCH_MAX_ITEMS", 2)
    patrol_id = started(client)
    response = send(client, patrol_id, fixes_at(UPLOADED[:3], T0))
    assert response.status_code == 413, response.text
    assert client.get(f"/api/v1/patrols/{patrol_id}").json()["fix_count"] == 0


# 9. Compliance


LOOP = [lattice(0.1, 0.1), lattice(0.55, 0.1), lattice(1.0, 0.1), lattice(1.45, 0.1), lattice(1.9, 0.1),
        lattice(1.9, 0.55), lattice(1.9, 1.0), lattice(1.9, 1.45), lattice(1.9, 1.9)]
"""Along two sides of GRIDS[0]: about 3.7 km."""


def test_compliance_counts_qualifying_ended_patrols_in_the_period(fresh_db):
    assert path_length_m(LOOP) > 2500 and path_length_m(LOOP[:2]) < 2000
    with officer_client(fresh_db) as client:
        qualifying = walk(client, LOOP, started_at=T0 - timedelta(days=2), step_s=8 * 60)  # 64 min, ~3.7 km
        short = walk(client, [lattice(0.5, 2.2), lattice(1.0, 2.2)], grid=G1, started_at=T0, step_s=40 * 60)
        walk(client, LOOP[:2], started_at=T0 - timedelta(days=1), step_s=10 * 60)  # 10 min, ~440 m: too short
        open_id = started(client, grid=G1, started_at=T0 + timedelta(minutes=50))  # never ended: does not count
        sent(client, open_id, fixes_at(LOOP, T0 + timedelta(minutes=50), step_s=1))
        assert qualifying["duration_s"] >= 30 * 60 and qualifying["length_m"] >= 2000
        assert short["duration_s"] >= 30 * 60 and short["length_m"] < 2000
        on = parse(short["ended_at"]).date()

        response = client.get("/api/v1/patrols/compliance", params={"on": on.isoformat()})
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["on"], body["count"], body["compliant"]) == (on.isoformat(), 2, 1)
        grids = {g["grid_code"]: g for g in body["grids"]}
        assert list(grids) == [G0, G1]
        assert grids[G0]["compliant"] and grids[G0]["patrols_in_period"] == 1
        assert (grids[G0]["required"], grids[G0]["period_days"]) == (1, 7)
        # the latest ended patrol of G0 is the short one of yesterday, though only the long one counts
        assert parse(grids[G0]["last_patrolled_at"]) == T0 - timedelta(days=1) + timedelta(minutes=10)
        assert not grids[G1]["compliant"] and grids[G1]["patrols_in_period"] == 0
        assert parse(grids[G1]["last_patrolled_at"]) == parse(short["ended_at"])

        later = client.get("/api/v1/patrols/compliance", params={"on": (on + timedelta(days=8)).isoformat()}).json()
        assert [(g["grid_code"], g["compliant"]) for g in later["grids"]] == [(G0, False), (G1, False)]
        assert parse(later["grids"][0]["last_patrolled_at"]) == parse(grids[G0]["last_patrolled_at"])

        county = client.get("/api/v1/patrols/compliance", params={"on": on.isoformat()},
                            headers=bearer(fresh_db, "supervisor")).json()
    assert [g["grid_code"] for g in county["grids"]] == list(GRIDS)
    assert (county["count"], county["compliant"]) == (5, 1)
    assert all(g["last_patrolled_at"] is None and not g["compliant"] for g in county["grids"][2:])


# 10. Listing


def test_listing_filters_and_jurisdiction(fresh_db):
    with officer_client(fresh_db) as mine, officer_client(fresh_db, OTHER_OFFICER) as theirs:
        old = started(mine, started_at=T0 - timedelta(days=2))
        other_grid = started(mine, grid=G1, started_at=T0 - timedelta(days=1))
        new = started(mine, started_at=T0)
        neighbour = started(theirs, grid=GRIDS[2], started_at=T0 - timedelta(hours=1))

        def listed(client=mine, **params) -> list[str]:
            response = client.get("/api/v1/patrols", params=params)
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["count"] == len(body["items"])
            return [item["id"] for item in body["items"]]

        assert listed() == [new, other_grid, old]  # newest first
        assert listed(grid_code=G0) == [new, old]
        assert listed(officer_code="W4309210001") == [new, other_grid, old]
        assert listed(officer_code="W4309210002") == []
        assert listed(since=iso(T0 - timedelta(days=1))) == [new, other_grid]  # since is inclusive
        assert listed(until=iso(T0 - timedelta(days=1))) == [old]  # until is exclusive
        assert listed(grid_code=G0, since=iso(T0 - timedelta(days=3)), until=iso(T0)) == [old]
        page = mine.get("/api/v1/patrols", params={"limit": 1, "offset": 1}).json()
        assert (page["count"], [item["id"] for item in page["items"]]) == (3, [other_grid])

        assert listed(theirs) == [neighbour]
        assert listed(theirs, grid_code=G0) == []
        assert theirs.get(f"/api/v1/patrols/{new}").status_code == 404
        assert mine.get(f"/api/v1/patrols/{neighbour}").status_code == 404
        everyone = mine.get("/api/v1/patrols", headers=bearer(fresh_db, "supervisor")).json()
    assert [item["id"] for item in everyone["items"]] == [new, neighbour, other_grid, old]


def test_listing_since_and_until_with_a_utc_offset(fresh_db):
    """Moments in Beijing time (+08:00) select the same patrols as the same moments in UTC."""
    with officer_client(fresh_db) as client:
        early = started(client, started_at=T0 - timedelta(hours=4))
        late = started(client, started_at=T0)
        since = T0 - timedelta(hours=1)  # between the two, closer than the 8 hours of the offset
        for moment in (since, since.astimezone(CHINA)):
            response = client.get("/api/v1/patrols", params={"since": moment.isoformat()})
            assert [item["id"] for item in response.json()["items"]] == [late], moment.isoformat()
            response = client.get("/api/v1/patrols", params={"until": moment.isoformat()})
            assert [item["id"] for item in response.json()["items"]] == [early], moment.isoformat()
