"""Officer and chief assignments (SQLite and PostGIS): history across handovers, and what is refused."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from gridgov.audit.models import AuditRecord
from gridgov.errors import Conflict, Forbidden, NotFound
from gridgov.people import assignments
from gridgov.people.assignments import UnknownCodes, coverage_problem
from gridgov.people.models import ChiefDomain, OfficerAssignment, Role
from gridgov.people.principal import Jurisdiction, Principal
from gridgov.storage.db import get_engine, transaction
from tests.audit_guard import log_setup
from tests.clients import client_as
from tests.conftest import import_dataset
from tests.databases import new_database
from tests.factories_geo import COUNTY, GRIDS, TOWNS, VILLAGES

A, B, C = "W4309210001", "W4309210002", "W4309210003"  # A: grids 0, 1; B: grids 2, 3; C: grid 4
START = date(2026, 1, 1)
TOWN0 = frozenset({TOWNS[0], *VILLAGES[:2], *GRIDS[:3]})


def principal(username: str, *roles: Role, units: frozenset[str] | None = None, person_code=None) -> Principal:
    """County-wide unless ``units`` is given."""
    return Principal(county_code=COUNTY, username=username, roles=frozenset(roles), person_code=person_code,
                     jurisdiction=Jurisdiction(COUNTY, county_wide=units is None, units=units or frozenset()))


PLANNER = principal("liu.planner", Role.PLANNER)
TOWN_PLANNER = principal("chen.planner", Role.PLANNER, units=TOWN0)
OFFICER = principal("zhang.wei", Role.OFFICER, units=frozenset(GRIDS[:2]), person_code=A)


@pytest.fixture
def county(backend, small_county_gpkg, tmp_path) -> str:
    """A fresh database holding the small county; tests here change its assignments."""
    url = new_database(backend, tmp_path, "people")
    import_dataset(url, small_county_gpkg)
    return url


def reassign(url, changes, effective, as_=PLANNER):
    with transaction(get_engine(url)) as session:
        return assignments.reassign_grids(session=session, principal=as_, changes=changes, effective=effective)


def officer_on(url, grid, day, as_=PLANNER):
    with transaction(get_engine(url)) as session:
        duty = assignments.officer_of_grid(session=session, principal=as_, grid_code=grid, on=day)
    return duty and duty.officer_code


def grids_on(url, officer, day, as_=PLANNER):
    with transaction(get_engine(url)) as session:
        duties = assignments.grids_of_officer(session=session, principal=as_, officer_code=officer, on=day)
    return [duty.grid_code for duty in duties]


def rows(url):
    with transaction(get_engine(url)) as session:
        return sorted((r.grid_code, r.valid_from, r.valid_to, r.officer_code)
                      for r in session.scalars(select(OfficerAssignment)))


def audit(url, object_type="officer_assignment"):
    with transaction(get_engine(url)) as session:
        return session.scalars(select(AuditRecord).where(AuditRecord.object_type == object_type)
                               .order_by(AuditRecord.id)).all()


def test_coverage_problem_finds_gaps_and_overlaps():
    mar, jun = date(2026, 3, 1), date(2026, 6, 1)
    assert coverage_problem([(START, mar), (mar, None)], START) is None
    assert coverage_problem([(START, mar), (jun, None)], START) == "no holder from 2026-03-01 to 2026-06-01"
    assert coverage_problem([(START, None), (jun, None)], mar) == "two holders on 2026-06-01"
    assert coverage_problem([(START, mar)], START) == "no holder from 2026-03-01 on"
    assert coverage_problem([], mar) == "no holder from 2026-03-01 on"


def test_history_survives_a_reassignment(county):
    result = reassign(county, [(GRIDS[0], B)], date(2026, 3, 1))
    assert (result.changed, result.unchanged) == ([GRIDS[0]], [])
    assert officer_on(county, GRIDS[0], date(2025, 12, 31)) is None
    assert officer_on(county, GRIDS[0], date(2026, 2, 28)) == A
    assert officer_on(county, GRIDS[0], date(2026, 3, 1)) == B
    assert grids_on(county, A, date(2026, 2, 28)) == [GRIDS[0], GRIDS[1]]
    assert grids_on(county, A, date(2026, 3, 1)) == [GRIDS[1]]
    assert grids_on(county, B, date(2026, 3, 1)) == [GRIDS[0], GRIDS[2], GRIDS[3]]
    assert (GRIDS[0], START, date(2026, 3, 1), A) in rows(county)


def test_history_through_the_client_as(county):
    client = client_as(county, PLANNER)
    response = client.post("/api/v1/assignments/officers", json={
        "effective": "2026-03-01", "changes": [{"grid_code": GRIDS[0], "officer_code": C}]})
    assert response.status_code == 200, response.text
    assert response.json()["changed"] == [GRIDS[0]]
    before = client.get(f"/api/v1/grids/{GRIDS[0]}/officer", params={"on": "2026-02-28"}).json()
    after = client.get(f"/api/v1/grids/{GRIDS[0]}/officer", params={"on": "2026-03-01"}).json()
    assert before["officer"]["officer_code"] == A and before["officer"]["valid_to"] == "2026-03-01"
    assert after["officer"] == {"grid_code": GRIDS[0], "officer_code": C, "officer_name": "王芳",
                                "valid_from": "2026-03-01", "valid_to": None}
    assert client.get(f"/api/v1/grids/{GRIDS[0]}/officer", params={"on": "2025-06-01"}).json()["officer"] is None
    grids = client.get(f"/api/v1/officers/{C}/grids", params={"on": "2026-03-01"}).json()["grids"]
    assert [g["grid_code"] for g in grids] == [GRIDS[0], GRIDS[4]]


def test_a_change_before_a_planned_one_is_refused_naming_the_grid(county):
    reassign(county, [(GRIDS[0], B)], date(2026, 6, 1))
    with pytest.raises(Conflict) as refused:
        reassign(county, [(GRIDS[0], C)], date(2026, 3, 1))
    assert GRIDS[0] in refused.value.message
    assert refused.value.details == [{"code": GRIDS[0], "message": "two officers on 2026-06-01"}]


def test_overlapping_rows_are_refused(county):
    with transaction(get_engine(county)) as session:
        session.add(OfficerAssignment(county_code=COUNTY, grid_code=GRIDS[3], valid_from=date(2026, 2, 1),
                                      officer_code=C))
        log_setup(session, county_code=COUNTY, object_type="officer_assignment", object_id=GRIDS[3],
                  after={"officer_code": C, "valid_from": "2026-02-01"})
    with pytest.raises(Conflict) as refused:
        reassign(county, [(GRIDS[3], A)], date(2026, 3, 1))
    assert [d["code"] for d in refused.value.details] == [GRIDS[3]]


def test_a_grid_listed_twice_would_have_two_officers(county):
    with pytest.raises(Conflict, match=GRIDS[1]):
        reassign(county, [(GRIDS[1], B), (GRIDS[1], C)], date(2026, 3, 1))


def test_a_batch_with_one_bad_change_changes_nothing(county):
    reassign(county, [(GRIDS[0], B)], date(2026, 6, 1))
    before, audited = rows(county), len(audit(county))
    response = client_as(county, PLANNER).post("/api/v1/assignments/officers", json={
        "effective": "2026-03-01",
        "changes": [{"grid_code": GRIDS[1], "officer_code": C}, {"grid_code": GRIDS[0], "officer_code": C}]})
    assert response.status_code == 409, response.text
    assert GRIDS[0] in response.json()["description"] and GRIDS[1] not in response.json()["description"]
    assert rows(county) == before
    assert len(audit(county)) == audited


def test_unknown_codes_are_named(county):
    with pytest.raises(UnknownCodes) as refused:
        reassign(county, [(GRIDS[0], "W4309219999"), ("43092110020199", A), (VILLAGES[0], A)], date(2026, 3, 1))
    assert {(d["kind"], d["code"]) for d in refused.value.details} == {
        ("officer", "W4309219999"), ("grid", "43092110020199"), ("grid", VILLAGES[0])}
    response = client_as(county, PLANNER).post("/api/v1/assignments/officers", json={
        "effective": "2026-03-01", "changes": [{"grid_code": GRIDS[0], "officer_code": "W4309219999"}]})
    assert response.status_code == 422 and "W4309219999" in response.json()["description"]


def test_grids_outside_the_jurisdiction_do_not_exist(county):
    with pytest.raises(NotFound, match=GRIDS[3]):
        reassign(county, [(GRIDS[0], B), (GRIDS[3], A)], date(2026, 3, 1), as_=TOWN_PLANNER)
    with pytest.raises(NotFound):  # an unknown grid looks the same: no leak
        reassign(county, [("43092110020199", A)], date(2026, 3, 1), as_=TOWN_PLANNER)
    client = client_as(county, TOWN_PLANNER)
    assert client.get(f"/api/v1/grids/{GRIDS[3]}/officer", params={"on": "2026-03-01"}).status_code == 404
    assert client.get(f"/api/v1/grids/{GRIDS[2]}/officer", params={"on": "2026-03-01"}).status_code == 200
    assert client.get(f"/api/v1/officers/{C}/grids").status_code == 404  # C holds only grid 4, in town 1
    assert [g["grid_code"] for g in client.get(f"/api/v1/officers/{B}/grids").json()["grids"]] == [GRIDS[2]]
    assert rows(county) == sorted((g, START, None, o) for g, o in zip(GRIDS, (A, A, B, B, C)))


def test_an_officer_may_not_reassign(county):
    with pytest.raises(Forbidden):
        reassign(county, [(GRIDS[0], B)], date(2026, 3, 1), as_=OFFICER)
    response = client_as(county, OFFICER).post("/api/v1/assignments/officers", json={
        "effective": "2026-03-01", "changes": [{"grid_code": GRIDS[0], "officer_code": B}]})
    assert response.status_code == 403
    assert officer_on(county, GRIDS[0], date(2026, 3, 1)) == A


def test_uncovered_grids_and_filling_a_gap(county):
    with transaction(get_engine(county)) as session:
        session.get(OfficerAssignment, (COUNTY, GRIDS[4], START)).valid_to = date(2026, 5, 1)
        session.get(OfficerAssignment, (COUNTY, GRIDS[2], START)).valid_to = date(2026, 5, 1)
        for grid in (GRIDS[4], GRIDS[2]):  # a gap the API would refuse to make, made on purpose
            log_setup(session, county_code=COUNTY, object_type="officer_assignment", object_id=grid,
                      after={"valid_to": "2026-05-01"})
    client = client_as(county, PLANNER)
    assert client.get("/api/v1/assignments/uncovered", params={"on": "2026-04-30"}).json()["grid_codes"] == []
    assert client.get("/api/v1/assignments/uncovered", params={"on": "2026-05-01"}).json() == {
        "on": "2026-05-01", "count": 2, "grid_codes": [GRIDS[2], GRIDS[4]]}
    town = client_as(county, TOWN_PLANNER).get("/api/v1/assignments/uncovered", params={"on": "2026-05-01"})
    assert town.json()["grid_codes"] == [GRIDS[2]]
    reassign(county, [(GRIDS[4], A)], date(2026, 6, 1))
    assert officer_on(county, GRIDS[4], date(2026, 6, 1)) == A
    assert client.get("/api/v1/assignments/uncovered", params={"on": "2026-06-01"}).json()["grid_codes"] == [
        GRIDS[2]]


def test_a_second_change_on_the_same_day_replaces_the_first(county):
    reassign(county, [(GRIDS[0], B)], date(2026, 3, 1))
    reassign(county, [(GRIDS[0], C)], date(2026, 3, 1))
    assert officer_on(county, GRIDS[0], date(2026, 2, 28)) == A
    assert officer_on(county, GRIDS[0], date(2026, 3, 1)) == C
    assert [r for r in rows(county) if r[0] == GRIDS[0]] == [
        (GRIDS[0], START, date(2026, 3, 1), A), (GRIDS[0], date(2026, 3, 1), None, C)]


def test_handing_a_grid_to_its_own_officer_changes_nothing(county):
    result = reassign(county, [(GRIDS[0], A)], date(2026, 3, 1))
    assert (result.changed, result.unchanged) == ([], [GRIDS[0]])
    assert audit(county) == []


def test_every_handover_is_audited(county):
    reassign(county, [(GRIDS[0], B), (GRIDS[1], C)], date(2026, 3, 1))
    records = audit(county)
    assert [(r.action, r.object_id, r.unit_code, r.actor) for r in records] == [
        ("close", GRIDS[0], GRIDS[0], PLANNER.username), ("open", GRIDS[0], GRIDS[0], PLANNER.username),
        ("close", GRIDS[1], GRIDS[1], PLANNER.username), ("open", GRIDS[1], GRIDS[1], PLANNER.username)]
    close, opened = records[0], records[1]
    assert close.before["valid_to"] is None and close.after["valid_to"] == "2026-03-01"
    assert opened.before is None and opened.after["officer_code"] == B


CHIEF_V2 = "ZT" + VILLAGES[1]  # field chief of village 2
CHIEF_TOWN = "ZL" + TOWNS[0]  # forest chief of town 0


def test_chiefs_hand_over_one_domain_at_a_time(county):
    with transaction(get_engine(county)) as session:
        result = assignments.assign_chief(session=session, principal=PLANNER, unit_code=VILLAGES[1],
                                          domain=ChiefDomain.FIELD, chief_code=CHIEF_TOWN, effective=date(2026, 4, 1))
    assert result.changed == [f"{VILLAGES[1]}/field"]
    client = client_as(county, PLANNER)
    march = client.get(f"/api/v1/units/{VILLAGES[1]}/chiefs", params={"on": "2026-03-31"}).json()["chiefs"]
    april = client.get(f"/api/v1/units/{VILLAGES[1]}/chiefs", params={"on": "2026-04-01"}).json()["chiefs"]
    assert [(c["domain"], c["chief_code"], c["level"]) for c in march] == [("field", CHIEF_V2, "village")]
    assert [(c["domain"], c["chief_code"], c["level"]) for c in april] == [("field", CHIEF_TOWN, "village")]
    response = client.post("/api/v1/assignments/chiefs", json={"effective": "2026-05-01", "changes": [
        {"unit_code": VILLAGES[1], "domain": "river", "chief_code": CHIEF_V2},
        {"unit_code": VILLAGES[1], "domain": "river", "chief_code": CHIEF_TOWN}]})
    assert response.status_code == 409 and f"{VILLAGES[1]}/river" in response.json()["description"]
    response = client.post("/api/v1/assignments/chiefs", json={"effective": "2026-03-01", "changes": [
        {"unit_code": VILLAGES[1], "domain": "field", "chief_code": CHIEF_V2}]})
    assert response.status_code == 409  # before the April change: two field chiefs from April
    assert [r.action for r in audit(county, "chief_assignment")] == ["close", "open"]


def test_chiefs_answer_for_counties_towns_and_villages_only(county):
    with transaction(get_engine(county)) as session, pytest.raises(UnknownCodes, match=GRIDS[0]):
        assignments.assign_chief(session=session, principal=PLANNER, unit_code=GRIDS[0], domain=ChiefDomain.RIVER,
                                 chief_code=CHIEF_V2, effective=date(2026, 4, 1))
