"""Demo accounts: one user per officer and chief of the demo county, a few staff, one shared password.

Argon2 is slow on purpose, so the shared password is hashed once and the hash reused for all ~1,800
accounts. Never for production: everyone who reads the README knows the password.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from gridgov.audit.service import record
from gridgov.grids.models import Level, Unit
from gridgov.people.models import ChiefAssignment, OfficerAssignment, Person, Role, RoleGrant, User
from gridgov.people.principal import cli_principal
from gridgov.people.security import hash_password

DEMO_PASSWORD = "gridgov-demo"

CHIEF_EXAMPLES = (("river", "village", "河长"), ("forest", "town", "林长"), ("field", "county", "田长"))
"""The chiefs the demo lists a sign-in for: (domain, level, title)."""

LEVEL_TITLES = {"county": "county 县级", "town": "town 乡镇级", "village": "village 村级"}


@dataclass(frozen=True)
class DemoSignIn:
    """A sign-in to try one view of the demo."""

    role: str
    username: str
    password: str


def _staff(town_code: str | None, county_code: str) -> list[tuple[str, str, Role, str, str]]:
    """(username, display name, role, unit, what to print) of the staff accounts."""
    staff = [
        ("admin", "系统管理员 Admin", Role.ADMIN, county_code, "admin 管理员 (county)"),
        ("supervisor", "县指挥中心 County supervisor", Role.SUPERVISOR, county_code, "supervisor 指挥中心 (county)"),
        ("planner", "网格规划员 Planner", Role.PLANNER, county_code, "planner 规划员 (county)"),
    ]
    if town_code is not None:
        staff.insert(2, ("town.supervisor", "乡镇指挥中心 Town supervisor", Role.SUPERVISOR, town_code,
                         f"supervisor 指挥中心 (town {town_code})"))
    return staff


def seed_demo_users(*, session: Session, county_code: str, password: str = DEMO_PASSWORD) -> list[DemoSignIn]:
    """Create the missing demo accounts of ``county_code`` and return one sign-in per role to try.

    Officers and chiefs sign in as their person code in lower case (``w4309210001``); staff as
    ``admin``, ``supervisor``, ``town.supervisor`` (the first town) and ``planner``. Safe to run again.
    """
    password_hash = hash_password(password)
    now = datetime.now(UTC)
    existing = set(session.scalars(select(User.username).where(User.county_code == county_code)))
    first_town = session.scalar(
        select(Unit.code).where(Unit.county_code == county_code, Unit.level == Level.TOWN).order_by(Unit.code).limit(1)
    )
    staff = _staff(first_town, county_code)
    accounts = [
        {"username": code.lower(), "display_name": name, "person_code": code}
        for code, name in session.execute(
            select(Person.code, Person.name).where(Person.county_code == county_code).order_by(Person.code)
        )
    ] + [{"username": username, "display_name": name, "person_code": None} for username, name, *_ in staff]
    new_users = [
        {**account, "county_code": county_code, "password_hash": password_hash, "disabled": False,
         "token_version": 0, "failed_sign_ins": 0, "locked_until": None, "created_at": now}
        for account in accounts if account["username"] not in existing
    ]
    if new_users:
        session.execute(insert(User), new_users)
        session.execute(insert(RoleGrant), [
            {"county_code": county_code, "username": username, "role": role, "unit_code": unit}
            for username, _name, role, unit, _label in staff if username not in existing
        ])
        record(session=session, principal=cli_principal(session=session), action="seed_demo_users",
               object_type="user", object_id=f"{len(new_users)} accounts", unit_code=county_code,
               after={"usernames": sorted(user["username"] for user in new_users)})
    return _sign_ins(session=session, county_code=county_code, password=password, staff=staff)


def _sign_ins(*, session: Session, county_code: str, password: str, staff: list) -> list[DemoSignIn]:
    sign_ins = []
    officer = session.scalar(
        select(OfficerAssignment.officer_code)
        .where(OfficerAssignment.county_code == county_code, OfficerAssignment.valid_to.is_(None))
        .order_by(OfficerAssignment.officer_code).limit(1)
    )
    if officer is not None:
        sign_ins.append(DemoSignIn("officer 网格员", officer.lower(), password))
    for domain, level, title in CHIEF_EXAMPLES:
        chief = session.scalar(
            select(ChiefAssignment.chief_code)
            .where(ChiefAssignment.county_code == county_code, ChiefAssignment.domain == domain,
                   ChiefAssignment.level == level, ChiefAssignment.valid_to.is_(None))
            .order_by(ChiefAssignment.unit_code).limit(1)
        )
        if chief is not None:
            sign_ins.append(DemoSignIn(f"{domain} chief {title}, {LEVEL_TITLES[level]}", chief.lower(), password))
    sign_ins += [DemoSignIn(label, username, password) for username, _name, _role, _unit, label in staff]
    return sign_ins
