"""The `gridgov` command end to end: validate, import, export, demo --build-only (SQLite and PostGIS)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from gridgov.audit.models import AuditRecord
from gridgov.cli import app
from gridgov.config import get_settings
from gridgov.grids.checks import validate_path
from gridgov.storage.db import get_engine, transaction
from tests.factories_geo import GRIDS, lattice_rect, small_county_layers, write_gpkg

runner = CliRunner()


@pytest.fixture
def database(empty_db, monkeypatch) -> str:
    monkeypatch.setenv("GRIDGOV_DATABASE_URL", empty_db)
    get_settings.cache_clear()
    yield empty_db
    get_settings.cache_clear()


@pytest.fixture
def broken_gpkg(tmp_path):
    layers = small_county_layers()
    grids = layers["grids"]
    grids.loc[grids["code"] == GRIDS[1], "geometry"] = lattice_rect(0, 3, 2, 4)  # overlaps, leaves its village
    micro = layers["micro_grids"]
    micro.loc[0, "parent_code"] = "43092110020199"  # no such grid
    path = tmp_path / "broken.gpkg"
    write_gpkg(layers, path)
    return path


def test_validate_prints_one_line_per_defect_and_exits_1(broken_gpkg, database):
    result = runner.invoke(app, ["validate", str(broken_gpkg)])
    assert result.exit_code == 1
    lines = [line.split("\t") for line in result.stdout.strip().splitlines()]
    kinds = {(fields[0], fields[2]) for fields in lines}
    assert ("missing_parent", GRIDS[0] + "01") in kinds
    assert ("not_inside_parent", GRIDS[1]) in kinds
    assert any(kind == "overlap" for kind, _ in kinds)
    assert all(len(fields) == 5 for fields in lines)


def test_validate_json(broken_gpkg, database):
    result = runner.invoke(app, ["validate", str(broken_gpkg), "--format", "json"])
    assert result.exit_code == 1
    defects = json.loads(result.stdout)
    assert all({"kind", "code"} <= set(d) for d in defects)
    assert "missing_parent" in {d["kind"] for d in defects}


def test_validate_clean_file_exits_0(small_county_gpkg, database):
    result = runner.invoke(app, ["validate", str(small_county_gpkg), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []


def test_import_refuses_defects_then_accepts_a_clean_file_and_exports_it(
    broken_gpkg, small_county_gpkg, database, tmp_path
):
    refused = runner.invoke(app, ["import", str(broken_gpkg)])
    assert refused.exit_code == 1
    assert "nothing was imported" in refused.output

    accepted = runner.invoke(app, ["import", str(small_county_gpkg)])
    assert accepted.exit_code == 0, accepted.output
    with transaction(get_engine(database)) as session:
        imports = session.scalars(select(AuditRecord).where(AuditRecord.action == "import")).all()
    assert [(r.via, r.object_id, r.after["layers"]["grids"]) for r in imports] == [("cli", "small_county.gpkg", 5)]

    for target in ("county.gpkg", "county_geojson", "county_shp"):
        exported = runner.invoke(app, ["export", str(tmp_path / target)])
        assert exported.exit_code == 0, exported.output
        # What we export is a clean dataset describing the same county.
        layers, defects = validate_path(tmp_path / target)
        assert defects == []
        original = small_county_layers()
        for name, frame in original.items():
            assert sorted(layers[name]["code"]) == sorted(frame["code"]), (target, name)


def test_demo_build_only_loads_nan_county(database):
    result = runner.invoke(app, ["demo", "--build-only"])
    assert result.exit_code == 0, result.output
    again = runner.invoke(app, ["demo", "--build-only"])
    assert "already holds county 430921" in again.output
