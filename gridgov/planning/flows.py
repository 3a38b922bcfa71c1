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
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gridgov.errors import Conflict
from gridgov.findings.models import CLOSED_STATES, Finding, FindingEvent
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
    """Move the findings and append each its ``relocate`` event (the state stays)."""
    for move in moves:
        finding = session.get(Finding, (county_code, move["id"]))
        session.add(FindingEvent(
            county_code=county_code, finding_id=finding.id, seq=finding.version + 1, at=now, actor=actor,
            capacity=Capacity.SYSTEM.value, action=Action.RELOCATE.value, from_state=finding.status, to_state=None,
            data={"change_set": change_set_id, "from": {"micro_grid": finding.micro_grid_code,
                                                        "grid": finding.grid_code},
                  "to": {"micro_grid": move["to"], "grid": move["grid"]}}))
        session.execute(update(Finding).where(Finding.county_code == county_code, Finding.id == finding.id)
                        .values(micro_grid_code=move["to"], grid_code=move["grid"], village_code=move["village"],
                                town_code=move["town"], version=finding.version + 1)
                        .execution_options(synchronize_session=False))
    session.flush()


def officers_in_force(*, session: Session, county_code: str, grid_codes, on: date) -> dict[str, str]:
    """Grid → officer on day ``on``."""
    return dict(session.execute(select(OfficerAssignment.grid_code, OfficerAssignment.officer_code).where(
        OfficerAssignment.county_code == county_code, OfficerAssignment.grid_code.in_(sorted(set(grid_codes))),
        in_force(OfficerAssignment, on))).all())


def officer_plan(*, before: PlanMap, after: PlanMap, retired: list[str], created: list[str],
                 officers: Mapping[str, str], reassignments: Mapping[str, str]) -> list[dict]:
    """Who answers for each retired, created or reassigned grid before and after (``officers``: now)."""
    overlap = []
    for new in created:
        shape = after.units["grid"][new].geometry
        for old in retired:
            common = shapely.intersection(shape, before.units["grid"][old].geometry)
            if not common.is_empty:
                overlap.append((float(area_m2([common], after.metric_epsg)[0]), new, old))
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
