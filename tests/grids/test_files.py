"""Reading county files: formats, fields, encodings, CRSs, and the defects found while reading."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from gridgov.errors import InvalidDataset
from gridgov.geo.gcj02 import wgs84_to_gcj02
from gridgov.grids.checks import defects_to_json, format_defects, raise_for_defects, validate_path
from gridgov.grids.export import export_layers
from gridgov.grids.files import normalise_code, read_county_files
from tests.factories_geo import GRIDS, VILLAGES, lattice, small_county_layers

NAMES = ["东风村", "红旗村", "胜利村"]


@pytest.fixture(scope="module")
def county():
    return small_county_layers()


@pytest.fixture
def villages(county):
    return county["villages"].copy()


def _kinds(defects):
    return {(d.kind, d.layer, d.code) for d in defects}


@pytest.mark.parametrize("target", ["county.gpkg", "county_geojson", "county_shp"])
def test_every_format_reads_back_clean(county, tmp_path, target):
    export_layers(county, tmp_path / target)
    layers, defects = validate_path(tmp_path / target)
    assert defects == []
    assert set(layers) == set(county)
    assert list(layers["grids"].code) == list(GRIDS)
    assert layers["grids"].crs.to_epsg() == 4490
    assert list(layers["villages"].name) == NAMES
    assert list(layers["officers"].columns) == ["code", "name", "grid_code"]


def test_single_file_takes_its_layer_from_the_stem_or_layer(villages, tmp_path):
    pyogrio.write_dataframe(villages, tmp_path / "villages.geojson")
    pyogrio.write_dataframe(villages, tmp_path / "cun.geojson")
    assert list(read_county_files(tmp_path / "villages.geojson").layers) == ["villages"]
    assert list(read_county_files(tmp_path / "cun.geojson", layer="villages").layers) == ["villages"]
    with pytest.raises(InvalidDataset, match="cun.geojson"):
        read_county_files(tmp_path / "cun.geojson")


def test_one_layer_out_of_a_geopackage(county, tmp_path):
    export_layers(county, tmp_path / "c.gpkg")
    result = read_county_files(tmp_path / "c.gpkg", layer="grids")
    assert list(result.layers) == ["grids"]


def test_aliases_and_float_codes_are_normalised(villages, tmp_path):
    frame = gpd.GeoDataFrame({
        "编码": villages.code.astype(float),
        "名称": villages.name,
        "上级编码": villages.parent_code.astype(float),
        "other": 1,
    }, geometry=villages.geometry, crs=4490)
    pyogrio.write_dataframe(frame, tmp_path / "villages.geojson")
    got = read_county_files(tmp_path / "villages.geojson").layers["villages"]
    assert list(got.columns) == ["code", "name", "parent_code", "synthetic", "geometry"]
    assert list(got.code) == list(VILLAGES)
    assert list(got.parent_code) == list(villages.parent_code)
    assert list(got.synthetic) == [0, 0, 0]


def test_normalise_code():
    assert normalise_code(430921.0) == "430921"
    assert normalise_code("430921100.0") == "430921100"
    assert normalise_code(np.int64(430921)) == "430921"
    assert normalise_code(float("nan")) == ""
    assert normalise_code(" 430921100201T0001 ") == "430921100201T0001"


@pytest.mark.parametrize("encoding", ["GBK", "UTF-8"])
def test_shapefile_without_cpg_is_utf8_or_gbk(villages, tmp_path, encoding):
    pyogrio.write_dataframe(villages, tmp_path / "villages.shp", encoding=encoding)
    (tmp_path / "villages.cpg").unlink(missing_ok=True)
    raw = (tmp_path / "villages.dbf").read_bytes()
    assert "东风村".encode(encoding) in raw
    got = read_county_files(tmp_path / "villages.shp").layers["villages"]
    assert list(got.name) == NAMES


def test_shapefile_without_prj_is_missing_crs(villages, tmp_path):
    pyogrio.write_dataframe(villages, tmp_path / "villages.shp")
    (tmp_path / "villages.prj").unlink()
    result = read_county_files(tmp_path / "villages.shp")
    assert _kinds(result.defects) == {("missing_crs", "villages", "")}
    assert "villages" not in result.layers
    supplied = read_county_files(tmp_path / "villages.shp", crs="EPSG:4490")
    assert supplied.defects == [] and list(supplied.layers["villages"].code) == list(VILLAGES)


@pytest.mark.parametrize("prj", [
    'LOCAL_CS["county local grid",UNIT["metre",1]]',
    'PROJCS["x",GEOGCS["y",DATUM["z",SPHEROID["s",6378137,298.257]],PRIMEM["Greenwich",0],'
    'UNIT["degree",0.0174532925199433]],PROJECTION["No_Such_Projection"],UNIT["metre",1]]',
    "this is not a projection",
])
def test_unknown_crs(villages, tmp_path, prj):
    pyogrio.write_dataframe(villages, tmp_path / "villages.shp")
    (tmp_path / "villages.prj").write_text(prj)
    result = read_county_files(tmp_path / "villages.shp")
    assert _kinds(result.defects) == {("unknown_crs", "villages", "")}
    assert "villages" not in result.layers
    assert read_county_files(tmp_path / "villages.shp", crs=4490).defects == []


def test_a_crs_contradicting_the_file_is_refused(villages, tmp_path):
    pyogrio.write_dataframe(villages, tmp_path / "villages.gpkg", layer="villages")
    result = read_county_files(tmp_path / "villages.gpkg", crs="EPSG:4546")
    (defect,) = result.defects
    assert defect.kind == "crs_mismatch" and "EPSG:4490" in defect.message
    assert read_county_files(tmp_path / "villages.gpkg", crs="EPSG:4490").defects == []


def test_projected_files_are_transformed_to_cgcs2000(villages, tmp_path):
    pyogrio.write_dataframe(villages.to_crs(4546), tmp_path / "villages.gpkg", layer="villages")
    got = read_county_files(tmp_path / "villages.gpkg").layers["villages"]
    assert got.crs.to_epsg() == 4490
    for a, b in zip(got.geometry, villages.geometry, strict=True):
        assert shapely.equals_exact(a, b, tolerance=1e-9)


def test_gcj02_coordinates_are_converted(villages, tmp_path):
    shifted = villages.copy()
    shifted["geometry"] = shapely.transform(
        np.asarray(villages.geometry.array), lambda xy: np.column_stack(wgs84_to_gcj02(xy[:, 0], xy[:, 1])))
    pyogrio.write_dataframe(shifted.set_crs(4326, allow_override=True), tmp_path / "villages.geojson")
    plain = read_county_files(tmp_path / "villages.geojson").layers["villages"]
    assert not shapely.equals_exact(plain.geometry[0], villages.geometry[0], tolerance=1e-4)
    got = read_county_files(tmp_path / "villages.geojson", gcj02=True).layers["villages"]
    for a, b in zip(got.geometry, villages.geometry, strict=True):
        assert shapely.equals_exact(a, b, tolerance=1e-8)


def test_gcj02_needs_lon_lat(villages, tmp_path):
    pyogrio.write_dataframe(villages.to_crs(4546), tmp_path / "villages.gpkg", layer="villages")
    result = read_county_files(tmp_path / "villages.gpkg", gcj02=True)
    assert [d.kind for d in result.defects] == ["crs_mismatch"]


def test_geojson_with_swapped_coordinates(county, tmp_path):
    export_layers(county, tmp_path / "c_geojson")
    path = tmp_path / "c_geojson" / "grids.geojson"
    data = json.loads(path.read_text())
    ring = data["features"][2]["geometry"]["coordinates"][0]
    data["features"][2]["geometry"]["coordinates"][0] = [[y, x] for x, y in ring]
    path.write_text(json.dumps(data, ensure_ascii=False))
    _, defects = validate_path(tmp_path / "c_geojson")
    assert ("swapped_lat_lon", "grids", GRIDS[2]) in _kinds(defects)


def test_geojson_with_latitudes_beyond_the_pole(villages, tmp_path):
    moved = villages.copy()
    moved.loc[0, "geometry"] = shapely.box(112.48, 95.0, 112.49, 95.01)
    pyogrio.write_dataframe(moved, tmp_path / "villages.geojson")
    _, defects = validate_path(tmp_path / "villages.geojson",
                               known_codes={"towns": set(moved.parent_code)})
    assert _kinds(defects) == {("coordinates_out_of_range", "villages", VILLAGES[0])}


def test_empty_file_is_empty_layer(villages, tmp_path):
    pyogrio.write_dataframe(villages.iloc[:0], tmp_path / "villages.shp")
    result = read_county_files(tmp_path / "villages.shp")
    assert _kinds(result.defects) == {("empty_layer", "villages", "")}
    assert result.layers == {}


def test_bow_tie_and_point_found_through_validate_path(county, tmp_path):
    grids = county["grids"].copy()
    grids.loc[0, "geometry"] = shapely.Polygon([lattice(0, 0), lattice(2, 2), lattice(2, 0), lattice(0, 2)])
    grids.loc[1, "geometry"] = shapely.Point(lattice(1, 2.5))
    pyogrio.write_dataframe(grids, tmp_path / "grids.gpkg", layer="grids", geometry_type="Unknown")
    _, defects = validate_path(tmp_path / "grids.gpkg", known_codes={"villages": set(VILLAGES)})
    kinds = _kinds(defects)
    assert ("invalid_geometry", "grids", GRIDS[0]) in kinds
    assert ("not_polygon", "grids", GRIDS[1]) in kinds


def test_unreadable_file_names_the_file(tmp_path):
    (tmp_path / "grids.geojson").write_text("{ not json")
    with pytest.raises(InvalidDataset, match="grids.geojson"):
        read_county_files(tmp_path)
    with pytest.raises(InvalidDataset, match="does not exist"):
        read_county_files(tmp_path / "nowhere.gpkg")


def test_unknown_files_are_ignored_and_listed(villages, tmp_path):
    pyogrio.write_dataframe(villages, tmp_path / "villages.geojson")
    (tmp_path / "readme.txt").write_text("x")
    pyogrio.write_dataframe(villages, tmp_path / "roads.geojson")
    result = read_county_files(tmp_path)
    assert list(result.layers) == ["villages"]
    assert [p.endswith("roads.geojson") for p in result.ignored] == [True]


def test_tables_from_csv(tmp_path):
    pd.DataFrame({"code": ["W4309210001"], "name": ["张伟"], "grid_code": [GRIDS[0]]}).to_csv(
        tmp_path / "officers.csv", index=False, encoding="gbk")
    officers = read_county_files(tmp_path).layers["officers"]
    assert officers.to_dict("records") == [{"code": "W4309210001", "name": "张伟",
                                            "grid_code": GRIDS[0]}]


def test_formatters(county, tmp_path):
    grids = county["grids"].copy()
    grids.loc[0, "parent_code"] = "430921100299"
    pyogrio.write_dataframe(grids, tmp_path / "grids.geojson")
    _, defects = validate_path(tmp_path / "grids.geojson", known_codes={"villages": set(VILLAGES)})
    lines = format_defects(defects).splitlines()
    assert lines and all(len(line.split("\t")) == 5 for line in lines)
    assert {"missing_parent", "bad_code"} <= {line.split("\t")[0] for line in lines}
    parsed = json.loads(defects_to_json(defects))
    assert set(parsed[0]) == {"kind", "layer", "code", "where", "message"}
    with pytest.raises(InvalidDataset) as error:
        raise_for_defects(defects)
    assert len(error.value.details) == len(defects)
