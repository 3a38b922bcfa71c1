"""Coordinate reference systems: store in CGCS2000 geographic, measure in CGCS2000 Gauss-Krüger.

Coordinates are stored as CGCS2000 (EPSG:4490) in lon/lat order. Lengths and areas are never taken
in degrees: they are measured after projecting to a metric CRS, by default the CGCS2000 3-degree
Gauss-Krüger CRS configured for the county (EPSG:4546, "CM 111E", for Nan County at 112.2°E-112.8°E;
the CM variants carry no zone prefix, so a county straddling a zone edge stays in one CRS).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyproj
import shapely

STORAGE_EPSG = 4490
"""CGCS2000 geographic, lon/lat axis order as stored."""

DEFAULT_METRIC_EPSG = 4546
"""CGCS2000 / 3-degree Gauss-Kruger CM 111E, the metric CRS of Nan County."""


@lru_cache(maxsize=64)
def transformer(src_epsg: int, dst_epsg: int) -> pyproj.Transformer:
    """A cached, always-lon/lat-first transformer between two EPSG codes."""
    return pyproj.Transformer.from_crs(src_epsg, dst_epsg, always_xy=True)


def transform(geoms, src_epsg: int, dst_epsg: int):
    """Transform a shapely geometry or array of geometries, vectorised over all coordinates."""
    if src_epsg == dst_epsg:
        return geoms
    tr = transformer(src_epsg, dst_epsg)
    return shapely.transform(geoms, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))


def to_metric(geoms, metric_epsg: int = DEFAULT_METRIC_EPSG):
    """Project stored CGCS2000 geometries into the metric CRS used for measuring."""
    return transform(geoms, STORAGE_EPSG, metric_epsg)


def to_storage(geoms, metric_epsg: int = DEFAULT_METRIC_EPSG):
    """Project metric geometries back to CGCS2000 lon/lat for storage."""
    return transform(geoms, metric_epsg, STORAGE_EPSG)
