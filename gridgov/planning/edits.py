"""Planning edits (规划编辑) of one level of units: split, merge, move a boundary, re-parent.

Pure: a :class:`Coverage` (the grids or the micro-grids being edited, with their parents' polygons)
goes in, a new ``Coverage`` comes out, or an :class:`EditRefused` saying which unit and what is wrong,
ready to be answered as a 4xx. No session, no web; the change-set and history layers build on this.

Decisions
---------
Codes are retired, never recycled.
    A split retires the unit's code and gives every piece a new one; a merge retires every merged code
    and gives the result a new one; a re-parented micro-grid gets a new code under its new grid (the
    scheme makes a child's code start with its parent's). So a code always names the same ground (up to
    boundary moves), and an as-of query or last year's KPI for a code never silently covers half a
    different area, as "the biggest piece keeps the code" would (and "biggest" is arbitrary for halves).
    New codes are the parent's code plus the lowest two-digit sequence never used before
    (:func:`new_codes`): ``Coverage.used_codes`` keeps every code ever issued at the level.
A boundary move keeps both codes.
    ``MoveBoundary(a, b, line)``: the line becomes the new shared boundary; its ends must be the ends of
    the current shared boundary (snapped within ``Rules.snap_m``) and it must stay inside ``a ∪ b``.
    The outline of ``a ∪ b`` does not change, so no other unit or parent is touched; ``a`` is the side
    holding the rest of its old outline. The units are reshaped, not replaced: the history layer
    stores new versions under the same codes.
Shared edges share vertices exactly.
    Edits run on the stored lon/lat coordinates with exact overlay (no precision grid): a split point is
    computed by GEOS to about 1e-14° of the edge it lies on, and is then inserted, as the same
    coordinate, into every neighbour and parent whose edge passes through it (:func:`insert_vertices`,
    within ``SNAP_EPS_DEG``, about 0.1 mm). A precision grid (``set_precision``) would instead bend the
    edge at each rounded point, moving square metres between units and out of the parents, and a metric
    grid would round-trip every untouched vertex through pyproj, which is not exact. The metric CRS is
    for measuring (areas, thinness, the snap tolerance): the only coordinate computed there is the end of
    a split line extended across the boundary, which lies outside the unit and never reaches a polygon.

Left to the callers: one coverage is one level. Splitting or merging grids retires grid codes, so the
service must re-code (and, where a split line crosses one, split) their micro-grids; the points in
``Outcome.new_vertices`` must be inserted into the towns and county above; and history, effective dates
and ETags live in the change-set layer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType

import numpy as np
import shapely
from shapely.ops import split as split_by_line

from gridgov.errors import GridGovError
from gridgov.geo.crs import DEFAULT_METRIC_EPSG, STORAGE_EPSG, transformer
from gridgov.geo.dataset import SINGULAR
from gridgov.planning.topology import (
    DEFAULT_RULES,
    LEVEL_PARENT,
    Rules,
    area_m2,
    check,
    measured,
    sliver_defects,
)

SEQUENCE_WIDTH = 2
"""Digits a grid adds to its village's code, and a micro-grid to its grid's (docs/data-format.md)."""

SNAP_EPS_DEG = 1e-9
"""How close (in stored degrees, about 0.1 mm) a computed point must be to an edge to be inserted into it.
A numerical identity tolerance, not a measurement: far above the error of a computed intersection and far
below anything surveyed."""


class EditRefused(GridGovError):
    """An edit that cannot be applied; the message names the unit and the problem."""

    status = 422
    code = "edit_refused"

    def __init__(self, unit_code: str, reason: str, *, details: list[dict] | None = None) -> None:
        super().__init__(f"{unit_code}: {reason}", details=details)
        self.unit_code = unit_code
        self.reason = reason


class UnknownUnit(EditRefused):
    status = 404
    code = "unknown_unit"


class LineDoesNotCross(EditRefused):
    code = "line_does_not_cross"


class NotAdjacent(EditRefused):
    code = "not_adjacent"


class DifferentParents(EditRefused):
    code = "different_parents"


class WouldLeaveGap(EditRefused):
    code = "would_leave_gap"


class WouldOverlap(EditRefused):
    code = "would_overlap"


class Sliver(EditRefused):
    code = "sliver"


class InvalidResult(EditRefused):
    code = "invalid_result"


class NestingBroken(EditRefused):
    code = "nesting_broken"


class CodesExhausted(EditRefused):
    status = 409
    code = "codes_exhausted"


REFUSAL_FOR = {"invalid_geometry": InvalidResult, "sliver": Sliver, "overlap": WouldOverlap,
               "unshared_edge": WouldOverlap, "not_inside_parent": NestingBroken, "gap": WouldLeaveGap}
"""The refusal raised for each kind of :func:`check` defect an edit would leave."""




@dataclass(frozen=True)
class Unit:
    """One grid or micro-grid: its parent's code and its polygon in EPSG:4490."""

    parent: str
    geometry: shapely.Geometry


@dataclass(frozen=True, eq=False)
class Coverage:
    """One level of units being edited, their parents' polygons, and every code the level ever used.

    ``units`` maps code to :class:`Unit` (or ``(parent, polygon)``), ``parents`` maps the parent
    level's codes to polygons (EPSG:4490); both are frozen on construction. ``used_codes`` is the level's
    history of codes (retired ones included); the current codes are added to it.
    """

    level: str
    units: Mapping[str, Unit]
    parents: Mapping[str, shapely.Geometry]
    used_codes: frozenset[str] = frozenset()
    metric_epsg: int = DEFAULT_METRIC_EPSG

    def __post_init__(self) -> None:
        if self.level not in LEVEL_PARENT:
            raise ValueError(f"level must be one of {sorted(LEVEL_PARENT)}, not {self.level!r}")
        units = {str(c): u if isinstance(u, Unit) else Unit(*u) for c, u in dict(self.units).items()}
        missing = {u.parent for u in units.values()} - set(self.parents)
        if missing:
            raise ValueError(f"parents missing from the coverage: {sorted(missing)}")
        object.__setattr__(self, "units", MappingProxyType(units))
        object.__setattr__(self, "parents", MappingProxyType(dict(self.parents)))
        object.__setattr__(self, "used_codes", frozenset(self.used_codes) | frozenset(units))

    @classmethod
    def from_frames(cls, level: str, units, parents, *, used_codes: Iterable[str] = (),
                    metric_epsg: int = DEFAULT_METRIC_EPSG) -> Coverage:
        """From GeoDataFrames (``code``, ``parent_code``, geometry in EPSG:4490) as the reader returns."""
        return cls(level, {c: Unit(p, g) for c, p, g in zip(units["code"], units["parent_code"], units.geometry)},
                   dict(zip(parents["code"], parents.geometry)), frozenset(used_codes), metric_epsg)

    def to_frame(self):
        """The units as a GeoDataFrame (``code``, ``parent_code``, geometry), sorted by code."""
        import geopandas as gpd

        codes = sorted(self.units)
        return gpd.GeoDataFrame({"code": codes, "parent_code": [self.units[c].parent for c in codes]},
                                geometry=[self.units[c].geometry for c in codes], crs=STORAGE_EPSG)

    @property
    def singular(self) -> str:
        return SINGULAR[self.level]

    def unit(self, code: str) -> Unit:
        """The unit with this code, or :class:`UnknownUnit`."""
        try:
            return self.units[code]
        except KeyError:
            raise UnknownUnit(code, f"no {self.singular} has this code") from None

    @cached_property
    def codes(self) -> np.ndarray:
        return np.array(list(self.units), dtype=object)

    @cached_property
    def geoms(self) -> np.ndarray:
        return np.array([u.geometry for u in self.units.values()], dtype=object)

    @cached_property
    def tree(self) -> shapely.STRtree:
        return shapely.STRtree(self.geoms)

    @cached_property
    def children(self) -> Mapping[str, list[str]]:
        """Parent code → codes of its units."""
        found: dict[str, list[str]] = {p: [] for p in self.parents}
        for code, unit in self.units.items():
            found[unit.parent].append(code)
        return MappingProxyType(found)

    def replaced(self, *, remove: Iterable[str] = (), add: Mapping[str, Unit] | None = None,
                 parents: Mapping[str, shapely.Geometry] | None = None) -> Coverage:
        """A new coverage without ``remove``, with ``add`` (new or reshaped units) and new parent polygons."""
        gone = set(remove)
        units = {c: u for c, u in self.units.items() if c not in gone}
        units.update(add or {})
        return Coverage(self.level, units, {**self.parents, **(parents or {})},
                        self.used_codes | frozenset(add or {}), self.metric_epsg)


@dataclass(frozen=True)
class Outcome:
    """What an edit did, for the history layer.

    ``successors`` maps each retired code to the codes that now cover its ground. ``renoded`` and
    ``renoded_parents`` gained vertices (the same shape, new coordinates to store); ``new_vertices``
    are those points, to insert into the layers above (towns, county) with :func:`insert_vertices`.
    """

    coverage: Coverage
    retired: tuple[str, ...] = ()
    created: tuple[str, ...] = ()
    reshaped: tuple[str, ...] = ()
    reshaped_parents: tuple[str, ...] = ()
    successors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    renoded: tuple[str, ...] = ()
    renoded_parents: tuple[str, ...] = ()
    new_vertices: shapely.Geometry = field(default_factory=shapely.MultiPoint)


def new_codes(parent_code: str, used: Iterable[str], count: int = 1, *, width: int = SEQUENCE_WIDTH) -> list[str]:
    """The next ``count`` codes under a parent: its code plus the lowest sequences never used.

    ``used`` must hold every code ever issued at the level, so a retired code is never reissued and an
    old report's code cannot come to mean other ground.

    Examples
    --------
    >>> new_codes("43092110020101", {"4309211002010101", "4309211002010103"}, 2)
    ['4309211002010102', '4309211002010104']
    >>> new_codes("43092110020101", {f"43092110020101{i:02d}" for i in range(1, 100)})
    Traceback (most recent call last):
    ...
    gridgov.planning.edits.CodesExhausted: 43092110020101: all 99 codes under it have been used
    """
    used = set(used)
    free = (f"{parent_code}{i:0{width}d}" for i in range(1, 10**width))
    codes = [c for c in free if c not in used][:count]
    if len(codes) < count:
        raise CodesExhausted(parent_code, f"all {10**width - 1} codes under it have been used")
    return codes


def insert_vertices(geoms, points, tolerance: float = SNAP_EPS_DEG):
    """Insert the ``points`` lying on the geometries' edges as vertices (EPSG:4490), changing no shape.

    Examples
    --------
    >>> square = shapely.box(112.4, 29.3, 112.41, 29.31)
    >>> len(insert_vertices([square], shapely.MultiPoint([(112.405, 29.3), (112.5, 29.5)]))[0].exterior.coords)
    6
    """
    return shapely.snap(np.asarray(geoms, dtype=object), points, tolerance)


def shares_edge(a, b) -> bool:
    """Whether two polygons share a stretch of boundary of positive length (a point is not enough)."""
    return bool(shapely.relate_pattern(a, b, "****1****"))


class Edit:
    """An edit as data; ``outcome`` says what it did, ``apply`` only returns the new coverage."""

    def outcome(self, coverage: Coverage, rules: Rules = DEFAULT_RULES) -> Outcome:
        raise NotImplementedError

    def apply(self, coverage: Coverage, rules: Rules = DEFAULT_RULES) -> Coverage:
        """The coverage after the edit, or an :class:`EditRefused`."""
        return self.outcome(coverage, rules).coverage


@dataclass(frozen=True)
class Split(Edit):
    """Split a unit along a drawn line (EPSG:4490) crossing it from one side to the other.

    The line's ends must lie outside the unit or on its boundary; an end within ``Rules.snap_m`` of a
    boundary vertex is moved onto it, and an end just short of the boundary is extended across. Every
    piece gets a new code (largest first) and the unit's code is retired.
    """

    code: str
    line: shapely.Geometry

    def outcome(self, coverage: Coverage, rules: Rules = DEFAULT_RULES) -> Outcome:
        unit = coverage.unit(self.code)
        line = _snapped_split_line(self.code, self.line, unit.geometry, rules.snap_m, coverage.metric_epsg)
        pieces = np.array(list(split_by_line(unit.geometry, line).geoms), dtype=object)
        pieces = _onto_vertices(pieces, unit.geometry, rules.snap_m, coverage.metric_epsg)
        if len(pieces) <= len(shapely.get_parts(unit.geometry)):
            raise LineDoesNotCross(self.code, "the line does not cut it in two; draw it across the whole "
                                   f"{coverage.singular}")
        areas = area_m2(pieces, coverage.metric_epsg)
        pieces = pieces[np.argsort(-areas, kind="stable")]
        _refuse_slivers(self.code, pieces, rules, coverage.metric_epsg, "a piece")
        codes = new_codes(unit.parent, coverage.used_codes, len(pieces))
        return settle(coverage, rules, self.code, remove=[self.code],
                       add={c: Unit(unit.parent, g) for c, g in zip(codes, pieces)})


@dataclass(frozen=True)
class Merge(Edit):
    """Merge two or more units of one parent, each sharing a stretch of boundary with the rest."""

    codes: tuple[str, ...]

    def outcome(self, coverage: Coverage, rules: Rules = DEFAULT_RULES) -> Outcome:
        codes = tuple(dict.fromkeys(self.codes))
        if len(codes) < 2:
            raise InvalidResult(codes[0] if codes else "-", "a merge needs at least two units")
        units = [coverage.unit(c) for c in codes]
        parent = units[0].parent
        for code, unit in zip(codes, units):
            if unit.parent != parent:
                raise DifferentParents(code, f"its parent is {unit.parent} but {codes[0]}'s is {parent}; "
                                       f"only units of one {SINGULAR[LEVEL_PARENT[coverage.level]]} merge")
        geoms = [u.geometry for u in units]
        _require_connected(codes, geoms)
        merged = shapely.union_all(geoms)
        if len(shapely.get_parts(merged)) > max(len(shapely.get_parts(g)) for g in geoms):
            raise InvalidResult(codes[0], "the merged unit would fall apart in several parts")
        [code] = new_codes(parent, coverage.used_codes)
        return settle(coverage, rules, codes[0], remove=codes, add={code: Unit(parent, merged)})


@dataclass(frozen=True)
class MoveBoundary(Edit):
    """Make ``line`` the shared boundary of neighbours ``a`` and ``b`` (same parent, codes kept).

    The line runs from one end of their current shared boundary to the other (ends within
    ``Rules.snap_m`` are snapped onto them) and stays inside ``a ∪ b``, so only these two change.
    """

    a: str
    b: str
    line: shapely.Geometry

    def outcome(self, coverage: Coverage, rules: Rules = DEFAULT_RULES) -> Outcome:
        ua, ub = coverage.unit(self.a), coverage.unit(self.b)
        if self.a == self.b:
            raise InvalidResult(self.a, "a boundary move needs two different units")
        if ua.parent != ub.parent:
            raise DifferentParents(self.b, f"its parent is {ub.parent} but {self.a}'s is {ua.parent}")
        if not shares_edge(ua.geometry, ub.geometry):
            raise NotAdjacent(self.b, f"it shares no stretch of boundary with {self.a}")
        shared = shapely.line_merge(shapely.intersection(ua.geometry.boundary, ub.geometry.boundary))
        if shared.geom_type != "LineString" or shared.is_ring:
            raise InvalidResult(self.a, f"its boundary with {self.b} is not one line with two ends; "
                                "split or merge instead")
        line = _line_between(self.a, self.line, shared, rules.snap_m, coverage.metric_epsg)
        region = shapely.union(ua.geometry, ub.geometry)
        if not shapely.covers(region, line):
            raise WouldOverlap(self.a, f"the new boundary leaves {self.a} and {self.b}; it would take ground "
                               "from their neighbours")
        faces = list(split_by_line(region, line).geoms)
        if len(faces) != 2:
            raise InvalidResult(self.a, f"the new boundary cuts {self.a} and {self.b} into {len(faces)} "
                                "pieces, not two")
        outline_a = shapely.difference(ua.geometry.boundary, shared)
        first_is_a = shapely.covers(faces[0], outline_a)
        new_a, new_b = faces if first_is_a else faces[::-1]
        _refuse_slivers(self.a, np.array([new_a, new_b], dtype=object), rules, coverage.metric_epsg,
                        f"{self.a} or {self.b}")
        return settle(coverage, rules, self.a, add={self.a: Unit(ua.parent, new_a),
                                                      self.b: Unit(ub.parent, new_b)})


@dataclass(frozen=True)
class Reparent(Edit):
    """Move a micro-grid to a neighbouring grid of the same village: a new code, both grids reshaped."""

    code: str
    new_parent: str

    def outcome(self, coverage: Coverage, rules: Rules = DEFAULT_RULES) -> Outcome:
        unit = coverage.unit(self.code)
        if coverage.level != "micro_grids":
            raise InvalidResult(self.code, "only micro-grids move to another parent")
        if self.new_parent not in coverage.parents:
            raise UnknownUnit(self.new_parent, "no grid has this code")
        if self.new_parent == unit.parent:
            raise InvalidResult(self.code, f"it already belongs to {self.new_parent}")
        if self.new_parent[:-SEQUENCE_WIDTH] != unit.parent[:-SEQUENCE_WIDTH]:
            raise DifferentParents(self.code, f"grid {self.new_parent} is in another village than its grid "
                                   f"{unit.parent}")
        old, new = coverage.parents[unit.parent], coverage.parents[self.new_parent]
        if not shares_edge(unit.geometry, new):
            raise NotAdjacent(self.code, f"it shares no stretch of boundary with grid {self.new_parent}")
        left = shapely.difference(old, unit.geometry)
        if shapely.is_empty(left) or area_m2([left], coverage.metric_epsg)[0] <= rules.area_tolerance_m2:
            raise InvalidResult(self.code, f"it is all of grid {unit.parent}; merge the grids instead")
        if len(shapely.get_parts(left)) > len(shapely.get_parts(old)):
            raise InvalidResult(self.code, f"grid {unit.parent} would fall apart without it")
        [code] = new_codes(self.new_parent, coverage.used_codes)
        return settle(coverage, rules, self.code, remove=[self.code],
                       add={code: Unit(self.new_parent, unit.geometry)},
                       parents={unit.parent: left, self.new_parent: shapely.union(new, unit.geometry)})


def settle(coverage: Coverage, rules: Rules, subject: str, *, remove: Iterable[str] = (),
           add: Mapping[str, Unit], parents: Mapping[str, shapely.Geometry] | None = None) -> Outcome:
    """Apply the changes, share the new vertices with the neighbours, and refuse what the checks find.

    Every edit ends here, and so does re-nesting micro-grids under edited grids (:mod:`.plan`): the new
    units and parents, their vertices inserted into whatever they touch, checked, or refused naming
    ``subject``."""
    remove, parents = tuple(remove), dict(parents or {})
    result = coverage.replaced(remove=remove, add=add, parents=parents)
    result, renoded, renoded_parents, points = _renode(result, list(add), list(parents))
    touched_parents = ({coverage.units[c].parent for c in remove} | {u.parent for u in add.values()}
                       | set(parents))
    defects = check(result, rules, codes=list(add), parent_codes=touched_parents)
    if defects:
        raise REFUSAL_FOR.get(defects[0].kind, InvalidResult)(
            subject, defects[0].message, details=[d.to_dict() for d in defects])
    retired = tuple(c for c in remove if c not in add)
    created = tuple(c for c in add if c not in coverage.units)
    return Outcome(result, retired=retired, created=created,
                   reshaped=tuple(c for c in add if c in coverage.units),
                   reshaped_parents=tuple(parents), successors={c: created for c in retired},
                   renoded=tuple(c for c in renoded if c not in add),
                   renoded_parents=tuple(c for c in renoded_parents if c not in parents), new_vertices=points)


def _renode(coverage: Coverage, unit_codes: list[str], parent_codes: list[str]):
    """Insert into changed units and parents, and into everything they touch, each other's vertices.

    Returns the coverage, the unit and parent codes whose rings changed, and the inserted points.
    """
    parent_names = np.array(list(coverage.parents), dtype=object)
    parent_geoms = np.array(list(coverage.parents.values()), dtype=object)
    changed = np.array([coverage.units[c].geometry for c in unit_codes]
                       + [coverage.parents[c] for c in parent_codes], dtype=object)
    if len(changed) == 0:
        return coverage, [], [], shapely.MultiPoint()
    near_units = coverage.tree.query(changed, predicate="intersects")[1]
    near_parents = shapely.STRtree(parent_geoms).query(changed, predicate="intersects")[1]
    keys = list(dict.fromkeys([("u", c) for c in unit_codes] + [("p", c) for c in parent_codes]
                              + [("u", c) for c in coverage.codes[np.unique(near_units)]]
                              + [("p", c) for c in parent_names[np.unique(near_parents)]]))
    geoms = np.array([coverage.units[c].geometry if kind == "u" else coverage.parents[c] for kind, c in keys],
                     dtype=object)
    is_changed = np.arange(len(keys)) < len(changed)
    i, j = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = (i != j) & (is_changed[i] | is_changed[j])
    vertices = [shapely.get_coordinates(g) for g in geoms]
    references = np.array([shapely.multipoints(np.concatenate([vertices[k] for k in j[keep & (i == n)]]
                                                              or [np.empty((0, 2))]))
                           for n in range(len(keys))], dtype=object)
    snapped = insert_vertices(geoms, references)
    moved = ~shapely.equals_exact(geoms, snapped, 0.0) | (shapely.get_num_coordinates(geoms)
                                                          != shapely.get_num_coordinates(snapped))
    units, parents, added = {}, {}, []
    for n in np.flatnonzero(moved):
        kind, code = keys[n]
        before = set(map(tuple, vertices[n]))
        added += [p for p in map(tuple, shapely.get_coordinates(snapped[n])) if p not in before]
        if kind == "u":
            units[code] = Unit(coverage.units[code].parent, snapped[n])
        else:
            parents[code] = snapped[n]
    if units or parents:
        coverage = coverage.replaced(add=units, parents=parents)
    return coverage, list(units), list(parents), shapely.multipoints(sorted(set(added)) or np.empty((0, 2)))


def _refuse_slivers(subject: str, pieces: np.ndarray, rules: Rules, metric_epsg: int, what: str) -> None:
    for defect in sliver_defects([subject] * len(pieces), [what] * len(pieces), pieces, rules, metric_epsg):
        raise Sliver(subject, defect.message, details=[defect.to_dict()])


def _require_connected(codes: tuple[str, ...], geoms: list) -> None:
    """Every unit reachable from the first through shared stretches of boundary."""
    reached, frontier = {0}, [0]
    while frontier:
        k = frontier.pop()
        for n in range(len(codes)):
            if n not in reached and shares_edge(geoms[k], geoms[n]):
                reached.add(n)
                frontier.append(n)
    for n in range(len(codes)):
        if n not in reached:
            others = ", ".join(c for m, c in enumerate(codes) if m in reached)
            raise NotAdjacent(codes[n], f"it shares no stretch of boundary with {others} "
                              "(touching at a point is not enough)")


def _to_metric_xy(xy: np.ndarray, metric_epsg: int) -> np.ndarray:
    return np.column_stack(transformer(STORAGE_EPSG, metric_epsg).transform(xy[:, 0], xy[:, 1]))


def _to_storage_xy(xy: np.ndarray, metric_epsg: int) -> np.ndarray:
    return np.column_stack(transformer(metric_epsg, STORAGE_EPSG).transform(xy[:, 0], xy[:, 1]))


def _onto_vertices(pieces: np.ndarray, polygon, snap_m: float, metric_epsg: int) -> np.ndarray:
    """Move each point the cut made within ``snap_m`` of one of the polygon's vertices onto that vertex.

    A line drawn by hand (or reprojected) may cross an edge a few millimetres from a vertex that the
    neighbour shares; the cut point would leave a needle edge no neighbour has. The pieces keep their shape
    to within ``snap_m`` and share the vertex exactly.
    """
    vertices = shapely.get_coordinates(polygon)
    made = np.unique(np.concatenate([shapely.get_coordinates(p) for p in pieces]), axis=0)
    made = made[~(made[:, None, :] == vertices[None, :, :]).all(axis=2).any(axis=1)]
    if len(made) == 0:
        return pieces
    gaps = np.hypot(*(_to_metric_xy(made, metric_epsg)[:, None, :]
                      - _to_metric_xy(vertices, metric_epsg)[None, :, :]).transpose(2, 0, 1))
    near = gaps.min(axis=1) <= snap_m
    if not near.any():
        return pieces
    onto = {tuple(made[k]): vertices[np.argmin(gaps[k])] for k in np.flatnonzero(near)}

    def move(xy: np.ndarray) -> np.ndarray:
        return np.array([onto.get(tuple(p), p) for p in xy]).reshape(xy.shape)

    return shapely.remove_repeated_points(shapely.transform(pieces, move), 0.0)


def _line(subject: str, line) -> shapely.LineString:
    if not isinstance(line, shapely.LineString) or line.is_empty or not line.is_valid:
        raise LineDoesNotCross(subject, "the line must be a valid LineString of two or more points")
    return line


def _snapped_split_line(subject: str, line, polygon, snap_m: float, metric_epsg: int) -> shapely.LineString:
    """The split line with ends near a boundary vertex moved onto it, and ends just inside extended out."""
    coords = shapely.get_coordinates(_line(subject, line)).copy()
    metric = _to_metric_xy(coords, metric_epsg)
    vertices = shapely.get_coordinates(polygon.boundary)
    metric_vertices = _to_metric_xy(vertices, metric_epsg)
    metric_boundary = measured(polygon.boundary, metric_epsg)
    for end, inner in ((0, 1), (-1, -2)):
        gaps = np.hypot(*(metric_vertices - metric[end]).T)
        if gaps.min() <= snap_m:
            coords[end] = vertices[np.argmin(gaps)]
            continue
        if not shapely.contains_xy(polygon, *coords[end]):
            continue
        depth = shapely.distance(metric_boundary, shapely.Point(metric[end]))
        if depth <= snap_m:
            direction = metric[end] - metric[inner]
            stretched = metric[end] + direction / np.hypot(*direction) * 3 * snap_m
            coords[end] = _to_storage_xy(stretched[None, :], metric_epsg)[0]
        if shapely.contains_xy(polygon, *coords[end]):
            raise LineDoesNotCross(subject, f"the line ends {depth:.1f} m inside it; draw it across the whole "
                                   "unit, ends outside")
    return shapely.LineString(coords)


def _line_between(subject: str, line, shared: shapely.LineString, snap_m: float,
                  metric_epsg: int) -> shapely.LineString:
    """The new boundary with its ends snapped exactly onto the ends of the shared boundary."""
    coords = shapely.get_coordinates(_line(subject, line)).copy()
    ends = shapely.get_coordinates(shared)[[0, -1]]
    gaps = np.hypot(*(_to_metric_xy(coords[[0, -1]], metric_epsg)[:, None, :]
                      - _to_metric_xy(ends, metric_epsg)[None, :, :]).transpose(2, 0, 1))
    straight, crossed = gaps[0, 0] + gaps[1, 1], gaps[0, 1] + gaps[1, 0]
    first, last = (ends[0], ends[1]) if straight <= crossed else (ends[1], ends[0])
    worst = max(np.diag(gaps)) if straight <= crossed else max(gaps[0, 1], gaps[1, 0])
    if worst > snap_m:
        raise LineDoesNotCross(subject, f"the new boundary must start and end at the ends of the current "
                               f"shared boundary; an end is {worst:.1f} m away")
    coords[0], coords[-1] = first, last
    return shapely.LineString(coords)
