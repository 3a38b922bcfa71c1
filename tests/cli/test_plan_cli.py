"""`gridgov plan` (SQLite and PostGIS): a draft made, edited with a line from a file, previewed, applied and
reverted from the shell, with errors that say what is wrong."""

from __future__ import annotations

import geopandas as gpd
import shapely
from sqlalchemy import select
from typer.testing import CliRunner

from gridgov.cli import app
from gridgov.grids.models import Unit
from gridgov.planning.models import ChangeSet
from gridgov.storage.db import get_engine, transaction
from tests.factories_geo import GRIDS, lattice

runner = CliRunner()
MICRO = GRIDS[0] + "01"  # x 0..1, y 0..2 of the small county's lattice


def plan(*args: str):
    return runner.invoke(app, ["plan", *args])


def micro_grids(url: str) -> set[str]:
    with transaction(get_engine(url)) as session:
        return set(session.scalars(select(Unit.code).where(Unit.level == "micro_grid")))


def test_a_split_drawn_in_a_file_is_applied_and_reverted_from_the_shell(county, tmp_path):
    before = micro_grids(county)
    assert plan("new", "Split Dongfeng 1").exit_code == 0
    with transaction(get_engine(county)) as session:
        draft = session.scalars(select(ChangeSet)).one()
    # Drawn in a metric CRS (as in QGIS on the county's CGCS2000 zone); the command reprojects it.
    line = gpd.GeoDataFrame(geometry=[shapely.LineString([lattice(-0.3, 1), lattice(1.3, 1)])], crs=4490).to_crs(4546)
    line.to_file(tmp_path / "cut.gpkg")
    done = plan("split", draft.id[:8], MICRO, "--line-file", str(tmp_path / "cut.gpkg"))
    assert done.exit_code == 0, done.output
    assert f"retires {MICRO}" in done.output
    previewed = plan("preview", draft.id[:8])
    assert previewed.exit_code == 0 and "creates 2" in previewed.output
    assert plan("apply", draft.id[:8]).exit_code == 0
    after = micro_grids(county)
    assert MICRO not in after and len(after) == len(before) + 1
    reverted = plan("revert", draft.id[:8])
    assert reverted.exit_code == 0, reverted.output
    with transaction(get_engine(county)) as session:
        undo = session.scalars(select(ChangeSet).where(ChangeSet.reverts == draft.id)).one()
    assert plan("apply", undo.id).exit_code == 0
    assert micro_grids(county) == before


def test_bad_input_is_named_and_nothing_is_stored(county):
    assert plan("new", "Draft").exit_code == 0
    with transaction(get_engine(county)) as session:
        draft = session.scalars(select(ChangeSet)).one()
    wrong = plan("split", draft.id, MICRO, "--line", "LINESTRING(112.502 29.285, 112.508 29.285)")
    assert wrong.exit_code == 1 and f"{MICRO}: the line" in wrong.output
    unreadable = plan("split", draft.id, MICRO, "--line", "LINE(1 2)")
    assert unreadable.exit_code == 2 and "not WKT" in unreadable.output
    unknown = plan("show", "ffffffff")
    assert unknown.exit_code == 1 and "0 change sets" in unknown.output
    with transaction(get_engine(county)) as session:
        assert session.scalars(select(ChangeSet)).one().edits == []
