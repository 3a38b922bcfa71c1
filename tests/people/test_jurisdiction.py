"""Roles and jurisdictions from assignments and grants (SQLite and PostGIS), by the rules in principal.py."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import event, insert

from gridgov.grids.service import SERVICE_START
from gridgov.people.auth import resolve_principal
from gridgov.people.demo import DEMO_PASSWORD, seed_demo_users
from gridgov.people.models import ChiefAssignment, OfficerAssignment, Person, Role, RoleGrant, User
from gridgov.people.security import verify_password
from gridgov.storage.db import get_engine, transaction
from tests.conftest import import_dataset
from tests.databases import new_database
from tests.factories_geo import COUNTY, GRIDS, TOWNS, VILLAGES

ALL_KINDS = ("farmland", "forest", "river")
TODAY = date.today()
RIVER_CHIEF = "ZH430921101201"  # added below: river chief of village 3


def micro(grid: str, *numbers: str) -> set[str]:
    return {grid + n for n in numbers}


VILLAGE_3_SUBTREE = {VILLAGES[2], GRIDS[3], GRIDS[4], *micro(GRIDS[3], "01", "02"), *micro(GRIDS[4], "01")}
TOWN_0_SUBTREE = {TOWNS[0], *VILLAGES[:2], *GRIDS[:3], *micro(GRIDS[0], "01", "02"), *micro(GRIDS[1], "01"),
                  *micro(GRIDS[2], "01")}


@pytest.fixture(scope="module")
def county_db(backend, small_county_gpkg, tmp_path_factory) -> str:
    """The small county, its demo accounts, a village river chief, a planner grant to an officer, and a
    handover: grid 5 passed from officer 3 to officer 2 ten days ago; officer 1 takes grid 5 in ten days."""
    url = new_database(backend, tmp_path_factory.mktemp("jurisdiction"), "jurisdiction")
    import_dataset(url, small_county_gpkg)
    with transaction(get_engine(url)) as session:
        session.execute(insert(Person), [{"county_code": COUNTY, "code": RIVER_CHIEF, "name": "赵河"}])
        session.execute(insert(ChiefAssignment), [
            {"county_code": COUNTY, "unit_code": VILLAGES[2], "domain": "river", "level": "village",
             "chief_code": RIVER_CHIEF, "valid_from": date(2020, 1, 1)},
        ])
        seed_demo_users(session=session, county_code=COUNTY, password=DEMO_PASSWORD)
        session.execute(insert(RoleGrant), [
            {"county_code": COUNTY, "username": "w4309210003", "role": "planner", "unit_code": VILLAGES[2]},
        ])
        handover = TODAY - timedelta(days=10)
        session.get(OfficerAssignment, (COUNTY, GRIDS[4], SERVICE_START)).valid_to = handover
        session.execute(insert(OfficerAssignment), [
            {"county_code": COUNTY, "grid_code": GRIDS[4], "valid_from": handover, "valid_to": TODAY + timedelta(10),
             "officer_code": "W4309210002"},
            {"county_code": COUNTY, "grid_code": GRIDS[4], "valid_from": TODAY + timedelta(10),
             "officer_code": "W4309210001"},
        ])
    return url


def principal_of(url: str, username: str, on: date | None = None):
    with transaction(get_engine(url)) as session:
        return resolve_principal(session=session, user=session.get(User, (COUNTY, username)), on=on)


def test_officer_sees_their_grids_micro_grids_and_their_villages_resources(county_db):
    principal = principal_of(county_db, "w4309210001")
    assert principal.roles == {Role.OFFICER}
    assert principal.person_code == "W4309210001"
    jurisdiction = principal.jurisdiction
    assert not jurisdiction.county_wide
    assert jurisdiction.units == {GRIDS[0], GRIDS[1], *micro(GRIDS[0], "01", "02"), *micro(GRIDS[1], "01")}
    assert jurisdiction.resource_villages == {kind: set(VILLAGES[:2]) for kind in ALL_KINDS}
    assert not jurisdiction.sees_unit(VILLAGES[0])
    assert not jurisdiction.sees_unit(GRIDS[2])


def test_village_river_chief_sees_the_village_subtree_and_only_rivers(county_db):
    principal = principal_of(county_db, RIVER_CHIEF.lower())
    assert principal.roles == {Role.CHIEF}
    assert principal.jurisdiction.units == VILLAGE_3_SUBTREE
    assert principal.jurisdiction.resource_villages == {"river": {VILLAGES[2]}}
    assert principal.jurisdiction.sees_resource("river", VILLAGES[2])
    assert not principal.jurisdiction.sees_resource("forest", VILLAGES[2])


def test_town_forest_chief_sees_the_town_and_its_villages_forests(county_db):
    jurisdiction = principal_of(county_db, "zl430921100").jurisdiction
    assert jurisdiction.units == TOWN_0_SUBTREE
    assert jurisdiction.resource_villages == {"forest": set(VILLAGES[:2])}


def test_county_chief_covers_every_unit_but_is_not_county_wide(county_db):
    jurisdiction = principal_of(county_db, "zh430921").jurisdiction
    assert not jurisdiction.county_wide
    assert len(jurisdiction.units) == 1 + 2 + 3 + 5 + 7
    assert jurisdiction.resource_villages == {"river": set(VILLAGES)}


def test_town_supervisor_covers_the_town_and_all_its_resources(county_db):
    principal = principal_of(county_db, "town.supervisor")
    assert principal.roles == {Role.SUPERVISOR}
    assert principal.jurisdiction.units == TOWN_0_SUBTREE
    assert principal.jurisdiction.resource_villages == {kind: set(VILLAGES[:2]) for kind in ALL_KINDS}


@pytest.mark.parametrize("username, role", [("admin", Role.ADMIN), ("supervisor", Role.SUPERVISOR),
                                            ("planner", Role.PLANNER)])
def test_county_grants_are_county_wide(county_db, username, role):
    principal = principal_of(county_db, username)
    assert principal.roles == {role}
    assert principal.jurisdiction.county_wide
    assert principal.jurisdiction.sees_unit(GRIDS[4]) and principal.jurisdiction.sees_resource("forest", VILLAGES[2])


def test_roles_add_up(county_db):
    # Officer 3 lost grid 5 ten days ago but plans village 3.
    principal = principal_of(county_db, "w4309210003")
    assert principal.roles == {Role.PLANNER}
    assert principal.jurisdiction.units == VILLAGE_3_SUBTREE
    before = principal_of(county_db, "w4309210003", on=TODAY - timedelta(days=11))
    assert before.roles == {Role.OFFICER, Role.PLANNER}
    assert before.jurisdiction.units == VILLAGE_3_SUBTREE


def test_assignments_count_on_the_date_asked(county_db):
    officer_2 = principal_of(county_db, "w4309210002")
    assert {GRIDS[2], GRIDS[3], GRIDS[4]} <= officer_2.jurisdiction.units
    assert officer_2.jurisdiction.resource_villages["river"] == {VILLAGES[1], VILLAGES[2]}
    assert GRIDS[4] not in principal_of(county_db, "w4309210002", on=TODAY - timedelta(days=11)).jurisdiction.units
    assert GRIDS[4] not in principal_of(county_db, "w4309210002", on=TODAY + timedelta(days=10)).jurisdiction.units
    assert GRIDS[4] in principal_of(county_db, "w4309210001", on=TODAY + timedelta(days=10)).jurisdiction.units
    assert GRIDS[4] not in principal_of(county_db, "w4309210001").jurisdiction.units


def test_user_without_duties_has_no_roles_and_sees_nothing(county_db):
    with transaction(get_engine(county_db)) as session:
        user = User(county_code=COUNTY, username="nobody", display_name="Nobody", person_code=None)
        principal = resolve_principal(session=session, user=user)
    assert principal.roles == frozenset()
    assert principal.jurisdiction.units == frozenset() and not principal.jurisdiction.county_wide


def test_demo_county_chief_resolves_in_a_few_queries(demo_db):
    """Set-based: the query count does not grow with the 2,001 units a county chief covers."""
    engine = get_engine(demo_db)
    statements = []

    def count(_conn, _cursor, statement, *_args):
        if "set_config(" not in statement:  # the row-level security wall (PostGIS) is not a data query
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        with transaction(engine) as session:
            user = User(county_code="430921", username="not-stored", display_name="-", person_code="ZH430921")
            principal = resolve_principal(session=session, user=user)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert principal.roles == {Role.CHIEF}
    assert len(principal.jurisdiction.units) == 1 + 12 + 376 + 780 + 832
    assert len(principal.jurisdiction.resource_villages["river"]) == 376
    assert len(statements) <= 8


def test_demo_sign_ins_cover_every_role(tmp_path, backend, small_county_gpkg):
    url = new_database(backend, tmp_path, "seed")
    import_dataset(url, small_county_gpkg)
    with transaction(get_engine(url)) as session:
        sign_ins = seed_demo_users(session=session, county_code=COUNTY)
        again = seed_demo_users(session=session, county_code=COUNTY)
    assert sign_ins == again
    # The small county has no village river chief nor county field chief; the demo county has both.
    assert [s.username for s in sign_ins] == ["w4309210001", "zl430921100", "admin", "supervisor", "town.supervisor",
                                              "planner"]
    assert {s.password for s in sign_ins} == {DEMO_PASSWORD}
    with transaction(get_engine(url)) as session:
        assert session.query(User).count() == 3 + 3 + 4
        for sign_in in sign_ins:
            user = session.get(User, (COUNTY, sign_in.username))
            assert verify_password(sign_in.password, user.password_hash)[0]
            assert resolve_principal(session=session, user=user).roles, sign_in
