"""Patrol coverage on hand-built geometries with answers worked out by hand, and against the exact method."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely import LineString, MultiLineString, MultiPolygon, Point, Polygon, box

from gridgov.geo.coverage import (
    Coverage,
    _area_pieces,
    area_share_exact,
    area_share_within,
    coverage,
    line_share_exact,
    line_share_within,
)

RIVER = LineString([(0, 0), (1000, 0)])
"""A straight river reach 1,000 m long along the x axis (metres, EPSG:4546-like)."""

FOREST = box(0, 0, 200, 200)
"""A square forest patch of 200 m x 200 m."""


def both_line(track, lines, distance):
    return (line_share_within(track, lines=lines, distance=distance),
            line_share_exact(track, lines=lines, distance=distance))


def both_area(track, polygons, distance):
    return (area_share_within(track, polygons=polygons, distance=distance),
            area_share_exact(track, polygons=polygons, distance=distance))


def test_parallel_track_covers_its_length_and_the_reach_of_its_end():
    # Beside x in [0, 400] at 30 m, plus the end's reach: sqrt(40**2 + 30**2) = 50, to x = 440.
    fast, exact = both_line([[0, 30], [400, 30]], [RIVER], 50.0)
    assert fast == pytest.approx(0.44, abs=1e-4)
    assert exact == pytest.approx(0.44, abs=1e-3)  # the buffer's polygonal cap cuts x = 439.93


def test_single_fix_covers_a_chord():
    # A point 30 m off the river reaches x in [500 - 40, 500 + 40].
    fast, exact = both_line([[500, 30]], [RIVER], 50.0)
    assert fast == pytest.approx(0.08, abs=1e-4)
    assert exact == pytest.approx(0.08, abs=1e-3)


def test_track_along_an_edge_covers_half_the_square():
    fast, exact = both_area([[0, 0], [200, 0]], [FOREST], 100.0)
    assert fast == pytest.approx(0.5, abs=1e-4)
    assert exact == pytest.approx(0.5, abs=1e-9)


def test_track_100m_off_an_edge_covers_what_lies_within_the_distance():
    track = [[-500, -100], [700, -100]]
    assert both_area(track, [FOREST], 100.0) == (pytest.approx(0.0, abs=1e-9), pytest.approx(0.0, abs=1e-9))
    fast, exact = both_area(track, [FOREST], 150.0)  # the strip 0 <= y <= 50
    assert fast == pytest.approx(0.25, abs=1e-4)
    assert exact == pytest.approx(0.25, abs=1e-9)


def test_single_fix_at_a_corner_covers_a_quarter_disc():
    fast, exact = both_area([[0, 0]], [FOREST], 100.0)
    assert fast == pytest.approx(math.pi / 16, abs=1e-3)
    assert exact == pytest.approx(2 * math.sin(math.pi / 32), abs=1e-9)  # the buffer is a 64-gon


def test_straight_road_parallel_to_the_strips():
    # The worst case for counting samples in or out: a long buffer edge along the strips, off-grid.
    field = box(0, 0, 1000, 1000)
    fast, exact = both_area([[-200, 500.3], [1200, 500.3]], [field], 100.0)
    assert fast == pytest.approx(0.2, abs=1e-4)
    assert exact == pytest.approx(0.2, abs=1e-9)


def test_far_track_covers_nothing():
    far = [[5000, 5000], [5100, 5000]]
    assert line_share_within(far, lines=[RIVER], distance=50.0) == 0.0
    assert area_share_within(far, polygons=[FOREST], distance=100.0) == 0.0
    assert line_share_exact(far, lines=[RIVER], distance=50.0) == 0.0


def test_track_near_everything_covers_all():
    # Every corner of the square lies sqrt(2) * 100 = 141.4 m from its centre.
    assert area_share_within([[100, 100]], polygons=[FOREST], distance=150.0) == 1.0
    assert area_share_exact([[100, 100]], polygons=[FOREST], distance=150.0) == pytest.approx(1.0)
    assert line_share_within([[0, 10], [1000, 10]], lines=[RIVER], distance=50.0) == 1.0


def test_no_resource_is_not_applicable():
    track = [[0, 0], [10, 0]]
    for lines in ([], [None], [LineString()], np.array([], dtype=object)):
        assert line_share_within(track, lines=lines, distance=50.0) is None
        assert line_share_exact(track, lines=lines, distance=50.0) is None
    for polygons in ([], [Polygon()], [None]):
        assert area_share_within(track, polygons=polygons, distance=100.0) is None
        assert area_share_exact(track, polygons=polygons, distance=100.0) is None
    assert coverage(track, rivers=[], forests=[], farmland=[]) == Coverage(None, None, None)


def test_empty_track_covers_nothing():
    assert line_share_within(np.empty((0, 2)), lines=[RIVER], distance=50.0) == 0.0
    assert area_share_within([], polygons=[FOREST], distance=100.0) == 0.0
    assert area_share_exact([], polygons=[FOREST], distance=100.0) == 0.0


def test_repeated_fixes_change_nothing():
    clean = [[0, 30], [200, 30], [400, 30]]
    repeated = [[0, 30], [0, 30], [200, 30], [200, 30], [200, 30], [400, 30], [400, 30]]
    assert line_share_within(repeated, lines=[RIVER], distance=50.0) == pytest.approx(
        line_share_within(clean, lines=[RIVER], distance=50.0), abs=1e-12)
    standing = [[500, 30]] * 5  # an officer standing still is a point
    assert line_share_within(standing, lines=[RIVER], distance=50.0) == pytest.approx(0.08, abs=1e-4)
    assert line_share_exact(standing, lines=[RIVER], distance=50.0) == pytest.approx(0.08, abs=1e-3)


def test_multi_part_lines_and_polygons_with_holes():
    river = MultiLineString([[(0, 0), (100, 0)], [(0, 500), (50, 500), (100, 500)]])
    fast, exact = both_line([[50, -20], [50, 20]], [river], 50.0)
    assert fast == pytest.approx(0.5, abs=1e-4)
    assert exact == pytest.approx(0.5, abs=1e-3)

    # Two 200 m squares, the first with a 100 m hole in the middle; a point at the hole's centre.
    holed = Polygon(FOREST.exterior.coords, [box(50, 50, 150, 150).exterior.coords])
    patches = MultiPolygon([holed, Polygon(box(1000, 0, 1200, 200).exterior.coords, [])])
    assert both_area([[100, 100]], [patches], 50.0) == (pytest.approx(0.0, abs=1e-4), pytest.approx(0.0, abs=1e-9))
    # A 100 m disc: inscribed in the first square and covering its hole, (pi - 1) * 100**2 m2 of 70,000.
    fast, exact = both_area([[100, 100]], [patches], 100.0)
    assert fast == pytest.approx((math.pi - 1) / 7, abs=1e-3)
    assert exact == pytest.approx(2 * math.sin(math.pi / 32) * 16 / 7 - 1 / 7, abs=1e-9)  # a 64-gon


def test_pieces_add_up_to_the_polygons_area():
    # The midpoint rule over strips is exact where widths vary linearly; the star's sharp vertices and the
    # round patch's flat top and bottom leave it about a tenth of a per cent off.
    star = Polygon([(500 + r * math.cos(a), 500 + r * math.sin(a))
                    for a, r in zip(np.linspace(0, 2 * math.pi, 22, endpoint=False), [300, 120] * 11, strict=True)])
    ring = shapely.difference(Point(0, 0).buffer(200), Point(30, 20).buffer(90))
    polygons = [star, ring, box(2000, 0, 2300, 1), box(3000, 0, 3001, 300)]
    pieces = _area_pieces(polygons, 100.0, None)
    assert pieces.weight.sum() == pytest.approx(shapely.area(polygons).sum(), rel=2e-3)


def test_accepts_a_geoseries():
    rivers = gpd.GeoSeries([RIVER, None], crs="EPSG:4546")
    assert line_share_within([[0, 30], [400, 30]], lines=rivers, distance=50.0) == pytest.approx(0.44, abs=1e-4)


def test_coverage_scores_each_domain_with_its_distance():
    result = coverage([[0, 30], [400, 30]], rivers=[RIVER], forests=[box(0, 0, 400, 200)], farmland=[FOREST],
                      river_distance=50.0, area_distance=100.0)
    assert result.river == pytest.approx(0.44, abs=1e-4)
    assert result.forest == pytest.approx(0.65, abs=1e-4)  # 0 <= y <= 130 of 200
    assert result.farmland == pytest.approx(0.65, abs=1e-4)


@pytest.mark.parametrize("bad", [0.0, -5.0, math.nan, math.inf])
def test_refuses_a_distance_that_is_not_positive(bad):
    with pytest.raises(ValueError, match="distance"):
        line_share_within([[0, 0]], lines=[RIVER], distance=bad)
    with pytest.raises(ValueError, match="river_distance"):
        coverage([[0, 0]], rivers=[RIVER], forests=[], farmland=[], river_distance=bad)


@pytest.mark.parametrize("track", [[[0, 0, 0]], [0, 0], [[0, 0], [math.nan, 1]]])
def test_refuses_a_malformed_track(track):
    with pytest.raises(ValueError, match="track_xy"):
        area_share_within(track, polygons=[FOREST], distance=100.0)


def wander(rng: np.random.Generator, n: int, step: float, extent: float) -> np.ndarray:
    """A patrol-like track: a correlated random walk turning back at the edges of a square."""
    heading = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0, 0.25, n))
    xy = np.cumsum(step * np.column_stack([np.cos(heading), np.sin(heading)]), axis=0)
    xy = np.mod(xy + extent / 2, 2 * extent)
    return np.where(xy > extent, 2 * extent - xy, xy)  # fold back into [0, extent]


def meander(rng: np.random.Generator, extent: float) -> LineString:
    heading = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0, 0.3, 60))
    xy = rng.uniform(0, extent, 2) + np.cumsum(15 * np.column_stack([np.cos(heading), np.sin(heading)]), axis=0)
    return LineString(xy)


def patches(rng: np.random.Generator, extent: float) -> list:
    """Round, rectangular, holed, convex and multi-part patches."""
    x, y = rng.uniform(0, extent, (2, 5))
    return [
        Point(x[0], y[0]).buffer(rng.uniform(20, 150)),
        box(x[1], y[1], x[1] + rng.uniform(10, 300), y[1] + rng.uniform(10, 300)),
        shapely.difference(box(x[2], y[2], x[2] + 250, y[2] + 200), Point(x[2] + 125, y[2] + 100).buffer(60)),
        shapely.convex_hull(shapely.multipoints(rng.uniform(0, extent, (7, 2)))),
        MultiPolygon([box(x[3], y[3], x[3] + 40, y[3] + 90), box(x[3] + 60, y[4], x[3] + 180, y[4] + 15)]),
    ]


@pytest.mark.parametrize("seed", range(12))
def test_random_cases_stay_within_one_percentage_point_of_the_exact_share(seed):
    rng = np.random.default_rng(seed)
    extent = 800.0
    track = wander(rng, int(rng.integers(1, 600)), rng.uniform(2, 15), extent)
    rivers = [meander(rng, extent) for _ in range(2)]
    forests, farmland = patches(rng, extent), patches(rng, extent)
    result = coverage(track, rivers=rivers, forests=forests, farmland=farmland)
    river = line_share_exact(track, lines=rivers, distance=50.0)
    forest = area_share_exact(track, polygons=forests, distance=100.0)
    field = area_share_exact(track, polygons=farmland, distance=100.0)
    assert abs(result.river - river) < 0.01
    assert abs(result.forest - forest) < 0.01
    assert abs(result.farmland - field) < 0.01
    for distance in (20.0, 50.0):  # the single-domain functions, at other distances
        assert abs(line_share_within(track, lines=rivers, distance=distance)
                   - line_share_exact(track, lines=rivers, distance=distance)) < 0.01
        assert abs(area_share_within(track, polygons=forests, distance=distance)
                   - area_share_exact(track, polygons=forests, distance=distance)) < 0.01
