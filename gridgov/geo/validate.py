"""Topology and consistency checks (拓扑检查) on a county's layers before they are imported.

The checks are pure: they take the layers as read by ``gridgov.grids.files`` (GeoDataFrames in
EPSG:4490 lon/lat with the documented fields, attribute tables as DataFrames) and return a list of
``Defect``. Nothing here touches the database; codes and geometries already stored are passed in.

Topological predicates and overlays run on the stored lon/lat coordinates, because that is where the
edges are straight (as in the database): projecting first would bend long edges and turn every
T-junction into a sliver of tens of square metres. Only the areas and lengths of the resulting pieces
are measured, in the county's metric CRS (EPSG:4546 by default), after densifying them in lon/lat
so the projected piece follows the stored straight edges (see ``MEASURE_SEGMENT_DEG``).

Tolerances, all explicit keyword arguments of :func:`validate_county`:

``min_gap_area_m2`` (1 m²)
    Holes a level leaves in its parent (or in the county) smaller than this are digitising slivers.
``max_overlap_area_m2`` (1 m²)
    Two units of one level may overlap by up to this much.
``max_outside_area_m2`` (1 m²) / ``max_outside_length_m`` (1 m)
    A polygon (line) may stick out of its parent or the county by up to this area (length).
``sliver_width_m`` (0, off)
    When positive, gap and overlap pieces thinner than this (they vanish under an inward buffer of
    half the width, measured in metres) are ignored whatever their area.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from gridgov.geo.crs import DEFAULT_METRIC_EPSG, to_metric
from gridgov.geo.dataset import (
    CODE_PATTERNS,
    LEVELS,
    LINE_LAYERS,
    PARENT_LAYER,
    SINGULAR,
    SPATIAL_LAYERS,
    Defect,
    format_point,
    normalise_codes,
)
from gridgov.geo.validate_tables import check_tables

_POLYGON_TYPES = (3, 6)  # Polygon, MultiPolygon
_LINE_TYPES = (1, 5)  # LineString, MultiLineString
_REASON_POINT = re.compile(r"\[\s*([-+0-9.eE]+)\s+([-+0-9.eE]+)")


def _where(geoms) -> list[str]:
    """A representative point of each geometry, formatted."""
    points = shapely.point_on_surface(np.asarray(geoms, dtype=object))
    return [format_point(p) for p in points]


MEASURE_SEGMENT_DEG = 0.0002
"""Pieces are densified to vertices at most this far apart (about 20 m) before being projected and
measured, so an edge that is straight in lon/lat stays on its curve in the metric CRS. Without it a
sliver that is degenerate as stored (collinear in lon/lat, zero area) projects to a real sliver of
tens of square metres along a 2 km edge."""


def _densified_metric(geoms, metric_epsg: int):
    return to_metric(shapely.segmentize(geoms, MEASURE_SEGMENT_DEG), metric_epsg)


def _size(geoms, *, lines: bool, metric_epsg: int) -> np.ndarray:
    metric = _densified_metric(geoms, metric_epsg)
    return shapely.length(metric) if lines else shapely.area(metric)


def _unit(lines: bool) -> str:
    return "m" if lines else "m²"


@dataclass
class _Layer:
    name: str
    codes: np.ndarray
    parents: np.ndarray
    geoms: np.ndarray
    ok: np.ndarray  # usable for topology: present, right type, in range, valid

    @property
    def lines(self) -> bool:
        return self.name in LINE_LAYERS


def validate_county(
    layers: Mapping[str, pd.DataFrame],
    *,
    county_boundary=None,
    known_codes: Mapping[str, set[str]] | None = None,
    known_geometries: Mapping[str, Mapping[str, object]] | None = None,
    min_gap_area_m2: float = 1.0,
    max_overlap_area_m2: float = 1.0,
    max_outside_area_m2: float = 1.0,
    max_outside_length_m: float = 1.0,
    sliver_width_m: float = 0.0,
    metric_epsg: int = DEFAULT_METRIC_EPSG,
) -> list[Defect]:
    """Check a county's layers for every defect that would make an import unsafe.

    Parameters
    ----------
    layers : mapping of layer name to GeoDataFrame or DataFrame
        As returned in ``ReadResult.layers``: fields ``code``, ``name``, ``parent_code`` and
        geometries in EPSG:4490 lon/lat; ``officers`` and ``chiefs`` are attribute tables.
    county_boundary : shapely geometry, optional
        The county boundary (EPSG:4490) when the ``county`` layer is not among ``layers``.
    known_codes : mapping of layer name to set of codes, optional
        Codes already in the database, so a file holding only grids can name villages stored earlier.
    known_geometries : mapping of layer name to {code: geometry}, optional
        Stored parent geometries (EPSG:4490), so containment and gaps can be checked against them.
    min_gap_area_m2, max_overlap_area_m2, max_outside_area_m2, max_outside_length_m, sliver_width_m
        Tolerances, see the module docstring.
    metric_epsg : int
        The metric CRS areas and lengths are measured in.

    Returns
    -------
    list of Defect
        Empty when the layers are clean.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> towns = gpd.GeoDataFrame({"code": ["430921100"], "name": ["A"], "parent_code": ["430921"]},
    ...                          geometry=[shapely.box(112.5, 29.3, 112.6, 29.4)], crs=4490)
    >>> [d.kind for d in validate_county({"towns": towns}, known_codes={"county": {"430921"}})]
    []
    """
    known_codes = known_codes or {}
    known_geometries = known_geometries or {}
    tol = dict(
        min_gap_area_m2=min_gap_area_m2,
        max_overlap_area_m2=max_overlap_area_m2,
        max_outside_area_m2=max_outside_area_m2,
        max_outside_length_m=max_outside_length_m,
        sliver_width_m=sliver_width_m,
        metric_epsg=metric_epsg,
    )
    defects: list[Defect] = []
    prepared: dict[str, _Layer] = {}
    for name in SPATIAL_LAYERS:
        frame = layers.get(name)
        if frame is None:
            continue
        if len(frame) == 0:
            defects.append(Defect("empty_layer", name, message=f"the {name} layer has no features"))
            continue
        layer, found = _check_features(name, frame)
        prepared[name] = layer
        defects += found
        defects += _check_codes(layer)

    county = _county_geometry(prepared, county_boundary)
    for name, layer in prepared.items():
        if name in PARENT_LAYER:
            defects += _check_parents(layer, prepared, known_codes, known_geometries, county, tol)
        if not layer.lines and name != "county":
            defects += _check_overlaps(layer, tol)
        if county is not None and name != "county":
            defects += _check_outside_county(layer, county, tol)
    defects += check_tables(layers, prepared, known_codes)
    return defects


def _check_features(name: str, frame) -> tuple[_Layer, list[Defect]]:
    """Geometry presence, type, coordinate range and validity; codes as strings."""
    n = len(frame)
    codes = normalise_codes(frame["code"]) if "code" in frame else np.full(n, "", dtype=object)
    parents = (normalise_codes(frame["parent_code"]) if "parent_code" in frame
               else np.full(n, "", dtype=object))
    if "geometry" in frame:
        geoms = np.asarray(frame.geometry.array if hasattr(frame, "geometry") else frame["geometry"],
                           dtype=object)
    else:
        geoms = np.full(n, None, dtype=object)
    defects: list[Defect] = []
    ok = np.ones(n, dtype=bool)

    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    for i in np.flatnonzero(empty):
        defects.append(Defect("empty_geometry", name, codes[i], "", "the feature has no geometry"))
    ok &= ~empty

    allowed = _LINE_TYPES if name in LINE_LAYERS else _POLYGON_TYPES
    wanted = "a LineString or MultiLineString" if name in LINE_LAYERS else "a Polygon or MultiPolygon"
    type_ids = shapely.get_type_id(geoms)
    wrong = ok & ~np.isin(type_ids, allowed)
    for i in np.flatnonzero(wrong):
        point = shapely.point_on_surface(geoms[i])
        defects.append(Defect("not_polygon", name, codes[i], format_point(point),
                              f"{geoms[i].geom_type} in the {name} layer, which needs {wanted}"))
    ok &= ~wrong

    idx = np.flatnonzero(ok)
    bounds = shapely.bounds(geoms[idx])
    finite = np.isfinite(bounds).all(axis=1)
    xmin, ymin, xmax, ymax = bounds.T
    swapped = finite & (xmin >= 18) & (xmax <= 54) & (ymin >= 73) & (ymax <= 135)
    out = ~finite | (xmin < -180) | (xmax > 180) | (ymin < -90) | (ymax > 90)
    for k in np.flatnonzero(swapped):
        i = idx[k]
        defects.append(Defect(
            "swapped_lat_lon", name, codes[i], f"{xmin[k]:.6f},{ymin[k]:.6f}",
            f"x runs {xmin[k]:.4f}..{xmax[k]:.4f} and y {ymin[k]:.4f}..{ymax[k]:.4f}: these are "
            "lat,lon; swap the axes (x is longitude)"))
    for k in np.flatnonzero(out & ~swapped):
        i = idx[k]
        defects.append(Defect(
            "coordinates_out_of_range", name, codes[i],
            f"{xmin[k]:.6f},{ymin[k]:.6f}" if finite[k] else "",
            f"coordinates outside lon -180..180, lat -90..90 (x {xmin[k]:.4f}..{xmax[k]:.4f}, "
            f"y {ymin[k]:.4f}..{ymax[k]:.4f}); is the CRS right?"))
    ok[idx[swapped | out]] = False

    # Out-of-China but in-range coordinates are caught by the county containment checks.
    idx = np.flatnonzero(ok)
    reasons = shapely.is_valid_reason(geoms[idx])
    for k in np.flatnonzero(reasons != "Valid Geometry"):
        i = idx[k]
        match = _REASON_POINT.search(reasons[k])
        where = (f"{float(match.group(1)):.6f},{float(match.group(2)):.6f}" if match
                 else format_point(shapely.point_on_surface(geoms[i])))
        defects.append(Defect("invalid_geometry", name, codes[i], where, str(reasons[k])))
        ok[i] = False
    return _Layer(name, codes, parents, geoms, ok), defects


def _check_codes(layer: _Layer) -> list[Defect]:
    """Missing and malformed codes, codes not under their parent's, duplicates."""
    defects = []
    pattern = re.compile(CODE_PATTERNS[layer.name])
    where = None
    for i, (code, parent) in enumerate(zip(layer.codes, layer.parents)):
        problem = None
        if not code:
            problem = "the feature has no code"
        elif not pattern.fullmatch(code):
            problem = f"{code!r} does not follow the {SINGULAR[layer.name]} code scheme"
        elif parent and not code.startswith(parent):
            problem = f"{code!r} does not start with its parent's code {parent!r}"
        if problem:
            if where is None:
                where = _safe_where(layer)
            defects.append(Defect("bad_code", layer.name, code, where[i], problem))
    present = pd.Series(layer.codes[layer.codes != ""])
    counts = present.value_counts()
    for code, count in counts[counts > 1].items():
        i = int(np.flatnonzero(layer.codes == code)[0])
        if where is None:
            where = _safe_where(layer)
        defects.append(Defect("duplicate_code", layer.name, code, where[i],
                              f"{code!r} appears {count} times in the {layer.name} layer"))
    return defects


def _safe_where(layer: _Layer) -> list[str]:
    where = [""] * len(layer.codes)
    idx = np.flatnonzero(layer.ok)
    for i, w in zip(idx, _where(layer.geoms[idx])):
        where[i] = w
    return where


def _county_geometry(prepared: dict[str, _Layer], county_boundary):
    county = prepared.get("county")
    if county is not None and county.ok.any():
        return shapely.union_all(county.geoms[county.ok])
    return county_boundary


def _parent_lookup(parent_name, prepared, known_geometries) -> dict[str, object]:
    geoms = {code: geom for code, geom in (known_geometries.get(parent_name) or {}).items()}
    parent = prepared.get(parent_name)
    if parent is not None:
        for code, geom in zip(parent.codes[parent.ok], parent.geoms[parent.ok]):
            geoms[code] = geom
    return geoms


def _check_parents(layer: _Layer, prepared, known_codes, known_geometries, county, tol) -> list[Defect]:
    """Parents exist, children lie inside them, children cover them without gaps."""
    parent_name = PARENT_LAYER[layer.name]
    parent = prepared.get(parent_name)
    file_codes = set(parent.codes) if parent is not None else set()
    codes_known = file_codes | set(known_codes.get(parent_name) or ())
    defects = []
    where = None
    for i, (code, parent_code) in enumerate(zip(layer.codes, layer.parents)):
        if parent_code in codes_known and parent_code:
            continue
        if where is None:
            where = _safe_where(layer)
        reason = ("the feature has no parent_code" if not parent_code else
                  f"parent {SINGULAR[parent_name]} {parent_code!r} is neither in the {parent_name} "
                  "layer nor in the database")
        defects.append(Defect("missing_parent", layer.name, code, where[i], reason))

    parent_geoms = _parent_lookup(parent_name, prepared, known_geometries)
    if not parent_geoms:
        if layer.name in LEVELS and county is not None and layer.name == "towns":
            defects += _gaps_in(layer, {"": county}, {"": np.flatnonzero(layer.ok)}, tol)
        elif layer.name in LEVELS:
            defects += _holes_in_union(layer, county, tol)
        return defects

    if layer.name != "towns":  # towns outside the county are reported as outside_county
        defects += _check_inside(layer, parent_geoms, tol)
    if layer.name in LEVELS:
        members: dict[str, list[int]] = {}
        for i in np.flatnonzero(layer.ok):
            members.setdefault(layer.parents[i], []).append(i)
        broken = {layer.parents[i] for i in np.flatnonzero(~layer.ok)}
        own = set(parent.codes[parent.ok]) if parent is not None else set()
        # Parents from the file are checked even without children; stored parents only when this
        # file brings some of their children (a partial file must not flag the rest of the county).
        checked = {c: parent_geoms[c] for c in parent_geoms
                   if (c in own or c in members) and c not in broken}
        defects += _gaps_in(layer, checked, {c: np.array(members.get(c, []), dtype=int)
                                              for c in checked}, tol)
    return defects


def _check_inside(layer: _Layer, parent_geoms, tol) -> list[Defect]:
    idx = np.array([i for i in np.flatnonzero(layer.ok) if layer.parents[i] in parent_geoms],
                   dtype=int)
    if len(idx) == 0:
        return []
    parents = np.array([parent_geoms[layer.parents[i]] for i in idx], dtype=object)
    shapely.prepare(parents)
    sticking = ~shapely.covers(parents, layer.geoms[idx])
    idx, parents = idx[sticking], parents[sticking]
    if len(idx) == 0:
        return []
    outside = shapely.difference(layer.geoms[idx], parents)
    size = _size(outside, lines=layer.lines, metric_epsg=tol["metric_epsg"])
    limit = tol["max_outside_length_m"] if layer.lines else tol["max_outside_area_m2"]
    parent_kind = SINGULAR[PARENT_LAYER[layer.name]]
    defects = []
    for k in np.flatnonzero(size > limit):
        i = idx[k]
        defects.append(Defect(
            "not_inside_parent", layer.name, layer.codes[i], format_point(
                shapely.point_on_surface(outside[k])),
            f"{size[k]:.1f} {_unit(layer.lines)} lies outside its parent {parent_kind} "
            f"{layer.parents[i]}"))
    return defects


def _keep_pieces(pieces: np.ndarray, min_area: float, tol) -> tuple[np.ndarray, np.ndarray]:
    """The pieces larger than ``min_area`` m² and, if asked, wider than ``sliver_width_m``."""
    if len(pieces) == 0:
        return np.array([], dtype=bool), np.array([])
    areas = _size(pieces, lines=False, metric_epsg=tol["metric_epsg"])
    keep = areas > min_area
    width = tol["sliver_width_m"]
    if width > 0 and keep.any():
        metric = _densified_metric(pieces[keep], tol["metric_epsg"])
        keep[np.flatnonzero(keep)] = ~shapely.is_empty(shapely.buffer(metric, -width / 2))
    return keep, areas


def _gaps_in(layer: _Layer, parent_geoms: dict[str, object], members: dict[str, np.ndarray],
             tol) -> list[Defect]:
    """Parts of each parent its children leave uncovered."""
    if not parent_geoms:
        return []
    codes = list(parent_geoms)
    parents = np.array([parent_geoms[c] for c in codes], dtype=object)
    unions = np.array([shapely.union_all(layer.geoms[members[c]]) if len(members[c])
                       else shapely.Polygon() for c in codes], dtype=object)
    uncovered = shapely.difference(parents, unions)
    pieces, owner = shapely.get_parts(uncovered, return_index=True)
    polygons = shapely.get_type_id(pieces) == 3
    pieces, owner = pieces[polygons], owner[polygons]
    keep, areas = _keep_pieces(pieces, tol["min_gap_area_m2"], tol)
    parent_kind = SINGULAR.get(PARENT_LAYER[layer.name], "county")
    defects = []
    for k in np.flatnonzero(keep):
        code = codes[owner[k]]
        within = f"{parent_kind} {code}" if code else "the county"
        defects.append(Defect(
            "gap", layer.name, code, format_point(shapely.point_on_surface(pieces[k])),
            f"a gap of {areas[k]:.1f} m² in {within} is covered by none of its {layer.name}"))
    return defects


def _holes_in_union(layer: _Layer, county, tol) -> list[Defect]:
    """Without parent geometries: holes inside the level's own union (within the county if known)."""
    geoms = layer.geoms[layer.ok]
    if len(geoms) == 0:
        return []
    union = shapely.union_all(geoms)
    polygons = shapely.get_parts(union)
    holes = []
    for polygon in polygons[shapely.get_type_id(polygons) == 3]:
        holes += [shapely.Polygon(ring) for ring in polygon.interiors]
    holes = np.array(holes, dtype=object)
    if county is not None and len(holes):
        holes = shapely.get_parts(shapely.intersection(holes, county))
        holes = holes[shapely.get_type_id(holes) == 3]
    keep, areas = _keep_pieces(holes, tol["min_gap_area_m2"], tol)
    return [Defect("gap", layer.name, "", format_point(shapely.point_on_surface(holes[k])),
                   f"a gap of {areas[k]:.1f} m² between {layer.name} is covered by none of them")
            for k in np.flatnonzero(keep)]


def _check_overlaps(layer: _Layer, tol) -> list[Defect]:
    """Pairs of units of one layer whose interiors overlap by more than the tolerance."""
    idx = np.flatnonzero(layer.ok)
    geoms = layer.geoms[idx]
    if len(geoms) < 2:
        return []
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    inner = shapely.relate_pattern(geoms[a], geoms[b], "T********")
    a, b = a[inner], b[inner]
    if len(a) == 0:
        return []
    shared = shapely.intersection(geoms[a], geoms[b])
    keep, areas = _keep_pieces(shared, tol["max_overlap_area_m2"], tol)
    defects = []
    for k in np.flatnonzero(keep):
        ca, cb = layer.codes[idx[a[k]]], layer.codes[idx[b[k]]]
        defects.append(Defect(
            "overlap", layer.name, f"{ca}/{cb}", format_point(shapely.point_on_surface(shared[k])),
            f"{SINGULAR[layer.name]}s {ca} and {cb} overlap by {areas[k]:.1f} m²"))
    return defects


def _check_outside_county(layer: _Layer, county, tol) -> list[Defect]:
    idx = np.flatnonzero(layer.ok)
    if len(idx) == 0:
        return []
    shapely.prepare(county)
    outside_idx = idx[~shapely.covers(county, layer.geoms[idx])]
    if len(outside_idx) == 0:
        return []
    outside = shapely.difference(layer.geoms[outside_idx], county)
    size = _size(outside, lines=layer.lines, metric_epsg=tol["metric_epsg"])
    limit = tol["max_outside_length_m"] if layer.lines else tol["max_outside_area_m2"]
    return [Defect("outside_county", layer.name, layer.codes[i],
                   format_point(shapely.point_on_surface(outside[k])),
                   f"{size[k]:.1f} {_unit(layer.lines)} lies outside the county boundary")
            for k, i in enumerate(outside_idx) if size[k] > limit]
