"""What follows the ground when a change set applies (随图调整): open findings, grid officers, and the people
told about it.

Open findings whose micro-grid is retired move to the micro-grid now holding their point, with a
``relocate`` event naming both; closed findings keep the unit they were reported in, so past KPIs stay
on the map of their time. A retired grid's officer goes with the largest part of its ground: to the new
grid that overlaps it most (a split's largest piece; a merge keeps the officer of the largest merged grid),
unless the change set reassigns that grid; officers left without a grid are listed in the preview. Officers
whose grids change and the chiefs over the changed villages get a notification through the outbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

import numpy as np
import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridgov.errors import Conflict
from gridgov.findings.models import CLOSED_STATES, Finding, FindingEvent
from gridgov.findings.routing import grid_officers
from gridgov.findings.workflow import Action, Capacity
from gridgov.notifications.outbox import enqueue
from gridgov.people.assignments import in_force
from gridgov.people.models import OfficerAssignment
from gridgov.planning.plan import PlanMap
from gridgov.planning.topology import area_m2


def finding_moves(*, session: Session, county_code: str, retired_micro_grids, after: PlanMap) -> list[dict]:
    """The open findings in retired micro-grids, each with the micro-grid, grid, village and town now
    holding its point."""
    findings = session.execute(select(Finding.id, Finding.micro_grid_code, Finding.lon, Finding.lat).where(
        Finding.county_code == county_code, Finding.micro_grid_code.in_(sorted(retired_micro_grids)),
        Finding.status.not_in(CLOSED_STATES)).order_by(Finding.id)).all()
    if not findings:
        return []
    micro = after.units["micro_grid"]
    codes = np.array(list(micro), dtype=object)
    tree = shapely.STRtree([u.geometry for u in micro.values()])
    points = shapely.points([(f.lon, f.lat) for f in findings])
    which, found = tree.query(points, predicate="intersects")
    holder = dict(zip(which, codes[found]))
    moves = []
    for k, finding in enumerate(findings):
        to = holder.get(k)
        if to is None:  # on no micro-grid: cannot happen on a checked coverage; keep it where it was
            continue
        grid = micro[to].parent
        village = after.units["grid"][grid].parent
        moves.append({"id": finding.id, "from": finding.micro_grid_code, "to": to, "grid": grid, "village": village,
                      "town": after.units["village"][village].parent})
    return moves


def relocate(*, session: Session, county_code: str, moves: list[dict], change_set_id: str, actor: str,
             now: datetime) -> None:
    """Move the findings and append each its ``relocate`` event (the state stays), in one read and one flush."""
    if not moves:
        return
    found = {f.id: f for f in session.scalars(select(Finding).where(
        Finding.county_code == county_code, Finding.id.in_([m["id"] for m in moves])))}
    for move in moves:
        finding = found[move["id"]]
        session.add(FindingEvent(
            county_code=county_code, finding_id=finding.id, seq=finding.version + 1, at=now, actor=actor,
            capacity=Capacity.SYSTEM.value, action=Action.RELOCATE.value, from_state=finding.status, to_state=None,
            data={"change_set": change_set_id, "from": {"micro_grid": finding.micro_grid_code,
                                                        "grid": finding.grid_code},
                  "to": {"micro_grid": move["to"], "grid": move["grid"]}}))
        finding.micro_grid_code, finding.grid_code = move["to"], move["grid"]
        finding.village_code, finding.town_code = move["village"], move["town"]
        finding.version += 1
    session.flush()


def officers_of(*, session: Session, county_code: str, grid_codes, on: date) -> dict[str, str]:
    """Grid → officer on day ``on``, for the given grids (from the county's table the router remembers)."""
    officers = grid_officers(session, county_code, on)
    return {grid: officers[grid] for grid in grid_codes if grid in officers}


def officer_plan(*, before: PlanMap, after: PlanMap, retired: list[str], created: list[str],
                 officers: Mapping[str, str], reassignments: Mapping[str, str]) -> list[dict]:
    """Who answers for each retired, created or reassigned grid before and after (``officers``: now)."""
    new_grids = np.array([after.units["grid"][c].geometry for c in created], dtype=object)
    old_grids = np.array([before.units["grid"][c].geometry for c in retired], dtype=object)
    i, j = shapely.STRtree(old_grids).query(new_grids, predicate="intersects") if len(retired) else ([], [])
    areas = area_m2(shapely.intersection(new_grids[i], old_grids[j]), after.metric_epsg) if len(i) else []
    overlap = [(float(a), created[n], retired[o]) for a, n, o in zip(areas, i, j)]
    placed, taken = {}, set()
    for _, new, old in sorted(overlap, reverse=True):
        if new not in placed and old not in taken and old in officers:
            placed[new] = officers[old]
            taken.add(old)
    rows = [{"grid_code": g, "before": officers.get(g), "after": None} for g in retired]
    rows += [{"grid_code": g, "before": None, "after": reassignments.get(g, placed.get(g))} for g in created]
    rows += [{"grid_code": g, "before": officers.get(g), "after": o} for g, o in reassignments.items()
             if g not in created and g not in retired]
    return rows


def hand_over(*, session: Session, county_code: str, rows: list[dict], effective_on: date) -> None:
    """End the assignments of retired and reassigned grids on ``effective_on`` and start the new ones."""
    ending = [r["grid_code"] for r in rows if r["before"] is not None]
    current = session.scalars(select(OfficerAssignment).where(
        OfficerAssignment.county_code == county_code, OfficerAssignment.grid_code.in_(ending),
        in_force(OfficerAssignment, effective_on)).with_for_update()).all()
    later = session.scalars(select(OfficerAssignment.grid_code).where(
        OfficerAssignment.county_code == county_code,
        OfficerAssignment.grid_code.in_([r["grid_code"] for r in rows]),
        OfficerAssignment.valid_from > effective_on)).all()
    if later:
        raise Conflict(f"Grid {later[0]} has an officer assignment starting after {effective_on}; cancel it first.")
    in_force_of = {row.grid_code: row for row in current}
    for row in rows:
        held = in_force_of.get(row["grid_code"])
        if held is not None and held.valid_from == effective_on and row["after"] is not None:
            held.officer_code = row["after"]  # a handover on the day it started: the same span, another officer
            continue
        if held is not None:
            held.valid_to = effective_on
        if row["after"] is not None:
            session.add(OfficerAssignment(county_code=county_code, grid_code=row["grid_code"],
                                          valid_from=effective_on, officer_code=row["after"], valid_to=None))
    session.flush()


def announce(*, session: Session, county_code: str, change_set_id: str, title: str, effective_on: date,
             officers: list[dict], chiefs: list[dict], retired: list[str], created: list[str], now: datetime) -> int:
    """Tell each officer whose grids change, and each chief over the changed villages, in the outbox of the
    applying transaction (sent only if it commits); returns how many people are told."""
    grids_of: dict[str, dict[str, list[str]]] = {}
    for row in officers:
        if row["before"] != row["after"]:
            if row["before"]:
                grids_of.setdefault(row["before"], {"leaves": [], "takes": []})["leaves"].append(row["grid_code"])
            if row["after"]:
                grids_of.setdefault(row["after"], {"leaves": [], "takes": []})["takes"].append(row["grid_code"])
    common = {"change_set": change_set_id, "title": title, "effective_on": effective_on.isoformat()}
    for officer, grids in sorted(grids_of.items()):
        enqueue(session=session, county_code=county_code, kind="grids_changed", recipient=officer,
                subject_type="change_set", subject_id=change_set_id, payload={**common, **grids}, now=now)
    told_chiefs = sorted({chief["chief_code"] for chief in chiefs} - set(grids_of))
    for chief in told_chiefs:
        enqueue(session=session, county_code=county_code, kind="area_replanned", recipient=chief,
                subject_type="change_set", subject_id=change_set_id,
                payload={**common, "retired": retired, "created": created}, now=now)
    return len(grids_of) + len(told_chiefs)
