"""The supervisor map's side panels: one grid (its officer, chiefs, KPIs and open findings) and the people
a finding may be rerouted to.

Everything comes from the services the API uses (assignments, KPI table, routing), so the panel shows
what ``/api/v1/grids/{code}/officer``, ``/api/v1/units/{code}/chiefs`` and ``/api/v1/kpis?group_by=grid``
answer for the same grid and period.
"""

from __future__ import annotations

import math
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from gridgov.errors import NotFound
from gridgov.findings import kpi_service
from gridgov.findings.routing import LADDER, chiefs_in_office, grid_officers
from gridgov.findings.service import get_finding
from gridgov.grids.models import Level, Unit
from gridgov.maps.findings_layer import MapFilters, map_findings
from gridgov.people import assignments
from gridgov.people.models import Person
from gridgov.people.principal import Principal


def _unit(session: Session, principal: Principal, code: str | None) -> Unit | None:
    """The unit if the caller's jurisdiction holds it, else None: an officer sees their grids, not the village
    around them (PostgreSQL's row-level security would hide it anyway; SQLite answers the same)."""
    if code is None or not principal.jurisdiction.sees_unit(code):
        return None
    return session.get(Unit, (principal.county_code, code))


def _native(row: dict) -> dict:
    """NaN (pandas' missing number) as None, so the JSON says null."""
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}


def grid_panel(*, session: Session, principal: Principal, grid_code: str, filters: MapFilters, today: date) -> dict:
    """A grid the caller sees: names, officer and chiefs today, KPIs over the filtered period, open findings."""
    county = principal.county_code
    grid = session.get(Unit, (county, grid_code)) if principal.jurisdiction.sees_unit(grid_code) else None
    if grid is None or grid.level != Level.GRID.value:
        raise NotFound(f"No grid {grid_code} in your jurisdiction.")
    village = _unit(session, principal, grid.parent_code)
    town = _unit(session, principal, village.parent_code if village else None)
    officer = assignments.officer_of_grid(session=session, principal=principal, grid_code=grid_code, on=today)
    chiefs = []
    for unit in (village, town):
        if unit is None:
            continue
        try:
            duties = assignments.chiefs_of_unit(session=session, principal=principal, unit_code=unit.code, on=today)
        except NotFound:  # the unit is seen but its chiefs are not the caller's to list
            continue
        chiefs += [{"domain": d.domain, "level": d.level, "unit_code": d.unit_code, "code": d.chief_code,
                    "name": d.chief_name} for d in duties]
    table = kpi_service.kpi_table(session=session, principal=principal, since=filters.since, until=filters.until,
                                  group_by="grid", domain=filters.domain, category_code=filters.category)
    rows = [_native(r) for r in table.to_dict(orient="records") if r["grid_code"] == grid_code]
    return {
        "code": grid.code, "name": grid.name,
        "village": village and {"code": village.code, "name": village.name},
        "town": town and {"code": town.code, "name": town.name},
        "officer": officer and {"code": officer.officer_code, "name": officer.officer_name},
        "chiefs": chiefs,
        "kpis": rows[0] if rows else None,
        "findings": map_findings(session=session, principal=principal, filters=filters, grid=grid_code,
                                 open_only=True),
    }


def reroute_targets(*, session: Session, principal: Principal, finding_id: str, today: date) -> list[dict]:
    """Who a supervisor may give a finding to: its domain's chiefs over its village, town and county, and
    its grid's officer (the people ``POST /steps`` accepts as ``owner_person``)."""
    finding = get_finding(session=session, principal=principal, finding_id=finding_id)
    chiefs = chiefs_in_office(session, finding.county_code, today)
    units = {"village": finding.village_code, "town": finding.town_code, "county": finding.county_code}
    targets = [{"code": chiefs[(units[level], finding.domain)], "level": level, "post": f"{finding.domain}_chief"}
               for level in LADDER if (units[level], finding.domain) in chiefs]
    officer = grid_officers(session, finding.county_code, today).get(finding.grid_code)
    if officer is not None:
        targets.append({"code": officer, "level": "grid", "post": "grid_officer"})
    names = dict(session.execute(select(Person.code, Person.name).where(
        Person.county_code == finding.county_code, Person.code.in_([t["code"] for t in targets]))).all())
    return [{**t, "name": names.get(t["code"], t["code"]), "current": t["code"] == finding.owner_person}
            for t in targets]
