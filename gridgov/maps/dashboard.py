"""The KPI dashboard page (考核看板): the caller's figures for a period as cards, and the areas one level
down as a table to drill into, server-rendered from the same KPI table as ``GET /api/v1/kpis``."""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta
from typing import Annotated, Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from gridgov.api_types import as_utc
from gridgov.config import county_today, get_settings
from gridgov.errors import InvalidParameter, NotFound
from gridgov.findings import kpi_service, kpis
from gridgov.grids.models import Unit
from gridgov.grids.service import get_county
from gridgov.maps.i18n import N_
from gridgov.maps.templating import page_principal, templates
from gridgov.storage.session import SessionDep

router = APIRouter(include_in_schema=False)

CHILD = {"county": "town", "town": "village", "village": "grid", "grid": "micro_grid"}
PARENT = {child: parent for parent, child in CHILD.items()}
LEVEL_NAMES = {"county": N_("County"), "town": N_("Towns"), "village": N_("Villages"), "grid": N_("Grids"),
               "micro_grid": N_("Micro-grids")}
DEFAULT_DAYS = 30
CHARTS = (  # (KPI column, English title, kind): one bar chart each across the areas one level down
    ("completion_rate", N_("Completion rate"), "rate"),
    ("on_time_rate", N_("On-time rate"), "rate"),
    ("resolve_hours_median", N_("Median hours to resolve"), "hours"),
    ("overdue_now", N_("Overdue now"), "count"),
    ("escalations", N_("Escalations"), "count"),
    ("patrol_compliance", N_("Patrol compliance"), "rate"),
)


def period_bounds(since: date, until: date, zone: str) -> tuple[datetime, datetime]:
    """[since 00:00, the day after until 00:00) on the county clock: ``until`` is inclusive on the page."""
    tz = ZoneInfo(zone)
    return (datetime.combine(since, time(), tzinfo=tz),
            datetime.combine(until + timedelta(days=1), time(), tzinfo=tz))


def _native(row: dict) -> dict:
    """The row with NaN read as None, so the page shows "—" and never "nan"."""
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}


def _blank_row() -> dict:
    return {**dict.fromkeys(kpis.KPI_COLUMNS), **dict.fromkeys(kpis.COUNT_COLUMNS, 0),
            **dict.fromkeys(kpis.COMPLIANCE_COLUMNS)}


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(
    request: Request,
    session: SessionDep,
    since: Annotated[date | None, Query(description="First day of the period (YYYY-MM-DD, county clock)")] = None,
    until: Annotated[date | None, Query(description="Last day of the period, inclusive")] = None,
    level: Literal["county", "town", "village", "grid"] = "county",
    unit: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    """KPI cards of the caller's area (or of ``unit``) and a table of the areas one level down."""
    principal = page_principal(request, session)
    if principal is None:
        return RedirectResponse("/sign-in", status_code=303)
    settings = get_settings()
    today = county_today()
    until = until or today
    since = since or until - timedelta(days=DEFAULT_DAYS - 1)
    if since > until:
        raise InvalidParameter(f"The period starts ({since}) after it ends ({until}).")
    start, end = period_bounds(since, until, settings.timezone)
    scope = principal.jurisdiction
    county = get_county(session=session, county_code=scope.county_code)
    if unit == scope.county_code:
        unit, level = None, "county"
    child = CHILD[level]

    levels = [lv for lv in (level, child) if lv != "county"]
    units = {code: (name, parent, lv) for code, name, parent, lv in session.execute(
        select(Unit.code, Unit.name, Unit.parent_code, Unit.level).where(Unit.county_code == scope.county_code,
                                                                         Unit.level.in_(levels)))}
    period = {"session": session, "principal": principal, "since": as_utc(start), "until": as_utc(end)}
    rows = kpi_service.kpi_table(**period, group_by=child).to_dict(orient="records")
    child_column = kpis.GROUP_COLUMNS[child]

    def parent_of(code: str | None) -> str | None:
        return units.get(code, (None, None, None))[1]

    if unit is None:
        totals = kpi_service.kpi_table(**period, group_by="county").to_dict(orient="records")
        title, mine = county.name, not scope.county_wide
    else:
        # A unit the caller answers for, or one that holds some of the findings they see (a village chief
        # drills from the county into their own town, and sees only their own findings there).
        known = units.get(unit, (None, None, None))[2] == level
        if not known or not (scope.sees_unit(unit) or any(parent_of(r[child_column]) == unit for r in rows)):
            raise NotFound(f"No {level} {unit!r} in your area.")
        column = kpis.GROUP_COLUMNS[level]
        totals = [r for r in kpi_service.kpi_table(**period, group_by=level).to_dict(orient="records")
                  if r[column] == unit]
        rows = [r for r in rows if parent_of(r[child_column]) == unit]
        title, mine = f"{units[unit][0]} ({unit})", False
    total = _native(totals[0]) if totals else _blank_row()
    rows = [_native(r) for r in rows]

    for r in rows:
        r["code"] = r[child_column]
        r["name"] = units.get(r["code"], (r["code"],))[0]
    rows.sort(key=lambda r: (r["small"], r["rank"] if r["rank"] is not None else 0, r["code"] or ""))

    def query(**extra) -> str:
        return urlencode({"since": since.isoformat(), "until": until.isoformat(), **extra})

    csv_url = "/api/v1/kpis?" + urlencode({"since": start.isoformat(), "until": end.isoformat(),
                                           "group_by": child, "f": "csv"})
    return templates.TemplateResponse(request, "dashboard.html", {
        "county": county, "principal": principal, "title": title, "mine": mine, "total": total, "rows": rows,
        "charts": CHARTS,
        "since": since, "until": until, "level": level, "unit": unit, "child": child,
        "child_label": LEVEL_NAMES[child], "drillable": child in CHILD, "csv_url": csv_url, "query": query,
        "small_sample": settings.kpi_small_sample,
        "up": None if unit is None else (parent_of(unit), PARENT[level]),
    })
