"""The supervisor map's pure parts: colour classes from mapclassify, simplification, the GCJ-02 grid."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from gridgov.geo.gcj02 import wgs84_to_gcj02
from gridgov.maps.classes import classify
from gridgov.maps.overlays import gcj02_offsets, simplified_lonlat


def test_zero_is_a_class_of_its_own_and_each_few_distinct_count_another():
    c = classify([0, 3, 0, 1, 3, 7])
    assert c.method == "distinct"
    assert c.breaks == [0.0, 1.0, 3.0, 7.0]
    assert c.index == [0, 2, 0, 1, 2, 3]


def test_many_distinct_counts_are_cut_by_natural_breaks_into_k_classes():
    counts = [0] * 50 + [1] * 20 + [2] * 10 + [3] * 5 + [10, 11, 12] + [30, 31]
    c = classify(counts, k=5)
    assert c.method == "fisher_jenks"
    assert len(c.breaks) == 5 and c.breaks[0] == 0 and c.breaks[-1] == 31
    assert c.breaks == sorted(c.breaks)
    # every value lies in the class whose upper bound is the first at or above it
    for value, index in zip(counts, c.index, strict=True):
        assert value <= c.breaks[index] and (index == 0 or value > c.breaks[index - 1])
    assert c.index[counts.index(30)] == 4 and c.index[counts.index(10)] == 3  # the jumps make the breaks


def test_no_findings_anywhere_is_one_class_and_no_grids_no_classes():
    assert classify([0, 0, 0]).breaks == [0.0]
    assert classify([0, 0, 0]).index == [0, 0, 0]
    assert classify([]).index == []


@pytest.mark.parametrize("values", [[-1, 2], [np.nan, 1]])
def test_counts_must_be_non_negative_numbers(values):
    with pytest.raises(ValueError):
        classify(values)


def test_simplification_happens_in_metres_and_keeps_the_ends():
    # a 1 km line with a 1 m kink: the kink goes at a 10 m tolerance, stays at 0.1 m
    line = shapely.LineString([(112.40, 29.37), (112.405, 29.37001), (112.41, 29.37)])
    assert len(simplified_lonlat([line], tolerance_m=10, metric_epsg=4546)[0].coords) == 2
    assert len(simplified_lonlat([line], tolerance_m=0.1, metric_epsg=4546)[0].coords) == 3


def test_the_gcj02_grid_holds_the_exact_offsets_at_its_nodes_and_covers_the_bounds():
    grid = gcj02_offsets((112.18, 29.04, 112.81, 29.53))
    assert grid["x0"] <= 112.18 and grid["x0"] + grid["step"] * (grid["nx"] - 1) >= 112.81
    assert grid["y0"] <= 29.04 and grid["y0"] + grid["step"] * (grid["ny"] - 1) >= 29.53
    j, i = 7, 11
    lon, lat = grid["x0"] + i * grid["step"], grid["y0"] + j * grid["step"]
    glon, glat = wgs84_to_gcj02(lon, lat)
    assert grid["dlon"][j][i] == pytest.approx(glon - lon, abs=1e-8)
    assert grid["dlat"][j][i] == pytest.approx(glat - lat, abs=1e-8)
    # halfway between nodes, bilinear interpolation (what the page does) stays within 0.2 m of the exact shift
    u = 0.5
    interpolated = (grid["dlon"][j][i] + grid["dlon"][j][i + 1]) / 2
    exact = wgs84_to_gcj02(lon + u * grid["step"], lat)[0] - (lon + u * grid["step"])
    assert abs(interpolated - exact) * 97_000 < 0.2
