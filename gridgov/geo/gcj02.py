"""GCJ-02 (火星坐标, the offset datum of Amap, Tencent and other Chinese web maps) to and from WGS84.

GCJ-02 is WGS84 shifted by a smooth, deliberately obfuscated offset of a few hundred metres, defined
only inside a rough bounding box of China. The forward direction (WGS84 -> GCJ-02) is the widely
published formula on the Krasovsky 1940 ellipsoid; the inverse has no closed form, so
:func:`gcj02_to_wgs84` solves ``forward(w) = g`` by fixed-point iteration. The offset's Jacobian is
about 1e-4 in size, so every step gains roughly four digits and a handful of steps reach 1e-12
degrees, where the popular one-step inverse ``g - (forward(g) - g)`` leaves errors of a metre or more.

CGCS2000 (EPSG:4490) and WGS84 differ at the centimetre level, far below the precision of any Amap
boundary, so GCJ-02 -> CGCS2000 is done as GCJ-02 -> WGS84 and the result is stored as EPSG:4490.
"""

from __future__ import annotations

import numpy as np
import shapely

_A = 6378245.0
"""Semi-major axis of the Krasovsky 1940 ellipsoid used by the GCJ-02 formula."""

_EE = 0.00669342162296594323
"""First eccentricity squared of the Krasovsky 1940 ellipsoid."""

CHINA_BBOX = (72.004, 0.8293, 137.8347, 55.8271)
"""(min lon, min lat, max lon, max lat) outside which GCJ-02 applies no offset."""

INVERSE_TOLERANCE_DEG = 1e-12
"""The inverse stops once the forward of the result reproduces the input to this many degrees."""

INVERSE_MAX_ITERATIONS = 30


def _outside_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    min_lon, min_lat, max_lon, max_lat = CHINA_BBOX
    return (lon < min_lon) | (lon > max_lon) | (lat < min_lat) | (lat > max_lat)


def _offset(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The GCJ-02 offset (dlon, dlat) in degrees at WGS84 ``lon``/``lat``; zero outside China."""
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = (
        -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
        + common
        + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    )
    dlon = (
        300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
        + common
        + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    )
    rad_lat = np.radians(lat)
    magic = 1.0 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    outside = _outside_china(lon, lat)
    return np.where(outside, 0.0, dlon), np.where(outside, 0.0, dlat)


def _as_arrays(lon, lat) -> tuple[np.ndarray, np.ndarray, bool]:
    lon_a, lat_a = np.broadcast_arrays(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return lon_a, lat_a, lon_a.ndim == 0


def _result(lon: np.ndarray, lat: np.ndarray, scalar: bool):
    if scalar:
        return float(lon), float(lat)
    return lon, lat


def wgs84_to_gcj02(lon, lat):
    """Offset WGS84 (or CGCS2000) coordinates into GCJ-02.

    Parameters
    ----------
    lon, lat : float or array_like
        Longitude and latitude in degrees, broadcast against each other.

    Returns
    -------
    (lon, lat) : tuple of float or of numpy.ndarray
        GCJ-02 coordinates, floats for scalar input. Points outside China's rough bounding box
        (:data:`CHINA_BBOX`) are returned unchanged.

    Examples
    --------
    >>> lon, lat = wgs84_to_gcj02(112.39, 29.37)
    >>> round(lon, 6), round(lat, 6)
    (112.39582, 29.367459)
    >>> wgs84_to_gcj02(2.35, 48.85)
    (2.35, 48.85)
    """
    lon_a, lat_a, scalar = _as_arrays(lon, lat)
    dlon, dlat = _offset(lon_a, lat_a)
    return _result(lon_a + dlon, lat_a + dlat, scalar)


def gcj02_to_wgs84(lon, lat):
    """Convert GCJ-02 coordinates back to WGS84 (= CGCS2000 at centimetre level), exactly.

    Iterates ``w <- w - (forward(w) - g)`` from ``w = g`` until ``forward(w)`` reproduces ``g`` to
    :data:`INVERSE_TOLERANCE_DEG` degrees (at most :data:`INVERSE_MAX_ITERATIONS` steps; in
    practice 3 to 4), all points at once.

    Parameters
    ----------
    lon, lat : float or array_like
        GCJ-02 longitude and latitude in degrees, broadcast against each other.

    Returns
    -------
    (lon, lat) : tuple of float or of numpy.ndarray
        WGS84 coordinates, floats for scalar input; points outside China are unchanged.

    Examples
    --------
    >>> lon, lat = gcj02_to_wgs84(*wgs84_to_gcj02(112.39, 29.37))
    >>> round(lon, 10), round(lat, 10)
    (112.39, 29.37)
    >>> w = gcj02_to_wgs84([112.3, 116.4], [29.2, 39.9])
    >>> g = wgs84_to_gcj02(*w)
    >>> bool(np.allclose(g, [[112.3, 116.4], [29.2, 39.9]], rtol=0, atol=1e-10))
    True
    """
    g_lon, g_lat, scalar = _as_arrays(lon, lat)
    w_lon, w_lat = g_lon.copy(), g_lat.copy()
    for _ in range(INVERSE_MAX_ITERATIONS):
        dlon, dlat = _offset(w_lon, w_lat)
        err_lon = w_lon + dlon - g_lon
        err_lat = w_lat + dlat - g_lat
        if np.all((np.abs(err_lon) <= INVERSE_TOLERANCE_DEG) & (np.abs(err_lat) <= INVERSE_TOLERANCE_DEG)):
            break
        w_lon = w_lon - err_lon
        w_lat = w_lat - err_lat
    return _result(w_lon, w_lat, scalar)


def geometries_from_gcj02(geoms):
    """Convert shapely geometries from GCJ-02 to WGS84/CGCS2000 with the exact inverse.

    Parameters
    ----------
    geoms : shapely.Geometry or array_like of shapely.Geometry
        Geometries with GCJ-02 lon/lat coordinates (for example an Amap boundary).

    Returns
    -------
    shapely.Geometry or numpy.ndarray
        The same geometries, every vertex moved by :func:`gcj02_to_wgs84`.

    Examples
    --------
    >>> p = geometries_from_gcj02(shapely.Point(112.39582, 29.367459))
    >>> round(p.x, 5), round(p.y, 5)
    (112.39, 29.37)
    """

    def _convert(xy: np.ndarray) -> np.ndarray:
        lon, lat = gcj02_to_wgs84(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(geoms, _convert)
