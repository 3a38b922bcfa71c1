"""A balancing proposal as a draft change set (均衡方案): the planner edits, accepts or rejects it like any draft.

The proposal (:func:`gridgov.planning.balance.propose_balance`) is computed on the live map of the planner's
area: its micro-grids, the officers in force today, the rivers, forests and farmland, and the findings of the
last year per micro-grid (scaled to the month the hours measure counts). It becomes, in order, the splits
it proposes and one regroup per village whose grids it redraws, plus a reassignment for every grid whose
officer changes. Its spread before and after is kept with the draft.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import wkt
from shapely.geometry import mapping
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridgov.config import county_today
from gridgov.errors import Conflict
from gridgov.findings.models import Finding
from gridgov.geo.crs import to_metric
from gridgov.grids.models import Resource
from gridgov.people.principal import Principal
from gridgov.planning import flows, history, service
from gridgov.planning.balance import propose_balance
from gridgov.planning.hours import WINDOW_DAYS
from gridgov.planning.models import ChangeSet
from gridgov.planning.plan import Regroup, edit_to_json
from gridgov.planning.topology import area_m2
from gridgov.planning.workload import ground_parts

FINDINGS_YEAR_DAYS = 365


def propose(*, session: Session, principal: Principal, scope_code: str | None = None) -> ChangeSet:
    """A draft change set balancing the officers' workload in the area (the planner's jurisdiction by default)."""
    service.require_planner(principal, "propose a balancing")
    scope = service.scope_of(principal, scope_code)
    county_code = principal.county_code
    plan = history.load_plan(session=session, county_code=county_code)
    villages = sorted(v for v in plan.units["village"] if v.startswith(scope))
    micro = _micro_grids(plan, villages)
    today = county_today()
    held = flows.officers_of(session=session, county_code=county_code,
                                   grid_codes=micro["grid_code"].unique(), on=today)
    if not held:
        raise Conflict(f"No officer holds a grid in {scope}; there is nothing to balance.")
    officers = _with_home_village(pd.DataFrame({"code": list(held.values()), "grid_code": list(held)}), micro,
                                  plan.metric_epsg)
    resources = _resources(session, county_code, villages)
    parts = ground_parts(micro, resources, plan.metric_epsg)
    parts["findings_30d"] = _findings_per_month(session, county_code, micro["code"])
    proposal = propose_balance(micro, officers, resources=resources, parts=parts,
                               used_codes=plan.used_codes["micro_grid"], metric_epsg=plan.metric_epsg)
    edits = [{"op": "split", "code": row.code, "line": mapping(wkt.loads(row.line))}
             for row in proposal.splits.itertuples()]
    for village, grids in proposal.grids.groupby("village", sort=True):
        if grids["keeps"].notna().all() and len(grids) == sum(u.parent == village for u in plan.units["grid"].values()):
            continue  # the village keeps its grids; only officers may move
        edits.append(edit_to_json(Regroup(village, tuple(tuple(g) for g in grids["micro_grids"]))))
    change_set = service.create(session=session, principal=principal, title=f"Balancing proposal {scope}",
                                scope_code=scope)
    after = service.record_edits(session=session, principal=principal, change_set=change_set, edits=edits)
    change_set.reassignments = _reassignments(proposal.grids, after, held)
    change_set.result = {"proposal": {
        "before_max_mean": round(proposal.spread_before.max_mean, 4), "after_max_mean": round(
            proposal.spread_after.max_mean, 4), "before_cv": round(proposal.spread_before.cv, 4),
        "after_cv": round(proposal.spread_after.cv, 4), "bound_max_mean": round(proposal.bound_max_mean, 4),
        "contiguous": proposal.contiguous, "splits": len(proposal.splits), "officers": len(proposal.after),
        "moved_village": len(proposal.moved)}}
    return change_set


def _micro_grids(plan, villages: list[str]) -> gpd.GeoDataFrame:
    grid_village = {g: u.parent for g, u in plan.units["grid"].items()}
    wanted = set(villages)
    rows = [(code, u.parent, grid_village[u.parent], u.geometry) for code, u in sorted(plan.units["micro_grid"].items())
            if grid_village[u.parent] in wanted]
    return gpd.GeoDataFrame(pd.DataFrame(rows, columns=["code", "grid_code", "village_code", "geometry"]),
                            geometry="geometry", crs=4490)


def _with_home_village(officers: pd.DataFrame, micro: gpd.GeoDataFrame, metric_epsg: int) -> pd.DataFrame:
    """Officers with a ``home_village``: GridGov stores no home address, so the village of the largest ground
    an officer holds stands in for it (travel is counted from there)."""
    area = pd.Series(shapely.area(to_metric(np.asarray(micro.geometry.values), metric_epsg)), index=micro.index)
    ground = pd.DataFrame({"grid_code": micro["grid_code"], "village": micro["village_code"], "area": area})
    by_grid = ground.groupby("grid_code").agg(village=("village", "first"), area=("area", "sum"))
    held = officers.join(by_grid, on="grid_code")
    home = held.sort_values(["area", "grid_code"], ascending=[False, True]).drop_duplicates("code")
    return officers.assign(home_village=officers["code"].map(home.set_index("code")["village"]))


def _resources(session: Session, county_code: str, villages: list[str]) -> gpd.GeoDataFrame:
    rows = session.execute(select(Resource.resource, Resource.geom).where(
        Resource.county_code == county_code, Resource.parent_code.in_(villages))).all()
    return gpd.GeoDataFrame({"resource": [r for r, _ in rows]}, geometry=[g for _, g in rows], crs=4490)


def _findings_per_month(session: Session, county_code: str, codes: pd.Series) -> np.ndarray:
    """Findings reported in each micro-grid over the last year, per month (the hours measure's window)."""
    since = datetime.now(UTC) - timedelta(days=FINDINGS_YEAR_DAYS)
    counts = dict(session.execute(select(Finding.micro_grid_code, func.count()).where(
        Finding.county_code == county_code, Finding.observed_at >= since).group_by(Finding.micro_grid_code)).all())
    return codes.map(counts).fillna(0).to_numpy(dtype=float) * WINDOW_DAYS / FINDINGS_YEAR_DAYS


def _reassignments(grids: gpd.GeoDataFrame, after, held: dict[str, str]) -> list[dict]:
    """Officer of each proposed grid, by the code it has on the draft's map (the grid there overlapping it
    most), where it changes."""
    codes = np.array(list(after.units["grid"]), dtype=object)
    geoms = np.array([u.geometry for u in after.units["grid"].values()], dtype=object)
    proposed = np.asarray(grids.geometry.values)
    which, found = shapely.STRtree(geoms).query(proposed, predicate="intersects")
    overlap = area_m2(shapely.intersection(proposed[which], geoms[found]), after.metric_epsg)
    best = pd.DataFrame({"n": which, "code": codes[found], "overlap": overlap}).sort_values(
        ["n", "overlap"], ascending=[True, False]).drop_duplicates("n").set_index("n")["code"]
    changes = [{"grid_code": best[n], "officer_code": officer} for n, officer in enumerate(grids["officer"])
               if held.get(best[n]) != officer]
    return sorted(changes, key=lambda r: r["grid_code"])
