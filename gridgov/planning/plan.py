"""The map a draft change set is drawn on (规划底图): every level, the draft's edits applied in order.

Pure, like :mod:`.edits`, which does one level at a time; this module keeps the levels consistent:

- an edit of micro-grids may reshape their grids (a re-parent); an edit of grids re-nests the micro-grids
  of every grid it retired or reshaped (:func:`renest`): a micro-grid now inside another grid gets a new
  code under it, one the new boundary crosses is cut into pieces, each with a new code;
- the vertices an edit computed are inserted into the levels above (village, town, county), so shared
  edges stay exact all the way up and the stored outlines keep their shape to the last coordinate;
- :func:`diff` says, level by level, which codes a draft retires, creates and reshapes: what the history
  layer stores as new versions.

Edits travel as JSON (:func:`edit_from_json`, :func:`edit_to_json`) because a draft is stored as the
planner's list of edits, replayed on the current map whenever it is shown, previewed or applied.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import shapely
from shapely.geometry import mapping, shape

from gridgov.errors import InvalidParameter
from gridgov.geo.crs import DEFAULT_METRIC_EPSG
from gridgov.planning.edits import (
    Coverage,
    Edit,
    EditRefused,
    Merge,
    MoveBoundary,
    Reparent,
    Split,
    Unit,
    UnknownUnit,
    insert_vertices,
    new_codes,
    settle,
)
from gridgov.planning.topology import DEFAULT_RULES, Rules, area_m2, check

LEVELS = ("county", "town", "village", "grid", "micro_grid")
PARENT = {"town": "county", "village": "town", "grid": "village", "micro_grid": "grid"}
EDITED = ("grid", "micro_grid")
"""Levels a planner edits; towns and villages are administrative and only gain vertices."""

COVERAGE_LEVEL = {"grid": "grids", "micro_grid": "micro_grids"}


@dataclass(frozen=True, eq=False)
class PlanMap:
    """Every level's units (code → :class:`~.edits.Unit`) and every code ever issued per edited level."""

    units: Mapping[str, Mapping[str, Unit]]
    used_codes: Mapping[str, frozenset[str]]
    metric_epsg: int = DEFAULT_METRIC_EPSG

    def __post_init__(self) -> None:
        object.__setattr__(self, "units", MappingProxyType({lv: MappingProxyType(dict(self.units.get(lv, {})))
                                                            for lv in LEVELS}))
        object.__setattr__(self, "used_codes", MappingProxyType(
            {lv: frozenset(self.used_codes.get(lv, ())) | frozenset(self.units[lv]) for lv in EDITED}))

    def level_of(self, code: str) -> str | None:
        return next((lv for lv in LEVELS if code in self.units[lv]), None)

    def coverage(self, level: str) -> Coverage:
        parents = {c: u.geometry for c, u in self.units[PARENT[level]].items()}
        return Coverage(COVERAGE_LEVEL[level], self.units[level], parents, self.used_codes[level], self.metric_epsg)

    def with_level(self, level: str, units: Mapping[str, Unit], used: Iterable[str] = ()) -> PlanMap:
        levels = {lv: self.units[lv] for lv in LEVELS} | {level: units}
        used_codes = dict(self.used_codes)
        if level in used_codes:
            used_codes[level] = used_codes[level] | frozenset(used)
        return PlanMap(levels, used_codes, self.metric_epsg)


@dataclass(frozen=True)
class Change:
    """What a draft does to one level: codes retired and created, codes whose stored geometry changes."""

    retired: tuple[str, ...] = ()
    created: tuple[str, ...] = ()
    reshaped: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.retired or self.created or self.reshaped)


@dataclass(frozen=True, eq=False)
class Drafted:
    """A map before and after a draft (or one edit), and the change per level."""

    before: PlanMap
    after: PlanMap
    changes: Mapping[str, Change]

    @classmethod
    def between(cls, before: PlanMap, after: PlanMap) -> Drafted:
        return cls(before, after, diff(before, after))

    def shape_kept(self, level: str, code: str) -> bool:
        """Whether a unit kept its shape: it may have gained a vertex where a neighbour was cut, which moves
        its outline by a rounding error (far under the import's area tolerance), not by ground."""
        old, new = self.before.units[level].get(code), self.after.units[level].get(code)
        if old is None or new is None:
            return False
        if shapely.equals(old.geometry, new.geometry):
            return True
        moved = shapely.symmetric_difference(old.geometry, new.geometry)
        return bool(area_m2([moved], self.after.metric_epsg)[0] <= DEFAULT_RULES.area_tolerance_m2)

    def reshaped(self, level: str) -> list[str]:
        """The codes kept whose shape changes (not those that only gained a vertex on a shared edge)."""
        return [c for c in self.changes[level].reshaped if not self.shape_kept(level, c)]


@dataclass(frozen=True)
class Restore:
    """Put units back as they were (a revert): ``units`` maps level → code → Unit, or None to retire it."""

    units: Mapping[str, Mapping[str, Unit | None]]

    @property
    def subject(self) -> str:
        return next((c for level in EDITED for c in self.units.get(level, {})), "-")


@dataclass(frozen=True)
class Regroup:
    """Redraw a village's grids as the given groups of its micro-grids (a balancing proposal's regrouping).

    Each group becomes one grid: a group that is exactly a grid's micro-grids keeps that grid; any other gets
    a new grid code under the village, and its micro-grids new codes under it. Every micro-grid of the
    village must be in exactly one group, and each group must hang together by shared edges.
    """

    village: str
    groups: tuple[tuple[str, ...], ...]


def subject_of(edit: Edit | Restore | Regroup) -> str:
    """The unit an edit is about, named in its refusals."""
    if isinstance(edit, Regroup):
        return edit.village
    if isinstance(edit, Merge):
        return edit.codes[0] if edit.codes else "-"
    if isinstance(edit, MoveBoundary):
        return edit.a
    if isinstance(edit, Restore):
        return edit.subject
    return edit.code


def apply_edit(plan: PlanMap, edit: Edit | Restore | Regroup, rules: Rules = DEFAULT_RULES) -> PlanMap:
    """The map after one edit, with the levels kept consistent; an :class:`EditRefused` otherwise."""
    if isinstance(edit, Restore):
        return _restore(plan, edit, rules)
    if isinstance(edit, Regroup):
        return _regroup(plan, edit, rules)
    subject = subject_of(edit)
    level = plan.level_of(subject)
    if level not in EDITED:
        if level is None:
            raise UnknownUnit(subject, "no grid or micro-grid on the map has this code")
        raise EditRefused(subject, f"it is a {level}; planners edit grids and micro-grids only")
    outcome = edit.outcome(plan.coverage(level), rules)
    parent = PARENT[level]
    parents = {c: Unit(u.parent, outcome.coverage.parents[c]) for c, u in plan.units[parent].items()}
    after = plan.with_level(level, outcome.coverage.units, outcome.coverage.used_codes).with_level(parent, parents)
    points = [outcome.new_vertices]
    if level == "grid":
        after, vertices = renest(plan, after, subject, rules)
        points.append(vertices)
    return _spread_up(after, shapely.union_all(points), above=PARENT[parent])


def renest(before: PlanMap, after: PlanMap, subject: str, rules: Rules = DEFAULT_RULES):
    """Re-nest the micro-grids of the grids an edit retired or reshaped; returns the map and new vertices.

    A micro-grid wholly inside one of the edited grids keeps its code if that grid kept its code, else
    gets a new code under it; one that the new grid boundaries cut is split into its pieces, each with a
    new code (a piece under the sliver limits refuses the edit, naming ``subject``).
    """
    old, new = before.units["grid"], after.units["grid"]
    moved = [c for c in old if c not in new or not shapely.equals(old[c].geometry, new[c].geometry)]
    targets = np.array([c for c in new if c not in old or c in moved], dtype=object)
    target_geoms = np.array([new[c].geometry for c in targets], dtype=object)
    moved_set = set(moved)
    micro_units = after.units["micro_grid"]
    children = [m for m, u in micro_units.items() if u.parent in moved_set]
    if not children:
        return after, shapely.MultiPoint()
    # The micro-grids of the edited grids leave the coverage and come back re-nested, so that the retired
    # grids are no parents any more and the checks see the new grids whole.
    rest = {m: u for m, u in micro_units.items() if u.parent not in moved_set}
    micro = Coverage(COVERAGE_LEVEL["micro_grid"], rest, {c: u.geometry for c, u in new.items()},
                     after.used_codes["micro_grid"], after.metric_epsg)
    tree = shapely.STRtree(target_geoms)
    used = set(micro.used_codes)
    add = {}
    for code in children:
        unit = micro_units[code]
        hits = tree.query(unit.geometry, predicate="intersects")
        pieces = [(targets[i], part) for i in hits
                  for part in shapely.get_parts(shapely.intersection(unit.geometry, target_geoms[i]))
                  if part.geom_type == "Polygon"]
        areas = area_m2([p for _, p in pieces], after.metric_epsg) if pieces else np.array([])
        kept = [(grid, part) for (grid, part), a in zip(pieces, areas) if a > rules.area_tolerance_m2]
        if len(kept) == 1:
            if kept[0][0] == unit.parent:
                add[code] = unit  # still wholly in its grid, which kept its code
                continue
            kept = [(kept[0][0], unit.geometry)]  # wholly inside another grid: the same shape, exactly
        for grid, part in kept:
            [piece_code] = new_codes(grid, used)
            used.add(piece_code)
            add[piece_code] = Unit(grid, part)
    small = [c for c, u in add.items() if c not in micro_units
             and area_m2([u.geometry], after.metric_epsg)[0] < rules.min_area_m2]
    if small:
        raise EditRefused(subject, f"the new grid boundary would leave micro-grid piece {small[0]} under "
                          f"{rules.min_area_m2:.0f} m²; draw the line along or clear of micro-grid boundaries")
    outcome = settle(micro, rules, subject, add=add)
    grids = {c: Unit(u.parent, outcome.coverage.parents[c]) for c, u in after.units["grid"].items()}
    result = after.with_level("micro_grid", outcome.coverage.units, outcome.coverage.used_codes)
    return result.with_level("grid", grids), outcome.new_vertices


def diff(before: PlanMap, after: PlanMap) -> dict[str, Change]:
    """Per level, what ``after`` retires, creates and reshapes (any change to the stored coordinates)."""
    changes = {}
    for level in LEVELS:
        old, new = before.units[level], after.units[level]
        shared = [c for c in new if c in old]
        same = shapely.equals_exact([old[c].geometry for c in shared], [new[c].geometry for c in shared], 0.0)
        changes[level] = Change(
            retired=tuple(sorted(c for c in old if c not in new)),
            created=tuple(sorted(c for c in new if c not in old)),
            reshaped=tuple(sorted(c for c, eq in zip(shared, same)
                                  if not eq or old[c].parent != new[c].parent)),
        )
    return changes


def _spread_up(plan: PlanMap, points, *, above: str | None) -> PlanMap:
    """Insert ``points`` into the outlines of ``above`` and every level over it that they lie on."""
    level = above
    while level is not None and not shapely.is_empty(points):
        units = plan.units[level]
        codes = list(units)
        geoms = np.array([units[c].geometry for c in codes], dtype=object)
        parts = shapely.get_parts(points)
        near = np.unique(shapely.STRtree(geoms).query(parts, predicate="dwithin", distance=1e-8)[1]) \
            if len(geoms) else []
        if len(near):
            snapped = insert_vertices(geoms[near], points)
            changed = {codes[k]: Unit(units[codes[k]].parent, g) for k, g in zip(near, snapped)}
            plan = plan.with_level(level, {**units, **changed})
        level = PARENT.get(level)
    return plan


def _restore(plan: PlanMap, edit: Restore, rules: Rules) -> PlanMap:
    """Put the given units back and check the edited levels around them."""
    for level in LEVELS:
        wanted = edit.units.get(level, {})
        if not wanted:
            continue
        units = {c: u for c, u in plan.units[level].items() if wanted.get(c, u) is not None}
        units.update({c: u for c, u in wanted.items() if u is not None})
        plan = plan.with_level(level, units, wanted)
    for level in EDITED:
        back = {c: u for c, u in edit.units.get(level, {}).items() if u is not None}
        defects = check(plan.coverage(level), rules, codes=list(back),
                        parent_codes={u.parent for u in back.values()})
        if defects:
            raise EditRefused(edit.subject, "the previous map cannot be restored: " + defects[0].message,
                              details=[d.to_dict() for d in defects])
    return plan


def _regroup(plan: PlanMap, edit: Regroup, rules: Rules) -> PlanMap:
    """New grids as unions of the groups' micro-grids, then the micro-grids re-nested under them."""
    village = edit.village
    if plan.level_of(village) != "village":
        raise UnknownUnit(village, "no village on the map has this code")
    grids = {c: u for c, u in plan.units["grid"].items() if u.parent == village}
    micro = {c: u for c, u in plan.units["micro_grid"].items() if u.parent in grids}
    listed = [c for group in edit.groups for c in group]
    twice = sorted({c for c in listed if listed.count(c) > 1})
    missing, foreign = sorted(set(micro) - set(listed)), sorted(set(listed) - set(micro))
    if twice or missing or foreign or not all(edit.groups):
        what = (f"{twice[0]} is in two groups" if twice else f"{missing[0]} is in no group" if missing
                else f"{foreign[0]} is no micro-grid of it" if foreign else "a group is empty")
        raise EditRefused(village, f"the groups must hold each of its micro-grids once: {what}")
    members = {g: {c for c, u in micro.items() if u.parent == g} for g in grids}
    kept = {g for g, codes in members.items() if set() != codes and any(set(group) == codes for group in edit.groups)}
    fresh = [group for group in edit.groups if not any(set(group) == members[g] for g in kept)]
    for group in fresh:
        pieces = [micro[c].geometry for c in group]
        merged = shapely.union_all(pieces)
        if len(shapely.get_parts(merged)) > 1:
            raise EditRefused(group[0], f"the group {', '.join(group)} does not hang together; a grid is one piece")
    coverage = plan.coverage("grid")
    codes = new_codes(village, coverage.used_codes, len(fresh))
    add = {code: Unit(village, shapely.union_all([micro[c].geometry for c in group]))
           for code, group in zip(codes, fresh)}
    outcome = settle(coverage, rules, village, remove=[g for g in grids if g not in kept], add=add)
    parents = {c: Unit(u.parent, outcome.coverage.parents[c]) for c, u in plan.units["village"].items()}
    after = plan.with_level("grid", outcome.coverage.units, outcome.coverage.used_codes).with_level("village",
                                                                                                    parents)
    after, vertices = renest(plan, after, village, rules)
    return _spread_up(after, shapely.union_all([outcome.new_vertices, vertices]), above="town")


def edit_from_json(data: Mapping) -> Edit | Regroup:
    """The edit a planner posted (``op`` and its fields; lines as GeoJSON in EPSG:4490)."""
    op = data.get("op")
    try:
        if op == "split":
            return Split(str(data["code"]), _line(data["line"]))
        if op == "merge":
            return Merge(tuple(str(c) for c in data["codes"]))
        if op == "move_boundary":
            return MoveBoundary(str(data["a"]), str(data["b"]), _line(data["line"]))
        if op == "reparent":
            return Reparent(str(data["code"]), str(data["new_parent"]))
        if op == "regroup":
            return Regroup(str(data["village"]), tuple(tuple(str(c) for c in group) for group in data["groups"]))
    except KeyError as missing:
        raise InvalidParameter(f"A {op} edit needs the field {missing}.") from None
    raise InvalidParameter(f"Unknown edit {op!r}: use split, merge, move_boundary, reparent or regroup.")


def edit_to_json(edit: Edit | Regroup) -> dict:
    """The JSON stored in the change set for an edit (the inverse of :func:`edit_from_json`)."""
    if isinstance(edit, Regroup):
        return {"op": "regroup", "village": edit.village, "groups": [list(group) for group in edit.groups]}
    if isinstance(edit, Split):
        return {"op": "split", "code": edit.code, "line": mapping(edit.line)}
    if isinstance(edit, Merge):
        return {"op": "merge", "codes": list(edit.codes)}
    if isinstance(edit, MoveBoundary):
        return {"op": "move_boundary", "a": edit.a, "b": edit.b, "line": mapping(edit.line)}
    return {"op": "reparent", "code": edit.code, "new_parent": edit.new_parent}


def _line(geojson) -> shapely.Geometry:
    try:
        line = shape(geojson)
    except (AttributeError, KeyError, TypeError, ValueError, shapely.errors.GEOSException) as error:
        raise InvalidParameter(f"The line is not valid GeoJSON: {error}.") from None
    if line.geom_type != "LineString":
        raise InvalidParameter(f"The line must be a GeoJSON LineString, not a {line.geom_type}.")
    return line
