"""Exporting layers and reading them back unchanged."""

from __future__ import annotations

import pandas as pd
import pyogrio
import pytest
import shapely

from gridgov.errors import InvalidParameter
from gridgov.grids.export import export_format, export_layers
from gridgov.grids.files import read_county_files
from tests.factories_geo import small_county_layers


@pytest.fixture(scope="module")
def county():
    return small_county_layers()


def _assert_same_layers(got, expected):
    assert set(got) == set(expected)
    for name, frame in expected.items():
        back = got[name]
        columns = [c for c in frame.columns if c != "geometry"]
        assert back[columns].astype(str).to_dict("records") == frame[columns].astype(str).to_dict(
            "records"), name
        if "geometry" in frame:
            for a, b in zip(back.geometry, frame.geometry, strict=True):
                # Shapefiles re-orient rings; compare the normalised shapes vertex by vertex
                assert shapely.equals_exact(shapely.normalize(a), shapely.normalize(b), tolerance=1e-9), name


@pytest.mark.parametrize("target", ["county.gpkg", "county_geojson", "county_shp"])
def test_round_trip(county, tmp_path, target):
    written = export_layers(county, tmp_path / target)
    assert all(p.exists() for p in written)
    result = read_county_files(tmp_path / target)
    assert result.defects == []
    _assert_same_layers(result.layers, county)


@pytest.mark.parametrize("target", ["grids.geojson", "grids.shp"])
def test_single_layer_file(county, tmp_path, target):
    export_layers({"grids": county["grids"]}, tmp_path / target)
    result = read_county_files(tmp_path / target)
    _assert_same_layers(result.layers, {"grids": county["grids"]})


def test_shapefile_fields_are_short_ascii_with_cpg(county, tmp_path):
    export_layers(county, tmp_path / "out_shp")
    for shp in (tmp_path / "out_shp").glob("*.shp"):
        fields = pyogrio.read_info(shp)["fields"]
        assert all(len(f) <= 10 and f.isascii() for f in fields), fields
        assert shp.with_suffix(".cpg").read_text().strip().upper() in ("UTF-8", "UTF8")
    assert "PARENT" in pyogrio.read_info(tmp_path / "out_shp" / "grids.shp")["fields"]
    assert (tmp_path / "out_shp" / "officers.dbf").exists()


def test_many_layers_need_a_folder_or_geopackage(county, tmp_path):
    with pytest.raises(InvalidParameter, match="_geojson"):
        export_layers(county, tmp_path / "all.geojson")
    with pytest.raises(InvalidParameter, match="format"):
        export_layers(county, tmp_path / "all.kml")


def test_existing_output_is_kept_unless_overwrite(county, tmp_path):
    export_layers(county, tmp_path / "c.gpkg")
    with pytest.raises(InvalidParameter, match="exists"):
        export_layers(county, tmp_path / "c.gpkg")
    export_layers({"towns": county["towns"]}, tmp_path / "c.gpkg", overwrite=True)
    assert list(read_county_files(tmp_path / "c.gpkg").layers) == ["towns"]


def test_export_format():
    assert [export_format(p) for p in ("a.gpkg", "a.GeoJSON", "a_geojson", "a.shp", "a_shp")] == [
        "gpkg", "geojson", "geojson_dir", "shp", "shp_dir"]


@pytest.mark.parametrize("target", ["mixed.gpkg", "mixed_geojson", "mixed_shp"])
def test_polygons_and_multipolygons_in_one_layer(county, tmp_path, target):
    forests = county["forests"].copy()
    second = forests.iloc[[0]].copy()
    second["code"] = second.code.str.replace("F001", "F002")
    second["geometry"] = [shapely.MultiPolygon([shapely.box(112.485, 29.2825, 112.4855, 29.283),
                                                shapely.box(112.486, 29.2825, 112.4865, 29.283)])]
    forests = pd.concat([forests, second], ignore_index=True)
    export_layers({"forests": forests}, tmp_path / target)
    _assert_same_layers(read_county_files(tmp_path / target).layers, {"forests": forests})
