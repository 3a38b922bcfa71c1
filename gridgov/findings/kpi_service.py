"""KPIs of a jurisdiction for a period: the findings the caller sees and their events, read from the
database and handed to the pure computation of ``gridgov.findings.kpis``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridgov.config import get_settings
from gridgov.errors import InvalidParameter, NotFound
from gridgov.findings import kpis
from gridgov.findings.models import Finding, FindingEvent
from gridgov.findings.service import visible
from gridgov.findings.worktime import WorkCalendar
from gridgov.grids.models import unit_tree
from gridgov.patrols.service import compliance
from gridgov.people.principal import Principal

FINDING_COLUMNS = ("id", "domain", "category_code", "micro_grid_code", "grid_code", "village_code", "town_code",
                   "county_code")
EVENT_COLUMNS = ("finding_id", "seq", "at", "action", "from_state", "to_state", "data")


def load(*, session: Session, principal: Principal, domain: str | None = None,
         category_code: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The findings the caller sees (optionally of one domain or category) and all their events."""
    f = Finding.__table__.c
    where = [visible(principal)]
    if domain is not None:
        where.append(f.domain == domain)
    if category_code is not None:
        where.append(f.category_code == category_code)
    rows = session.execute(select(*(f[name] for name in FINDING_COLUMNS)).where(*where)).all()
    findings = pd.DataFrame(rows, columns=list(FINDING_COLUMNS))
    e = FindingEvent.__table__.c
    query = (select(*(e[name] for name in EVENT_COLUMNS))
             .join(Finding.__table__, (f.county_code == e.county_code) & (f.id == e.finding_id))
             .where(*where))
    events = pd.DataFrame(session.execute(query).all(), columns=list(EVENT_COLUMNS))
    events["at"] = pd.to_datetime(events["at"], utc=True)
    for due in ("accept_due", "resolve_due"):
        events[due] = pd.to_datetime([(d or {}).get(due) for d in events["data"]], utc=True, format="ISO8601")
    return findings, events


def kpi_table(*, session: Session, principal: Principal, since: datetime, until: datetime,
              group_by: str | Sequence[str] = "town", domain: str | None = None, category_code: str | None = None,
              now: datetime | None = None, calendar: WorkCalendar | None = None) -> pd.DataFrame:
    """KPIs per group for findings registered in [since, until), in the caller's jurisdiction, with the
    patrol compliance of the group's grids at the end of the period (groupings by area)."""
    if until <= since:
        raise InvalidParameter(f"The period ends ({until.isoformat()}) before it starts ({since.isoformat()}).")
    now = now or datetime.now(UTC)
    calendar = calendar or WorkCalendar.from_settings()
    findings, events = load(session=session, principal=principal, domain=domain, category_code=category_code)
    table = kpis.kpi_rows(findings, events, period=(since, until), now=now,
                          working_seconds=calendar.working_seconds_between, group_by=group_by,
                          small_sample=get_settings().kpi_small_sample)
    return with_patrol_compliance(session=session, principal=principal, table=table, group_by=group_by,
                                  on=min(until - timedelta(microseconds=1), now).date())


AREA_LEVELS = ("county", "town", "village", "grid")


def with_patrol_compliance(*, session: Session, principal: Principal, table: pd.DataFrame,
                           group_by: str | Sequence[str], on) -> pd.DataFrame:
    """Add the share of each group's grids that meet the county's patrol rule on ``on`` (``grids`` and
    ``compliant_grids`` beside it). Only for groupings by area: a domain or category has no grids, and a
    micro-grid is patrolled as part of its grid; there the columns are None."""
    keys = [group_by] if isinstance(group_by, str) else list(group_by)
    table = table.copy()
    if len(keys) != 1 or keys[0] not in AREA_LEVELS or table.empty:
        for column in ("grids", "compliant_grids", "patrol_compliance"):
            table[column] = None
        return table
    try:
        rule, rows = compliance(session=session, principal=principal, on=on)
    except NotFound:  # no patrol rule for grids: nothing to comply with
        rows, rule = [], None
    grids = pd.DataFrame([(code, n >= rule.min_patrols) for code, _last, n in rows], columns=["grid_code", "ok"])
    tree = session.execute(select(unit_tree.c.code, unit_tree.c.parent_code).where(
        unit_tree.c.county_code == principal.county_code)).all()
    parent = dict(tree)
    grids["village_code"] = grids["grid_code"].map(parent)
    grids["town_code"] = grids["village_code"].map(parent)
    grids["county_code"] = principal.county_code
    column = kpis.GROUP_COLUMNS[keys[0]]
    counts = grids.groupby(column)["ok"].agg(["size", "sum"])
    table["grids"] = table[column].map(counts["size"]).fillna(0).astype(int)
    table["compliant_grids"] = table[column].map(counts["sum"]).fillna(0).astype(int)
    table["patrol_compliance"] = [None if n == 0 else ok / n for ok, n in zip(table["compliant_grids"],
                                                                              table["grids"], strict=True)]
    return table
