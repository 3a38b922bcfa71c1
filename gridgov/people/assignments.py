"""Who answered for which grid or unit on which day, and handing duty over without gaps or overlaps.

Assignments are never deleted: a handover closes the row in force (``valid_to``, exclusive) and opens
the next, so "who answered for grid X on day D" stays answerable after any number of changes
(追踪问效). A handover is refused unless every grid (or unit and domain) it touches has exactly one
holder on every day from the effective date on.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from gridgov.audit.service import record
from gridgov.errors import Conflict, Forbidden, GridGovError, NotFound
from gridgov.grids.models import Level, Unit
from gridgov.people.models import ChiefAssignment, ChiefDomain, OfficerAssignment, Person, Role
from gridgov.people.principal import Principal

PLANNING_ROLES = (Role.PLANNER, Role.ADMIN)
CHIEF_LEVELS = (Level.COUNTY.value, Level.TOWN.value, Level.VILLAGE.value)


class UnknownCodes(GridGovError):
    """Some codes of a request name no grid, unit or person of the county; ``details`` lists them."""

    status = 422
    code = "unknown_codes"


@dataclass(frozen=True)
class OfficerDuty:
    """One officer answering for one grid over ``[valid_from, valid_to)``."""

    grid_code: str
    officer_code: str
    officer_name: str
    valid_from: date
    valid_to: date | None


@dataclass(frozen=True)
class ChiefDuty:
    """One chief answering for one domain of one unit over ``[valid_from, valid_to)``."""

    unit_code: str
    domain: str
    level: str
    chief_code: str
    chief_name: str
    valid_from: date
    valid_to: date | None


@dataclass
class Handover:
    """What a batch changed: the keys handed over, and those already held by the requested person."""

    effective: date
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def in_force(model, on: date):
    """SQL condition: the assignment row holds on day ``on`` (``valid_to`` exclusive)."""
    return and_(model.valid_from <= on, or_(model.valid_to.is_(None), model.valid_to > on))


def coverage_problem(spans: list[tuple[date, date | None]], since: date) -> str | None:
    """Why ``spans`` do not give exactly one holder on every day from ``since`` on, or None.

    Spans are ``(valid_from, valid_to)`` with ``valid_to`` exclusive and None for open-ended.

    >>> coverage_problem([(date(2026, 1, 1), date(2026, 3, 1)), (date(2026, 3, 1), None)], date(2026, 2, 1))
    >>> coverage_problem([(date(2026, 1, 1), None), (date(2026, 6, 1), None)], date(2026, 3, 1))
    'two holders on 2026-06-01'
    """
    live = sorted((f, t) for f, t in spans if (t is None or t > since) and (t is None or f < t))
    cursor = since
    for valid_from, valid_to in live:
        start = max(valid_from, since)
        if start > cursor:
            return f"no holder from {cursor} to {start}"
        if start < cursor:
            return f"two holders on {start}"
        cursor = date.max if valid_to is None else valid_to
    if cursor != date.max:
        return f"no holder from {cursor} on"
    return None


def _unseen(principal: Principal, codes) -> list[str]:
    return sorted({code for code in codes if not principal.jurisdiction.sees_unit(code)})


def _visible_unit(*, session: Session, principal: Principal, code: str, levels: tuple[str, ...], noun: str) -> str:
    """The level of unit ``code`` when the principal sees it and it has one of ``levels``, else NotFound."""
    level = None
    if principal.jurisdiction.sees_unit(code):
        level = session.scalar(
            select(Unit.level).where(Unit.county_code == principal.county_code, Unit.code == code)
        )
    if level not in levels:
        raise NotFound(f"No {noun} {code} in your jurisdiction.")
    return level


def _require_planner(principal: Principal) -> None:
    if not principal.has(*PLANNING_ROLES):
        raise Forbidden("Only a planner or an administrator may change assignments.")


def officer_of_grid(*, session: Session, principal: Principal, grid_code: str, on: date) -> OfficerDuty | None:
    """The officer who answered for a grid on day ``on`` (None when nobody did)."""
    _visible_unit(session=session, principal=principal, code=grid_code, levels=(Level.GRID.value,), noun="grid")
    duties = _officer_duties(session=session, county_code=principal.county_code, on=on,
                             where=OfficerAssignment.grid_code == grid_code)
    return duties[0] if duties else None


def grids_of_officer(*, session: Session, principal: Principal, officer_code: str, on: date) -> list[OfficerDuty]:
    """The grids an officer answered for on day ``on``, limited to the principal's jurisdiction."""
    county_code = principal.county_code
    exists = session.get(Person, (county_code, officer_code)) is not None
    if exists and not principal.jurisdiction.county_wide and officer_code != principal.person_code:
        ever = session.scalars(
            select(OfficerAssignment.grid_code).where(
                OfficerAssignment.county_code == county_code, OfficerAssignment.officer_code == officer_code
            )
        ).all()
        exists = any(principal.jurisdiction.sees_unit(code) for code in ever)
    if not exists:
        raise NotFound(f"No officer {officer_code} in your jurisdiction.")
    duties = _officer_duties(session=session, county_code=county_code, on=on,
                             where=OfficerAssignment.officer_code == officer_code)
    return [duty for duty in duties if principal.jurisdiction.sees_unit(duty.grid_code)]


def chiefs_of_unit(
    *, session: Session, principal: Principal, unit_code: str, on: date, domain: ChiefDomain | None = None
) -> list[ChiefDuty]:
    """The chiefs (河长/林长/田长) who answered for a county, town or village on day ``on``."""
    _visible_unit(session=session, principal=principal, code=unit_code, levels=CHIEF_LEVELS, noun="unit")
    query = (
        select(ChiefAssignment, Person.name)
        .join(Person, (Person.county_code == ChiefAssignment.county_code)
              & (Person.code == ChiefAssignment.chief_code))
        .where(ChiefAssignment.county_code == principal.county_code, ChiefAssignment.unit_code == unit_code,
               in_force(ChiefAssignment, on))
        .order_by(ChiefAssignment.domain)
    )
    if domain is not None:
        query = query.where(ChiefAssignment.domain == domain.value)
    return [
        ChiefDuty(unit_code=row.unit_code, domain=row.domain, level=row.level, chief_code=row.chief_code,
                  chief_name=name, valid_from=row.valid_from, valid_to=row.valid_to)
        for row, name in session.execute(query)
    ]


def uncovered_grids(*, session: Session, principal: Principal, on: date) -> list[str]:
    """Codes of the grids in the principal's jurisdiction that had no officer on day ``on``."""
    covered = (
        select(OfficerAssignment.grid_code)
        .where(OfficerAssignment.county_code == principal.county_code, in_force(OfficerAssignment, on))
    )
    codes = session.scalars(
        select(Unit.code)
        .where(Unit.county_code == principal.county_code, Unit.level == Level.GRID.value,
               Unit.code.not_in(covered))
        .order_by(Unit.code)
    )
    return [code for code in codes if principal.jurisdiction.sees_unit(code)]


def _officer_duties(*, session: Session, county_code: str, on: date, where) -> list[OfficerDuty]:
    rows = session.execute(
        select(OfficerAssignment, Person.name)
        .join(Person, (Person.county_code == OfficerAssignment.county_code)
              & (Person.code == OfficerAssignment.officer_code))
        .where(OfficerAssignment.county_code == county_code, where, in_force(OfficerAssignment, on))
        .order_by(OfficerAssignment.grid_code)
    )
    return [
        OfficerDuty(grid_code=row.grid_code, officer_code=row.officer_code, officer_name=name,
                    valid_from=row.valid_from, valid_to=row.valid_to)
        for row, name in rows
    ]


def _check_codes(
    *, session: Session, principal: Principal, unit_codes: list[str], levels: tuple[str, ...], noun: str,
    person_codes: list[str], person_noun: str,
) -> dict[str, str]:
    """Level of each unit; 404 for units outside the jurisdiction, 422 for unknown units or people."""
    hidden = _unseen(principal, unit_codes)
    if hidden:
        raise NotFound(f"No {noun} {', '.join(hidden)} in your jurisdiction.",
                       details=[{"kind": noun, "code": code} for code in hidden])
    county_code = principal.county_code
    # FOR UPDATE on PostgreSQL: two handovers of the same unit wait for each other.
    levels_of = dict(session.execute(
        select(Unit.code, Unit.level).where(Unit.county_code == county_code, Unit.code.in_(sorted(set(unit_codes))))
        .with_for_update()
    ).all())
    people = set(session.scalars(
        select(Person.code).where(Person.county_code == county_code, Person.code.in_(sorted(set(person_codes))))
    ))
    unknown = [{"kind": noun, "code": code} for code in sorted(set(unit_codes)) if levels_of.get(code) not in levels]
    unknown += [{"kind": person_noun, "code": code} for code in sorted(set(person_codes) - people)]
    if unknown:
        names = ", ".join(f"{item['kind']} {item['code']}" for item in unknown)
        raise UnknownCodes(f"Unknown codes: {names}.", details=unknown)
    return levels_of


def _refuse_duplicates(keys: list[str], noun: str) -> None:
    seen, twice = set(), set()
    for key in keys:
        (twice if key in seen else seen).add(key)
    if twice:
        raise Conflict(
            f"The batch hands over {noun} {', '.join(sorted(twice))} more than once; one change per {noun}.",
            details=[{"code": key, "message": "listed more than once"} for key in sorted(twice)],
        )


def _plan(rows: list, holder: str, new_holder: str, effective: date) -> tuple[object | None, str | None, bool]:
    """The row to close, the coverage problem the handover would leave (or None), and whether it is a no-op."""
    current = [row for row in rows
               if row.valid_from <= effective and (row.valid_to is None or effective < row.valid_to)]
    spans = [(row.valid_from, row.valid_to) for row in rows]
    if (len(current) == 1 and getattr(current[0], holder) == new_holder and current[0].valid_to is None
            and coverage_problem(spans, effective) is None):
        return current[0], None, True
    closing = current[0] if len(current) == 1 else None
    planned = [(row.valid_from, row.valid_to) for row in rows if row is not closing]
    if closing is not None and closing.valid_from < effective:
        planned.append((closing.valid_from, effective))
    planned.append((effective, None))
    return closing, coverage_problem(planned, effective), False


def _refuse_problems(problems: dict[str, str], noun: str, effective: date) -> None:
    if problems:
        listed = "; ".join(f"{key}: {problem}" for key, problem in sorted(problems.items()))
        raise Conflict(
            f"Nothing was changed: from {effective} on, each {noun} needs exactly one holder ({listed}). "
            "Cancel or move the conflicting change first.",
            details=[{"code": key, "message": problem} for key, problem in sorted(problems.items())],
        )


def _officer_state(row: OfficerAssignment) -> dict:
    return {"grid_code": row.grid_code, "officer_code": row.officer_code,
            "valid_from": row.valid_from.isoformat(), "valid_to": row.valid_to and row.valid_to.isoformat()}


def _chief_state(row: ChiefAssignment) -> dict:
    return {"unit_code": row.unit_code, "domain": row.domain, "level": row.level, "chief_code": row.chief_code,
            "valid_from": row.valid_from.isoformat(), "valid_to": row.valid_to and row.valid_to.isoformat()}


def reassign_grids(
    *, session: Session, principal: Principal, changes: list[tuple[str, str]], effective: date
) -> Handover:
    """Hand grids to new officers from ``effective`` on, all or nothing (网格员调整)."""
    _require_planner(principal)
    grid_codes = [grid for grid, _ in changes]
    _check_codes(session=session, principal=principal, unit_codes=grid_codes, levels=(Level.GRID.value,),
                 noun="grid", person_codes=[officer for _, officer in changes], person_noun="officer")
    _refuse_duplicates(grid_codes, "grid")
    rows_of: dict[str, list[OfficerAssignment]] = defaultdict(list)
    for row in session.scalars(
        select(OfficerAssignment).where(OfficerAssignment.county_code == principal.county_code,
                                        OfficerAssignment.grid_code.in_(grid_codes)).with_for_update()
    ):
        rows_of[row.grid_code].append(row)
    plans, problems = {}, {}
    for grid, officer in changes:
        closing, problem, noop = _plan(rows_of[grid], "officer_code", officer, effective)
        if problem:
            problems[grid] = problem.replace("holder", "officer")
        plans[grid] = (closing, noop)
    _refuse_problems(problems, "grid", effective)
    result = Handover(effective=effective)
    for grid, officer in changes:
        closing, noop = plans[grid]
        if noop:
            result.unchanged.append(grid)
            continue
        result.changed.append(grid)
        _hand_over(session=session, principal=principal, closing=closing, effective=effective,
                   new_row=OfficerAssignment(county_code=principal.county_code, grid_code=grid,
                                             valid_from=effective, officer_code=officer, valid_to=None),
                   holder="officer_code", state=_officer_state, object_type="officer_assignment",
                   object_id=grid, unit_code=grid)
    session.flush()
    return result


def assign_chiefs(
    *, session: Session, principal: Principal, changes: list[tuple[str, ChiefDomain, str]], effective: date
) -> Handover:
    """Hand (unit, domain) pairs to new chiefs from ``effective`` on, all or nothing; one chief each at a time."""
    _require_planner(principal)
    unit_codes = [unit for unit, _, _ in changes]
    levels_of = _check_codes(session=session, principal=principal, unit_codes=unit_codes, levels=CHIEF_LEVELS,
                             noun="unit", person_codes=[chief for _, _, chief in changes], person_noun="chief")
    keys = [f"{unit}/{ChiefDomain(domain).value}" for unit, domain, _ in changes]
    _refuse_duplicates(keys, "unit and domain")
    rows_of: dict[str, list[ChiefAssignment]] = defaultdict(list)
    for row in session.scalars(
        select(ChiefAssignment).where(ChiefAssignment.county_code == principal.county_code,
                                      ChiefAssignment.unit_code.in_(unit_codes)).with_for_update()
    ):
        rows_of[f"{row.unit_code}/{row.domain}"].append(row)
    plans, problems = {}, {}
    for key, (_, _, chief) in zip(keys, changes):
        closing, problem, noop = _plan(rows_of[key], "chief_code", chief, effective)
        if problem:
            problems[key] = problem.replace("holder", "chief")
        plans[key] = (closing, noop)
    _refuse_problems(problems, "unit and domain", effective)
    result = Handover(effective=effective)
    for key, (unit, domain, chief) in zip(keys, changes):
        closing, noop = plans[key]
        if noop:
            result.unchanged.append(key)
            continue
        result.changed.append(key)
        new_row = ChiefAssignment(county_code=principal.county_code, unit_code=unit,
                                  domain=ChiefDomain(domain).value, valid_from=effective, chief_code=chief,
                                  level=levels_of[unit], valid_to=None)
        _hand_over(session=session, principal=principal, closing=closing, effective=effective, new_row=new_row,
                   holder="chief_code", state=_chief_state, object_type="chief_assignment", object_id=key,
                   unit_code=unit)
    session.flush()
    return result


def assign_chief(
    *, session: Session, principal: Principal, unit_code: str, domain: ChiefDomain, chief_code: str,
    effective: date,
) -> Handover:
    """Hand one domain of one unit to a new chief from ``effective`` on."""
    return assign_chiefs(session=session, principal=principal, changes=[(unit_code, domain, chief_code)],
                         effective=effective)


def _hand_over(
    *, session: Session, principal: Principal, closing, effective: date, new_row, holder: str, state,
    object_type: str, object_id: str, unit_code: str,
) -> None:
    """Close ``closing`` on ``effective`` and open ``new_row``; a row starting that very day is re-pointed."""
    audit = {"session": session, "principal": principal, "object_type": object_type, "object_id": object_id,
             "unit_code": unit_code}
    if closing is not None and closing.valid_from == effective:
        before = state(closing)
        setattr(closing, holder, getattr(new_row, holder))
        record(action="replace", before=before, after=state(closing), **audit)
        return
    if closing is not None:
        before = state(closing)
        closing.valid_to = effective
        record(action="close", before=before, after=state(closing), **audit)
    session.add(new_row)
    record(action="open", before=None, after=state(new_row), **audit)
