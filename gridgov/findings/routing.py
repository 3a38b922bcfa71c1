"""Routing (分流) and deadlines as county data: who answers for a finding, and how long it may wait.

Both tables are matched most-specific first: an exact category beats ``*``, an exact severity beats ``*``.
The person is found from the place: the chief of the finding's domain at the routed level over it; with
no chief there, the next level up; with none at all, the grid's officer answers for it (属地兜底) — and
with the grid vacant, the village's queue, which its supervisors see. A finding is never lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from gridgov.audit.service import record, record_many
from gridgov.errors import Forbidden, InvalidParameter
from gridgov.findings.models import DeadlineRule, FindingCategory, RoutingRule
from gridgov.people.assignments import in_force
from gridgov.people.models import ChiefAssignment, OfficerAssignment, Role
from gridgov.people.principal import Principal
from gridgov.storage import memo

LADDER = ("village", "town", "county")
ANY = "*"

# (domain, category or *, severity or *, level): village chiefs by default, the town for serious cases
# and for problems that need law enforcement, the county for urgent ones and for sand mining.
DEFAULT_ROUTES = [
    *((domain, ANY, ANY, "village") for domain in ("river", "forest", "field")),
    *((domain, ANY, "high", "town") for domain in ("river", "forest", "field")),
    *((domain, ANY, "urgent", "county") for domain in ("river", "forest", "field")),
    ("river", "river_sand_mining", ANY, "county"),
    ("forest", "forest_illegal_logging", ANY, "town"),
    ("field", "field_non_farm_use", ANY, "town"),
    ("field", "field_illegal_building", ANY, "town"),
]
# (category or *, severity or *, accept within working hours, resolve within working days, escalate every
# working hours once overdue)
DEFAULT_DEADLINES = [
    (ANY, "low", 16.0, 10.0, 16.0),
    (ANY, "medium", 8.0, 5.0, 8.0),
    (ANY, "high", 4.0, 3.0, 4.0),
    (ANY, "urgent", 2.0, 1.0, 2.0),
    ("field_straw_burning", ANY, 1.0, 1.0, 1.0),  # smoke now, not next week
    ("forest_fire_hazard", ANY, 2.0, 1.0, 2.0),
]


@dataclass(frozen=True)
class Owner:
    """Whom a finding waits on: a level, the unit at that level over it, and the person (None: the queue)."""

    level: str
    unit: str
    person: str | None
    fallback: bool = False  # no chief of the domain anywhere up the ladder: the grid answers (属地兜底)


@dataclass(frozen=True)
class Deadlines:
    accept_hours: float
    resolve_days: float
    escalate_hours: float


def _most_specific(table: dict[tuple, object], keys: list[tuple]) -> object | None:
    for key in keys:
        if key in table:
            return table[key]
    return None


def routes(session: Session, county_code: str) -> dict[tuple[str, str, str], str]:
    """(domain, category, severity) -> level, remembered a few seconds (every report reads it)."""
    def load():
        rows = session.execute(select(RoutingRule.domain, RoutingRule.category_code, RoutingRule.severity,
                                      RoutingRule.level).where(RoutingRule.county_code == county_code)).all()
        return {(d, c, s): level for d, c, s, level in rows}

    return memo.remembered(("routes", str(session.get_bind().url), county_code), load)


def deadline_table(session: Session, county_code: str) -> dict[tuple[str, str], Deadlines]:
    """(category, severity) -> deadlines, remembered a few seconds."""
    def load():
        rows = session.scalars(select(DeadlineRule).where(DeadlineRule.county_code == county_code)).all()
        return {(r.category_code, r.severity): Deadlines(r.accept_hours, r.resolve_days, r.escalate_hours)
                for r in rows}

    return memo.remembered(("deadlines", str(session.get_bind().url), county_code), load)


def chiefs_in_office(session: Session, county_code: str, on: date) -> dict[tuple[str, str], str]:
    """(unit, domain) -> code of the chief in office on ``on``, for the whole county (a few thousand rows,
    remembered for a few seconds: every report needs them)."""
    def load() -> dict[tuple[str, str], str]:
        rows = session.execute(
            select(ChiefAssignment.unit_code, ChiefAssignment.domain, ChiefAssignment.chief_code)
            .where(ChiefAssignment.county_code == county_code, in_force(ChiefAssignment, on))
        ).all()
        return {(unit, domain): chief for unit, domain, chief in rows}

    return memo.remembered(("chiefs", str(session.get_bind().url), county_code, on), load)


def grid_officers(session: Session, county_code: str, on: date) -> dict[str, str]:
    """grid code -> code of its officer on ``on`` (one person, one grid), remembered a few seconds."""
    def load() -> dict[str, str]:
        rows = session.execute(
            select(OfficerAssignment.grid_code, OfficerAssignment.officer_code)
            .where(OfficerAssignment.county_code == county_code, in_force(OfficerAssignment, on))
        ).all()
        return dict(rows)

    return memo.remembered(("officers", str(session.get_bind().url), county_code, on), load)


def routed_level(table: dict[tuple[str, str, str], str], *, domain: str, category: str, severity: str) -> str:
    """The level a finding goes to; the village when the county has no rule for it."""
    keys = [(domain, category, severity), (domain, category, ANY), (domain, ANY, severity), (domain, ANY, ANY)]
    return _most_specific(table, keys) or "village"


def deadlines_for(table: dict[tuple[str, str], Deadlines], *, category: str, severity: str) -> Deadlines:
    keys = [(category, severity), (category, ANY), (ANY, severity), (ANY, ANY)]
    found = _most_specific(table, keys)
    return found or Deadlines(accept_hours=8.0, resolve_days=5.0, escalate_hours=8.0)


def owner_for(*, level: str, domain: str, units: dict[str, str], chiefs: dict[tuple[str, str], str],
              grid_officer: str | None) -> Owner:
    """The owner at ``level`` or the first level above it with a chief of ``domain`` over the place.

    ``units`` maps each level (village, town, county) to the unit over the finding; ``chiefs`` maps
    (unit, domain) to the chief in office.

    >>> units = {"village": "V1", "town": "T1", "county": "C"}
    >>> owner_for(level="village", domain="river", units=units, chiefs={("T1", "river"): "P9"}, grid_officer="W1")
    Owner(level='town', unit='T1', person='P9', fallback=False)
    >>> owner_for(level="town", domain="forest", units=units, chiefs={}, grid_officer="W1")
    Owner(level='village', unit='V1', person='W1', fallback=True)
    """
    for rung in LADDER[LADDER.index(level):]:
        chief = chiefs.get((units[rung], domain))
        if chief is not None:
            return Owner(level=rung, unit=units[rung], person=chief)
    return Owner(level="village", unit=units["village"], person=grid_officer, fallback=True)


def next_rung(level: str) -> str | None:
    """The level above ``level`` on the ladder village → town → county, None at the top."""
    index = LADDER.index(level)
    return LADDER[index + 1] if index + 1 < len(LADDER) else None


def seed_routing_defaults(*, session: Session, principal: Principal) -> int:
    """Add the default routes and deadlines the county does not have yet; returns how many rows."""
    county = principal.county_code
    have_routes = {(r.domain, r.category_code, r.severity) for r in session.scalars(
        select(RoutingRule).where(RoutingRule.county_code == county))}
    have_deadlines = {(r.category_code, r.severity) for r in session.scalars(
        select(DeadlineRule).where(DeadlineRule.county_code == county))}
    new_routes = [RoutingRule(county_code=county, domain=d, category_code=c, severity=s, level=level)
                  for d, c, s, level in DEFAULT_ROUTES if (d, c, s) not in have_routes]
    new_deadlines = [DeadlineRule(county_code=county, category_code=c, severity=s, accept_hours=a, resolve_days=r,
                                  escalate_hours=e)
                     for c, s, a, r, e in DEFAULT_DEADLINES if (c, s) not in have_deadlines]
    session.add_all([*new_routes, *new_deadlines])
    session.flush()
    record_many(session=session, principal=principal, action="create", object_type="routing_rule",
                changes=[(f"{r.domain}/{r.category_code}/{r.severity}", county, None, {"level": r.level})
                         for r in new_routes])
    record_many(session=session, principal=principal, action="create", object_type="deadline_rule",
                changes=[(f"{r.category_code}/{r.severity}", county, None,
                          {"accept_hours": r.accept_hours, "resolve_days": r.resolve_days,
                           "escalate_hours": r.escalate_hours}) for r in new_deadlines])
    return len(new_routes) + len(new_deadlines)


def _county_admin(principal: Principal) -> None:
    if not (principal.has(Role.ADMIN) and principal.jurisdiction.county_wide):
        raise Forbidden("Only a county-wide administrator edits the county's routing and deadlines.")


def _check_category(session: Session, county_code: str, category: str, domain: str | None = None) -> None:
    """A rule names a category of the county (of ``domain``, for a route) or ``*``: else it would never
    match, and the county would believe a rule is in force that is not."""
    if category == ANY:
        return
    found = session.get(FindingCategory, (county_code, category))
    if found is None:
        raise InvalidParameter(f"The county has no finding category {category!r}; GET /api/v1/findings/categories "
                               f"lists them (or use * for any).")
    if domain is not None and found.domain != domain:
        raise InvalidParameter(f"Category {category!r} is of the {found.domain} domain, not {domain}.")


def save_route(*, session: Session, principal: Principal, domain: str, category: str, severity: str,
               level: str) -> RoutingRule:
    """Create or change one routing rule (county-wide administrators)."""
    _county_admin(principal)
    _check_category(session, principal.county_code, category, domain)
    if level not in LADDER:
        raise InvalidParameter(f"level must be one of {', '.join(LADDER)}, not {level!r}.")
    rule = session.get(RoutingRule, (principal.county_code, domain, category, severity))
    before = None if rule is None else {"level": rule.level}
    if rule is None:
        rule = RoutingRule(county_code=principal.county_code, domain=domain, category_code=category,
                           severity=severity, level=level)
        session.add(rule)
    rule.level = level
    session.flush()
    record(session=session, principal=principal, action="create" if before is None else "update",
           object_type="routing_rule", object_id=f"{domain}/{category}/{severity}", unit_code=principal.county_code,
           before=before, after={"level": level})
    return rule


def save_deadline(*, session: Session, principal: Principal, category: str, severity: str,
                  deadlines: Deadlines) -> DeadlineRule:
    """Create or change one deadline rule (county-wide administrators)."""
    _county_admin(principal)
    _check_category(session, principal.county_code, category)
    rule = session.get(DeadlineRule, (principal.county_code, category, severity))
    before = None if rule is None else {"accept_hours": rule.accept_hours, "resolve_days": rule.resolve_days,
                                        "escalate_hours": rule.escalate_hours}
    if rule is None:
        rule = DeadlineRule(county_code=principal.county_code, category_code=category, severity=severity)
        session.add(rule)
    rule.accept_hours, rule.resolve_days, rule.escalate_hours = (
        deadlines.accept_hours, deadlines.resolve_days, deadlines.escalate_hours)
    session.flush()
    record(session=session, principal=principal, action="create" if before is None else "update",
           object_type="deadline_rule", object_id=f"{category}/{severity}", unit_code=principal.county_code,
           before=before, after={"accept_hours": rule.accept_hours, "resolve_days": rule.resolve_days,
                                 "escalate_hours": rule.escalate_hours})
    return rule
