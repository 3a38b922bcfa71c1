"""The committed demo county (geodata/nan_county/nan_county.gpkg) honours docs/data-format.md."""

import importlib.util
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from gridgov.geo.crs import to_metric
from gridgov.geo.validate import MEASURE_SEGMENT_DEG
from gridgov.grids.checks import validate_path

GEODATA = Path(__file__).resolve().parents[2] / "geodata"
GPKG = GEODATA / "nan_county" / "nan_county.gpkg"
BOUNDARY = GEODATA / "nan_county" / "boundary.geojson"

UNIT_LAYERS = ["county", "towns", "villages", "grids", "micro_grids"]
RESOURCE_LAYERS = ["rivers", "forests", "farmland"]
PARENT = {"towns": "county", "villages": "towns", "grids": "villages", "micro_grids": "grids"}
CODE_LENGTH = {"county": 6, "towns": 9, "villages": 12, "grids": 14, "micro_grids": 16}
COUNTS = {"county": 1, "towns": 12, "villages": 376, "grids": 780, "micro_grids": 832}
TOWN_NAMES = {"南洲镇", "茅草街镇", "厂窖镇", "三仙湖镇", "华阁镇", "武圣宫镇",
              "浪拔湖镇", "麻河口镇", "明山头镇", "青树嘴镇", "中鱼口乡", "乌嘴乡"}


@pytest.fixture(scope="module")
def layers() -> dict[str, pd.DataFrame]:
    return {name: pyogrio.read_dataframe(GPKG, layer=name) for name, _ in pyogrio.list_layers(GPKG)}


@pytest.fixture(scope="module")
def metric(layers) -> dict[str, np.ndarray]:
    """Polygon geometries of every spatial layer in EPSG:4546, for measuring."""
    return {name: to_metric(layers[name].geometry.values) for name in UNIT_LAYERS + RESOURCE_LAYERS}


@pytest.fixture(scope="module")
def measured(layers) -> dict[str, np.ndarray]:
    """Like ``metric``, but densified in lon/lat first (as the validator measures), so an edge that is
    straight as stored stays on its curve in EPSG:4546 and a T-junction vertex on it stays on it."""
    return {name: to_metric(shapely.segmentize(layers[name].geometry.values, MEASURE_SEGMENT_DEG))
            for name in UNIT_LAYERS + RESOURCE_LAYERS}


@pytest.fixture(scope="module")
def boundary_area() -> float:
    boundary = gpd.read_file(BOUNDARY).geometry.values
    return float(shapely.area(to_metric(boundary)).sum())


def test_all_layers_present(layers):
    assert set(layers) == set(UNIT_LAYERS + RESOURCE_LAYERS + ["officers", "chiefs"])


@pytest.mark.parametrize("layer", UNIT_LAYERS)
def test_exact_unit_counts_and_unique_codes(layers, layer):
    df = layers[layer]
    assert len(df) == COUNTS[layer]
    assert df["code"].is_unique


def test_towns_carry_their_real_names(layers):
    assert set(layers["towns"]["name"]) == TOWN_NAMES


def test_village_names_end_in_cun_and_are_unique_within_a_town(layers):
    villages = layers["villages"]
    assert villages["name"].str.endswith("村").all()
    assert not villages.duplicated(["parent_code", "name"]).any()


def test_every_village_has_a_grid_and_every_grid_a_micro_grid(layers):
    assert set(layers["grids"]["parent_code"]) == set(layers["villages"]["code"])
    assert set(layers["micro_grids"]["parent_code"]) == set(layers["grids"]["code"])
    assert layers["micro_grids"]["parent_code"].value_counts().max() >= 2


@pytest.mark.parametrize("layer", list(PARENT))
def test_codes_extend_their_parent_code(layers, layer):
    df = layers[layer]
    assert (df["code"].str.len() == CODE_LENGTH[layer]).all()
    assert df["code"].str.fullmatch(r"\d+").all()
    assert set(df["parent_code"]) <= set(layers[PARENT[layer]]["code"])
    assert all(code.startswith(parent) for code, parent in zip(df["code"], df["parent_code"]))


@pytest.mark.parametrize(("layer", "letter", "digits"), [("rivers", "R", 3), ("forests", "F", 3), ("farmland", "T", 4)])
def test_resource_codes(layers, layer, letter, digits):
    df = layers[layer]
    assert df["code"].is_unique
    assert set(df["parent_code"]) <= set(layers["villages"]["code"])
    assert (df["code"] == df["parent_code"] + letter + df["code"].str[-digits:]).all()
    assert df["code"].str.fullmatch(rf"\d{{12}}{letter}\d{{{digits}}}").all()


def test_resource_kinds(layers):
    assert set(layers["rivers"]["kind"]) == {"river", "canal"}
    assert set(layers["forests"]["kind"]) == {"poplar_belt", "woodland"}
    assert set(layers["farmland"]["kind"]) == {"paddy", "dry"}


@pytest.mark.parametrize("layer", UNIT_LAYERS + RESOURCE_LAYERS)
def test_crs_geometry_type_and_synthetic_flag(layers, layer):
    df = layers[layer]
    assert df.crs.to_epsg() == 4490
    expected = "MultiLineString" if layer == "rivers" else "MultiPolygon"
    assert set(df.geom_type) == {expected}
    assert df.geometry.is_valid.all()
    assert shapely.is_valid(to_metric(df.geometry.values)).all()
    assert (df["synthetic"] == 1).all()


@pytest.mark.parametrize("layer", UNIT_LAYERS)
def test_levels_are_valid_coverages_in_both_crs(layers, metric, layer):
    assert shapely.coverage_is_valid(layers[layer].geometry.values)
    assert shapely.coverage_is_valid(metric[layer])


@pytest.mark.parametrize("layer", UNIT_LAYERS)
def test_each_level_covers_the_real_boundary(metric, boundary_area, layer):
    union = shapely.coverage_union_all(metric[layer])
    assert abs(union.area - boundary_area) / boundary_area < 1e-4
    assert abs(shapely.area(metric[layer]).sum() - boundary_area) / boundary_area < 1e-4


@pytest.mark.parametrize("layer", list(PARENT) + RESOURCE_LAYERS)
def test_every_child_lies_in_exactly_its_parent(layers, measured, layer):
    parent_layer = "villages" if layer in RESOURCE_LAYERS else PARENT[layer]
    children, parents = measured[layer], measured[parent_layer]
    parent_row = pd.Index(layers[parent_layer]["code"]).get_indexer(layers[layer]["parent_code"])
    assert (parent_row >= 0).all()
    if layer == "rivers":
        inside = shapely.length(shapely.intersection(children, parents[parent_row])) / shapely.length(children)
        assert inside.min() > 0.9999
        return
    own = shapely.area(shapely.intersection(children, parents[parent_row])) / shapely.area(children)
    assert own.min() >= 0.9999
    ci, pi = shapely.STRtree(parents).query(children, predicate="intersects")
    foreign = pi != parent_row[ci]
    overlap = shapely.area(shapely.intersection(children[ci[foreign]], parents[pi[foreign]]))
    assert (overlap / shapely.area(children[ci[foreign]])).max(initial=0.0) < 1e-4


def test_resources_do_not_overlap_each_other(metric):
    polygons = np.concatenate([metric["forests"], metric["farmland"]])
    total = shapely.area(polygons).sum()
    assert abs(shapely.union_all(polygons).area - total) / total < 1e-6


def test_farmland_is_dominant_and_mostly_paddy(layers, metric, boundary_area):
    farmland = shapely.area(metric["farmland"])
    assert farmland.sum() / boundary_area > 0.5
    assert farmland[layers["farmland"]["kind"] == "paddy"].sum() > farmland.sum() / 2
    assert 1_000 <= len(farmland) <= 8_000


def test_poplar_belts_run_along_rivers(layers, metric):
    rivers = shapely.union_all(metric["rivers"][layers["rivers"]["kind"] == "river"])
    belts = metric["forests"][layers["forests"]["kind"] == "poplar_belt"]
    assert len(belts) > 0
    assert shapely.distance(belts, rivers).max() < 500


def test_officers_one_row_per_grid(layers):
    officers, grids = layers["officers"], layers["grids"]
    assert officers["grid_code"].is_unique
    assert set(officers["grid_code"]) == set(grids["code"])
    assert officers["code"].nunique() == 634
    assert officers["code"].str.fullmatch(r"W430921\d{4}").all()
    held = officers.groupby("code")["grid_code"].nunique()
    assert (held == 2).sum() == 146
    assert held.max() == 2
    assert officers.groupby("code")["name"].nunique().max() == 1


def test_officers_with_two_grids_hold_neighbours_in_one_village(layers, metric):
    officers = layers["officers"]
    grid_row = pd.Index(layers["grids"]["code"]).get_indexer(officers["grid_code"])
    pairs = officers.assign(row=grid_row).groupby("code")["row"].agg(list)
    pairs = np.array([p for p in pairs if len(p) == 2])
    grids = metric["grids"]
    shared = shapely.length(
        shapely.intersection(shapely.boundary(grids[pairs[:, 0]]), shapely.boundary(grids[pairs[:, 1]]))
    )
    assert (shared > 0).all()
    village = layers["grids"]["parent_code"].to_numpy()
    assert (village[pairs[:, 0]] == village[pairs[:, 1]]).mean() > 0.95


def test_chiefs_cover_every_unit_in_three_domains(layers):
    chiefs = layers["chiefs"]
    assert len(chiefs) == 1167
    assert chiefs["code"].is_unique
    units = {"county": layers["county"], "town": layers["towns"], "village": layers["villages"]}
    letter = {"river": "H", "forest": "L", "field": "T"}
    for domain in letter:
        for level, df in units.items():
            rows = chiefs[(chiefs["domain"] == domain) & (chiefs["level"] == level)]
            assert sorted(rows["unit_code"]) == sorted(df["code"])
    assert (chiefs["code"] == "Z" + chiefs["domain"].map(letter) + chiefs["unit_code"]).all()
    assert (chiefs["synthetic"] == 1).all() and (layers["officers"]["synthetic"] == 1).all()


def test_gridgov_validator_finds_no_defects():
    """The demo import runs the same checks, in the stored lon/lat, and refuses any defect."""
    _, defects = validate_path(GPKG)
    assert [d.to_dict() for d in defects] == []


def _load_generator():
    spec = importlib.util.spec_from_file_location("generate_demo", GEODATA / "generate_demo.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_generator_is_deterministic(tmp_path):
    generator = _load_generator()
    paths = [tmp_path / "a.gpkg", tmp_path / "b.gpkg"]
    for path in paths:
        generator.write_gpkg(generator.generate(generator.SMALL, quiet=True), path)
    other = generator.generate(generator.Spec(**{**generator.SMALL.__dict__, "seed": 1}), quiet=True)
    for name, _ in pyogrio.list_layers(paths[0]):
        a, b = (pyogrio.read_dataframe(p, layer=name) for p in paths)
        if isinstance(a, gpd.GeoDataFrame):
            assert_geodataframe_equal(a, b, check_less_precise=False)
            assert (shapely.to_wkb(a.geometry.values) == shapely.to_wkb(b.geometry.values)).all()
        else:
            pd.testing.assert_frame_equal(a, b, check_exact=True)
    first_village = pyogrio.read_dataframe(paths[0], layer="villages").geometry.values[0]
    assert not shapely.equals(other["villages"].geometry.values[0], first_village)
