"""What a draft change set would move (变更影响): the preview's tables, also what applying acts on.

- the units before and after, as GeoJSON (the touched grids and micro-grids only);
- open findings that move to another micro-grid;
- who answers for each retired, created or reassigned grid before and after;
- the chiefs over the villages whose grids change (their areas keep their outline: planners' edits stay
  inside villages; the list says who should hear about it);
- the patrols of the last 30 days in retired grids (their history stays on the old codes);
- the workload per grid before and after, in hours per month from the ground and the patrol rule
  (:mod:`gridgov.planning.hours`). Findings are left out here: they follow the ground and are listed above.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import geopandas as gpd
import numpy as np
from shapely.geometry import mapping
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridgov.grids.models import Resource
from gridgov.patrols.models import Patrol
from gridgov.people.assignments import in_force
from gridgov.people.models import ChiefAssignment
from gridgov.planning import flows, history
from gridgov.planning.hours import DEFAULT_RATES
from gridgov.planning.models import ChangeSet
from gridgov.planning.plan import EDITED, Drafted, PlanMap
from gridgov.planning.workload import ground_parts

PATROL_DAYS = 30


def consequences(*, session: Session, change_set: ChangeSet, step: Drafted) -> dict:
    """The preview of ``change_set`` replayed as ``step``."""
    county_code = change_set.county_code
    grids, micro = step.changes["grid"], step.changes["micro_grid"]
    reshaped = {level: step.reshaped(level) for level in EDITED}
    reassigned = {r["grid_code"]: r["officer_code"] for r in change_set.reassignments}
    officers = flows.officers_of(session=session, county_code=county_code,
                                       grid_codes=[*grids.retired, *reassigned], on=change_set.effective_on)
    before_grids = [*grids.retired, *reshaped["grid"]]
    after_grids = [*grids.created, *reshaped["grid"]]
    villages = sorted({step.before.units["grid"][g].parent for g in before_grids}
                      | {step.after.units["grid"][g].parent for g in after_grids}
                      | {step.before.units["grid"][step.before.units["micro_grid"][m].parent].parent
                         for m in (*micro.retired, *reshaped["micro_grid"])})
    return {
        "before": _features(step.before, {lv: [*step.changes[lv].retired, *reshaped[lv]] for lv in EDITED}),
        "after": _features(step.after, {lv: [*step.changes[lv].created, *reshaped[lv]] for lv in EDITED},
                           created={*grids.created, *micro.created}),
        "retired": [*grids.retired, *micro.retired], "created": [*grids.created, *micro.created],
        "reshaped": [*reshaped["grid"], *reshaped["micro_grid"]],
        "findings": flows.finding_moves(session=session, county_code=county_code,
                                        retired_micro_grids=micro.retired, after=step.after),
        "officers": flows.officer_plan(before=step.before, after=step.after, retired=list(grids.retired),
                                       created=list(grids.created), officers=officers, reassignments=reassigned),
        "chiefs": _chiefs(session, county_code, step.before, villages, change_set.effective_on),
        "patrols": _patrols(session, county_code, list(grids.retired)),
        "workload": _workload(session, county_code, step, before_grids, after_grids, villages),
    }


def _features(plan: PlanMap, codes: dict, created=frozenset()) -> dict:
    features = []
    for level, listed in codes.items():
        units = [plan.units[level][code] for code in listed]
        for row, unit in zip(history.unit_rows(level, listed, units, plan.metric_epsg), units):
            features.append({"type": "Feature", "id": row["code"], "geometry": mapping(unit.geometry), "properties": {
                "code": row["code"], "level": level, "parent_code": unit.parent, "area_m2": round(row["area_m2"], 1),
                "status": "new" if row["code"] in created else "reshaped"}})
    return {"type": "FeatureCollection", "features": features}


def _chiefs(session: Session, county_code: str, plan: PlanMap, villages: list[str], on) -> list[dict]:
    """The chiefs in office over the villages whose grids change: the village's, its town's, the county's."""
    over = {v for v in villages} | {plan.units["village"][v].parent for v in villages} | {county_code}
    rows = session.scalars(select(ChiefAssignment).where(
        ChiefAssignment.county_code == county_code, ChiefAssignment.unit_code.in_(sorted(over)),
        in_force(ChiefAssignment, on)).order_by(ChiefAssignment.unit_code, ChiefAssignment.domain))
    return [{"unit_code": r.unit_code, "level": r.level, "domain": r.domain, "chief_code": r.chief_code}
            for r in rows]


def _patrols(session: Session, county_code: str, grid_codes: list[str]) -> list[dict]:
    since = datetime.now(UTC) - timedelta(days=PATROL_DAYS)
    counts = {g: (n, km) for g, n, km in session.execute(
        select(Patrol.grid_code, func.count(), func.coalesce(func.sum(Patrol.length_m), 0.0) / 1000).where(
            Patrol.county_code == county_code, Patrol.grid_code.in_(grid_codes), Patrol.started_at >= since)
        .group_by(Patrol.grid_code))}
    return [{"grid_code": g, f"patrols_{PATROL_DAYS}d": counts.get(g, (0, 0.0))[0],
             f"km_{PATROL_DAYS}d": round(float(counts.get(g, (0, 0.0))[1]), 2)} for g in grid_codes]


def _workload(session: Session, county_code: str, step: Drafted, before: list[str], after: list[str],
              villages: list[str]) -> list[dict]:
    rows = session.execute(select(Resource.resource, Resource.geom).where(
        Resource.county_code == county_code, Resource.parent_code.in_(villages))).all()
    resources = gpd.GeoDataFrame({"resource": [r for r, _ in rows]}, geometry=[g for _, g in rows], crs=4490)
    hours = {}
    for side, plan, codes in (("before", step.before, before), ("after", step.after, after)):
        frame = gpd.GeoDataFrame({"code": codes}, geometry=[plan.units["grid"][c].geometry for c in codes],
                                 crs=4490)
        parts = ground_parts(frame, resources, plan.metric_epsg)
        hours[side] = dict(zip(codes, np.round(DEFAULT_RATES.atom_hours(parts) + DEFAULT_RATES.grid_hours, 2)))
    return [{"grid_code": code, "before_hours": hours["before"].get(code), "after_hours": hours["after"].get(code)}
            for code in dict.fromkeys([*before, *after])]
