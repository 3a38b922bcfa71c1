"""Importing a county into the database: all or nothing, on SQLite and PostGIS."""

from __future__ import annotations

import pyproj
import pytest
import shapely
from sqlalchemy import func, select

from gridgov.errors import InvalidDataset
from gridgov.grids.importing import import_path
from gridgov.grids.models import Level, Resource, Unit
from gridgov.grids.scope import Jurisdiction
from gridgov.grids.service import dataset_layers, level_counts, units_frame
from gridgov.people.models import ChiefAssignment, OfficerAssignment, Person
from gridgov.people.principal import cli_principal
from gridgov.planning import applying, service
from gridgov.storage.db import get_engine, transaction
from tests.conftest import import_dataset
from tests.factories_geo import GRIDS, lattice, lattice_rect, small_county_layers, write_gpkg


def _row_counts(url: str) -> dict[str, int]:
    with transaction(get_engine(url)) as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model))
            for model in (Unit, Resource, Person, OfficerAssignment, ChiefAssignment)
        }


def test_small_county_is_stored_whole(small_county_db):
    with transaction(get_engine(small_county_db)) as session:
        counts = level_counts(session=session, jurisdiction=Jurisdiction("430921", county_wide=True))
        grids = units_frame(session=session, county_code="430921", level=Level.GRID)
    assert counts == {"county": 1, "town": 2, "village": 3, "grid": 5, "micro_grid": 7, "river": 1,
                      "forest": 1, "farmland": 1}
    assert list(grids["code"]) == sorted(GRIDS)
    expected = small_county_layers()["grids"].set_index("code").geometry
    for code, geom in zip(grids["code"], grids.geometry):
        assert shapely.equals(geom, expected[code])
    # Areas are measured in EPSG:4546, never in degrees: they match the geodesic area on the
    # CGCS2000 ellipsoid within the Gauss-Krüger scale error (< 0.1% this close to the meridian).
    geod = pyproj.Geod(ellps="GRS80")
    for code, geom, area in zip(grids["code"], grids.geometry, grids["area_m2"]):
        assert area == pytest.approx(abs(geod.geometry_area_perimeter(geom)[0]), rel=1e-3), code


def test_round_trip_through_the_database(small_county_db):
    with transaction(get_engine(small_county_db)) as session:
        stored = dataset_layers(session=session, county_code="430921")
    original = small_county_layers()
    for layer in ("towns", "villages", "grids", "micro_grids", "rivers", "forests", "farmland"):
        got = stored[layer].set_index("code")
        want = original[layer].set_index("code")
        assert sorted(got.index) == sorted(want.index), layer
        assert (got.loc[want.index, "parent_code"] == want["parent_code"]).all(), layer
        assert all(shapely.equals(got.geometry[c], want.geometry[c]) for c in want.index), layer
    assert len(stored["officers"]) == 5 and stored["officers"]["grid_code"].is_unique
    assert set(stored["chiefs"]["domain"]) == {"river", "forest", "field"}


def test_a_defective_file_changes_nothing(empty_db, tmp_path):
    good = tmp_path / "good.gpkg"
    write_gpkg(small_county_layers(), good)
    bad_layers = small_county_layers()
    grids = bad_layers["grids"]
    # Grid 1 swells over its neighbour: an overlap and a grid outside its village.
    grids.loc[grids["code"] == GRIDS[1], "geometry"] = lattice_rect(0, 3, 2, 4)
    bad = tmp_path / "bad.gpkg"
    write_gpkg(bad_layers, bad)

    before = _row_counts(empty_db)
    with pytest.raises(InvalidDataset) as caught:
        with transaction(get_engine(empty_db)) as session:
            import_path(session=session, path=bad)
    kinds = {d["kind"] for d in caught.value.details}
    assert {"overlap", "not_inside_parent"} <= kinds
    assert _row_counts(empty_db) == before == {name: 0 for name in before}

    with transaction(get_engine(empty_db)) as session:
        import_path(session=session, path=good)
    assert _row_counts(empty_db)["units"] == 18


def test_importing_the_same_county_twice_is_refused_and_changes_nothing(small_county_db, small_county_gpkg):
    before = _row_counts(small_county_db)
    with pytest.raises(InvalidDataset) as caught:
        with transaction(get_engine(small_county_db)) as session:
            import_path(session=session, path=small_county_gpkg)
    assert "duplicate_code" in {d["kind"] for d in caught.value.details}
    assert _row_counts(small_county_db) == before


def test_a_layer_can_be_added_to_a_stored_county(empty_db, tmp_path):
    layers = small_county_layers()
    farmland = layers.pop("farmland")
    base = tmp_path / "base.gpkg"
    write_gpkg(layers, base)
    extra = tmp_path / "farmland.geojson"
    farmland.to_file(extra, driver="GeoJSON")
    with transaction(get_engine(empty_db)) as session:
        import_path(session=session, path=base)
    with transaction(get_engine(empty_db)) as session:
        import_path(session=session, path=extra, layer="farmland")
    assert _row_counts(empty_db)["resources"] == 3


def test_a_partial_layer_is_checked_against_stored_parents(empty_db, tmp_path):
    layers = small_county_layers()
    micro = layers.pop("micro_grids")
    base = tmp_path / "base.gpkg"
    write_gpkg(layers, base)
    with transaction(get_engine(empty_db)) as session:
        import_path(session=session, path=base)
    micro.loc[0, "parent_code"] = "43092110029999"
    bad = tmp_path / "micro.geojson"
    micro.to_file(bad, driver="GeoJSON")
    with pytest.raises(InvalidDataset) as caught:
        with transaction(get_engine(empty_db)) as session:
            import_path(session=session, path=bad, layer="micro_grids")
    assert ("missing_parent", micro.loc[0, "code"]) in {(d["kind"], d["code"]) for d in caught.value.details}
    assert _row_counts(empty_db)["units"] == 11


def test_a_code_a_planner_retired_is_never_imported_again(empty_db, small_county_gpkg, tmp_path):
    import_dataset(empty_db, small_county_gpkg)
    retired = GRIDS[0] + "01"
    cut = {"type": "LineString", "coordinates": [lattice(-0.3, 1), lattice(1.3, 1)]}
    with transaction(get_engine(empty_db)) as session:
        operator = cli_principal(session=session)
        draft = service.create(session=session, principal=operator, title="split")
        service.add_edit(session=session, principal=operator, change_set_id=draft.id, if_match="*",
                         edit={"op": "split", "code": retired, "line": cut})
        applying.apply(session=session, principal=operator, change_set_id=draft.id, if_match="*")
    again = small_county_layers()["micro_grids"].iloc[[0]]
    assert again["code"].iloc[0] == retired
    path = tmp_path / "again.geojson"
    again.to_file(path, driver="GeoJSON")
    with pytest.raises(InvalidDataset) as caught:
        with transaction(get_engine(empty_db)) as session:
            import_path(session=session, path=path, layer="micro_grids")
    assert ("retired_code", retired) in {(d["kind"], d["code"]) for d in caught.value.details}
