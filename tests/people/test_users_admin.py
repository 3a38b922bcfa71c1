"""User administration (SQLite and PostGIS): admins only, within their jurisdiction, no mass assignment."""

from __future__ import annotations

import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from gridgov.audit.models import AuditRecord
from gridgov.config import get_settings
from gridgov.errors import Conflict, Forbidden, NotFound
from gridgov.people import users
from gridgov.people.cli import users_app
from gridgov.people.models import Role, RoleGrant, User
from gridgov.people.principal import Jurisdiction, Principal
from gridgov.people.security import verify_password
from gridgov.storage.db import get_engine, transaction
from tests.clients import client_as
from tests.conftest import import_dataset
from tests.databases import new_database
from tests.factories_geo import COUNTY, GRIDS, TOWNS, VILLAGES

PASSWORD = "correct horse battery"
TOWN0 = frozenset({TOWNS[0], *VILLAGES[:2], *GRIDS[:3]})


def principal(username: str, *roles: Role, units: frozenset[str] | None = None) -> Principal:
    """County-wide unless ``units`` is given."""
    return Principal(county_code=COUNTY, username=username, roles=frozenset(roles),
                     jurisdiction=Jurisdiction(COUNTY, county_wide=units is None, units=units or frozenset()))


ADMIN = principal("zhang.admin", Role.ADMIN)
TOWN_ADMIN = principal("chen.admin", Role.ADMIN, units=TOWN0)
PLANNER = principal("liu.planner", Role.PLANNER)


@pytest.fixture
def county(backend, small_county_gpkg, tmp_path) -> str:
    """The small county with a county admin (zhang.admin) and a town admin (chen.admin)."""
    url = new_database(backend, tmp_path, "users")
    import_dataset(url, small_county_gpkg)
    with transaction(get_engine(url)) as session:
        for name, unit in (("zhang.admin", COUNTY), ("chen.admin", TOWNS[0])):
            users.create_user(session=session, principal=ADMIN, username=name, display_name=name, password=PASSWORD)
            users.grant_role(session=session, principal=ADMIN, username=name, role="admin", unit_code=unit)
    return url


def user(url: str, username: str) -> User:
    with transaction(get_engine(url)) as session:
        return session.get(User, (COUNTY, username))


def audit(url: str) -> list[AuditRecord]:
    with transaction(get_engine(url)) as session:
        return session.scalars(select(AuditRecord).order_by(AuditRecord.id)).all()


NEW_USER = {"username": "li.na", "display_name": "李娜", "password": PASSWORD, "person_code": "W4309210001"}


def test_an_admin_creates_a_user_and_the_hash_stays_inside(county):
    client = client_as(county, ADMIN)
    response = client.post("/api/v1/users", json=NEW_USER)
    assert response.status_code == 201, response.text
    assert response.json()["grants"] == [] and "password" not in response.text
    assert client.get("/api/v1/users/li.na").json()["person_code"] == "W4309210001"
    stored = user(county, "li.na")
    assert verify_password(PASSWORD, stored.password_hash)[0]
    created = [r for r in audit(county) if r.object_id == "li.na"]
    assert [(r.action, r.actor) for r in created] == [("create", ADMIN.username)]
    assert stored.password_hash not in str(created[0].after) and "password_hash" not in created[0].after
    assert client.post("/api/v1/users", json=NEW_USER).status_code == 409


@pytest.mark.parametrize("field,value", [
    ("county_code", "110101"), ("token_version", 0), ("password_hash", "x"), ("failed_sign_ins", 0),
])
def test_patch_refuses_fields_it_does_not_own(county, field, value):
    client = client_as(county, ADMIN)
    response = client.patch("/api/v1/users/chen.admin", json={"display_name": "陈", field: value})
    assert response.status_code == 422, response.text
    assert field in response.text
    assert client.post("/api/v1/users", json={**NEW_USER, field: value}).status_code == 422
    assert user(county, "chen.admin").display_name == "chen.admin"


def test_disabling_and_new_passwords_end_old_tokens(county):
    client = client_as(county, ADMIN)
    assert user(county, "chen.admin").token_version == 0
    assert client.patch("/api/v1/users/chen.admin", json={"display_name": "陈静"}).status_code == 200
    assert user(county, "chen.admin").token_version == 0
    response = client.patch("/api/v1/users/chen.admin", json={"disabled": True})
    assert response.status_code == 200 and response.json()["disabled"] is True
    assert user(county, "chen.admin").token_version == 1
    client.patch("/api/v1/users/chen.admin", json={"disabled": False})
    assert user(county, "chen.admin").token_version == 1
    client.patch("/api/v1/users/chen.admin", json={"password": "a new long passphrase"})
    stored = user(county, "chen.admin")
    assert stored.token_version == 2 and verify_password("a new long passphrase", stored.password_hash)[0]
    updates = [r for r in audit(county) if r.object_id == "chen.admin" and r.action == "update"]
    assert len(updates) == 4
    assert updates[-1].after["password_changed"] is True
    assert all(stored.password_hash not in str(r.after) for r in updates)


def test_only_admins_manage_users(county):
    client = client_as(county, PLANNER)
    assert client.post("/api/v1/users", json=NEW_USER).status_code == 403
    assert client.get("/api/v1/users").status_code == 403
    assert client.patch("/api/v1/users/chen.admin", json={"disabled": True}).status_code == 403
    with transaction(get_engine(county)) as session, pytest.raises(Forbidden):
        users.create_user(session=session, principal=PLANNER, username="x.y", display_name="x", password=PASSWORD)
    assert user(county, "chen.admin").disabled is False


def test_grants_take_granted_roles_only(county):
    client = client_as(county, ADMIN)
    client.post("/api/v1/users", json=NEW_USER)
    for role in ("officer", "chief", "root"):
        response = client.post("/api/v1/users/li.na/grants", json={"role": role, "unit_code": TOWNS[0]})
        assert response.status_code == 422, role
    response = client.post("/api/v1/users/li.na/grants", json={"role": "planner", "unit_code": "430921999"})
    assert response.status_code == 422 and "430921999" in response.text
    response = client.post("/api/v1/users/li.na/grants", json={"role": "planner", "unit_code": TOWNS[0]})
    assert response.status_code == 201 and response.json() == {"role": "planner", "unit_code": TOWNS[0]}
    assert client.get("/api/v1/users/li.na").json()["grants"] == [{"role": "planner", "unit_code": TOWNS[0]}]
    assert client.delete(f"/api/v1/users/li.na/grants/planner/{TOWNS[0]}").status_code == 204
    assert client.delete(f"/api/v1/users/li.na/grants/planner/{TOWNS[0]}").status_code == 404
    assert [r.action for r in audit(county) if r.object_type == "role_grant" and "li.na" in r.object_id] == [
        "grant", "revoke"]


def test_a_town_admin_acts_only_inside_the_town(county):
    client = client_as(county, TOWN_ADMIN)
    assert client.post("/api/v1/users", json=NEW_USER).status_code == 201  # officer of grids 0 and 1, both in town 0
    assert client.post("/api/v1/users/li.na/grants", json={"role": "admin", "unit_code": COUNTY}).status_code == 403
    assert client.post("/api/v1/users/li.na/grants",
                       json={"role": "supervisor", "unit_code": TOWNS[1]}).status_code == 403
    assert client.post("/api/v1/users/li.na/grants",
                       json={"role": "supervisor", "unit_code": VILLAGES[1]}).status_code == 201
    assert client.get("/api/v1/users/zhang.admin").status_code == 404
    assert client.patch("/api/v1/users/zhang.admin", json={"password": "taken over at last"}).status_code == 404
    assert client.delete(f"/api/v1/users/zhang.admin/grants/admin/{COUNTY}").status_code == 403
    assert {u["username"] for u in client.get("/api/v1/users").json()} == {"chen.admin", "li.na"}
    assert user(county, "zhang.admin").token_version == 0
    for person in ("W4309210002", "W4309210003"):  # grids 2 and 3 (towns 0 and 1); grid 4 (town 1)
        response = client.post("/api/v1/users", json={**NEW_USER, "username": "u" + person, "person_code": person})
        assert response.status_code == 404
    with transaction(get_engine(county)) as session:
        grants = session.scalars(select(RoleGrant.unit_code).where(RoleGrant.username == "li.na")).all()
    assert grants == [VILLAGES[1]]


def test_the_last_county_admin_stays(county):
    with transaction(get_engine(county)) as session, pytest.raises(Conflict, match="last"):
        users.update_user(session=session, principal=ADMIN, username="zhang.admin", disabled=True)
    with transaction(get_engine(county)) as session, pytest.raises(Conflict, match="last"):
        users.revoke_role(session=session, principal=ADMIN, username="zhang.admin", role="admin", unit_code=COUNTY)
    with transaction(get_engine(county)) as session, pytest.raises(NotFound):
        users.get_user(session=session, principal=TOWN_ADMIN, username="zhang.admin")
    assert user(county, "zhang.admin").disabled is False


def test_the_cli_manages_users_as_the_os_user(county, monkeypatch):
    monkeypatch.setenv("GRIDGOV_DATABASE_URL", county)
    monkeypatch.setenv("LOGNAME", "ops")
    get_settings.cache_clear()
    cli = typer.Typer()
    cli.add_typer(users_app, name="users")
    runner = CliRunner()
    try:
        result = runner.invoke(cli, ["users", "create", "wang.fang", "--display-name", "王芳", "--person-code",
                                     "W4309210003", "--password-stdin"], input=PASSWORD + "\n")
        assert result.exit_code == 0, result.output
        assert runner.invoke(cli, ["users", "grant", "wang.fang", "supervisor", TOWNS[1]]).exit_code == 0
        assert runner.invoke(cli, ["users", "grant", "wang.fang", "officer", TOWNS[1]]).exit_code != 0
        assert runner.invoke(cli, ["users", "disable", "wang.fang"]).exit_code == 0
        result = runner.invoke(cli, ["users", "set-password", "wang.fang", "--password-stdin"], input="short\n")
        assert result.exit_code == 1 and "password" in result.output
        listed = runner.invoke(cli, ["users", "list"])
        assert listed.exit_code == 0 and "wang.fang" in listed.stdout and f"supervisor@{TOWNS[1]}" in listed.stdout
    finally:
        get_settings.cache_clear()
    stored = user(county, "wang.fang")
    assert stored.disabled and stored.token_version == 1 and verify_password(PASSWORD, stored.password_hash)[0]
    mine = [(r.actor, r.via, r.action) for r in audit(county) if "wang.fang" in r.object_id]
    assert mine == [("cli:ops", "cli", "create"), ("cli:ops", "cli", "grant"), ("cli:ops", "cli", "update")]
