"""Units for the browser: simplified with topology kept, quantised, each attribute sent once.

Pure: takes a GeoDataFrame, returns a dict ready for ``json.dumps``. Simplification happens in the
county's metric CRS (tolerance in metres, never degrees) on the whole coverage at once, so neighbours
keep sharing their simplified edges and no gap or overlap opens between them.

The maps get the grids as TopoJSON (``grid_topology``): every edge two grids share is sent once as an
arc of delta-coded integers, and the village, town and county outlines are drawn from the same arcs in
the browser (``topojson.mesh``), so the background costs no extra bytes. ``compact_geojson`` remains for
callers that want plain GeoJSON.
"""

from __future__ import annotations

import json
import math

import geopandas as gpd
import numpy as np
import shapely
import topojson

from gridgov.geo.crs import DEFAULT_METRIC_EPSG, STORAGE_EPSG, to_metric, to_storage

DEFAULT_TOLERANCE_M = 5.0
"""Simplification tolerance: at county zoom a screen pixel spans about 40 m, so 5 m never shows."""

DECIMALS = 6
"""Coordinate decimals in the browser's GeoJSON: 1e-6° is about 0.1 m at Nan County's latitude."""

DEFAULT_QUANTUM_M = 5.0
"""TopoJSON's integer grid step: as coarse as the simplification, so quantising loses nothing it kept."""

DETAILS: dict[str, tuple[float, float]] = {
    # name: (simplification tolerance m, quantum m)
    "overview": (30.0, 15.0),  # drawn only below zoom 12, where a pixel spans over 33 m: under a pixel
    "fine": (2.0, 1.0),  # a grid or two on a phone, or any map at zoom 12 or more
}
"""The grid layer's levels of detail: the supervisor's county map draws the overview first and swaps in
the fine geometry from zoom 12 on (vector tiles' idea, for one small layer)."""


def simplify_coverage(geoms, tolerance_m: float = DEFAULT_TOLERANCE_M, metric_epsg: int = DEFAULT_METRIC_EPSG):
    """Simplify a polygon coverage (stored lon/lat) in the metric CRS, keeping shared edges shared.

    Parameters
    ----------
    geoms : array of shapely polygons in EPSG:4490 forming a coverage (no overlaps)
    tolerance_m : roughly the square root of the area in m² of the triangles that may be removed
    metric_epsg : the county's metric CRS

    Returns
    -------
    numpy array of geometries in EPSG:4490, in the same order

    Examples
    --------
    >>> from shapely import Polygon
    >>> sq = Polygon([(112.5, 29.3), (112.5001, 29.30000001), (112.501, 29.3), (112.501, 29.301), (112.5, 29.301)])
    >>> len(simplify_coverage([sq], 5.0)[0].exterior.coords)
    5
    """
    metric = to_metric(np.asarray(geoms, dtype=object), metric_epsg)
    if tolerance_m > 0:
        metric = shapely.coverage_simplify(metric, tolerance_m)
    return to_storage(metric, metric_epsg)


def quantise(geoms, decimals: int = DECIMALS):
    """Round every coordinate to ``decimals``; equal vertices stay equal, so shared edges stay shared.

    Examples
    --------
    >>> from shapely import Point
    >>> quantise([Point(112.12345678, 29.87654321)])[0].wkt
    'POINT (112.123457 29.876543)'
    """
    return shapely.transform(np.asarray(geoms, dtype=object), lambda xy: np.round(xy, decimals))


def compact_geojson(units: gpd.GeoDataFrame, *, tolerance_m: float = DEFAULT_TOLERANCE_M,
                    metric_epsg: int = DEFAULT_METRIC_EPSG, decimals: int = DECIMALS,
                    properties: tuple[str, ...] = ("code",)) -> dict:
    """The units as a GeoJSON FeatureCollection for Leaflet: simplified, quantised, few properties.

    Parameters
    ----------
    units : GeoDataFrame of polygons in EPSG:4490 with a ``code`` column
    tolerance_m : simplification tolerance in metres (0 keeps every vertex)
    metric_epsg : the county's metric CRS, where the tolerance is applied
    decimals : coordinate decimals kept
    properties : the columns each feature carries

    Examples
    --------
    >>> from shapely import box
    >>> frame = gpd.GeoDataFrame({"code": ["a"]}, geometry=[box(112.5, 29.3, 112.51, 29.31)], crs=4490)
    >>> doc = compact_geojson(frame)
    >>> doc["features"][0]["properties"], doc["features"][0]["geometry"]["type"]
    ({'code': 'a'}, 'Polygon')
    """
    if units.crs is None or units.crs.to_epsg() != STORAGE_EPSG:
        raise ValueError(f"units must be in EPSG:{STORAGE_EPSG}, not {units.crs}")
    geoms = quantise(simplify_coverage(units.geometry.values, tolerance_m, metric_epsg), decimals)
    columns = [units[name].tolist() for name in properties]
    features = [
        {"type": "Feature", "properties": dict(zip(properties, values)), "geometry": json.loads(text)}
        for text, *values in zip(shapely.to_geojson(geoms), *columns)
    ]
    return {"type": "FeatureCollection", "features": features}


def dumps(doc: dict) -> str:
    """Compact JSON text (no spaces, UTF-8 kept) of a GeoJSON document."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def grid_topology(units: gpd.GeoDataFrame, *, object_name: str = "grids", properties: tuple[str, ...] = (),
                  tolerance_m: float = DEFAULT_TOLERANCE_M, quantum_m: float = DEFAULT_QUANTUM_M,
                  metric_epsg: int = DEFAULT_METRIC_EPSG) -> dict:
    """The units as a TopoJSON Topology: one GeometryCollection named ``object_name``, each geometry with
    ``id`` = the unit's code and the listed ``properties``.

    Parameters
    ----------
    units : GeoDataFrame of polygons in EPSG:4490 forming a coverage, with a ``code`` column
    properties : the columns each geometry carries besides its code
    tolerance_m : simplification tolerance in metres, applied to the whole coverage in the metric CRS
    quantum_m : the integer grid's step in metres: the extent is divided into extent / quantum steps
    metric_epsg : the county's metric CRS

    Examples
    --------
    >>> from shapely import box
    >>> two = gpd.GeoDataFrame({"code": ["a", "b"], "town": ["t", "t"]},
    ...                        geometry=[box(112.5, 29.3, 112.51, 29.31), box(112.51, 29.3, 112.52, 29.31)], crs=4490)
    >>> topo = grid_topology(two, properties=("town",))
    >>> [(g["id"], g["type"], g["properties"]) for g in topo["objects"]["grids"]["geometries"]]
    [('a', 'Polygon', {'town': 't'}), ('b', 'Polygon', {'town': 't'})]
    >>> len(topo["arcs"])  # the shared edge is one arc, used by both squares
    3
    """
    if units.crs is None or units.crs.to_epsg() != STORAGE_EPSG:
        raise ValueError(f"units must be in EPSG:{STORAGE_EPSG}, not {units.crs}")
    if units.empty:
        return {"type": "Topology", "objects": {object_name: {"type": "GeometryCollection", "geometries": []}},
                "arcs": []}
    simplified = units.set_geometry(simplify_coverage(units.geometry.values, tolerance_m, metric_epsg))
    simplified = simplified.set_index("code")[[*properties, simplified.geometry.name]]
    doc = topojson.Topology(simplified, topology=True, prequantize=_steps(simplified, quantum_m, metric_epsg)).to_dict()
    collection = doc["objects"].pop("data")
    for geometry in collection["geometries"]:
        geometry.setdefault("properties", {})
        if geometry["type"] == "MultiPolygon" and len(geometry["arcs"]) == 1:
            geometry["type"], geometry["arcs"] = "Polygon", geometry["arcs"][0]
    doc["objects"] = {object_name: collection}
    return _arcs_in_order_of_use(doc, collection["geometries"])


def _arcs_in_order_of_use(doc: dict, geometries: list[dict]) -> dict:
    """Renumber the arcs in the order the geometries first use them, so neighbouring grids refer to nearby
    numbers and the references compress better (the TopoJSON is the same shapes, arc for arc)."""
    order: dict[int, int] = {}
    for geometry in geometries:
        for ring in _rings(geometry):
            for i in ring:
                order.setdefault(i if i >= 0 else ~i, len(order))
    for geometry in geometries:
        renumbered = [[order[i] if i >= 0 else ~order[~i] for i in ring] for ring in _rings(geometry)]
        if geometry["type"] == "Polygon":
            geometry["arcs"] = renumbered
        else:
            sizes = [len(polygon) for polygon in geometry["arcs"]]
            bounds = np.cumsum([0, *sizes])
            geometry["arcs"] = [renumbered[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    arcs = [None] * len(order)
    for old, new in order.items():
        arcs[new] = doc["arcs"][old]
    doc["arcs"] = arcs
    return doc


def _rings(geometry: dict) -> list[list[int]]:
    return geometry["arcs"] if geometry["type"] == "Polygon" else [r for polygon in geometry["arcs"] for r in polygon]


def _steps(units: gpd.GeoDataFrame, quantum_m: float, metric_epsg: int) -> int:
    """How many integer steps span the units' extent when one step is ``quantum_m`` metres."""
    x0, y0, x1, y1 = units.to_crs(metric_epsg).total_bounds
    return max(2, math.ceil(max(x1 - x0, y1 - y0) / quantum_m) + 1)
