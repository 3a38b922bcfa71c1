"""Who is asking: password sign-in with throttling, the user's roles and jurisdiction, and the request
dependencies that resolve both once per request (``current_principal``, ``require``).

The jurisdiction follows the rules in ``gridgov.people.principal``; it is computed with one query per
level below the units a user answers for, never one query per unit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from math import ceil
from typing import Annotated

import jwt
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from gridgov.audit.service import record
from gridgov.config import get_settings
from gridgov.errors import Forbidden, GridGovError
from gridgov.grids.models import Level, ResourceKind, unit_tree
from gridgov.people.assignments import in_force
from gridgov.people.models import ChiefAssignment, ChiefDomain, OfficerAssignment, Role, RoleGrant, User
from gridgov.people.principal import DOMAIN_RESOURCE, Jurisdiction, Principal
from gridgov.people.security import (
    TokenClaims,
    TokenKind,
    decode_token,
    encode_token,
    spend_verify_time,
    verify_password,
)
from gridgov.storage import memo, walls
from gridgov.storage.db import transaction
from gridgov.storage.session import SessionDep

SESSION_COOKIE = "gridgov_session"
WRONG_PASSWORD = "Wrong username or password. 用户名或密码错误。"
ALL_RESOURCES = frozenset(ResourceKind)


class Unauthorized(GridGovError):
    """No valid credentials: wrong password, or a missing, expired, forged or revoked token."""

    status = 401
    code = "unauthorized"
    headers = {"WWW-Authenticate": "Bearer"}


class TooManyRequests(GridGovError):
    """Sign-in refused for a while after repeated failures; ``headers`` carry Retry-After in seconds."""

    status = 429
    code = "too_many_sign_ins"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


def _utc(moment: datetime) -> datetime:
    # SQLite hands timezone-aware columns back naive; they were stored in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _find_user(session: Session, username: str, county_code: str | None) -> User | None:
    if not username.isprintable():  # no account has one, and PostgreSQL refuses NUL in a query
        return None
    walls.for_sign_in(session, username)
    query = select(User).where(User.username == username)
    if county_code is not None:
        query = query.where(User.county_code == county_code)
    users = session.scalars(query.limit(2)).all()
    return users[0] if len(users) == 1 else None


def _account_principal(user: User) -> Principal:
    """``user`` as the actor of their own sign-in records, before any role or jurisdiction is known."""
    return Principal(county_code=user.county_code, username=user.username, roles=frozenset(),
                     jurisdiction=Jurisdiction(county_code=user.county_code))


def _record_failure(*, session: Session, user: User, now: datetime) -> None:
    """Count a failed sign-in, locking the account at the limit, in a transaction of its own.

    The request's transaction rolls back with the 401; the count must survive it. One UPDATE, so two
    concurrent failures both count.
    """
    settings = get_settings()
    failures = User.failed_sign_ins + 1
    locks = failures >= settings.sign_in_max_failures
    with transaction(session.get_bind()) as own:
        walls.for_county(own, user.county_code)
        failed, locked_until = own.execute(
            update(User)
            .where(User.county_code == user.county_code, User.username == user.username)
            .values(
                failed_sign_ins=case((locks, 0), else_=failures),
                locked_until=case(
                    (locks, now + timedelta(minutes=settings.sign_in_lock_minutes)), else_=User.locked_until
                ),
            )
            .returning(User.failed_sign_ins, User.locked_until)
        ).one()
        record(session=own, principal=_account_principal(user), action="sign_in_failed", object_type="user",
               object_id=user.username, after={"failed_sign_ins": failed, "locked_until": locked_until})


def authenticate(
    *, session: Session, username: str, password: str, county_code: str | None = None, now: datetime | None = None
) -> User:
    """The user this password belongs to; 401 otherwise, 429 while locked after repeated failures."""
    now = now or datetime.now(UTC)
    user = _find_user(session, username, county_code)
    if user is None:
        spend_verify_time(password)
        raise Unauthorized(WRONG_PASSWORD)
    if user.locked_until is not None and _utc(user.locked_until) > now:
        seconds = ceil((_utc(user.locked_until) - now).total_seconds())
        raise TooManyRequests(
            f"Too many failed sign-ins; try again in {ceil(seconds / 60)} minute(s) (Retry-After: {seconds} s). "
            "登录失败次数过多，请稍后再试。",
            retry_after=seconds,
        )
    valid, new_hash = verify_password(password, user.password_hash)
    if not valid:
        _record_failure(session=session, user=user, now=now)
        raise Unauthorized(WRONG_PASSWORD)
    if user.disabled:
        raise Unauthorized("This account is disabled; ask an administrator. 账号已停用。")
    walls.for_county(session, user.county_code)
    if user.failed_sign_ins or user.locked_until is not None:
        user.failed_sign_ins, user.locked_until = 0, None
    if new_hash:
        user.password_hash = new_hash
    # The sign-in log (登录日志): who signed in when, and that a stronger hash replaced the old one.
    record(session=session, principal=_account_principal(user), action="sign_in", object_type="user",
           object_id=user.username, after={"rehashed": True} if new_hash else None)
    return user


def issue_token(*, user: User, kind: TokenKind) -> tuple[str, int]:
    """A signed token for ``user`` (API bearer or web session) and its lifetime in seconds."""
    settings = get_settings()
    minutes = settings.access_token_minutes if kind is TokenKind.ACCESS else settings.session_minutes
    token = encode_token(
        county_code=user.county_code, username=user.username, token_version=user.token_version, kind=kind,
        minutes=minutes, secret=settings.secret_key,
    )
    return token, minutes * 60


@dataclass(frozen=True)
class ChiefPost:
    """A chief's post held now: one domain (river, forest, field) in one unit at one level."""

    domain: str
    level: str
    unit_code: str


@dataclass(frozen=True)
class Duties:
    """What a user answers for on one date: grids as officer, units as chief, and granted staff roles."""

    officer_grids: frozenset[str]
    chief_posts: tuple[ChiefPost, ...]
    grants: tuple[tuple[Role, str], ...]

    @property
    def roles(self) -> frozenset[Role]:
        roles = {role for role, _unit in self.grants}
        if self.officer_grids:
            roles.add(Role.OFFICER)
        if self.chief_posts:
            roles.add(Role.CHIEF)
        return frozenset(roles)


def current_duties(*, session: Session, user: User, on: date | None = None) -> Duties:
    """The user's officer grids, chief assignments and role grants holding on ``on`` (default today)."""
    on = on or date.today()
    county = user.county_code
    grids: frozenset[str] = frozenset()
    chiefs: tuple[ChiefPost, ...] = ()
    if user.person_code is not None:
        grids = frozenset(session.scalars(
            select(OfficerAssignment.grid_code).where(
                OfficerAssignment.county_code == county, OfficerAssignment.officer_code == user.person_code,
                in_force(OfficerAssignment, on),
            )
        ))
        chiefs = tuple(
            ChiefPost(domain=domain, level=level, unit_code=unit)
            for domain, level, unit in session.execute(
                select(ChiefAssignment.domain, ChiefAssignment.level, ChiefAssignment.unit_code)
                .where(
                    ChiefAssignment.county_code == county, ChiefAssignment.chief_code == user.person_code,
                    in_force(ChiefAssignment, on),
                )
                .order_by(ChiefAssignment.unit_code, ChiefAssignment.domain)
            )
        )
    grants = tuple(
        (Role(role), unit)
        for role, unit in session.execute(
            select(RoleGrant.role, RoleGrant.unit_code)
            .where(RoleGrant.county_code == county, RoleGrant.username == user.username)
            .order_by(RoleGrant.role, RoleGrant.unit_code)
        )
    )
    return Duties(officer_grids=grids, chief_posts=chiefs, grants=grants)


def _subtrees(session: Session, county_code: str, roots: set[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Level and parent of every unit in the subtrees of ``roots``: one query per level below them."""
    level_of: dict[str, str] = {}
    parent_of: dict[str, str] = {}
    if not roots:
        return level_of, parent_of
    tree = unit_tree.c
    rows = session.execute(
        select(tree.code, tree.level, tree.parent_code).where(tree.county_code == county_code, tree.code.in_(roots))
    ).all()
    frontier: set[str] = set()
    while rows:
        for code, level, parent in rows:
            if parent is not None:
                parent_of[code] = parent
            if code not in level_of:
                level_of[code] = level
                if level != Level.MICRO_GRID:  # the leaves: nothing to ask for below them
                    frontier.add(code)
        if not frontier:
            break
        rows = session.execute(
            select(tree.code, tree.level, tree.parent_code)
            .where(tree.county_code == county_code, tree.parent_code.in_(frontier))
        ).all()
        frontier = set()
    return level_of, parent_of


def jurisdiction_for(*, session: Session, county_code: str, duties: Duties) -> Jurisdiction:
    """The units and resource villages ``duties`` cover, by the rules of ``gridgov.people.principal``."""
    if any(unit == county_code for _role, unit in duties.grants):
        return Jurisdiction(county_code=county_code, county_wide=True)
    resources_of_root: dict[str, set[str]] = defaultdict(set)
    for _role, unit in duties.grants:
        resources_of_root[unit] |= ALL_RESOURCES
    for post in duties.chief_posts:
        resources_of_root[post.unit_code].add(DOMAIN_RESOURCE[ChiefDomain(post.domain)])
    for grid in duties.officer_grids:
        resources_of_root.setdefault(grid, set())
    level_of, parent_of = _subtrees(session, county_code, set(resources_of_root))
    resource_villages: dict[str, set[str]] = defaultdict(set)
    for code, level in level_of.items():
        if level != Level.VILLAGE:
            continue
        node: str | None = code
        while node is not None:
            for kind in resources_of_root.get(node, ()):
                resource_villages[kind].add(code)
            node = parent_of.get(node)
    for grid in duties.officer_grids:
        if grid in parent_of:
            for kind in ALL_RESOURCES:
                resource_villages[kind].add(parent_of[grid])
    return Jurisdiction(
        county_code=county_code,
        units=frozenset(level_of),
        resource_villages={kind: frozenset(villages) for kind, villages in resource_villages.items()},
    )


def account_of(*, session: Session, user: User, on: date | None = None) -> tuple[Duties, Jurisdiction]:
    """What ``user`` answers for on ``on`` (default today) and the jurisdiction that follows from it."""
    walls.for_county(session, user.county_code)
    duties = current_duties(session=session, user=user, on=on)
    return duties, jurisdiction_for(session=session, county_code=user.county_code, duties=duties)


def resolve_principal(*, session: Session, user: User, on: date | None = None) -> Principal:
    """The principal of ``user`` on ``on`` (default today): roles from assignments and grants, and jurisdiction."""
    duties, jurisdiction = account_of(session=session, user=user, on=on)
    return Principal(
        county_code=user.county_code,
        username=user.username,
        roles=duties.roles,
        jurisdiction=jurisdiction,
        person_code=user.person_code,
    )


bearer_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def _claims(request: Request, bearer: str | None) -> TokenClaims:
    """The verified claims of the request's bearer token, else of the web pages' session cookie; 401 otherwise."""
    if bearer:
        kind, token = TokenKind.ACCESS, bearer
    elif cookie := request.cookies.get(SESSION_COOKIE):
        kind, token = TokenKind.SESSION, cookie
    else:
        raise Unauthorized("Sign in first: POST /api/v1/auth/token, then send `Authorization: Bearer <token>`.")
    try:
        return decode_token(token, secret=get_settings().secret_key, kind=kind)
    except jwt.InvalidTokenError as error:
        raise Unauthorized("The token is invalid or has expired; sign in again.") from error


def _account(session: Session, claims: TokenClaims) -> User:
    """The account the claims name, read on every request: a disabled account or a revoked token (its
    version bumped) is refused at once, whatever is remembered about it."""
    walls.for_county(session, claims.county_code)
    user = session.get(User, (claims.county_code, claims.username))
    if user is None or user.disabled or user.token_version != claims.token_version:
        raise Unauthorized("The token is no longer valid for this account; sign in again.")
    return user


def current_user(
    request: Request, session: SessionDep, bearer: Annotated[str | None, Depends(bearer_scheme)]
) -> User:
    """The signed-in user: from the bearer token, else from the web pages' session cookie; 401 otherwise."""
    return _account(session, _claims(request, bearer))


UserDep = Annotated[User, Depends(current_user)]


def current_principal(
    request: Request, session: SessionDep, bearer: Annotated[str | None, Depends(bearer_scheme)]
) -> Principal:
    """The request's principal, remembered for a few seconds (``gridgov.storage.memo``), with the database
    walled to its jurisdiction.

    The account itself is read on every request. When the principal is remembered, the wall goes up
    before that read, in the same statement that names the county: one round trip fewer on every request.
    """
    claims = _claims(request, bearer)
    key = ("principal", str(session.get_bind().url), claims.county_code, claims.username, claims.token_version,
           date.today())
    known = memo.recall(key)
    if known is not None:
        wall_in(session, known)
    user = _account(session, claims)
    return wall_in(session, known or memo.remembered(key, lambda: resolve_principal(session=session, user=user)))


def wall_in(session: Session, principal: Principal) -> Principal:
    """Set the database's row-level security to ``principal``'s jurisdiction for this transaction."""
    scope = principal.jurisdiction
    walls.for_jurisdiction(
        session, county_code=scope.county_code, username=principal.username, county_wide=scope.county_wide,
        units=scope.units,
        resource_villages=scope.resource_villages, resource_kinds=ResourceKind,
    )
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency that lets through principals holding any of ``roles`` and answers 403 to the rest."""

    def dependency(principal: PrincipalDep) -> Principal:
        if not principal.has(*roles):
            raise Forbidden(f"This needs the role {' or '.join(roles)}.")
        return principal

    return dependency


def officer_principal(*, session: Session, county_code: str, officer_code: str, on: date, operator: str) -> Principal:
    """A grid officer as the shell operator acting for them (e.g. importing a GPX they recorded offline).

    The principal holds the officer's duties on ``on`` only; its username names both, so the audit log
    shows who typed the command and for whom.
    """
    walls.for_county(session, county_code)
    duties = Duties(officer_grids=frozenset(session.scalars(
        select(OfficerAssignment.grid_code).where(
            OfficerAssignment.county_code == county_code, OfficerAssignment.officer_code == officer_code,
            in_force(OfficerAssignment, on),
        ))), chief_posts=(), grants=())
    return Principal(
        county_code=county_code, username=f"{operator} for {officer_code}"[:64], roles=duties.roles,
        jurisdiction=jurisdiction_for(session=session, county_code=county_code, duties=duties),
        person_code=officer_code, via="cli",
    )
