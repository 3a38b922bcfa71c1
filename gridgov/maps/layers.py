"""Units as compact GeoJSON for the browser: simplified with topology kept, quantised, code only.

Pure: takes a GeoDataFrame, returns a dict ready for ``json.dumps``. Simplification happens in the
county's metric CRS (tolerance in metres, never degrees) on the whole coverage at once, so neighbours
keep sharing their simplified edges and no gap or overlap opens between them.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import shapely

from gridgov.geo.crs import DEFAULT_METRIC_EPSG, STORAGE_EPSG, to_metric, to_storage

DEFAULT_TOLERANCE_M = 5.0
"""Simplification tolerance: at county zoom a screen pixel spans about 40 m, so 5 m never shows."""

DECIMALS = 6
"""Coordinate decimals in the browser's GeoJSON: 1e-6° is about 0.1 m at Nan County's latitude."""


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
