"""Topology checks (拓扑检查) of a coverage being edited, and the measures they use.

Pure, like :mod:`gridgov.geo.validate`, whose conventions it follows: predicates and overlays run on the
stored lon/lat coordinates, where the edges are straight; areas and lengths are measured in the metric CRS
after densifying (``MEASURE_SEGMENT_DEG``). Only the units an edit touched are checked (and, for overlaps and
shared edges, the units around them), so one edit costs milliseconds whatever the county's size.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import shapely

from gridgov.geo.crs import DEFAULT_METRIC_EPSG, to_metric
from gridgov.geo.dataset import SINGULAR, Defect, format_point
from gridgov.geo.validate import MEASURE_SEGMENT_DEG

if TYPE_CHECKING:
    from gridgov.planning.edits import Coverage

LEVEL_PARENT = {"grids": "villages", "micro_grids": "grids"}
"""The levels that are edited, and the level of their parents."""

@dataclass(frozen=True)
class Rules:
    """The tolerances edits are checked against (all measured in the metric CRS).

    ``area_tolerance_m2`` matches the import's (``validate_county``): an edit must not refuse ground
    the import accepted. ``min_compactness`` is Polsby-Popper 4πA/P²: 1 for a disc, 0.79 for a square,
    0.02 for a 1:150 strip (3 km by 20 m).
    """

    min_area_m2: float = 1000.0
    min_compactness: float = 0.02
    area_tolerance_m2: float = 1.0
    snap_m: float = 1.0


DEFAULT_RULES = Rules()


def measured(geoms, metric_epsg: int = DEFAULT_METRIC_EPSG):
    """Projected after densifying, so edges straight in lon/lat stay on their curve (see validate)."""
    return to_metric(shapely.segmentize(np.asarray(geoms, dtype=object), MEASURE_SEGMENT_DEG), metric_epsg)


def area_m2(geoms, metric_epsg: int = DEFAULT_METRIC_EPSG) -> np.ndarray:
    """Areas in m², measured in the metric CRS.

    Examples
    --------
    >>> round(float(area_m2([shapely.box(112.4, 29.3, 112.41, 29.31)])[0]))
    1077330
    """
    return shapely.area(measured(geoms, metric_epsg))


def compactness(geoms, metric_epsg: int = DEFAULT_METRIC_EPSG) -> np.ndarray:
    """Polsby-Popper 4πA/P² in the metric CRS: 1 for a disc, near 0 for a sliver.

    Examples
    --------
    >>> [round(float(c), 2) for c in compactness([shapely.box(112.4, 29.3, 112.41, 29.31),
    ...                                           shapely.box(112.4, 29.3, 112.41, 29.3001)])]
    [0.78, 0.04]
    """
    metric = measured(geoms, metric_epsg)
    perimeter = shapely.length(metric)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(perimeter > 0, 4 * math.pi * shapely.area(metric) / perimeter**2, 0.0)


def check(coverage: Coverage, rules: Rules = DEFAULT_RULES, *, codes: Iterable[str] | None = None,
          parent_codes: Iterable[str] | None = None) -> list[Defect]:
    """The defects of a coverage: invalid geometry, slivers, overlaps, unshared edges, nesting, gaps.

    Parameters
    ----------
    coverage : the units and their parents
    rules : the tolerances
    codes : the units to check (default all); overlaps and shared edges are checked against all units
    parent_codes : the parents whose nesting and gaps to check (default the parents of ``codes``)

    Returns
    -------
    list of Defect (``kind`` one of the keys of ``REFUSAL_FOR``), empty when clean.

    Examples
    --------
    >>> halves = {"4309211002010101": ("43092110020101", shapely.box(112.4, 29.3, 112.405, 29.31)),
    ...           "4309211002010102": ("43092110020101", shapely.box(112.406, 29.3, 112.41, 29.31))}
    >>> grid = {"43092110020101": shapely.box(112.4, 29.3, 112.41, 29.31)}
    >>> from gridgov.planning.edits import Coverage
    >>> [(d.kind, d.code) for d in check(Coverage("micro_grids", halves, grid))]
    [('gap', '43092110020101')]
    """
    codes = [c for c in (coverage.units if codes is None else codes) if c in coverage.units]
    if parent_codes is None:
        parent_codes = {coverage.units[c].parent for c in codes}
    names = np.array(codes, dtype=object)
    geoms = np.array([coverage.units[c].geometry for c in codes], dtype=object)
    reasons = shapely.is_valid_reason(geoms) if len(geoms) else np.array([], dtype=object)
    ok = reasons == "Valid Geometry"
    defects = [Defect("invalid_geometry", coverage.level, names[k], format_point(shapely.point_on_surface(geoms[k])),
                      f"{coverage.singular} {names[k]} would be invalid: {reasons[k]}") for k in np.flatnonzero(~ok)]
    defects += sliver_defects(names[ok], [f"{coverage.singular} {c}" for c in names[ok]], geoms[ok], rules,
                        coverage.metric_epsg, coverage.level)
    defects += _overlaps(coverage, names[ok], geoms[ok], rules)
    defects += _nesting(coverage, sorted(set(parent_codes) & set(coverage.parents)), rules)
    return defects


def sliver_defects(names, labels, geoms, rules: Rules, metric_epsg: int, layer: str = "") -> list[Defect]:
    if len(geoms) == 0:
        return []
    metric = measured(geoms, metric_epsg)
    areas, lengths = shapely.area(metric), shapely.length(metric)
    shape = 4 * math.pi * areas / np.maximum(lengths, 1e-12) ** 2
    defects = []
    for k in np.flatnonzero((areas < rules.min_area_m2) | (shape < rules.min_compactness)):
        problem = (f"{areas[k]:.1f} m², below the minimum of {rules.min_area_m2:g} m²"
                   if areas[k] < rules.min_area_m2 else
                   f"too thin: compactness 4πA/P² {shape[k]:.3f}, below {rules.min_compactness:g}")
        defects.append(Defect("sliver", layer, str(names[k]), format_point(shapely.point_on_surface(geoms[k])),
                              f"{labels[k]} would be a sliver: {problem}"))
    return defects


def _overlaps(coverage: Coverage, names: np.ndarray, geoms: np.ndarray, rules: Rules) -> list[Defect]:
    """Overlaps with any unit of the level, and edges that do not share their neighbours' vertices."""
    if len(geoms) == 0:
        return []
    a, b = coverage.tree.query(geoms, predicate="intersects")
    near = np.unique(b)
    others = coverage.codes[b]
    keep = (others != names[a]) & ~(np.isin(others, names) & (others < names[a]))
    a, b = a[keep], b[keep]
    inner = shapely.relate_pattern(geoms[a], coverage.geoms[b], "2********")
    a, b = a[inner], b[inner]
    defects = []
    if len(a):
        shared = shapely.intersection(geoms[a], coverage.geoms[b])
        for k in np.flatnonzero(area_m2(shared, coverage.metric_epsg) > rules.area_tolerance_m2):
            area = area_m2([shared[k]], coverage.metric_epsg)[0]
            pair = f"{names[a[k]]}/{coverage.codes[b[k]]}"
            defects.append(Defect("overlap", coverage.level, pair, format_point(shapely.point_on_surface(shared[k])),
                                  f"{coverage.singular}s {pair.replace('/', ' and ')} would overlap by "
                                  f"{area:.1f} m²"))
    edges = shapely.coverage_invalid_edges(coverage.geoms[near])
    for k in np.flatnonzero(~shapely.is_empty(edges) & np.isin(coverage.codes[near], names)):
        code = coverage.codes[near[k]]
        defects.append(Defect("unshared_edge", coverage.level, code, format_point(shapely.point_on_surface(edges[k])),
                              f"{coverage.singular} {code} would have edges that do not exactly match its "
                              "neighbours' (an overlap, or vertices not shared)"))
    return defects


def _nesting(coverage: Coverage, parent_codes: list[str], rules: Rules) -> list[Defect]:
    """Children outside their parent, and parts of a parent none of its children cover."""
    if not parent_codes:
        return []
    parent_kind = SINGULAR[LEVEL_PARENT[coverage.level]]
    parents = np.array([coverage.parents[p] for p in parent_codes], dtype=object)
    members = [np.array([coverage.units[c].geometry for c in coverage.children.get(p, [])], dtype=object)
               for p in parent_codes]
    unions = np.array([shapely.union_all(m) if len(m) else shapely.Polygon() for m in members], dtype=object)
    pieces, owner = shapely.get_parts(shapely.difference(parents, unions), return_index=True)
    polygons = shapely.get_type_id(pieces) == 3
    pieces, owner = pieces[polygons], owner[polygons]
    defects = []
    if len(pieces):
        areas = area_m2(pieces, coverage.metric_epsg)
        for k in np.flatnonzero(areas > rules.area_tolerance_m2):
            code = parent_codes[owner[k]]
            defects.append(Defect("gap", coverage.level, code, format_point(shapely.point_on_surface(pieces[k])),
                                  f"a gap of {areas[k]:.1f} m² in {parent_kind} {code} would be covered by none "
                                  f"of its {coverage.level.replace('_', '-')}"))
    codes = [c for p in parent_codes for c in coverage.children.get(p, [])]
    if codes:
        geoms = np.array([coverage.units[c].geometry for c in codes], dtype=object)
        outer = np.array([coverage.parents[coverage.units[c].parent] for c in codes], dtype=object)
        outside = shapely.difference(geoms, outer)
        areas = area_m2(outside, coverage.metric_epsg)
        for k in np.flatnonzero(areas > rules.area_tolerance_m2):
            defects.append(Defect("not_inside_parent", coverage.level, codes[k],
                                  format_point(shapely.point_on_surface(outside[k])),
                                  f"{areas[k]:.1f} m² of {coverage.singular} {codes[k]} would lie outside its "
                                  f"{parent_kind} {coverage.units[codes[k]].parent}"))
    return defects
