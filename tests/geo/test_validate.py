"""Topology and consistency checks on in-memory layers: one test (at least) per defect kind."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from gridgov.geo.dataset import DEFECT_KINDS, Defect
from gridgov.geo.validate import validate_county
from tests.factories_geo import GRIDS, TOWNS, VILLAGES, lattice, lattice_rect, small_county_layers


@pytest.fixture
def layers():
    return small_county_layers()


def _set(layers, layer: str, row: int, **values) -> None:
    frame = layers[layer]
    for column, value in values.items():
        if column == "geometry":
            frame.loc[row, "geometry"] = value
        else:
            frame[column] = frame[column].astype(object)
            frame.loc[row, column] = value


def _kinds(defects: list[Defect]) -> set[tuple[str, str, str]]:
    return {(d.kind, d.layer, d.code) for d in defects}


def _only(defects, kind):
    found = [d for d in defects if d.kind == kind]
    assert found, f"no {kind} in {defects}"
    return found


def test_small_county_is_clean(layers):
    assert validate_county(layers) == []


def test_defect_formats_where_as_lon_lat(layers):
    _set(layers, "grids", 0, geometry=shapely.Point(112.485, 29.285))
    (defect,) = validate_county(layers, max_outside_area_m2=1e12)[:1]
    lon, lat = defect.where.split(",")
    assert len(lon.split(".")[1]) == 6 and float(lat) == pytest.approx(29.285)


def test_bow_tie_is_invalid_geometry_with_reason_and_place(layers):
    bow_tie = shapely.Polygon([lattice(0, 0), lattice(2, 2), lattice(2, 0), lattice(0, 2)])
    _set(layers, "grids", 0, geometry=bow_tie)
    defects = validate_county(layers)
    (defect,) = _only(defects, "invalid_geometry")
    assert (defect.layer, defect.code) == ("grids", GRIDS[0])
    assert defect.message.startswith("Self-intersection")
    lon, lat = map(float, defect.where.split(","))
    assert (lon, lat) == pytest.approx(lattice(1, 1), abs=1e-6)
    # an invalid unit is left out of the overlay checks instead of raising or flooding them
    assert not [d for d in defects if d.kind == "gap" and d.code == VILLAGES[0]]


def test_point_in_grids_is_not_polygon(layers):
    _set(layers, "grids", 3, geometry=shapely.Point(lattice(2.5, 1)))
    (defect,) = _only(validate_county(layers), "not_polygon")
    assert (defect.layer, defect.code) == ("grids", GRIDS[3])
    assert "Point" in defect.message


def test_polygon_in_rivers_is_not_polygon(layers):
    _set(layers, "rivers", 0, geometry=lattice_rect(2, 3, 0, 1))
    (defect,) = _only(validate_county(layers), "not_polygon")
    assert (defect.layer, defect.code) == ("rivers", VILLAGES[2] + "R001")


@pytest.mark.parametrize("geometry", [None, shapely.Polygon()])
def test_missing_or_empty_geometry(layers, geometry):
    _set(layers, "micro_grids", 6, geometry=geometry)
    (defect,) = _only(validate_county(layers), "empty_geometry")
    assert (defect.layer, defect.code) == ("micro_grids", GRIDS[4] + "01")


def test_duplicate_code(layers):
    _set(layers, "villages", 1, code=VILLAGES[0])
    (defect,) = _only(validate_county(layers), "duplicate_code")
    assert (defect.layer, defect.code) == ("villages", VILLAGES[0])
    assert "2 times" in defect.message


def test_missing_parent(layers):
    _set(layers, "grids", 4, parent_code="430921101299", code="43092110129901")
    defects = validate_county(layers)
    assert ("missing_parent", "grids", "43092110129901") in _kinds(defects)


def test_missing_parent_code_is_reported(layers):
    _set(layers, "towns", 0, parent_code="")
    assert ("missing_parent", "towns", TOWNS[0]) in _kinds(validate_county(layers))


def test_parents_known_from_the_database_count():
    grids = small_county_layers()["grids"]
    assert {d.kind for d in validate_county({"grids": grids})} == {"missing_parent"}
    assert validate_county({"grids": grids}, known_codes={"villages": set(VILLAGES)}) == []


def test_child_sticking_out_of_its_parent(layers):
    forest = shapely.box(*lattice(1.5, 1.5), *lattice(1.9, 2.5))  # half in the next village north
    _set(layers, "forests", 0, geometry=forest)
    (defect,) = _only(validate_county(layers), "not_inside_parent")
    assert (defect.layer, defect.code) == ("forests", VILLAGES[0] + "F001")
    outside_m2 = float(defect.message.split()[0])
    assert 150_000 < outside_m2 < 250_000  # 0.004° x 0.005° at 29.3°N is about 194,000 m²


def test_tiny_overhang_is_tolerated(layers):
    grid = layers["grids"].geometry[0]
    nudged = shapely.Polygon([(x - 1e-9 if x == lattice(0, 0)[0] and y == lattice(0, 1)[1] else x, y)
                              for x, y in grid.exterior.coords])  # one vertex 0.1 mm west
    _set(layers, "grids", 0, geometry=nudged)
    assert validate_county(layers) == []
    assert {d.kind for d in validate_county(layers, max_outside_area_m2=0.0)} >= {"not_inside_parent"}


def test_overlap_reports_both_codes_and_a_point_in_it(layers):
    _set(layers, "micro_grids", 0, geometry=lattice_rect(0, 1, 0, 2).union(
        shapely.box(*lattice(1, 0), *lattice(1.5, 2))))
    (defect,) = _only(validate_county(layers), "overlap")
    assert defect.code == f"{GRIDS[0]}01/{GRIDS[0]}02"
    lon, lat = map(float, defect.where.split(","))
    assert lattice(1, 0)[0] < lon < lattice(1.5, 0)[0]
    assert "m²" in defect.message


def test_overlap_tolerance_is_a_parameter(layers):
    sliver = shapely.box(112.49, 29.28, 112.490005, 29.28001)  # about 0.5 m x 1.1 m
    _set(layers, "micro_grids", 0, geometry=lattice_rect(0, 1, 0, 2).union(sliver))
    assert not [d for d in validate_county(layers) if d.kind == "overlap"]
    assert [d for d in validate_county(layers, max_overlap_area_m2=0.01) if d.kind == "overlap"]


def test_gap_inside_a_parent(layers):
    _set(layers, "micro_grids", 6, geometry=lattice_rect(3, 4, 0, 3))  # leaves y 3..4 of grid 5 bare
    (defect,) = _only(validate_county(layers), "gap")
    assert (defect.layer, defect.code) == ("micro_grids", GRIDS[4])
    lon, lat = map(float, defect.where.split(","))
    assert lat > lattice(0, 3)[1]
    assert 1.0e6 < float(defect.message.split()[3]) < 1.2e6


def test_gap_between_towns_inside_the_county(layers):
    _set(layers, "towns", 1, geometry=lattice_rect(2, 4, 0, 4).difference(
        shapely.box(*lattice(2, 1), *lattice(2.5, 1.5))))
    defects = validate_county(layers)
    assert ("gap", "towns", "430921") in _kinds(defects)


def test_holes_in_a_level_without_parent_geometries():
    grids = small_county_layers()["grids"]
    hole = shapely.box(*lattice(3.4, 1.4), *lattice(3.6, 1.6))
    grids.loc[4, "geometry"] = grids.geometry[4].difference(hole)
    defects = validate_county({"grids": grids}, known_codes={"villages": set(VILLAGES)})
    (defect,) = defects
    assert defect.kind == "gap"
    assert shapely.Point(map(float, defect.where.split(","))).within(hole)


def test_gap_against_stored_parent_geometry():
    grids = small_county_layers()["grids"]
    grids = grids[grids.code != GRIDS[2]]
    stored = {"villages": {VILLAGES[1]: lattice_rect(0, 2, 2, 4)}}
    defects = validate_county({"grids": grids}, known_codes={"villages": set(VILLAGES)},
                              known_geometries=stored)
    assert _kinds(defects) == {("gap", "grids", VILLAGES[1])}


def test_t_junctions_are_not_slivers(layers):
    """A parent drawn without its children's vertices must not show metre-scale slivers."""
    layers["county"].loc[0, "geometry"] = shapely.box(*lattice(0, 0), *lattice(4, 4))
    layers["villages"].loc[2, "geometry"] = shapely.box(*lattice(2, 0), *lattice(4, 4))
    assert validate_county(layers) == []


def test_feature_outside_the_county(layers):
    river = shapely.LineString([lattice(3.5, 2), lattice(4.5, 2)])  # runs 0.005° past the edge
    _set(layers, "rivers", 0, geometry=river)
    defects = validate_county(layers)
    (defect,) = _only(defects, "outside_county")
    assert (defect.layer, defect.code) == ("rivers", VILLAGES[2] + "R001")
    assert 400 < float(defect.message.split()[0]) < 600  # about 485 m


def test_county_boundary_can_come_from_the_database(layers):
    del layers["county"]
    boundary = lattice_rect(0, 3, 0, 4)  # pretend the stored county is smaller
    defects = validate_county(layers, county_boundary=boundary, known_codes={"county": {"430921"}})
    assert ("outside_county", "towns", TOWNS[1]) in _kinds(defects)


def test_swapped_lat_lon(layers):
    grid = layers["grids"].geometry[1]
    _set(layers, "grids", 1, geometry=shapely.transform(grid, lambda xy: xy[:, ::-1]))
    (defect,) = _only(validate_county(layers), "swapped_lat_lon")
    assert (defect.layer, defect.code) == ("grids", GRIDS[1])


def test_coordinates_out_of_range(layers):
    _set(layers, "forests", 0, geometry=shapely.box(200, 29.28, 200.01, 29.29))
    (defect,) = _only(validate_county(layers), "coordinates_out_of_range")
    assert (defect.layer, defect.code) == ("forests", VILLAGES[0] + "F001")


def test_empty_layer(layers):
    layers["farmland"] = layers["farmland"].iloc[:0]
    assert _kinds(validate_county(layers)) == {("empty_layer", "farmland", "")}


@pytest.mark.parametrize(
    ("code", "reason"),
    [("43092110120201", "start with"), ("", "no code"), ("4309211012010", "code scheme")],
)
def test_bad_code(layers, code, reason):
    _set(layers, "grids", 4, code=code)
    (defect,) = _only(validate_county(layers), "bad_code")
    assert (defect.layer, defect.code) == ("grids", code)
    assert reason in defect.message


def test_officer_tables(layers):
    officers = layers["officers"]
    layers["officers"] = pd.concat([officers, pd.DataFrame({
        "code": ["W4309210004", "W4309210005"], "name": ["赵强", "孙丽"],
        "grid_code": [GRIDS[0], "43092199999901"]})], ignore_index=True)
    kinds = _kinds(validate_county(layers))
    assert ("duplicate_code", "officers", GRIDS[0]) in kinds
    assert ("missing_parent", "officers", "W4309210005") in kinds


def test_chief_tables(layers):
    chiefs = layers["chiefs"]
    chiefs.loc[0, "code"] = "ZL430921"  # a river chief with a forest letter
    chiefs.loc[2, "unit_code"] = "430921100299"
    chiefs.loc[2, "code"] = "ZT430921100299"
    kinds = _kinds(validate_county(layers))
    assert ("bad_code", "chiefs", "ZL430921") in kinds
    assert ("missing_parent", "chiefs", "ZT430921100299") in kinds


def test_every_kind_is_documented():
    assert len(set(DEFECT_KINDS)) == len(DEFECT_KINDS)
    assert Defect("gap", "grids").to_dict() == {"kind": "gap", "layer": "grids", "code": "",
                                                 "where": "", "message": ""}


def test_multipolygon_units_are_accepted(layers):
    layers["forests"] = gpd.GeoDataFrame(layers["forests"], geometry=[shapely.MultiPolygon([
        shapely.box(*lattice(0.2, 0.2), *lattice(0.4, 0.4)),
        shapely.box(*lattice(0.6, 0.6), *lattice(0.8, 0.8))])], crs=4490)
    assert validate_county(layers) == []


def test_slivers_degenerate_in_lon_lat_are_measured_as_stored():
    """Children splitting a long diagonal edge at a point the parent lacks leave a sliver of about
    1e-17 deg²; measured naively after projection it would be tens of m² (the edge bends)."""
    a, b, c = (112.40, 29.20), (112.52, 29.20), (112.40, 29.32)
    split = (112.52 - 0.12 / 3, 29.20 + 0.12 / 3)  # on the hypotenuse b-c, up to rounding
    foot = (split[0], 29.20)
    county = gpd.GeoDataFrame({"code": ["430921"], "name": ["南县"], "parent_code": [""]},
                              geometry=[shapely.Polygon([a, b, c])], crs=4490)
    towns = gpd.GeoDataFrame(
        {"code": list(TOWNS), "name": ["西", "东"], "parent_code": ["430921", "430921"]},
        geometry=[shapely.Polygon([a, foot, split, c]), shapely.Polygon([foot, b, split])], crs=4490)
    assert validate_county({"county": county, "towns": towns}) == []
