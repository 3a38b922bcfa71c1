"""Unit history (版本历史): the live map as a :class:`~.plan.PlanMap`, writing a change as versions, as-of reads.

The storage side of planning. ``units`` is the live map, ``unit_codes`` every code ever issued (the target
of every historic foreign key), ``unit_versions`` each code's shapes over ``[valid_from, valid_to)``.
Dates are the county's days: a change set effective on day D ends the old versions at D and starts the
new ones at D, so an as-of query for D already sees the new map.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import shapely
from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from gridgov.errors import Conflict, NotFound
from gridgov.grids.models import County, Unit, UnitCode, UnitVersion
from gridgov.grids.scope import Jurisdiction
from gridgov.grids.service import as_multi, geometry_columns
from gridgov.planning.edits import Unit as PlanUnit
from gridgov.planning.plan import LEVELS, Change, PlanMap


def load_plan(*, session: Session, county_code: str) -> PlanMap:
    """The live map of every level, with every code ever issued at the edited levels."""
    rows = session.execute(select(Unit.level, Unit.code, Unit.parent_code, Unit.geom)
                           .where(Unit.county_code == county_code)).all()
    units: dict[str, dict[str, PlanUnit]] = {level: {} for level in LEVELS}
    for level, code, parent, geom in rows:
        units[level][code] = PlanUnit(parent, as_polygon(geom))
    used: dict[str, set[str]] = {"grid": set(), "micro_grid": set()}
    for level, code in session.execute(select(UnitCode.level, UnitCode.code).where(
            UnitCode.county_code == county_code, UnitCode.level.in_(list(used)))):
        used[level].add(code)
    metric_epsg = session.scalar(select(County.metric_epsg).where(County.county_code == county_code))
    return PlanMap(units, {level: frozenset(codes) for level, codes in used.items()}, metric_epsg)


def current_versions(*, session: Session, county_code: str, codes, for_update: bool = False) -> dict[str, UnitVersion]:
    """The version in force now (``valid_to`` null) of each of ``codes`` that is live."""
    query = select(UnitVersion).where(
        UnitVersion.county_code == county_code, UnitVersion.code.in_(sorted(set(codes))),
        UnitVersion.valid_to.is_(None))
    rows = session.scalars(query.with_for_update() if for_update else query)
    return {row.code: row for row in rows}


def versions(*, session: Session, county_code: str, keys) -> dict[tuple[str, int], UnitVersion]:
    """The versions named by ``(code, version)`` keys."""
    keys = set(keys)
    if not keys:
        return {}
    rows = session.scalars(select(UnitVersion).where(
        UnitVersion.county_code == county_code, UnitVersion.code.in_(sorted({c for c, _ in keys}))))
    return {(row.code, row.version): row for row in rows if (row.code, row.version) in keys}


def last_versions(*, session: Session, county_code: str, codes) -> dict[str, int]:
    """The latest version of each of ``codes`` (for a retired code, the shape it had when it retired)."""
    return dict(session.execute(select(UnitVersion.code, func.max(UnitVersion.version)).where(
        UnitVersion.county_code == county_code, UnitVersion.code.in_(sorted(set(codes))))
        .group_by(UnitVersion.code)).all())


@dataclass(frozen=True)
class Written:
    """Per code, the version a change wrote (``None`` for a retired code)."""

    versions: Mapping[str, int | None]


def write_change(*, session: Session, county_code: str, before: PlanMap, after: PlanMap,
                 changes: Mapping[str, Change], effective_on: date, change_set_id: str) -> Written:
    """Store ``changes`` as of ``effective_on``: retire codes, issue or revive codes, add versions.

    Retired units leave the live map bottom-up and new ones enter top-down, so the parent foreign keys
    hold at every statement. A new unit is named after the retired unit its ground mostly came from, with
    its own sequence number (``东风一组 03``); a planner renames it like any unit.
    """
    touched = [c for ch in changes.values() for c in (*ch.retired, *ch.reshaped)]
    current = current_versions(session=session, county_code=county_code, codes=touched)
    names = _names_of_new(before, after, changes, {code: version.name for code, version in current.items()})
    late = sorted(c for c, v in current.items() if v.valid_from > effective_on)
    if late:
        raise Conflict(f"Unit {late[0]} has a version from {current[late[0]].valid_from}; a change set cannot take "
                       f"effect before it ({effective_on}).", details=[{"code": c} for c in late])
    written: dict[str, int | None] = {}
    for level in reversed(LEVELS):
        retired = list(changes[level].retired)
        if not retired:
            continue
        session.execute(delete(Unit).where(Unit.county_code == county_code, Unit.code.in_(retired)))
        session.execute(update(UnitCode).where(UnitCode.county_code == county_code, UnitCode.code.in_(retired))
                        .values(retired_on=effective_on))
        written.update(dict.fromkeys(retired))
    _end_versions(session, county_code, touched, effective_on)
    last = last_versions(session=session, county_code=county_code,
                         codes=[c for ch in changes.values() for c in (*ch.created, *ch.reshaped)])
    revived = versions(session=session, county_code=county_code,
                       keys=[(c, last[c]) for ch in changes.values() for c in ch.created if c in last])
    names.update({code: row.name for (code, _), row in revived.items()})
    for level in LEVELS:  # top-down: a new unit's parent is on the map before it
        change = changes[level]
        codes = [*change.created, *change.reshaped]
        if not codes:
            continue
        units = [after.units[level][code] for code in codes]
        rows = unit_rows(level, codes, units, after.metric_epsg)
        for row in rows:
            code = row["code"]
            row["county_code"] = county_code
            row["name"] = names.get(code) or (current[code].name if code in current else code)
        created = set(change.created)
        new, kept = [r for r in rows if r["code"] in created], [r for r in rows if r["code"] not in created]
        issued = [r for r in new if r["code"] not in last]
        if issued:
            session.execute(insert(UnitCode), [
                {"county_code": county_code, "code": r["code"], "level": level, "parent_code": r["parent_code"],
                 "issued_on": effective_on, "change_set_id": change_set_id} for r in issued])
        back = [r["code"] for r in new if r["code"] in last]  # a revert restores codes with their ground
        if back:
            session.execute(update(UnitCode).where(UnitCode.county_code == county_code, UnitCode.code.in_(back))
                            .values(retired_on=None))
        if new:
            session.execute(insert(Unit), [r | {"synthetic": False} for r in new])
        if kept:
            session.execute(update(Unit), [{k: v for k, v in r.items() if k not in ("level", "name")} for r in kept])
        session.execute(insert(UnitVersion), [
            r | {"version": last.get(r["code"], 0) + 1, "valid_from": effective_on, "change_set_id": change_set_id}
            for r in rows])
        written.update({r["code"]: last.get(r["code"], 0) + 1 for r in rows})
    return Written(written)


def unit_rows(level: str, codes: list[str], units: list, metric_epsg: int) -> list[dict]:
    """The stored columns of units (code, parent, MultiPolygon, metric area, bounding box), measured together."""
    geo = geometry_columns([u.geometry for u in units], metric_epsg)
    geoms = as_multi(geo["geom"], shapely.MultiPolygon)
    return [{"code": code, "level": level, "parent_code": unit.parent, "geom": geom,
             "area_m2": float(area), "min_x": float(x0), "min_y": float(y0), "max_x": float(x1), "max_y": float(y1)}
            for code, unit, geom, area, x0, y0, x1, y1 in zip(codes, units, geoms, geo["area_m2"], geo["min_x"],
                                                                geo["min_y"], geo["max_x"], geo["max_y"])]


def _names_of_new(before: PlanMap, after: PlanMap, changes: Mapping[str, Change],
                  retired_names: Mapping[str, str]) -> dict[str, str]:
    """Each created unit's name: that of the retired unit of its level holding its inner point, plus the
    last two digits of its code (a revived code gets its old name back, from its last version)."""
    names = {}
    for level, change in changes.items():
        sources = [c for c in change.retired if c in retired_names]
        if not sources or not change.created:
            continue
        points = shapely.point_on_surface([after.units[level][c].geometry for c in change.created])
        which, found = shapely.STRtree([before.units[level][c].geometry for c in sources]).query(
            points, predicate="within")
        for k, j in zip(which, found):
            code = change.created[k]
            names.setdefault(code, f"{retired_names[sources[j]]} {code[-2:]}")
    return names


def _end_versions(session: Session, county_code: str, codes: list[str], effective_on: date) -> None:
    session.execute(update(UnitVersion).where(UnitVersion.county_code == county_code, UnitVersion.code.in_(codes),
                                              UnitVersion.valid_to.is_(None)).values(valid_to=effective_on))


def as_polygon(geometry):
    """Edits work on polygons; a stored one-part MultiPolygon is that polygon."""
    parts = shapely.get_parts(geometry)
    return parts[0] if len(parts) == 1 else geometry


ANCESTOR_DIGITS = (9, 12, 14)
"""Code lengths of a unit's town, village and grid (docs/data-format.md: a child's code starts with its
parent's)."""


def sees_historic(scope: Jurisdiction, code: str) -> bool:
    """Whether a jurisdiction covers a unit that may be retired: the unit itself or one of its ancestors.

    Jurisdictions list live codes; a retired micro-grid is covered by whoever covers its grid or village.
    """
    return scope.sees_unit(code) or any(scope.sees_unit(code[:n]) for n in ANCESTOR_DIGITS if len(code) > n)


def valid_on(model, on: date):
    """SQL condition: the version is in force on day ``on`` (``valid_to`` exclusive)."""
    return (model.valid_from <= on) & or_(model.valid_to.is_(None), model.valid_to > on)


def unit_as_of(*, session: Session, county_code: str, code: str, on: date) -> UnitVersion:
    """The version of unit ``code`` in force on day ``on``, or NotFound saying when the code existed."""
    row = session.scalars(select(UnitVersion).where(UnitVersion.county_code == county_code,
                                                    UnitVersion.code == code, valid_on(UnitVersion, on))).first()
    if row is not None:
        return row
    issued = session.get(UnitCode, (county_code, code))
    if issued is None:
        raise NotFound(f"No unit {code}.")
    until = f" until {issued.retired_on}" if issued.retired_on else ""
    raise NotFound(f"Unit {code} was not on the map on {on}: it was issued on {issued.issued_on}{until}.")


def map_as_of(*, session: Session, county_code: str, level: str, on: date) -> list[UnitVersion]:
    """The versions of one level in force on day ``on``: the map as it was."""
    return list(session.scalars(select(UnitVersion).where(
        UnitVersion.county_code == county_code, UnitVersion.level == level, valid_on(UnitVersion, on))
        .order_by(UnitVersion.code)))


def locate_as_of(*, session: Session, county_code: str, lon: float, lat: float, on: date) -> dict[str, str | None]:
    """The micro-grid, grid, village and town that held a point on day ``on`` (None outside the county).

    The bounding-box columns narrow the versions with an index; shapely decides on the few left.
    """
    point = shapely.Point(lon, lat)
    found: dict[str, str | None] = {}
    for level in ("micro_grid", "grid", "village", "town"):
        rows = session.scalars(select(UnitVersion).where(
            UnitVersion.county_code == county_code, UnitVersion.level == level, valid_on(UnitVersion, on),
            UnitVersion.min_x <= lon, UnitVersion.max_x >= lon, UnitVersion.min_y <= lat, UnitVersion.max_y >= lat))
        found[level] = next((row.code for row in rows if shapely.covers(row.geom, point)), None)
    return found


