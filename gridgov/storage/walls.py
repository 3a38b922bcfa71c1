"""The second wall: tell PostgreSQL's row-level security whose request this transaction serves.

The application filters every query by the caller's jurisdiction already; the policies of migration 0003
filter again inside the database, from transaction-local settings written here (``set_config(..., true)``,
gone at commit or rollback, so a pooled connection never carries one request's scope into the next).
A transaction that sets nothing sees no row. On SQLite (the embedded demo, one user at a shell) there is
no second wall and these calls do nothing.

A request goes through up to three stages: signing in (``for_sign_in``: only the accounts with that
username), knowing who (``for_county``: the county's tree, people and accounts) and knowing where
(``for_jurisdiction``: the units, resources and audit records of the caller's jurisdiction).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session

from gridgov.storage.db import is_postgis

APP_ROLE = "gridgov_app"
"""The role the web app's database user belongs to; it owns no table (see migration 0003)."""


_APPLIED = "gridgov_walls"  # session.info key: the settings this transaction has already been given


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction) -> None:
    """Transaction-local settings end with the transaction; so does our memory of them."""
    if transaction.parent is None:
        session.info.pop(_APPLIED, None)


def _set(session: Session, settings: Mapping[str, str]) -> None:
    """Send the settings this transaction does not hold yet, in one statement (a request walls itself in
    up to three times as it learns who is asking; most of those calls change nothing)."""
    if not is_postgis(session):
        return
    applied = session.info.setdefault(_APPLIED, {})
    settings = {name: value for name, value in settings.items() if applied.get(name) != value}
    if not settings:
        return
    applied.update(settings)
    names = list(settings)
    params = {f"n{i}": name for i, name in enumerate(names)} | {f"v{i}": settings[n] for i, n in enumerate(names)}
    calls = ", ".join(f"set_config(:n{i}, :v{i}, true)" for i in range(len(names)))
    session.execute(text(f"SELECT {calls}"), params)


def for_sign_in(session: Session, username: str) -> None:
    """Let this transaction see the accounts named ``username`` (in any county) and nothing else."""
    _set(session, {"gridgov.sign_in": username})


def for_county(session: Session, county_code: str) -> None:
    """Let this transaction see the county's tree, people and accounts, but no unit or resource row yet."""
    _set(session, {"gridgov.county": county_code, "gridgov.sign_in": ""})


def for_jurisdiction(
    session: Session,
    *,
    county_code: str,
    username: str,
    county_wide: bool,
    units: Iterable[str] = (),
    resource_villages: Mapping[str, Iterable[str]] | None = None,
    resource_kinds: Iterable[str] = (),
) -> None:
    """Let this transaction see the units, resources (per kind, by village) and audit records in scope,
    plus what ``username`` made themselves (a patrol or finding that lies outside their area)."""
    villages = resource_villages or {}
    settings = {
        "gridgov.county": county_code,
        "gridgov.sign_in": "",
        "gridgov.username": username,
        "gridgov.county_wide": "on" if county_wide else "off",
        "gridgov.units": ",".join(sorted(units)),
    }
    for kind in resource_kinds:
        settings[f"gridgov.villages.{kind}"] = ",".join(sorted(villages.get(kind, ())))
    _set(session, settings)


def bypassed_by(engine: Engine) -> bool:
    """True when ``engine`` connects as a role row-level security does not apply to (a superuser, a role
    with BYPASSRLS, or the tables' owner): the second wall is then down, and the server says so."""
    if engine.dialect.name != "postgresql":
        return False
    with engine.connect() as conn:
        return bool(conn.scalar(text(
            "SELECT r.rolsuper OR r.rolbypassrls OR pg_has_role(current_user, c.relowner, 'MEMBER') "
            "FROM pg_roles r, pg_class c WHERE r.rolname = current_user AND c.oid = 'units'::regclass"
        )))
