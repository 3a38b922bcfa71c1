"""The planner view (规划员): the caller's grids with each grid's officer and workload, and those without one.

``/planner`` is the page; ``/planner/grids.json`` its data, keyed by grid code (the shapes come from the
map's grid layer, so they travel once). The page's change-set editor (web/static/planner/changes.js: drafts,
drawn splits and boundary moves, preview, apply, balancing) talks to ``/api/v1/planning`` directly.
"""

from __future__ import annotations

from datetime import date, timedelta

import geopandas as gpd
import pandas as pd
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridgov.api_types import as_utc
from gridgov.config import county_today, get_settings
from gridgov.errors import Forbidden
from gridgov.findings.models import Finding
from gridgov.geo.crs import STORAGE_EPSG
from gridgov.grids.models import Level, Resource, Unit
from gridgov.grids.service import get_county, metric_epsg_of
from gridgov.maps.dashboard import period_bounds
from gridgov.maps.templating import NAVIGATION, landing_page, page_principal, templates
from gridgov.patrols.models import Patrol
from gridgov.people.admin_router import OnQuery
from gridgov.people.assignments import in_force, uncovered_grids
from gridgov.people.auth import PrincipalDep
from gridgov.people.models import OfficerAssignment, Person
from gridgov.people.principal import Principal
from gridgov.planning.workload import WEIGHTS, WINDOW_DAYS, ground_parts, officer_workload, with_index
from gridgov.storage import memo
from gridgov.storage.session import SessionDep

router = APIRouter(include_in_schema=False)

VIEWERS = next(roles for path, _label, roles in NAVIGATION if path == "/planner")
"""Who may open the planner view: the roles the navigation shows its link to, so the two cannot drift."""
DECIMALS = {"area_km2": 3, "river_km": 2, "forest_km2": 3, "farmland_km2": 3, "patrol_km_30d": 1, "index": 2}
"""Rounding of the parts sent to the page (counts are whole numbers); sums are taken before rounding."""

def _may_plan(principal: Principal) -> bool:
    return principal.has(*VIEWERS)


def _scoped(column, principal: Principal, codes: list[str]) -> list:
    """Conditions limiting ``column`` to ``codes`` unless the caller sees the whole county."""
    return [] if principal.jurisdiction.county_wide else [column.in_(codes)]


def _grid_units(session: Session, principal: Principal) -> gpd.GeoDataFrame:
    """The caller's grids (code, name, village, geometry) ordered by code."""
    where = [Unit.county_code == principal.county_code, Unit.level == Level.GRID.value]
    if not principal.jurisdiction.county_wide:
        where.append(Unit.code.in_(sorted(principal.jurisdiction.units)))
    rows = session.execute(select(Unit.code, Unit.name, Unit.parent_code, Unit.geom).where(*where)
                           .order_by(Unit.code)).all()
    return gpd.GeoDataFrame({"code": [r.code for r in rows], "name": [r.name for r in rows],
                             "village": [r.parent_code for r in rows]},
                            geometry=[r.geom for r in rows], crs=STORAGE_EPSG)


def _ground(session: Session, principal: Principal, grids: gpd.GeoDataFrame) -> pd.DataFrame:
    """Area and resources per grid, remembered per jurisdiction: they change only with the map."""
    scope = principal.jurisdiction
    key = ("planner_ground", str(session.get_bind().url), scope.county_code, scope.county_wide,
           None if scope.county_wide else frozenset(scope.units))

    def compute() -> pd.DataFrame:
        villages = sorted(set(grids["village"]))
        rows = session.execute(select(Resource.resource, Resource.geom).where(
            Resource.county_code == principal.county_code,
            *_scoped(Resource.parent_code, principal, villages))).all()
        resources = gpd.GeoDataFrame({"resource": [r.resource for r in rows]},
                                     geometry=[r.geom for r in rows], crs=STORAGE_EPSG)
        return ground_parts(grids, resources, metric_epsg_of(session, principal.county_code))

    return memo.remembered(key, compute)


def _activity(session: Session, principal: Principal, codes: list[str], on: date) -> pd.DataFrame:
    """Open findings at the end of ``on``, and findings registered and kilometres patrolled in the window."""
    start, end = (as_utc(moment) for moment in period_bounds(on - timedelta(days=WINDOW_DAYS - 1), on,
                                                             get_settings().timezone))
    county = [Finding.county_code == principal.county_code, *_scoped(Finding.grid_code, principal, codes)]
    open_now = dict(session.execute(
        select(Finding.grid_code, func.count()).where(
            *county, Finding.received_at < end, (Finding.closed_at.is_(None)) | (Finding.closed_at >= end))
        .group_by(Finding.grid_code)).all())
    recent = dict(session.execute(
        select(Finding.grid_code, func.count()).where(*county, Finding.received_at >= start, Finding.received_at < end)
        .group_by(Finding.grid_code)).all())
    patrolled = dict(session.execute(
        select(Patrol.grid_code, func.coalesce(func.sum(Patrol.length_m), 0.0)).where(
            Patrol.county_code == principal.county_code, *_scoped(Patrol.grid_code, principal, codes),
            Patrol.started_at >= start, Patrol.started_at < end)
        .group_by(Patrol.grid_code)).all())
    frame = pd.DataFrame({"open_findings": pd.Series(open_now, dtype=float),
                          "findings_30d": pd.Series(recent, dtype=float),
                          "patrol_km_30d": pd.Series(patrolled, dtype=float) / 1e3})
    return frame.reindex(codes).fillna(0.0)


def _officers(session: Session, principal: Principal, codes: list[str], on: date) -> dict[str, tuple[str, str]]:
    """Grid code → (officer code, name) of the officers in force on ``on``."""
    rows = session.execute(
        select(OfficerAssignment.grid_code, OfficerAssignment.officer_code, Person.name)
        .join(Person, (Person.county_code == OfficerAssignment.county_code)
              & (Person.code == OfficerAssignment.officer_code))
        .where(OfficerAssignment.county_code == principal.county_code, in_force(OfficerAssignment, on),
               *_scoped(OfficerAssignment.grid_code, principal, codes)))
    return {grid: (officer, name) for grid, officer, name in rows}


def _rounded(row: dict) -> dict:
    return {part: round(float(value), DECIMALS[part]) if part in DECIMALS else int(value)
            for part, value in row.items()}


def planner_grids(*, session: Session, principal: Principal, on: date) -> dict:
    """The caller's grids with their village, town, officer and workload on ``on``, the officers' totals and
    the grids without an officer (the same list as ``GET /api/v1/assignments/uncovered``)."""
    if not _may_plan(principal):
        raise Forbidden("The planner view is for planners, administrators and supervisors.")
    grids = _grid_units(session, principal)
    codes = grids["code"].tolist()
    villages = {row.code: row for row in session.execute(select(Unit.code, Unit.name, Unit.parent_code).where(
        Unit.county_code == principal.county_code, Unit.code.in_(sorted(set(grids["village"])))))}
    town_names = dict(session.execute(select(Unit.code, Unit.name).where(
        Unit.county_code == principal.county_code, Unit.code.in_(sorted({v.parent_code for v in villages.values()})))
    ).all())
    workload = with_index(pd.concat([_ground(session, principal, grids),
                                     _activity(session, principal, codes, on)], axis=1))
    officers = _officers(session, principal, codes, on)
    vacant = uncovered_grids(session=session, principal=principal, on=on)
    by_officer = officer_workload(workload, pd.Series({grid: code for grid, (code, _) in officers.items()},
                                                      dtype=object))
    names = dict(officers.values())
    held: dict[str, list[str]] = {}
    for grid, (officer, _name) in sorted(officers.items()):
        held.setdefault(officer, []).append(grid)
    return {
        "on": on.isoformat(), "window_days": WINDOW_DAYS, "weights": WEIGHTS,
        "grids": {
            row.code: {
                "name": row.name, "village": row.village, "village_name": villages[row.village].name,
                "town": villages[row.village].parent_code, "town_name": town_names[villages[row.village].parent_code],
                "officer": ({"code": officers[row.code][0], "name": officers[row.code][1]}
                            if row.code in officers else None),
                "workload": _rounded(workload.loc[row.code].to_dict()),
            }
            for row in grids.itertuples()
        },
        "vacant": vacant,
        "officers": [
            {"code": code, "name": names[code], "grids": held[code],
             "workload": _rounded(row.drop("grids").to_dict())}
            for code, row in by_officer.iterrows()
        ],
    }


@router.get("/planner", response_class=HTMLResponse)
def planner_page(request: Request, session: SessionDep) -> Response:
    """The planner view: grids, their officers and workloads on a map, vacant grids listed and marked."""
    principal = page_principal(request, session)
    if principal is None:
        return RedirectResponse("/sign-in", status_code=303)
    county = get_county(session=session, county_code=principal.county_code)
    allowed = _may_plan(principal)
    return templates.TemplateResponse(request, "planner.html", {
        "county": county, "principal": principal, "forbidden": not allowed, "home": landing_page(principal),
        "window_days": WINDOW_DAYS, "today": county_today().isoformat(),
    }, status_code=200 if allowed else 403)


@router.get("/planner/grids.json")
def planner_data(session: SessionDep, principal: PrincipalDep, on: OnQuery = None) -> dict:
    """The caller's grids keyed by code: officer, village, town and workload parts; officers' totals; vacant
    grids. Data, not a page: anonymous callers get 401, roles other than planner, admin and supervisor 403."""
    return planner_grids(session=session, principal=principal, on=on or county_today())
