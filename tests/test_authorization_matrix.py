"""Every route × every role × own / other jurisdiction: nothing leaks, nothing forbidden is applied.

The routes come from the app's own route table: a route without a rule below fails
``test_every_route_has_a_rule``, so a new endpoint cannot ship unchecked. Each rule is a probe that,
for one actor, requests an object inside the actor's jurisdiction and one outside it and asserts the
answers (200 / 403 / 404) and, for writes, that a refused change left the database as it was.

The small county: town 430921100 holds villages 430921100201 (grid G0) and 430921100202 (grids G1,
G2); town 430921101 holds village 430921101201 (grids G3, G4). "Other" objects lie in town 101.
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from gridgov.audit.models import AuditRecord
from gridgov.main import create_app
from gridgov.people import users
from gridgov.people.demo import DEMO_PASSWORD
from gridgov.people.models import OfficerAssignment, Role, RoleGrant, User
from gridgov.people.principal import cli_principal
from gridgov.storage.db import get_engine, transaction
from tests.conftest import bearer, import_dataset, seed_users
from tests.databases import app_url, new_database
from tests.factories_geo import GRIDS, TOWNS, VILLAGES, lattice, small_county_layers

OWN_TOWN, OTHER_TOWN = TOWNS
OTHER_GRID, OTHER_VILLAGE = GRIDS[3], VILLAGES[2]
TODAY = date.today().isoformat()


@dataclass(frozen=True)
class Actor:
    """A signed-in role (or nobody) with a grid, village and point inside its jurisdiction."""

    name: str
    username: str | None
    roles: frozenset[str]
    county_wide: bool
    own_grid: str = GRIDS[0]
    own_village: str | None = VILLAGES[0]  # None: the actor sees no village (an officer sees grids only)

    @property
    def own_point(self) -> tuple[float, float]:
        i = GRIDS.index(self.own_grid)
        return {0: lattice(0.5, 0.5), 1: lattice(0.5, 2.5), 2: lattice(0.5, 3.5)}[i]


ACTORS = [
    Actor("anonymous", None, frozenset(), False),
    Actor("officer", "w4309210001", frozenset({"officer"}), False, own_village=None),
    Actor("village field chief", "zt430921100202", frozenset({"chief"}), False, GRIDS[1], VILLAGES[1]),
    Actor("town forest chief", "zl430921100", frozenset({"chief"}), False),
    Actor("county river chief", "zh430921", frozenset({"chief"}), True),
    Actor("town supervisor", "town.supervisor", frozenset({"supervisor"}), False),
    Actor("town planner", "town.planner", frozenset({"planner"}), False),
    Actor("town admin", "town.admin", frozenset({"admin"}), False),
    Actor("supervisor", "supervisor", frozenset({"supervisor"}), True),
    Actor("planner", "planner", frozenset({"planner"}), True),
    Actor("admin", "admin", frozenset({"admin"}), True),
]


@pytest.fixture(scope="module")
def county(backend, small_county_gpkg, tmp_path_factory) -> str:
    """A county of its own for this module, with town-level planner and admin accounts added."""
    url = new_database(backend, tmp_path_factory.mktemp("matrix"), "matrix")
    import_dataset(url, small_county_gpkg)
    seed_users(url)
    with transaction(get_engine(url)) as session:
        operator = cli_principal(session=session)
        for username, role in (("town.planner", "planner"), ("town.admin", "admin")):
            users.create_user(session=session, principal=operator, username=username, display_name=username,
                              password=DEMO_PASSWORD)
            users.grant_role(session=session, principal=operator, username=username, role=role, unit_code=OWN_TOWN)
    store_findings(url)
    store_patrols(url)
    return url


@pytest.fixture(scope="module")
def clients(county) -> dict[str, TestClient]:
    app = create_app(app_url(county))
    made = {}
    for actor in ACTORS:
        headers = bearer(county, actor.username) if actor.username else {}
        made[actor.name] = TestClient(app, headers=headers, base_url="https://testserver")
    return made


def _officer_of(url: str, grid: str) -> str:
    with transaction(get_engine(url)) as session:
        return session.scalar(
            select(OfficerAssignment.officer_code).where(
                OfficerAssignment.grid_code == grid, OfficerAssignment.valid_to.is_(None)
            )
        )


def _count(url: str, model) -> int:
    with transaction(get_engine(url)) as session:
        return session.scalar(select(func.count()).select_from(model))


Probe = Callable[[TestClient, Actor, str], None]


def signed_in_only(probe: Probe) -> Probe:
    """Anonymous callers get 401 (pages: a redirect to sign in); everyone else runs the probe."""

    def run(client: TestClient, actor: Actor, url: str) -> None:
        if actor.username is None:
            response = probe_request(client)
            assert response.status_code == 401, response.text
            return
        probe(client, actor, url)

    return run


def public(method: str, path: str, ok: tuple[int, ...] = (200,), **kwargs) -> Probe:
    def run(client, actor, url):
        assert client.request(method, path, follow_redirects=False, **kwargs).status_code in ok

    return run


def probe_request(client: TestClient):
    return client.get("/api/v1/me")


def status_for(actor: Actor, allowed_roles: set[str], *, own: bool) -> int:
    """What a scoped endpoint must answer: 403 without the role, 404 outside the jurisdiction."""
    if actor.username is None:
        return 401
    if not actor.roles & allowed_roles:
        return 403
    return 200 if own or actor.county_wide else 404


ALL_SIGNED_IN = {"officer", "chief", "supervisor", "planner", "admin"}


def scoped_get(path_of: Callable[[str], str], own_of: Callable[[Actor], str], other: str,
               roles: set[str] = ALL_SIGNED_IN) -> Probe:
    """GET an object inside and outside the actor's jurisdiction."""

    def run(client, actor, url):
        if own_of(actor) is not None:
            own = client.get(path_of(own_of(actor)))
            assert own.status_code == status_for(actor, roles, own=True), own.text
        theirs = client.get(path_of(other))
        assert theirs.status_code == status_for(actor, roles, own=False), theirs.text

    return run


# Who sees each resource layer's one feature: the river reach lies in the other town; the forest patch in
# village 430921100201 and the farmland parcel in 430921100202, both in the own town. Chiefs see only
# their own domain's layer.
SEES = {
    "rivers": {"county river chief", "supervisor", "planner", "admin"},
    "forests": {"officer", "town forest chief", "town supervisor", "town planner", "town admin", "supervisor",
                "planner", "admin"},
    "farmland": {"officer", "village field chief", "town supervisor", "town planner", "town admin", "supervisor",
                 "planner", "admin"},
}


def ogc_items(client, actor, url):
    response = client.get("/ogc/collections/grids/items?limit=1000")
    if actor.username is None:
        assert response.status_code == 401
        return
    codes = {f["id"] for f in response.json()["features"]}
    assert actor.own_grid in codes
    assert (OTHER_GRID in codes) == actor.county_wide
    for layer, seers in SEES.items():
        features = client.get(f"/ogc/collections/{layer}/items").json()["features"]
        assert bool(features) == (actor.name in seers), layer


def ogc_collections(client, actor, url):
    response = client.get("/ogc/collections")
    if actor.username is None:
        assert response.status_code == 401
        return
    grids = next(c for c in response.json()["collections"] if c["id"] == "grids")
    x1 = grids["extent"]["spatial"]["bbox"][0][2]
    # The other town lies east of lattice x = 2: a scoped extent must stop there.
    assert (x1 > lattice(2, 0)[0]) == actor.county_wide


def ogc_collection(client, actor, url):
    response = client.get("/ogc/collections/grids")
    if actor.username is None:
        assert response.status_code == 401
        return
    x1 = response.json()["extent"]["spatial"]["bbox"][0][2]
    assert (x1 > lattice(2, 0)[0]) == actor.county_wide


def locate_get(client, actor, url):
    lon, lat = actor.own_point
    own = client.get(f"/api/v1/locate?lon={lon}&lat={lat}")
    assert own.status_code == status_for(actor, ALL_SIGNED_IN, own=True)
    other_lon, other_lat = lattice(3.5, 1.0)
    theirs = client.get(f"/api/v1/locate?lon={other_lon}&lat={other_lat}")
    assert theirs.status_code == status_for(actor, ALL_SIGNED_IN, own=False)
    if theirs.status_code == 404:
        assert OTHER_GRID not in theirs.text


def locate_post(client, actor, url):
    (lon, lat), (olon, olat) = actor.own_point, lattice(3.5, 1.0)
    response = client.post("/api/v1/locate", json={"lon": [lon, olon], "lat": [lat, olat]})
    if actor.username is None:
        assert response.status_code == 401
        return
    own, theirs = response.json()["locations"]
    assert own["inside"] and own["grid_code"] == actor.own_grid
    assert theirs["inside"] == actor.county_wide
    assert (theirs["grid_code"] == GRIDS[4]) == actor.county_wide


def me(client, actor, url):
    response = client.get("/api/v1/me")
    if actor.username is None:
        assert response.status_code == 401
        return
    body = response.json()
    assert body["username"] == actor.username
    assert set(body["roles"]) == set(actor.roles)


def audit_list(client, actor, url):
    response = client.get("/api/v1/audit?limit=1000")
    expected = status_for(actor, {"supervisor", "admin"}, own=True)
    assert response.status_code == expected, response.text
    if expected == 200 and not actor.county_wide:
        assert all(item["unit_code"] is not None for item in response.json()["items"])


def users_list(client, actor, url):
    response = client.get("/api/v1/users")
    assert response.status_code == status_for(actor, {"admin"}, own=True)
    if response.status_code == 200 and not actor.county_wide:
        names = {u["username"] for u in response.json()}
        assert "w4309210003" not in names  # an officer of the other town


def user_get(client, actor, url):
    response = client.get("/api/v1/users/w4309210003")  # the other town's officer
    if actor.username is None:
        assert response.status_code == 401
    elif "admin" in actor.roles:
        assert response.status_code == (200 if actor.county_wide else 404)
    else:
        assert response.status_code in (403, 404)
    if actor.username:
        assert client.get(f"/api/v1/users/{actor.username}").status_code == 200  # oneself


def user_create(client, actor, url):
    before = _count(url, User)
    name = f"new.{actor.name.replace(' ', '.')}"
    response = client.post("/api/v1/users", json={"username": name, "display_name": "New",
                                                  "password": "a long enough password"})
    expected = {401: 401, 403: 403}.get(status_for(actor, {"admin"}, own=True), 201)
    assert response.status_code == expected, response.text
    assert _count(url, User) == before + (1 if expected == 201 else 0)


def user_patch(client, actor, url):
    response = client.patch("/api/v1/users/w4309210003", json={"display_name": f"by {actor.name}"})
    assert response.status_code == status_for(actor, {"admin"}, own=False)
    with transaction(get_engine(url)) as session:
        shown = session.scalar(select(User.display_name).where(User.username == "w4309210003"))
    assert (shown == f"by {actor.name}") == (response.status_code == 200)


def grant_post(client, actor, url):
    before = _count(url, RoleGrant)
    response = client.post("/api/v1/users/w4309210001/grants", json={"role": "supervisor", "unit_code": OTHER_TOWN})
    expected = status_for(actor, {"admin"}, own=False)
    # A town admin sees the officer (their town) but may not grant over the other town.
    if actor.name == "town admin":
        expected = 403
    assert response.status_code == (201 if expected == 200 else expected), response.text
    assert _count(url, RoleGrant) == before + (1 if response.status_code == 201 else 0)
    if response.status_code == 201:  # take it back, so later probes see the officer as an officer only
        with transaction(get_engine(url)) as session:
            users.revoke_role(session=session, principal=cli_principal(session=session), username="w4309210001",
                              role="supervisor", unit_code=OTHER_TOWN)


def grant_delete(client, actor, url):
    # Revoke the town planner's grant (own town) — only admins may; put it back afterwards.
    before = _count(url, RoleGrant)
    response = client.delete(f"/api/v1/users/town.planner/grants/planner/{OWN_TOWN}")
    expected = status_for(actor, {"admin"}, own=True)
    assert response.status_code == (204 if expected == 200 else expected), response.text
    assert _count(url, RoleGrant) == before - (1 if response.status_code == 204 else 0)
    if response.status_code == 204:
        with transaction(get_engine(url)) as session:
            users.grant_role(session=session, principal=cli_principal(session=session), username="town.planner",
                             role="planner", unit_code=OWN_TOWN)


def reassign(client, actor, url):
    """Planners and admins may hand grids over inside their jurisdiction only; the rest changes nothing."""
    for grid, own in ((actor.own_grid, True), (OTHER_GRID, False)):
        holder = _officer_of(url, grid)
        response = client.post("/api/v1/assignments/officers", json={
            "effective": TODAY, "changes": [{"grid_code": grid, "officer_code": holder}]})
        assert response.status_code == status_for(actor, {"planner", "admin"}, own=own), response.text
        assert _officer_of(url, grid) == holder
    if actor.username and actor.roles & {"planner", "admin"}:
        # A real change inside the jurisdiction is applied (and then undone).
        grid = actor.own_grid
        holder = _officer_of(url, grid)
        other_officer = "W4309210002" if holder != "W4309210002" else "W4309210001"
        done = client.post("/api/v1/assignments/officers", json={
            "effective": TODAY, "changes": [{"grid_code": grid, "officer_code": other_officer}]})
        assert done.status_code == 200, done.text
        assert _officer_of(url, grid) == other_officer
        client.post("/api/v1/assignments/officers", json={
            "effective": TODAY, "changes": [{"grid_code": grid, "officer_code": holder}]})


def assign_chief(client, actor, url):
    """Own village: a no-op hand-over to the sitting field chief. Other village: a chief who does not
    exist, so a county-wide planner gets 422 (and nothing changes), a scoped one 404 before that."""
    change = {"unit_code": VILLAGES[1], "domain": "field", "chief_code": "ZT430921100202"}
    own = client.post("/api/v1/assignments/chiefs", json={"effective": TODAY, "changes": [change]})
    assert own.status_code == status_for(actor, {"planner", "admin"}, own=True), own.text
    change = {"unit_code": OTHER_VILLAGE, "domain": "field", "chief_code": "ZT430921101201"}
    theirs = client.post("/api/v1/assignments/chiefs", json={"effective": TODAY, "changes": [change]})
    expected = status_for(actor, {"planner", "admin"}, own=False)
    assert theirs.status_code == (422 if expected == 200 else expected), theirs.text


# Findings stored by the county's operator: two in the own town (a forest one in the officer's village,
# a field one in the village field chief's), one about the river in the other town.
FINDINGS = {
    "own_forest": ("0e4a4d3c-0000-4000-8000-000000000001", "forest_fire_hazard", lattice(0.5, 0.5)),
    "own_field": ("0e4a4d3c-0000-4000-8000-000000000002", "field_straw_burning", lattice(0.5, 2.5)),
    "other_river": ("0e4a4d3c-0000-4000-8000-000000000003", "river_garbage", lattice(3.5, 1.0)),
}
TOWN_FINDINGS = {"own_forest", "own_field"}
SEES_FINDING = {
    "anonymous": set(), "officer": TOWN_FINDINGS, "village field chief": {"own_field"},
    "town forest chief": {"own_forest"}, "county river chief": {"other_river"},
    "town supervisor": TOWN_FINDINGS, "town planner": TOWN_FINDINGS, "town admin": TOWN_FINDINGS,
    "supervisor": set(FINDINGS), "planner": set(FINDINGS), "admin": set(FINDINGS),
}
REPORTERS = {"officer", "chief", "supervisor", "admin"}
def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (30, 120, 60)).save(buffer, "PNG")
    return buffer.getvalue()


PNG = _png()


def store_findings(url: str) -> None:
    from gridgov.findings.schemas import FindingIn
    from gridgov.findings.service import submit_findings

    with transaction(get_engine(url)) as session:
        submit_findings(session=session, principal=cli_principal(session=session), items=[
            FindingIn(id=fid, category_code=category, lon=lon, lat=lat, observed_at="2026-01-05T09:00:00+08:00")
            for fid, category, (lon, lat) in FINDINGS.values()
        ])


def _finding_status(actor: Actor, key: str) -> int:
    if actor.username is None:
        return 401
    return 200 if key in SEES_FINDING[actor.name] else 404


def findings_list(client, actor, url):
    response = client.get("/api/v1/findings?limit=10000")
    if actor.username is None:
        assert response.status_code == 401
        return
    ids = {item["id"] for item in response.json()["items"]}
    known = {FINDINGS[key][0]: key for key in FINDINGS}
    assert {known[i] for i in ids if i in known} == SEES_FINDING[actor.name]
    geojson = client.get("/api/v1/findings?f=geojson&limit=10000").json()
    assert {f["id"] for f in geojson["features"]} == ids


def finding_get(client, actor, url):
    for key, (fid, _category, _point) in FINDINGS.items():
        assert client.get(f"/api/v1/findings/{fid}").status_code == _finding_status(actor, key), key


def finding_photos(client, actor, url):
    for key, (fid, _category, _point) in FINDINGS.items():
        assert client.get(f"/api/v1/findings/{fid}/photos").status_code == _finding_status(actor, key), key


def _report_status(actor: Actor, *, own: bool) -> int:
    expected = status_for(actor, REPORTERS, own=own)
    return {200: 201, 404: 422}.get(expected, expected)  # a point outside one's area is bad input, not a lookup


def finding_post(client, actor, url):
    from gridgov.findings.models import Finding

    for point, own in ((actor.own_point, True), (lattice(3.5, 1.0), False)):
        before = _count(url, Finding)
        response = client.post("/api/v1/findings", json={
            "id": str(uuid.uuid4()), "category_code": "river_garbage", "lon": point[0], "lat": point[1],
            "observed_at": "2026-01-06T10:00:00+08:00"})
        assert response.status_code == _report_status(actor, own=own), response.text
        assert _count(url, Finding) == before + (response.status_code == 201)


def finding_batch(client, actor, url):
    from gridgov.findings.models import Finding

    before = _count(url, Finding)
    items = [{"id": str(uuid.uuid4()), "category_code": "field_abandonment", "lon": lon, "lat": lat,
              "observed_at": "2026-01-07T10:00:00+08:00"} for lon, lat in (actor.own_point, lattice(3.6, 1.2))]
    response = client.post("/api/v1/findings/batch", json={"items": items})
    assert response.status_code == _report_status(actor, own=False), response.text
    if response.status_code == 422:
        assert [d["index"] for d in response.json()["details"]] == [1]
    assert _count(url, Finding) == before + (2 if response.status_code == 201 else 0)


def photo_post(client, actor, url):
    for key, (fid, _category, _point) in FINDINGS.items():
        response = client.post(f"/api/v1/findings/{fid}/photos", content=PNG, headers={"Content-Type": "image/png"})
        expected = _finding_status(actor, key)
        if expected == 200:
            expected = 201 if actor.roles & REPORTERS else 403
        elif expected == 404 and not actor.roles & REPORTERS:
            expected = 403
        assert response.status_code == expected, (key, response.text)


def photo_get(client, actor, url):
    import hashlib

    sha = hashlib.sha256(PNG).hexdigest()
    for key, (fid, _category, _point) in FINDINGS.items():
        response = client.get(f"/api/v1/findings/{fid}/photos/{sha}")
        if response.status_code == 200:
            assert response.content == PNG and key in SEES_FINDING[actor.name]
        else:
            assert response.status_code in (401, 404), response.text
            assert key not in SEES_FINDING[actor.name] or response.json()["code"] == "photo_not_found"


def category_put(client, actor, url):
    """Only a county-wide administrator edits the taxonomy; the probe writes the default radius back."""
    from gridgov.findings.models import FindingCategory

    before = _count(url, FindingCategory)
    response = client.put("/api/v1/findings/categories/river_garbage",
                          json={"domain": "river", "duplicate_radius_m": 30.0})
    if actor.username is None:
        expected = 401
    else:
        expected = 200 if "admin" in actor.roles and actor.county_wide else 403
    assert response.status_code == expected, response.text
    assert _count(url, FindingCategory) == before


def categories_list(client, actor, url):
    response = client.get("/api/v1/findings/categories")
    assert response.status_code == (200 if actor.username else 401)
    if actor.username:
        assert len(response.json()) == 14


def finding_timeline(client, actor, url):
    for key, (fid, _category, _point) in FINDINGS.items():
        assert client.get(f"/api/v1/findings/{fid}/timeline").status_code == _finding_status(actor, key), key


def finding_step(client, actor, url):
    """Verifying a dispatched finding is nobody's step: 409 for whoever sees it, 404 for the rest; nothing
    changes."""
    for key, (fid, _category, _point) in FINDINGS.items():
        response = client.post(f"/api/v1/findings/{fid}/steps", json={"action": "verify"})
        expected = _finding_status(actor, key)
        assert response.status_code == (409 if expected == 200 else expected), (key, response.text)


def my_work(path: str) -> Probe:
    def run(client, actor, url):
        response = client.get(path)
        assert response.status_code == (200 if actor.username else 401)
        if actor.username:
            seen = {item["id"] for item in client.get("/api/v1/findings?limit=10000").json()["items"]}
            assert {item["id"] for item in response.json()["items"]} <= seen

    return run


def kpis_get(client, actor, url):
    response = client.get("/api/v1/kpis", params={"since": "2025-01-01T00:00:00+08:00",
                                                  "until": "2027-01-01T00:00:00+08:00", "group_by": "county"})
    assert response.status_code == (200 if actor.username else 401)
    if actor.username:
        seen = client.get("/api/v1/findings?limit=1").json()["count"]
        assert sum(row["registered"] for row in response.json()["rows"]) == seen


def rules_list(path: str) -> Probe:
    def run(client, actor, url):
        response = client.get(path)
        assert response.status_code == (200 if actor.username else 401)
        if actor.username:
            assert response.json()

    return run


def rule_put(path: str, body: dict) -> Probe:
    """Only a county-wide administrator edits routing and deadlines; the probe writes the default back."""

    def run(client, actor, url):
        response = client.put(path, json=body)
        if actor.username is None:
            expected = 401
        else:
            expected = 200 if "admin" in actor.roles and actor.county_wide else 403
        assert response.status_code == expected, response.text

    return run


# Patrols stored by the officers: one on the officer's grid in the own town, one in the other town.
PATROLS = {"own": ("0e4a4d3c-0000-4000-8000-0000000000a1", "w4309210001", GRIDS[0]),
           "other": ("0e4a4d3c-0000-4000-8000-0000000000a2", "w4309210003", GRIDS[4])}
SEES_OWN_PATROL = {"officer", "town forest chief", "county river chief", "town supervisor", "town planner",
                   "town admin", "supervisor", "planner", "admin"}


def store_patrols(url: str) -> None:
    from gridgov.patrols.service import start_patrol
    from gridgov.people.auth import resolve_principal

    started = datetime.now(UTC) - timedelta(hours=2)
    for patrol_id, username, grid in PATROLS.values():
        with transaction(get_engine(url)) as session:
            user = session.scalars(select(User).where(User.username == username)).one()
            start_patrol(session=session, principal=resolve_principal(session=session, user=user),
                         patrol_id=patrol_id, grid_code=grid, started_at=started)


def _patrol_status(actor: Actor, key: str) -> int:
    if actor.username is None:
        return 401
    return 200 if actor.county_wide or (key == "own" and actor.name in SEES_OWN_PATROL) else 404


def patrol_get(client, actor, url):
    for key, (patrol_id, _username, _grid) in PATROLS.items():
        assert client.get(f"/api/v1/patrols/{patrol_id}").status_code == _patrol_status(actor, key), key


def patrols_list(client, actor, url):
    response = client.get("/api/v1/patrols?limit=10000")
    if actor.username is None:
        assert response.status_code == 401
        return
    ids = {item["id"] for item in response.json()["items"]}
    for key, (patrol_id, _username, _grid) in PATROLS.items():
        assert (patrol_id in ids) == (_patrol_status(actor, key) == 200), key


def compliance_get(client, actor, url):
    response = client.get("/api/v1/patrols/compliance")
    if actor.username is None:
        assert response.status_code == 401
        return
    grids = {g["grid_code"] for g in response.json()["grids"]}
    assert actor.own_grid in grids and (OTHER_GRID in grids) == actor.county_wide


def patrol_start(client, actor, url):
    from gridgov.patrols.models import Patrol

    for grid, own in ((actor.own_grid, True), (OTHER_GRID, False)):
        before = _count(url, Patrol)
        response = client.post("/api/v1/patrols", json={
            "id": str(uuid.uuid4()), "grid_code": grid, "started_at": datetime.now(UTC).isoformat()})
        expected = status_for(actor, {"officer"}, own=own)
        assert response.status_code == {200: 201}.get(expected, expected), response.text
        assert _count(url, Patrol) == before + (response.status_code == 201)


GPX = """<?xml version="1.0"?><gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>
<trkpt lat="{0[1]}" lon="{0[0]}"><time>2026-01-05T01:00:00Z</time></trkpt>
<trkpt lat="{1[1]}" lon="{1[0]}"><time>2026-01-05T01:10:00Z</time></trkpt></trkseg></trk></gpx>"""


def patrol_upload(client, actor, url):
    from gridgov.patrols.models import Patrol

    before = _count(url, Patrol)
    gpx = GPX.format(lattice(0.3, 0.3), lattice(0.6, 0.6))
    response = client.post("/api/v1/patrols/upload", data={"grid_code": actor.own_grid, "id": str(uuid.uuid4())},
                           files={"file": ("walk.gpx", gpx.encode(), "application/gpx+xml")})
    expected = status_for(actor, {"officer"}, own=True)
    assert response.status_code == {200: 201}.get(expected, expected), response.text
    assert _count(url, Patrol) == before + (response.status_code == 201)


def _own_patrol_write(actor: Actor, key: str) -> int:
    """Only the officer who walks a patrol adds to it: others who see it get 403, the rest 404."""
    status = _patrol_status(actor, key)
    if status == 200 and not (key == "own" and actor.username == "w4309210001"):
        return 403
    return status


def patrol_fixes(client, actor, url):
    point = lattice(0.4, 0.4)
    for key, (patrol_id, _username, _grid) in PATROLS.items():
        response = client.post(f"/api/v1/patrols/{patrol_id}/fixes", json={"id": str(uuid.uuid4()), "fixes": [
            {"lon": point[0], "lat": point[1], "time": (datetime.now(UTC) - timedelta(hours=1)).isoformat()}]})
        expected = _own_patrol_write(actor, key)
        assert response.status_code == {200: 201}.get(expected, expected), (key, response.text)


def patrol_checks(client, actor, url):
    for key, (patrol_id, _username, _grid) in PATROLS.items():
        response = client.put(f"/api/v1/patrols/{patrol_id}/checks",
                              json={"answers": [{"item_code": "F01", "answer": "ok"}]})
        assert response.status_code == _own_patrol_write(actor, key), (key, response.text)


def patrol_end(client, actor, url):
    ended = (datetime.now(UTC) - timedelta(minutes=30)).replace(microsecond=0).isoformat()
    for key, (patrol_id, _username, _grid) in PATROLS.items():
        response = client.post(f"/api/v1/patrols/{patrol_id}/end", json={"ended_at": ended})
        expected = _own_patrol_write(actor, key)
        assert response.status_code in ({200, 409} if expected == 200 else {expected}), (key, response.text)


def map_grids(path: str) -> Probe:
    """The map's grid layer at ``path`` (either encoding)."""
    return lambda client, actor, url: _map_grids(client, actor, path)


def _map_grids(client, actor, path):
    """The map's grid layer holds exactly the grids of the caller's jurisdiction; anonymous callers get 401."""
    response = client.get(path)
    if actor.username is None:
        assert response.status_code == 401, response.text
        return
    assert response.status_code == 200, response.text
    if path.endswith(".topojson"):
        codes = sorted(g["id"] for g in response.json()["objects"]["grids"]["geometries"])
    else:
        codes = sorted(f["properties"]["code"] for f in response.json()["features"])
    assert codes == _grids_seen(client, actor), (actor.name, codes)


def _grids_seen(client, actor) -> list[str]:
    """The grids an actor's jurisdiction holds, as the county was built."""
    if actor.county_wide:
        return list(GRIDS)
    if actor.name == "officer":  # their current grids (W4309210001 holds two)
        return sorted(client.get("/api/v1/me").json()["officer_grids"])
    if actor.name == "village field chief":
        return [g for g in GRIDS if g.startswith(actor.own_village)]
    return [g for g in GRIDS if g.startswith(OWN_TOWN)]  # town-level actors


MICRO_GRIDS = sorted(small_county_layers()["micro_grids"][["code", "parent_code"]].itertuples(index=False, name=None))


def map_micro_grids(client, actor, url):
    """The supervisor map's micro-grid layer holds exactly the micro-grids of the caller's grids, each with its
    grid; anonymous callers get 401."""
    response = client.get("/map/micro-grids.topojson")
    if actor.username is None:
        assert response.status_code == 401, response.text
        return
    assert response.status_code == 200, response.text
    shown = sorted((g["id"], g["properties"]["grid"]) for g in response.json()["objects"]["micro_grids"]["geometries"])
    grids = _grids_seen(client, actor)
    assert shown == [(code, grid) for code, grid in MICRO_GRIDS if grid in grids], (actor.name, shown)


def _signed_in_browser(client: TestClient, actor: Actor) -> TestClient:
    """A client of the same app holding the session cookie of the real sign-in form, as a browser does."""
    browser = TestClient(client.app, base_url="https://testserver")
    signed_in = browser.post("/sign-in", data={"username": actor.username, "password": DEMO_PASSWORD},
                             follow_redirects=False)
    assert signed_in.status_code == 303, signed_in.text
    return browser


def dashboard_page(client, actor, url):
    """Anonymous visitors are sent to sign in; a signed-in user (session cookie, as a browser) sees the
    dashboard of their area and may drill into another town only when county-wide."""
    if actor.username is None:
        _assert_redirect(client.get("/dashboard", follow_redirects=False))
        return
    browser = _signed_in_browser(client, actor)
    assert browser.get("/dashboard").status_code == 200
    other = browser.get(f"/dashboard?level=town&unit={OTHER_TOWN}")
    assert other.status_code == (200 if actor.county_wide else 404), (actor.name, other.text)


def field_page(client, actor, url):
    """Anonymous visitors are sent to sign in; an officer's field page offers exactly their own grids; anyone
    else signed in gets a page saying it is for grid officers (200, no grid, no data)."""
    if actor.username is None:
        _assert_redirect(client.get("/field", follow_redirects=False))
        return
    browser = _signed_in_browser(client, actor)
    page = browser.get("/field")
    assert page.status_code == 200, page.text
    offered = sorted(re.findall(r'<option value="([0-9]+)" data-domains=', page.text))
    if "officer" in actor.roles:
        assert offered == sorted(browser.get("/api/v1/me").json()["officer_grids"]) and OTHER_GRID not in offered
    else:
        assert offered == [] and "/static/field/field.js" not in page.text, actor.name


PLANNER_VIEW = {"planner", "admin", "supervisor"}


def planner_data(client, actor, url):
    """The planner view's data: the grids of the caller's jurisdiction for planners, admins and supervisors,
    403 for other roles, 401 for anonymous callers."""
    response = client.get("/planner/grids.json")
    assert response.status_code == status_for(actor, PLANNER_VIEW, own=True), response.text
    if response.status_code == 200:
        expected = list(GRIDS) if actor.county_wide else [g for g in GRIDS if g.startswith(OWN_TOWN)]
        assert sorted(response.json()["grids"]) == expected, actor.name


def planner_page(client, actor, url):
    """The planner page: anonymous visitors are sent to sign in; other roles get a 403 page."""
    if actor.username is None:
        _assert_redirect(client.get("/planner", follow_redirects=False))
        return
    browser = TestClient(client.app, base_url="https://testserver")
    browser.post("/sign-in", data={"username": actor.username, "password": DEMO_PASSWORD}, follow_redirects=False)
    assert browser.get("/planner").status_code == status_for(actor, PLANNER_VIEW, own=True), actor.name


def supervisor_map_data(path: str) -> Probe:
    """The supervisor map's data: 401 for anonymous callers, 200 for anyone signed in (scoped inside)."""

    def run(client, actor, url):
        response = client.get(path)
        assert response.status_code == (200 if actor.username else 401), (actor.name, response.text)

    return run


def supervisor_map_stats(client, actor, url):
    """The map's counts per grid cover exactly the grids of the caller's grid layer."""
    response = client.get("/map/grid-stats.json?since=2026-01-01&until=2026-01-31")
    if actor.username is None:
        assert response.status_code == 401, response.text
        return
    assert response.status_code == 200, response.text
    layer = sorted(f["properties"]["code"] for f in client.get("/map/grids.geojson").json()["features"])
    assert sorted(response.json()["grids"]) == layer, actor.name
    findings = client.get("/map/findings.json?since=2026-01-01&until=2026-01-31").json()
    seen = {row[0] for row in findings["rows"]}
    assert seen == {fid for key, (fid, _c, _p) in FINDINGS.items() if _finding_status(actor, key) == 200}, actor.name


def supervisor_map_reroute_targets(client, actor, url):
    for key, (fid, _category, _point) in FINDINGS.items():
        response = client.get(f"/map/findings/{fid}/reroute-targets.json")
        assert response.status_code == _finding_status(actor, key), (key, response.text)


# --- planning: change sets and the map as of a date ----------------------------------------------------------
# Two drafts made at the shell, one about each town. Write probes send a stale If-Match: a caller allowed
# to write reaches the ETag check (412) and changes nothing; others stop at 403 (role) or 404 (place).

PLANNING = "/api/v1/planning"
PLANNING_READERS = {"planner", "admin", "supervisor"}
PLANNING_WRITERS = {"planner", "admin"}
_drafts: dict[str, dict[str, str]] = {}


def _draft_ids(url: str) -> dict[str, str]:
    if url not in _drafts:
        from gridgov.planning import service as planning

        with transaction(get_engine(url)) as session:
            operator = cli_principal(session=session)
            _drafts[url] = {town: planning.create(session=session, principal=operator, title=f"Draft {town}",
                                                  scope_code=town).id for town in (OWN_TOWN, OTHER_TOWN)}
    return _drafts[url]


def _revisions(url: str) -> dict[str, int]:
    from gridgov.planning.models import ChangeSet

    with transaction(get_engine(url)) as session:
        return dict(session.execute(select(ChangeSet.id, ChangeSet.revision)).all())


def _expected(actor: Actor, roles: set[str], *, own: bool, allowed: int) -> int:
    found = status_for(actor, roles, own=own)
    return allowed if found == 200 else found


def change_set_get(suffix: str = "") -> Probe:
    def run(client, actor, url):
        ids = _draft_ids(url)
        for town, own in ((OWN_TOWN, True), (OTHER_TOWN, False)):
            response = client.get(f"{PLANNING}/change-sets/{ids[town]}{suffix}")
            assert response.status_code == status_for(actor, PLANNING_READERS, own=own), response.text

    return run


def change_set_list(client, actor, url):
    ids = _draft_ids(url)
    response = client.get(f"{PLANNING}/change-sets")
    assert response.status_code == status_for(actor, PLANNING_READERS, own=True), response.text
    if response.status_code == 200:
        listed = {c["id"] for c in response.json()["change_sets"]}
        assert ids[OWN_TOWN] in listed and (ids[OTHER_TOWN] in listed) == actor.county_wide


def change_set_create(client, actor, url):
    for town, own in ((OWN_TOWN, True), (OTHER_TOWN, False)):
        before = len(_revisions(url))
        response = client.post(f"{PLANNING}/change-sets", json={"title": f"by {actor.name}", "scope_code": town})
        expected = _expected(actor, PLANNING_WRITERS, own=own, allowed=201)
        assert response.status_code == expected, (actor.name, response.text)
        assert len(_revisions(url)) == before + (expected == 201)


def change_set_write(method: str, suffix: str, body: dict | None = None, *, allowed: int = 412) -> Probe:
    """A write to each draft with a stale If-Match: 412 where allowed, nothing changed anywhere."""

    def run(client, actor, url):
        ids = _draft_ids(url)
        before = _revisions(url)
        for town, own in ((OWN_TOWN, True), (OTHER_TOWN, False)):
            response = client.request(method, f"{PLANNING}/change-sets/{ids[town]}{suffix}", json=body,
                                      headers={"If-Match": '"cs-stale-0"'})
            assert response.status_code == _expected(actor, PLANNING_WRITERS, own=own, allowed=allowed), \
                (actor.name, response.text)
        assert _revisions(url) == before

    return run


def balance_proposal(client, actor, url):
    """A proposal is a new draft: for the caller's own town where they plan, never for another's."""
    for town, own in ((OWN_TOWN, True), (OTHER_TOWN, False)):
        before = len(_revisions(url))
        response = client.post(f"{PLANNING}/balance", json={"scope_code": town})
        expected = _expected(actor, PLANNING_WRITERS, own=own, allowed=201)
        assert response.status_code == expected, (actor.name, response.text)
        assert len(_revisions(url)) == before + (expected == 201)


def planning_unit(client, actor, url):
    for code, own in ((actor.own_grid, True), (OTHER_GRID, False)):
        response = client.get(f"{PLANNING}/units/{code}")
        assert response.status_code == status_for(actor, PLANNING_READERS, own=own), response.text


def planning_map(client, actor, url):
    response = client.get(f"{PLANNING}/map?level=grid")
    assert response.status_code == status_for(actor, PLANNING_READERS, own=True), response.text
    if response.status_code == 200:
        codes = {f["id"] for f in response.json()["features"]}
        assert actor.own_grid in codes and (OTHER_GRID in codes) == actor.county_wide


def planning_locate(client, actor, url):
    for (lon, lat), own in ((actor.own_point, True), (lattice(3.5, 1.0), False)):
        response = client.get(f"{PLANNING}/locate?lon={lon}&lat={lat}")
        assert response.status_code == status_for(actor, PLANNING_READERS, own=own), response.text
        if response.status_code == 404:
            assert OTHER_GRID not in response.text and GRIDS[4] not in response.text


RULES: dict[tuple[str, str], Probe] = {
    ("GET", "/openapi.json"): public("GET", "/openapi.json"),
    ("GET", "/docs"): public("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"): public("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"): public("GET", "/redoc"),
    ("GET", "/ogc/"): public("GET", "/ogc/"),
    ("GET", "/ogc/conformance"): public("GET", "/ogc/conformance"),
    ("GET", "/sign-in"): public("GET", "/sign-in"),
    # Unknown accounts never lock, so repeating this for every actor keeps answering 401.
    ("POST", "/sign-in"): public("POST", "/sign-in", (401,), data={"username": "nobody", "password": "wrong"}),
    ("POST", "/sign-out"): public("POST", "/sign-out", (303,)),
    ("POST", "/api/v1/auth/token"): public("POST", "/api/v1/auth/token", (401,),
                                           data={"username": "nobody", "password": "wrong"}),
    ("GET", "/api/v1/me"): me,
    ("GET", "/"): lambda client, actor, url: None if actor.username else (
        _assert_redirect(client.get("/", follow_redirects=False))),
    ("GET", "/map"): lambda client, actor, url: None if actor.username else (
        _assert_redirect(client.get("/map", follow_redirects=False))),
    ("GET", "/map/grids.geojson"): map_grids("/map/grids.geojson"),
    ("GET", "/map/grids.topojson"): map_grids("/map/grids.topojson"),
    ("GET", "/map/micro-grids.topojson"): map_micro_grids,
    ("GET", "/language"): public("GET", "/language?set=en&next=/map", (303,)),
    ("GET", "/dashboard"): dashboard_page,
    ("GET", "/map/options.json"): supervisor_map_data("/map/options.json"),
    ("GET", "/map/grid-stats.json"): supervisor_map_stats,
    ("GET", "/map/findings.json"): supervisor_map_data("/map/findings.json"),
    ("GET", "/map/snapshot.html"): supervisor_map_data("/map/snapshot.html"),
    ("GET", "/map/tracks.json"): supervisor_map_data("/map/tracks.json?days=31"),
    ("GET", "/map/resources/{domain}.json"): supervisor_map_data("/map/resources/field.json"),
    ("GET", "/map/grids/{grid_code}/panel.json"): scoped_get(
        lambda code: f"/map/grids/{code}/panel.json", lambda a: a.own_grid, OTHER_GRID),
    ("GET", "/map/findings/{finding_id}/reroute-targets.json"): supervisor_map_reroute_targets,
    ("GET", "/planner"): planner_page,
    ("POST", "/api/v1/planning/change-sets"): change_set_create,
    ("GET", "/api/v1/planning/change-sets"): change_set_list,
    ("GET", "/api/v1/planning/change-sets/{change_set_id}"): change_set_get(),
    ("GET", "/api/v1/planning/change-sets/{change_set_id}/preview"): change_set_get("/preview"),
    ("POST", "/api/v1/planning/change-sets/{change_set_id}/edits"): change_set_write(
        "POST", "/edits", {"op": "merge", "codes": [GRIDS[1], GRIDS[2]]}),
    ("DELETE", "/api/v1/planning/change-sets/{change_set_id}/edits/{index}"): change_set_write("DELETE", "/edits/0"),
    ("POST", "/api/v1/planning/change-sets/{change_set_id}/reassignments"): change_set_write(
        "POST", "/reassignments", {"grid_code": GRIDS[0], "officer_code": "W4309210001"}),
    ("POST", "/api/v1/planning/change-sets/{change_set_id}/review"): change_set_write(
        "POST", "/review", {"approve": True}),
    ("POST", "/api/v1/planning/change-sets/{change_set_id}/apply"): change_set_write("POST", "/apply"),
    ("POST", "/api/v1/planning/change-sets/{change_set_id}/discard"): change_set_write("POST", "/discard"),
    # A draft cannot be reverted (409) whoever asks; only who may ask and where differs.
    ("POST", "/api/v1/planning/change-sets/{change_set_id}/revert"): change_set_write(
        "POST", "/revert", allowed=409),
    ("POST", "/api/v1/planning/balance"): balance_proposal,
    ("GET", "/api/v1/planning/units/{code}"): planning_unit,
    ("GET", "/api/v1/planning/map"): planning_map,
    ("GET", "/api/v1/planning/locate"): planning_locate,
    ("GET", "/planner/grids.json"): planner_data,
    ("GET", "/field"): field_page,
    ("GET", "/field/sw.js"): public("GET", "/field/sw.js"),
    ("GET", "/field/manifest.webmanifest"): public("GET", "/field/manifest.webmanifest"),
    ("GET", "/ogc/collections"): ogc_collections,
    ("GET", "/ogc/collections/{collection_id}"): ogc_collection,
    ("GET", "/ogc/collections/{collection_id}/items"): ogc_items,
    ("GET", "/ogc/collections/{collection_id}/items/{feature_id}"): scoped_get(
        lambda code: f"/ogc/collections/grids/items/{code}", lambda a: a.own_grid, OTHER_GRID),
    ("GET", "/api/v1/locate"): locate_get,
    ("POST", "/api/v1/locate"): locate_post,
    ("GET", "/api/v1/grids/{grid_code}/officer"): scoped_get(
        lambda code: f"/api/v1/grids/{code}/officer?on={TODAY}", lambda a: a.own_grid, OTHER_GRID),
    ("GET", "/api/v1/officers/{officer_code}/grids"): scoped_get(
        lambda code: f"/api/v1/officers/{code}/grids?on={TODAY}", lambda a: "W4309210001", "W4309210003"),
    ("GET", "/api/v1/units/{unit_code}/chiefs"): scoped_get(
        lambda code: f"/api/v1/units/{code}/chiefs?on={TODAY}", lambda a: a.own_village, OTHER_VILLAGE),
    ("GET", "/api/v1/assignments/uncovered"): lambda client, actor, url: _assert_status(
        client.get(f"/api/v1/assignments/uncovered?on={TODAY}"), status_for(actor, ALL_SIGNED_IN, own=True)),
    ("GET", "/api/v1/audit"): audit_list,
    ("GET", "/api/v1/users"): users_list,
    ("POST", "/api/v1/users"): user_create,
    ("GET", "/api/v1/users/{username}"): user_get,
    ("PATCH", "/api/v1/users/{username}"): user_patch,
    ("POST", "/api/v1/users/{username}/grants"): grant_post,
    ("DELETE", "/api/v1/users/{username}/grants/{role}/{unit_code}"): grant_delete,
    ("POST", "/api/v1/assignments/officers"): reassign,
    ("POST", "/api/v1/assignments/chiefs"): assign_chief,
    ("GET", "/api/v1/patrols"): patrols_list,
    ("POST", "/api/v1/patrols"): patrol_start,
    ("GET", "/api/v1/patrols/compliance"): compliance_get,
    ("POST", "/api/v1/patrols/upload"): patrol_upload,
    ("GET", "/api/v1/patrols/{patrol_id}"): patrol_get,
    ("POST", "/api/v1/patrols/{patrol_id}/fixes"): patrol_fixes,
    ("PUT", "/api/v1/patrols/{patrol_id}/checks"): patrol_checks,
    ("POST", "/api/v1/patrols/{patrol_id}/end"): patrol_end,
    ("GET", "/api/v1/findings/categories"): categories_list,
    ("PUT", "/api/v1/findings/categories/{code}"): category_put,
    ("GET", "/api/v1/findings"): findings_list,
    ("POST", "/api/v1/findings"): finding_post,
    ("POST", "/api/v1/findings/batch"): finding_batch,
    ("GET", "/api/v1/findings/{finding_id}"): finding_get,
    ("GET", "/api/v1/findings/{finding_id}/photos"): finding_photos,
    ("POST", "/api/v1/findings/{finding_id}/photos"): photo_post,
    ("GET", "/api/v1/findings/{finding_id}/photos/{sha256}"): photo_get,
    ("GET", "/api/v1/findings/{finding_id}/timeline"): finding_timeline,
    ("POST", "/api/v1/findings/{finding_id}/steps"): finding_step,
    ("GET", "/api/v1/inbox"): my_work("/api/v1/inbox"),
    ("GET", "/api/v1/overdue"): my_work("/api/v1/overdue"),
    ("GET", "/api/v1/kpis"): kpis_get,
    ("GET", "/api/v1/routing-rules"): rules_list("/api/v1/routing-rules"),
    ("PUT", "/api/v1/routing-rules/{domain}/{category_code}/{severity}"): rule_put(
        "/api/v1/routing-rules/river/*/*", {"level": "village"}),
    ("GET", "/api/v1/deadline-rules"): rules_list("/api/v1/deadline-rules"),
    ("PUT", "/api/v1/deadline-rules/{category_code}/{severity}"): rule_put(
        "/api/v1/deadline-rules/*/medium", {"accept_hours": 8.0, "resolve_days": 5.0, "escalate_hours": 8.0}),
}


def _assert_status(response, expected: int) -> None:
    assert response.status_code == expected, response.text


def _assert_redirect(response) -> None:
    assert response.status_code == 303 and response.headers["location"] == "/sign-in"


def app_routes(app) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves, included routers unfolded."""
    found = set()

    def walk(routes):
        for route in routes:
            if hasattr(route, "original_router"):
                walk(route.original_router.routes)
            elif hasattr(route, "path"):  # a Mount (/static) has a path but no methods
                methods = getattr(route, "methods", None) or ()
                found.update((method, route.path) for method in methods if method != "HEAD")

    walk(app.router.routes)
    return found


def test_every_route_has_a_rule(county):
    routes = app_routes(create_app(app_url(county)))
    assert routes, "no routes found: the route walker is broken"
    missing = sorted(routes - set(RULES))
    assert not missing, f"routes without an authorization rule: {missing}"
    stale = sorted(set(RULES) - routes)
    assert not stale, f"rules for routes that no longer exist: {stale}"


@pytest.mark.parametrize("actor", ACTORS, ids=lambda a: a.name)
@pytest.mark.parametrize("route", sorted(RULES), ids=lambda r: f"{r[0]} {r[1]}")
def test_route_for_actor(route, actor, clients, county):
    RULES[route](clients[actor.name], actor, county)


def test_the_matrix_mutations_left_audit_records(county):
    with transaction(get_engine(county)) as session:
        actions = set(session.scalars(select(AuditRecord.object_type)))
    assert actions, "mutations in the matrix wrote no audit record"


ROLES_COVERED = {role for actor in ACTORS for role in actor.roles}
assert ROLES_COVERED == {r.value for r in Role}, ROLES_COVERED
