"""Sign-in accounts and staff role grants, managed by administrators within their own jurisdiction.

An administrator may manage a user only when everything that user reaches (the units of their grants
and of their person's current and planned assignments) lies inside the administrator's jurisdiction;
otherwise the user does not exist for them (404). This is what stops a town admin from resetting a
county admin's password or handing out a county-wide grant.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from gridgov.audit.service import record
from gridgov.errors import Conflict, Forbidden, InvalidParameter, NotFound
from gridgov.grids.models import Unit
from gridgov.people.assignments import UnknownCodes
from gridgov.people.models import GRANTED_ROLES, ChiefAssignment, OfficerAssignment, Person, Role, RoleGrant, User
from gridgov.people.principal import Principal
from gridgov.people.security import hash_password

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256  # argon2 hashes anything; a cap keeps one request from costing seconds


def _hash(password: str) -> str:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidParameter(
            f"A password needs {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters."
        )
    return hash_password(password)


def _require_admin(principal: Principal) -> None:
    if not principal.has(Role.ADMIN):
        raise Forbidden("Only an administrator may manage users and role grants.")


def _state(user: User) -> dict:
    """What the audit log keeps of a user: never the password hash."""
    return {"display_name": user.display_name, "person_code": user.person_code, "disabled": user.disabled,
            "token_version": user.token_version}


def _reach(*, session: Session, county_code: str, usernames: list[str]) -> dict[str, set[str]]:
    """Per user, the units their grants and their person's current or planned assignments cover."""
    reach: dict[str, set[str]] = defaultdict(set)
    for username, unit_code in session.execute(
        select(RoleGrant.username, RoleGrant.unit_code)
        .where(RoleGrant.county_code == county_code, RoleGrant.username.in_(usernames))
    ):
        reach[username].add(unit_code)
    person_of = dict(session.execute(
        select(User.person_code, User.username)
        .where(User.county_code == county_code, User.username.in_(usernames), User.person_code.is_not(None))
    ).all())
    for person_code, units in _person_reach(session=session, county_code=county_code,
                                            person_codes=list(person_of)).items():
        reach[person_of[person_code]] |= units
    return reach


def _person_reach(*, session: Session, county_code: str, person_codes: list[str]) -> dict[str, set[str]]:
    today = date.today()
    reach: dict[str, set[str]] = defaultdict(set)
    for model, holder, unit in ((OfficerAssignment, OfficerAssignment.officer_code, OfficerAssignment.grid_code),
                                (ChiefAssignment, ChiefAssignment.chief_code, ChiefAssignment.unit_code)):
        for person_code, unit_code in session.execute(
            select(holder, unit).where(model.county_code == county_code, holder.in_(person_codes),
                                       or_(model.valid_to.is_(None), model.valid_to > today))
        ):
            reach[person_code].add(unit_code)
    return reach


def _manageable(*, session: Session, principal: Principal, users: list[User]) -> list[User]:
    if principal.jurisdiction.county_wide:
        return users
    reach = _reach(session=session, county_code=principal.county_code, usernames=[u.username for u in users])
    sees = principal.jurisdiction.sees_unit
    return [user for user in users if all(sees(code) for code in reach.get(user.username, ()))]


def _load(*, session: Session, principal: Principal, username: str) -> User:
    """The user, when the admin may manage them; NotFound otherwise (no existence leak)."""
    user = session.get(User, (principal.county_code, username))
    if user is None or not _manageable(session=session, principal=principal, users=[user]):
        raise NotFound(f"No user {username} in your jurisdiction.")
    return user


def list_users(*, session: Session, principal: Principal) -> list[User]:
    """The users an administrator may manage, by username."""
    _require_admin(principal)
    users = session.scalars(
        select(User).where(User.county_code == principal.county_code).order_by(User.username)
    ).all()
    return _manageable(session=session, principal=principal, users=list(users))


def get_user(*, session: Session, principal: Principal, username: str) -> User:
    """One user: for an administrator who may manage them, or for the user themselves."""
    if username == principal.username:
        user = session.get(User, (principal.county_code, username))
        if user is not None:
            return user
    _require_admin(principal)
    return _load(session=session, principal=principal, username=username)


def grants_of(*, session: Session, county_code: str, usernames: list[str]) -> dict[str, list[RoleGrant]]:
    """Role grants per username, ordered by role and unit."""
    grants: dict[str, list[RoleGrant]] = defaultdict(list)
    for grant in session.scalars(
        select(RoleGrant).where(RoleGrant.county_code == county_code, RoleGrant.username.in_(usernames))
        .order_by(RoleGrant.role, RoleGrant.unit_code)
    ):
        grants[grant.username].append(grant)
    return grants


def _check_person(*, session: Session, principal: Principal, person_code: str) -> None:
    """Linking a person gives the account that person's duties, so they must lie inside the admin's reach."""
    county_code = principal.county_code
    exists = session.get(Person, (county_code, person_code)) is not None
    if principal.jurisdiction.county_wide and not exists:
        raise UnknownCodes(f"Unknown codes: person {person_code}.", details=[{"kind": "person", "code": person_code}])
    units = _person_reach(session=session, county_code=county_code, person_codes=[person_code])[person_code]
    if not exists or not all(principal.jurisdiction.sees_unit(code) for code in units):
        raise NotFound(f"No person {person_code} in your jurisdiction.")
    taken = session.scalar(
        select(User.username).where(User.county_code == county_code, User.person_code == person_code)
    )
    if taken is not None:
        raise Conflict(f"Person {person_code} already has the account {taken}; one account per person.")


def create_user(
    *, session: Session, principal: Principal, username: str, display_name: str, password: str,
    person_code: str | None = None,
) -> User:
    """A new account with no grants; officer and chief duties follow from its person's assignments."""
    _require_admin(principal)
    if session.get(User, (principal.county_code, username)) is not None:
        raise Conflict(f"The username {username} is taken.")
    if person_code is not None:
        _check_person(session=session, principal=principal, person_code=person_code)
    user = User(county_code=principal.county_code, username=username, display_name=display_name,
                person_code=person_code, password_hash=_hash(password), disabled=False, token_version=0,
                failed_sign_ins=0, created_at=datetime.now(UTC))
    session.add(user)
    session.flush()
    record(session=session, principal=principal, action="create", object_type="user", object_id=username,
           unit_code=principal.county_code, before=None, after=_state(user))
    return user


def update_user(
    *, session: Session, principal: Principal, username: str, display_name: str | None = None,
    password: str | None = None, disabled: bool | None = None,
) -> User:
    """Change a name, password or the disabled flag; a new password or disabling ends existing sessions."""
    _require_admin(principal)
    user = _load(session=session, principal=principal, username=username)
    before = _state(user)
    if display_name is not None:
        user.display_name = display_name
    if password is not None:
        user.password_hash = _hash(password)
        user.token_version += 1
    if disabled is not None and disabled != user.disabled:
        if disabled:
            _keep_a_county_admin(session=session, principal=principal, username=username)
            user.token_version += 1
        user.disabled = disabled
    after = _state(user)
    if password is not None:
        after["password_changed"] = True
    if after != before:
        session.flush()
        record(session=session, principal=principal, action="update", object_type="user", object_id=username,
               unit_code=principal.county_code, before=before, after=after)
    return user


def _check_grant(principal: Principal, role: Role | str, unit_code: str) -> Role:
    if role not in {r.value for r in GRANTED_ROLES}:
        raise InvalidParameter(f"Only {', '.join(GRANTED_ROLES)} are granted; {role} follows from assignments.")
    if not principal.jurisdiction.sees_unit(unit_code):
        raise Forbidden(f"Unit {unit_code} lies outside your jurisdiction; you may grant roles only inside it.")
    return Role(role)


def grant_role(*, session: Session, principal: Principal, username: str, role: Role | str, unit_code: str) -> RoleGrant:
    """Give a user a staff role over a unit and everything inside it."""
    _require_admin(principal)
    role = _check_grant(principal, role, unit_code)
    user = _load(session=session, principal=principal, username=username)
    if session.get(Unit, (principal.county_code, unit_code)) is None:
        raise UnknownCodes(f"Unknown codes: unit {unit_code}.", details=[{"kind": "unit", "code": unit_code}])
    key = (principal.county_code, user.username, role.value, unit_code)
    if session.get(RoleGrant, key) is not None:
        raise Conflict(f"{username} already holds {role.value} on {unit_code}.")
    grant = RoleGrant(county_code=principal.county_code, username=user.username, role=role.value,
                      unit_code=unit_code)
    session.add(grant)
    session.flush()
    record(session=session, principal=principal, action="grant", object_type="role_grant",
           object_id=f"{username}/{role.value}/{unit_code}", unit_code=unit_code, before=None,
           after={"username": username, "role": role.value, "unit_code": unit_code})
    return grant


def revoke_role(*, session: Session, principal: Principal, username: str, role: Role | str, unit_code: str) -> None:
    """Take a staff role over a unit away from a user."""
    _require_admin(principal)
    role = _check_grant(principal, role, unit_code)
    user = _load(session=session, principal=principal, username=username)
    grant = session.get(RoleGrant, (principal.county_code, user.username, role.value, unit_code))
    if grant is None:
        raise NotFound(f"{username} holds no {role.value} grant on {unit_code}.")
    if role is Role.ADMIN and unit_code == principal.county_code:
        _keep_a_county_admin(session=session, principal=principal, username=username)
    session.delete(grant)
    session.flush()
    record(session=session, principal=principal, action="revoke", object_type="role_grant",
           object_id=f"{username}/{role.value}/{unit_code}", unit_code=unit_code,
           before={"username": username, "role": role.value, "unit_code": unit_code}, after=None)


def _keep_a_county_admin(*, session: Session, principal: Principal, username: str) -> None:
    """Refuse to lose the last enabled county-wide administrator (the county would be locked out)."""
    county_admins = set(session.scalars(
        select(RoleGrant.username)
        .join(User, (User.county_code == RoleGrant.county_code) & (User.username == RoleGrant.username))
        .where(RoleGrant.county_code == principal.county_code, RoleGrant.role == Role.ADMIN.value,
               RoleGrant.unit_code == principal.county_code, User.disabled.is_(False))
    ))
    if county_admins == {username}:
        raise Conflict(f"{username} is the last enabled county administrator; grant another one first.")
