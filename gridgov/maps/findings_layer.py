"""What the supervisor map shows of findings: counts per grid (for the colours) and the findings themselves
(for the clustered markers), both under the same filters and scoped to the caller like every finding query.

"Open" is every state but verified and rejected; "overdue" is what ``GET /api/v1/overdue`` lists: open,
neither resolved (waiting on verification) nor suspended (the clock stops), and past its current deadline.
Both are also status filters beside the workflow's states, and "open" is the map's default: the
supervisor's map shows what still needs doing; closed findings are one filter away.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from gridgov.errors import GridGovError, NotFound
from gridgov.findings.models import Finding, FindingCategory
from gridgov.findings.service import visible
from gridgov.findings.steps import OPEN_VALUES, due_expression
from gridgov.findings.workflow import State
from gridgov.grids.models import Level, Unit, unit_tree
from gridgov.maps.classes import classify
from gridgov.patrols.service import compliance
from gridgov.people.principal import Principal

FINDING_COLUMNS = ("id", "lon", "lat", "status", "overdue", "domain", "category")
STATUS_GROUPS = ("open", "overdue")
"""Status filters that stand for several states (see the module's docstring)."""
DEFAULT_STATUS = "open"
MARKER_DECIMALS = 5
"""Marker positions to 1e-5° (about 1 m): finer than a marker's pixel at any zoom the map offers; the
finding's panel and the API give the stored position."""
MAX_FINDINGS = 20_000
"""Markers sent at most; beyond this the answer says it was cut (a county has a few thousand open)."""


class InvalidFilter(GridGovError):
    """422: a filter names a town, category or status the county does not have, or a period that ends
    before it starts."""

    status = 422
    code = "invalid_filter"


@dataclass(frozen=True)
class MapFilters:
    """The map's filters: findings observed in [since, until) (UTC), of a domain, category, status, town."""

    since: datetime
    until: datetime
    domain: str | None = None
    category: str | None = None
    status: str | None = None
    town: str | None = None


def check_filters(*, session: Session, principal: Principal, filters: MapFilters) -> None:
    """422 with a message naming the bad filter; codes are checked against the county, not the caller's
    area (a town outside it simply shows nothing), so the answer reveals nothing the caller may not see."""
    if filters.until <= filters.since:
        raise InvalidFilter(f"The period ends ({filters.until.isoformat()}) before it starts "
                            f"({filters.since.isoformat()}).")
    statuses = [*STATUS_GROUPS, *(s.value for s in State)]
    if filters.status is not None and filters.status not in statuses:
        raise InvalidFilter(f"status must be one of {', '.join(statuses)}, not {filters.status!r}.")
    if filters.category is not None and session.get(FindingCategory, (principal.county_code, filters.category)) \
            is None:
        raise InvalidFilter(f"No finding category {filters.category!r}; GET /api/v1/findings/categories lists them.")
    if filters.town is not None:
        level = session.scalar(select(unit_tree.c.level).where(unit_tree.c.county_code == principal.county_code,
                                                               unit_tree.c.code == filters.town))
        if level != Level.TOWN.value:
            raise InvalidFilter(f"No town {filters.town!r} in the county.")


def overdue_condition(now: datetime):
    """SQL: the finding is late on its current step (the definition of ``GET /api/v1/overdue``)."""
    return and_(Finding.status.in_(OPEN_VALUES), Finding.status.not_in([State.SUSPENDED.value, State.RESOLVED.value]),
                due_expression() < now)


def _where(principal: Principal, filters: MapFilters, now: datetime) -> list:
    where = [visible(principal), Finding.observed_at >= filters.since, Finding.observed_at < filters.until]
    for column, value in ((Finding.domain, filters.domain), (Finding.category_code, filters.category),
                          (Finding.town_code, filters.town)):
        if value is not None:
            where.append(column == value)
    if filters.status == "open":
        where.append(Finding.status.in_(OPEN_VALUES))
    elif filters.status == "overdue":
        where.append(overdue_condition(now))
    elif filters.status is not None:
        where.append(Finding.status == filters.status)
    return where


def visible_grids(*, session: Session, principal: Principal, town: str | None = None) -> list[str]:
    """Codes of the grids the caller sees (of one town if given), in order."""
    where = [Unit.county_code == principal.county_code, Unit.level == Level.GRID.value]
    if not principal.jurisdiction.county_wide:
        where.append(Unit.code.in_(sorted(principal.jurisdiction.units)))
    if town is not None:
        where.append(Unit.parent_code.in_(select(Unit.code).where(Unit.county_code == principal.county_code,
                                                                  Unit.parent_code == town)))
    return list(session.scalars(select(Unit.code).where(*where).order_by(Unit.code)))


def grid_stats(*, session: Session, principal: Principal, filters: MapFilters, today: date,
               now: datetime | None = None) -> dict:
    """Per visible grid: open and overdue findings under the filters, their colour classes, and whether the
    grid meets the county's patrol rule at the end of the period (None: the county has no rule)."""
    now = now or datetime.now(UTC)
    overdue = overdue_condition(now)
    rows = session.execute(
        select(Finding.grid_code, func.count().filter(Finding.status.in_(OPEN_VALUES)),
               func.sum(case((overdue, 1), else_=0)))
        .where(*_where(principal, filters, now)).group_by(Finding.grid_code)).all()
    counts = {grid: (int(open_n or 0), int(late or 0)) for grid, open_n, late in rows}
    codes = visible_grids(session=session, principal=principal, town=filters.town)
    open_counts = [counts.get(code, (0, 0))[0] for code in codes]
    overdue_counts = [counts.get(code, (0, 0))[1] for code in codes]
    open_classes, overdue_classes = classify(open_counts), classify(overdue_counts)
    compliant = _compliance(session, principal, on=min(filters.until.date(), today), town=filters.town)
    grids = {
        code: {"open": o, "overdue": d, "open_class": oc, "overdue_class": dc, "compliant": compliant.get(code)}
        for code, o, d, oc, dc in zip(codes, open_counts, overdue_counts, open_classes.index, overdue_classes.index,
                                      strict=True)
    }
    return {
        "since": filters.since.isoformat(), "until": filters.until.isoformat(), "grids": grids,
        "classes": {"open": {"breaks": open_classes.breaks, "method": open_classes.method},
                    "overdue": {"breaks": overdue_classes.breaks, "method": overdue_classes.method}},
        "totals": {"grids": len(codes), "open": sum(open_counts), "overdue": sum(overdue_counts),
                   "out_of_compliance": sum(1 for code in codes if compliant.get(code) is False)},
    }


def _compliance(session: Session, principal: Principal, *, on: date, town: str | None) -> dict[str, bool]:
    """Grid code → meets the patrol rule on ``on``: the computation behind ``/api/v1/patrols/compliance``
    and the KPIs' patrol compliance."""
    try:
        rule, rows = compliance(session=session, principal=principal, on=on, town_code=town)
    except NotFound:  # the county has no patrol rule for grids: nothing to comply with
        return {}
    return {code: patrols >= rule.min_patrols for code, _last, patrols in rows}


def map_findings(*, session: Session, principal: Principal, filters: MapFilters, grid: str | None = None,
                 open_only: bool = False, now: datetime | None = None) -> dict:
    """The findings under the filters as compact rows (``columns`` names them), newest first."""
    now = now or datetime.now(UTC)
    where = _where(principal, filters, now)
    if grid is not None:
        where.append(Finding.grid_code == grid)
    if open_only:
        where.append(Finding.status.in_(OPEN_VALUES))
    total = session.scalar(select(func.count()).select_from(Finding).where(*where))
    rows = session.execute(
        select(Finding.id, Finding.lon, Finding.lat, Finding.status, overdue_condition(now), Finding.domain,
               Finding.category_code)
        .where(*where).order_by(Finding.observed_at.desc(), Finding.id).limit(MAX_FINDINGS)).all()
    return {
        "count": total, "truncated": total > len(rows), "columns": list(FINDING_COLUMNS),
        "rows": [[r.id, round(r.lon, MARKER_DECIMALS), round(r.lat, MARKER_DECIMALS), r.status, bool(r[4]), r.domain,
                  r.category_code]
                 for r in rows],
    }
