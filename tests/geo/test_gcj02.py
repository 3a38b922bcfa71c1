"""The GCJ-02 offset and its exact inverse."""

import numpy as np
import pyproj
import pytest
import shapely

from gridgov.geo.gcj02 import gcj02_to_wgs84, geometries_from_gcj02, wgs84_to_gcj02


@pytest.fixture(scope="module")
def china_points():
    """20,000 GCJ-02 points spread over mainland China's bounding box."""
    rng = np.random.default_rng(20240521)
    return rng.uniform(74.0, 134.0, 20_000), rng.uniform(18.0, 53.0, 20_000)


@pytest.fixture(scope="module")
def hunan_points():
    """Points around Nan County, where EPSG:4546 (CM 111E) measures true metres."""
    rng = np.random.default_rng(7)
    return rng.uniform(109.5, 113.5, 5_000), rng.uniform(25.0, 30.5, 5_000)


def _metres_apart(lon1, lat1, lon2, lat2) -> np.ndarray:
    to_gk = pyproj.Transformer.from_crs(4490, 4546, always_xy=True)
    x1, y1 = to_gk.transform(lon1, lat1)
    x2, y2 = to_gk.transform(lon2, lat2)
    return np.hypot(x1 - x2, y1 - y2)


def test_forward_moves_points_in_china_by_hundreds_of_metres(hunan_points):
    lon, lat = hunan_points
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    shift = _metres_apart(lon, lat, g_lon, g_lat)
    assert shift.min() > 100
    assert shift.max() < 1_000


def test_forward_of_inverse_reproduces_the_input(china_points):
    lon, lat = china_points
    w_lon, w_lat = gcj02_to_wgs84(lon, lat)
    back_lon, back_lat = wgs84_to_gcj02(w_lon, w_lat)
    assert np.abs(back_lon - lon).max() < 1e-9
    assert np.abs(back_lat - lat).max() < 1e-9
    assert np.abs(w_lon - lon).max() > 1e-3


def test_inverse_of_forward_reproduces_the_input(china_points):
    lon, lat = china_points
    w_lon, w_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert np.abs(w_lon - lon).max() < 1e-9
    assert np.abs(w_lat - lat).max() < 1e-9


def test_exact_inverse_beats_the_naive_one_step_inverse(hunan_points):
    true_lon, true_lat = hunan_points
    g_lon, g_lat = wgs84_to_gcj02(true_lon, true_lat)
    f_lon, f_lat = wgs84_to_gcj02(g_lon, g_lat)
    naive_lon, naive_lat = g_lon - (f_lon - g_lon), g_lat - (f_lat - g_lat)
    exact_lon, exact_lat = gcj02_to_wgs84(g_lon, g_lat)

    naive_err = _metres_apart(naive_lon, naive_lat, true_lon, true_lat)
    exact_err = _metres_apart(exact_lon, exact_lat, true_lon, true_lat)
    assert naive_err.max() > 0.5
    assert exact_err.max() < 1e-3


def test_points_outside_china_are_unchanged():
    lon = np.array([2.35, -74.0, 151.2, 139.69, 72.0, 120.0])
    lat = np.array([48.85, 40.7, -33.9, 56.0, 30.0, 0.5])
    assert wgs84_to_gcj02(lon, lat)[0].tolist() == lon.tolist()
    assert wgs84_to_gcj02(lon, lat)[1].tolist() == lat.tolist()
    assert gcj02_to_wgs84(lon, lat)[0].tolist() == lon.tolist()
    assert gcj02_to_wgs84(lon, lat)[1].tolist() == lat.tolist()


def test_scalars_give_floats_and_arrays_keep_their_shape():
    lon, lat = gcj02_to_wgs84(112.4, 29.3)
    assert isinstance(lon, float) and isinstance(lat, float)
    grid_lon, grid_lat = np.meshgrid(np.linspace(112.2, 112.8, 4), np.linspace(29.0, 29.5, 3))
    w_lon, w_lat = gcj02_to_wgs84(grid_lon, grid_lat)
    assert w_lon.shape == w_lat.shape == (3, 4)
    assert w_lon[1, 2] == pytest.approx(gcj02_to_wgs84(grid_lon[1, 2], grid_lat[1, 2])[0], abs=1e-12)
    lon_list, _ = wgs84_to_gcj02([112.4, 112.5], [29.3, 29.4])
    assert lon_list.shape == (2,)


def test_geometries_from_gcj02_moves_every_vertex():
    wgs = shapely.Polygon([(112.3, 29.1), (112.6, 29.1), (112.6, 29.4), (112.3, 29.1)])
    coords = shapely.get_coordinates(wgs)
    g_lon, g_lat = wgs84_to_gcj02(coords[:, 0], coords[:, 1])
    gcj = shapely.Polygon(np.column_stack([g_lon, g_lat]))
    back = geometries_from_gcj02(np.array([gcj, shapely.Point(g_lon[0], g_lat[0])]))
    assert shapely.equals_exact(back[0], wgs, tolerance=1e-10)
    assert shapely.equals_exact(back[1], shapely.Point(112.3, 29.1), tolerance=1e-10)
