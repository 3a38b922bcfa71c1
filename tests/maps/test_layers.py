"""The browser's compact GeoJSON: simplified with topology kept, quantised, every unit kept."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gridgov.geo.crs import to_metric
from gridgov.maps.layers import compact_geojson, dumps, grid_topology, quantise, simplify_coverage
from tests.factories_geo import lattice, lattice_rect

SUB = 10  # vertices per lattice step (every ~100 m)


def _wiggle(i: float, j: float) -> tuple[float, float]:
    """A lattice point nudged by up to ~1 m, the same for every polygon that holds it."""
    x, y = lattice(i, j)
    on_corner = float(i).is_integer() and float(j).is_integer()
    dx = 0.0 if on_corner else 1e-5 * np.sin(7 * i + 3 * j)
    dy = 0.0 if on_corner else 1e-5 * np.cos(5 * i - 11 * j)
    return x + dx, y + dy


def _wiggly_square(i: int, j: int) -> shapely.Polygon:
    """The lattice cell (i, j) with a nudged vertex every tenth of a step on its boundary."""
    steps = [k / SUB for k in range(SUB)]
    ring = ([_wiggle(i + s, j) for s in steps] + [_wiggle(i + 1, j + s) for s in steps]
            + [_wiggle(i + 1 - s, j + 1) for s in steps] + [_wiggle(i, j + 1 - s) for s in steps])
    return shapely.Polygon(ring)


@pytest.fixture
def squares() -> gpd.GeoDataFrame:
    """A 4 x 4 lattice of ~1 km cells whose shared edges wiggle by ~1 m through shared vertices."""
    cells = [(i, j) for i in range(4) for j in range(4)]
    return gpd.GeoDataFrame(
        {"code": [f"g{i}{j}" for i, j in cells], "name": ["网格"] * len(cells)},
        geometry=[_wiggly_square(i, j) for i, j in cells], crs=4490,
    )


def _geoms(doc: dict) -> np.ndarray:
    return np.array([shapely.from_geojson(json.dumps(f["geometry"])) for f in doc["features"]])


def test_the_lattice_is_a_valid_coverage_to_begin_with(squares):
    assert shapely.coverage_is_valid(squares.geometry.values)


def test_simplifying_drops_the_wiggles_and_keeps_the_coverage(squares):
    doc = compact_geojson(squares, tolerance_m=20.0)
    out = _geoms(doc)
    assert len(out) == len(squares)
    assert [f["properties"] for f in doc["features"]] == [{"code": c} for c in squares["code"]]
    assert shapely.get_num_coordinates(out).sum() < shapely.get_num_coordinates(squares.geometry.values).sum() / 3
    assert shapely.is_valid(out).all()
    # no gap, no overlap: the parts still tile the same area, and no two overlap beyond a sliver
    metric = to_metric(out)
    before = to_metric(squares.geometry.values)
    assert shapely.union_all(metric).area == pytest.approx(shapely.union_all(before).area, rel=1e-4)
    assert sum(m.area for m in metric) == pytest.approx(shapely.union_all(metric).area, abs=1.0)  # m²
    assert shapely.coverage_is_valid(quantise(out), gap_width=0.0)


def test_each_unit_stays_within_the_tolerance_of_itself(squares):
    out = to_metric(simplify_coverage(squares.geometry.values, 20.0))
    before = to_metric(squares.geometry.values)
    distances = shapely.hausdorff_distance(out, before)
    assert distances.max() < 20.0


def test_coordinates_keep_six_decimals_at_most(squares):
    text = dumps(compact_geojson(squares, tolerance_m=0))
    numbers = [n for f in json.loads(text)["features"] for ring in f["geometry"]["coordinates"] for xy in ring
               for n in xy]
    assert all(len(repr(n).split(".")[1]) <= 6 for n in numbers)
    assert " " not in text


def test_a_zero_tolerance_keeps_every_vertex_up_to_rounding(squares):
    out = _geoms(compact_geojson(squares, tolerance_m=0))
    assert (shapely.get_num_coordinates(out) == shapely.get_num_coordinates(squares.geometry.values)).all()
    assert shapely.equals_exact(out, squares.geometry.values, tolerance=1e-6).all()


def test_multipolygons_and_the_plain_lattice_survive(squares):
    frame = gpd.GeoDataFrame({"code": ["a", "b"]}, crs=4490, geometry=[
        shapely.MultiPolygon([lattice_rect(0, 1, 0, 1), lattice_rect(2, 3, 0, 1)]), lattice_rect(1, 2, 0, 1)])
    doc = compact_geojson(frame)
    assert [f["geometry"]["type"] for f in doc["features"]] == ["MultiPolygon", "Polygon"]
    assert shapely.equals(_geoms(doc), frame.geometry.values).all()


def test_units_in_another_crs_are_refused(squares):
    with pytest.raises(ValueError, match="EPSG:4490"):
        compact_geojson(squares.to_crs(4546))


def _decoded(topo: dict) -> dict[str, shapely.Geometry]:
    """The topology's polygons back in lon/lat, decoded the way topojson-client does (delta-coded arcs,
    scaled by the transform; a negative index is the reversed arc ~i)."""
    scale, translate = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        xy = np.cumsum(np.asarray(arc, dtype=float), axis=0)
        arcs.append(xy * scale + translate)

    def ring(indexes):
        points = []
        for i in indexes:
            part = arcs[i] if i >= 0 else arcs[~i][::-1]
            points.extend(part if not points else part[1:])
        return points

    def polygon(rings):
        return shapely.Polygon(ring(rings[0]), [ring(r) for r in rings[1:]])

    out = {}
    for g in topo["objects"]["grids"]["geometries"]:
        parts = [g["arcs"]] if g["type"] == "Polygon" else g["arcs"]
        out[g["id"]] = shapely.union_all([polygon(p) for p in parts])
    return out


def test_the_topology_sends_each_shared_edge_once_and_decodes_to_the_grids(squares):
    squares["town"] = ["t1" if c < "g2" else "t2" for c in squares["code"]]
    topo = grid_topology(squares, properties=("town",), tolerance_m=20.0, quantum_m=1.0)
    geometries = topo["objects"]["grids"]["geometries"]
    assert [g["id"] for g in geometries] == list(squares["code"])
    assert [g["properties"] for g in geometries] == [{"town": t} for t in squares["town"]]
    rings = [r for g in geometries
             for r in (g["arcs"] if g["type"] == "Polygon" else [r for p in g["arcs"] for r in p])]
    used = [i if i >= 0 else ~i for ring in rings for i in ring]
    # 4 x 4 cells: 40 unit edges, each an arc or part of one; every arc is used by one or two cells
    assert max(np.bincount(used)) <= 2 and len(topo["arcs"]) < 40
    decoded = _decoded(topo)
    metric = to_metric(np.array([decoded[c] for c in squares["code"]]), 4546)
    original = to_metric(squares.geometry.values, 4546)
    # quantised to 1 m and simplified by at most 20 m: each cell keeps its area within 2 %, and the
    # decoded cells still tile the plane without overlaps (shared arcs are identical on both sides)
    assert np.allclose(shapely.area(metric), shapely.area(original), rtol=0.02)
    assert shapely.coverage_is_valid(metric)


def test_quantising_follows_the_metre_step(squares):
    coarse = grid_topology(squares, quantum_m=50.0)
    fine = grid_topology(squares, quantum_m=1.0)
    x0, y0, x1, y1 = shapely.total_bounds(to_metric(squares.geometry.values, 4546))
    assert coarse["transform"]["scale"][0] > fine["transform"]["scale"][0]
    # an arc's first point is absolute, the rest are deltas: none exceeds the extent in 50 m steps
    assert max(abs(v) for arc in coarse["arcs"] for xy in arc for v in xy) <= max(x1 - x0, y1 - y0) / 50 + 1


def test_an_empty_jurisdiction_is_an_empty_topology(squares):
    topo = grid_topology(squares.iloc[:0])
    assert topo["objects"]["grids"]["geometries"] == [] and topo["arcs"] == []


def test_a_grid_in_two_parts_keeps_both_after_the_arcs_are_renumbered(squares):
    parts = squares.copy()
    parts.loc[0, "geometry"] = shapely.MultiPolygon([parts.geometry[0], parts.geometry[15]])
    parts = parts.drop(index=15)
    topo = grid_topology(parts, tolerance_m=20.0, quantum_m=1.0)
    first = topo["objects"]["grids"]["geometries"][0]
    assert first["type"] == "MultiPolygon" and len(first["arcs"]) == 2
    decoded = _decoded(topo)
    metric = to_metric(np.array([decoded[c] for c in parts["code"]]), 4546)
    assert np.allclose(shapely.area(metric), shapely.area(to_metric(parts.geometry.values, 4546)), rtol=0.02)
    # every arc is used, and numbered in the order of first use
    used = [i if i >= 0 else ~i for g in topo["objects"]["grids"]["geometries"]
            for ring in (g["arcs"] if g["type"] == "Polygon" else [r for p in g["arcs"] for r in p]) for i in ring]
    assert sorted(set(used)) == list(range(len(topo["arcs"])))
    assert list(dict.fromkeys(used)) == list(range(len(topo["arcs"])))
