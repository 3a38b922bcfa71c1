"""The point locator against sjoin and a brute-force covers test, on hand-built micro-grids."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely import box

from gridgov.errors import InvalidDataset, InvalidGeometry
from gridgov.geo.locate import Locator

X0, Y0 = 112.5, 29.3
STEP = 0.01


def micro_grids(geoms) -> gpd.GeoDataFrame:
    """Micro-grids with scheme-shaped codes: two per grid, four grids per village, one town."""
    i = np.arange(len(geoms))
    village = [f"430921100{201 + k // 8:03d}" for k in i]
    grid = [f"{v}{1 + (k // 2) % 4:02d}" for v, k in zip(village, i, strict=True)]
    return gpd.GeoDataFrame(
        {"code": [f"{g}{1 + k % 2:02d}" for g, k in zip(grid, i, strict=True)], "grid_code": grid,
         "village_code": village, "town_code": ["430921100"] * len(geoms)},
        geometry=list(geoms), crs="EPSG:4490")


def square_tiling(n: int = 4) -> gpd.GeoDataFrame:
    """An n x n tiling of 0.01 degree squares from (112.5E, 29.3N), row-major from south-west."""
    return micro_grids([box(X0 + c * STEP, Y0 + r * STEP, X0 + (c + 1) * STEP, Y0 + (r + 1) * STEP)
                        for r in range(n) for c in range(n)])


def voronoi_tiling(n: int = 40, seed: int = 7) -> gpd.GeoDataFrame:
    """A Voronoi tiling of a concave (C-shaped) region about 4 km across."""
    region = shapely.difference(box(X0, Y0, X0 + 0.04, Y0 + 0.04),
                                box(X0 + 0.015, Y0 + 0.012, X0 + 0.05, Y0 + 0.028))
    rng = np.random.default_rng(seed)
    seeds = shapely.points(rng.uniform(X0, X0 + 0.04, 4 * n), rng.uniform(Y0, Y0 + 0.04, 4 * n))
    seeds = seeds[shapely.contains(region, seeds)][:n]
    cells = shapely.intersection(
        shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds))), region)
    return micro_grids(cells[~shapely.is_empty(cells)])


def brute_force(gdf: gpd.GeoDataFrame, x, y) -> np.ndarray:
    """Lowest row index of a polygon covering each point, -1 where none does."""
    polys = np.asarray(gdf.geometry.array, dtype=object)
    covered = shapely.covers(polys[:, None], shapely.points(x, y)[None, :])
    return np.where(covered.any(axis=0), covered.argmax(axis=0), -1)


def by_sjoin(gdf: gpd.GeoDataFrame, x, y) -> np.ndarray:
    points = gpd.GeoDataFrame(geometry=shapely.points(x, y), crs=gdf.crs)
    joined = gpd.sjoin(points, gdf[["geometry"]], predicate="within")
    assert not joined.index.duplicated().any()
    out = np.full(len(x), -1)
    out[joined.index.to_numpy()] = joined["index_right"].to_numpy()
    return out


def random_points(gdf: gpd.GeoDataFrame, n: int, seed: int = 1):
    x0, y0, x1, y1 = gdf.total_bounds
    rng = np.random.default_rng(seed)
    pad = 0.1 * (x1 - x0)
    return rng.uniform(x0 - pad, x1 + pad, n), rng.uniform(y0 - pad, y1 + pad, n)


def boundary_points(gdf: gpd.GeoDataFrame, offsets=(0.0, 1e-12, -1e-12, 1e-9, -1e-9)):
    """Vertices and densified points of every boundary, nudged by tiny offsets in x and y."""
    rings = shapely.segmentize(shapely.boundary(gdf.geometry.array), 0.0007)
    xy = shapely.get_coordinates(rings)
    x = np.concatenate([xy[:, 0] + dx for dx in offsets for _ in offsets])
    y = np.concatenate([xy[:, 1] + dy for _ in offsets for dy in offsets])
    return x, y


@pytest.mark.parametrize("cell_size_m", [1.5, 10.0, 137.0, 2000.0])
@pytest.mark.parametrize("tiling", [square_tiling, voronoi_tiling])
def test_random_points_match_sjoin(tiling, cell_size_m):
    gdf = tiling()
    x, y = random_points(gdf, 20_000)
    got = Locator(gdf, cell_size_m=cell_size_m).locate_indices(x, y)
    np.testing.assert_array_equal(got, by_sjoin(gdf, x, y))
    assert (got >= 0).any() and (got == -1).any()


@pytest.mark.parametrize("cell_size_m", [1.5, 10.0, 137.0])
@pytest.mark.parametrize("tiling", [square_tiling, voronoi_tiling])
def test_points_on_and_near_boundaries_match_covers(tiling, cell_size_m):
    gdf = tiling()
    x, y = boundary_points(gdf)
    got = Locator(gdf, cell_size_m=cell_size_m).locate_indices(x, y)
    np.testing.assert_array_equal(got, brute_force(gdf, x, y))


def test_shared_edges_and_vertices_go_to_the_lowest_row():
    locator = Locator(square_tiling())
    x = [X0 + STEP, X0 + 0.005, X0 + STEP, X0 + 2 * STEP, X0 + 4 * STEP]
    y = [Y0 + 0.005, Y0 + STEP, Y0 + STEP, Y0 + 3 * STEP, Y0 + 4 * STEP]
    # edge 0|1, edge 0/4, vertex of 0,1,4,5, vertex of 9,10,13,14, outer north-east corner (15)
    assert locator.locate_indices(x, y).tolist() == [0, 0, 0, 9, 15]


def test_outer_boundary_is_inside_and_beyond_is_outside():
    locator = Locator(square_tiling())
    x = [X0, X0 + 0.015, X0 + 4 * STEP, X0 - 1e-9, X0 + 4 * STEP + 1e-9, 113.0]
    y = [Y0 + 0.005, Y0, Y0 + 0.035, Y0 + 0.005, Y0 + 0.035, 29.0]
    assert locator.locate_indices(x, y).tolist() == [0, 1, 15, -1, -1, -1]


def test_nan_and_inf_are_outside():
    locator = Locator(square_tiling())
    nan, inf = float("nan"), float("inf")
    x = [nan, X0 + 0.005, inf, -inf, X0 + 0.005, nan]
    y = [Y0 + 0.005, nan, Y0 + 0.005, Y0 + 0.005, inf, nan]
    assert locator.locate_indices(x, y).tolist() == [-1] * 6


def test_hole_contents_go_to_the_inner_polygon():
    outer = shapely.Polygon(
        [(X0, Y0), (X0 + 0.03, Y0), (X0 + 0.03, Y0 + 0.03), (X0, Y0 + 0.03)],
        holes=[[(X0 + 0.01, Y0 + 0.01), (X0 + 0.02, Y0 + 0.01), (X0 + 0.02, Y0 + 0.02),
                (X0 + 0.01, Y0 + 0.02)]])
    inner = box(X0 + 0.01, Y0 + 0.01, X0 + 0.02, Y0 + 0.02)
    donut = shapely.Polygon(  # an unfilled hole: its contents are outside
        [(X0 + 0.04, Y0), (X0 + 0.07, Y0), (X0 + 0.07, Y0 + 0.03), (X0 + 0.04, Y0 + 0.03)],
        holes=[[(X0 + 0.05, Y0 + 0.01), (X0 + 0.06, Y0 + 0.01), (X0 + 0.06, Y0 + 0.02),
                (X0 + 0.05, Y0 + 0.02)]])
    gdf = micro_grids([outer, inner, donut])
    locator = Locator(gdf)
    x = [X0 + 0.015, X0 + 0.005, X0 + 0.055, X0 + 0.045, X0 + 0.01, X0 + 0.035]
    y = [Y0 + 0.015, Y0 + 0.015, Y0 + 0.015, Y0 + 0.015, Y0 + 0.015, Y0 + 0.015]
    # hole filled by inner, outer ring, donut hole, donut, hole edge (outer wins), gap
    assert locator.locate_indices(x, y).tolist() == [1, 0, -1, 2, 0, -1]
    x, y = random_points(gdf, 20_000)
    np.testing.assert_array_equal(locator.locate_indices(x, y), by_sjoin(gdf, x, y))


def test_slivers_and_multipolygons():
    sliver = box(X0 + 0.01, Y0, X0 + 0.01 + 1e-6, Y0 + 0.02)  # 0.1 m wide: all mixed cells
    left = box(X0, Y0, X0 + 0.01, Y0 + 0.02)
    right = shapely.MultiPolygon([box(X0 + 0.01 + 1e-6, Y0, X0 + 0.02, Y0 + 0.02),
                                  box(X0 + 0.03, Y0, X0 + 0.04, Y0 + 0.02)])
    gdf = micro_grids([left, sliver, right])
    locator = Locator(gdf, cell_size_m=20.0)
    assert locator.locate_indices([X0 + 0.01 + 5e-7, X0 + 0.035, X0 + 0.025],
                                  [Y0 + 0.01] * 3).tolist() == [1, 2, -1]
    x, y = random_points(gdf, 20_000)
    np.testing.assert_array_equal(locator.locate_indices(x, y), by_sjoin(gdf, x, y))


def test_locate_returns_codes_in_input_order():
    gdf = square_tiling()
    locator = Locator(gdf)
    x = np.array([X0 + 0.035, 113.0, X0 + 0.005, float("nan"), X0 + 0.015])
    y = np.array([Y0 + 0.035, 29.0, Y0 + 0.005, Y0, Y0 + 0.005])
    frame = locator.locate(x, y)
    assert list(frame.columns) == ["micro_grid_code", "grid_code", "village_code", "town_code",
                                   "inside"]
    assert len(frame) == 5 and frame.index.tolist() == [0, 1, 2, 3, 4]
    assert frame.inside.tolist() == [True, False, True, False, True]
    expected = gdf.iloc[[15, 0, 1]]
    assert frame.micro_grid_code[frame.inside].tolist() == expected.code.tolist()
    assert frame.grid_code[frame.inside].tolist() == expected.grid_code.tolist()
    assert frame.village_code[frame.inside].tolist() == expected.village_code.tolist()
    assert frame.town_code[frame.inside].tolist() == ["430921100"] * 3
    assert frame.loc[~frame.inside, ["micro_grid_code", "grid_code", "village_code",
                                     "town_code"]].isna().all().all()


def test_empty_input_and_single_point():
    locator = Locator(square_tiling())
    assert locator.locate_indices([], []).shape == (0,)
    frame = locator.locate(np.array([]), np.array([]))
    assert len(frame) == 0 and "inside" in frame.columns
    assert locator.locate_indices(X0 + 0.015, Y0 + 0.005).tolist() == [1]
    assert locator.locate(X0 + 0.015, Y0 + 0.005).micro_grid_code.tolist() == ["4309211002010102"]


def test_no_micro_grids_leaves_everything_outside():
    locator = Locator(micro_grids([]))
    assert locator.locate_indices([X0, 0.0], [Y0, 0.0]).tolist() == [-1, -1]


def test_refuses_bad_input():
    gdf = square_tiling()
    with pytest.raises(InvalidDataset):
        Locator(gdf.set_crs(None, allow_override=True))
    with pytest.raises(InvalidDataset):
        Locator(gdf.drop(columns="town_code"))
    with pytest.raises(InvalidGeometry):
        Locator(micro_grids([box(X0, Y0, X0 + 1, Y0 + 1), shapely.Point(X0, Y0)]))
    with pytest.raises(ValueError):
        Locator(gdf).locate_indices([X0, X0], [Y0])


def test_index_is_small_int_raster():
    locator = Locator(square_tiling(), cell_size_m=10.0)
    assert locator.cells.dtype == np.int16
    width_m, height_m = locator.cell_size_m
    assert 9.0 < width_m <= 10.0 and 9.0 < height_m <= 10.0
    assert set(np.unique(locator.cells)) <= set(range(-2, 16))
    assert isinstance(locator.locate([], []), pd.DataFrame)
