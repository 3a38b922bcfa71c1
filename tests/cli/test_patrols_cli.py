"""`gridgov patrols import` (SQLite and PostGIS): a GPX walked offline becomes a measured patrol, once."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from gridgov.audit.models import AuditRecord
from gridgov.cli import app
from gridgov.geo.crs import transformer
from gridgov.patrols.models import Patrol
from gridgov.storage.db import get_engine, transaction
from tests.factories_geo import GRIDS, lattice

runner = CliRunner()
OFFICER = "W4309210001"  # holds GRIDS[0] and GRIDS[1]
GPX = """<?xml version="1.0"?><gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1">
<trk><trkseg>{points}</trkseg></trk></gpx>"""


def gpx(points: list[tuple[float, float]]) -> str:
    minutes = range(0, 10 * len(points), 10)
    return GPX.format(points="".join(
        f'<trkpt lat="{lat}" lon="{lon}"><time>2026-03-02T01:{m:02d}:00Z</time></trkpt>'
        for (lon, lat), m in zip(points, minutes, strict=True)))


def stored(url: str) -> list[Patrol]:
    with transaction(get_engine(url)) as session:
        return list(session.scalars(select(Patrol)))


def test_a_gpx_becomes_one_measured_patrol_and_a_second_import_changes_nothing(county, tmp_path):
    points = [lattice(0.2, 0.5), lattice(0.5, 0.5), lattice(0.8, 0.5)]
    path = tmp_path / "walk.gpx"
    path.write_text(gpx(points))
    first = runner.invoke(app, ["patrols", "import", str(path), "--officer", OFFICER, "--grid", GRIDS[0]])
    assert first.exit_code == 0, first.output
    [patrol] = stored(county)
    to_metric = transformer(4490, 4546)
    xy = [to_metric.transform(lon, lat) for lon, lat in points]
    expected = sum(((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5 for (x0, y0), (x1, y1) in zip(xy, xy[1:]))
    assert patrol.length_m == pytest.approx(expected, abs=0.01)
    assert (patrol.status, patrol.source, patrol.duration_s, patrol.officer_code) == ("ended", "gpx", 1200.0, OFFICER)
    assert patrol.coverage_forest is not None and patrol.coverage_river is None
    again = runner.invoke(app, ["patrols", "import", str(path), "--officer", OFFICER, "--grid", GRIDS[0]])
    assert again.exit_code == 0, again.output
    assert len(stored(county)) == 1
    with transaction(get_engine(county)) as session:
        actors = set(session.scalars(select(AuditRecord.actor).where(AuditRecord.object_id == patrol.id)))
        assert actors == {f"cli:ops for {OFFICER}"}
        assert session.scalar(select(func.count()).select_from(AuditRecord)
                              .where(AuditRecord.object_id == patrol.id)) == 3  # start, fixes, end


@pytest.mark.parametrize(("text", "grid", "message"), [
    ("<gpx>not closed", GRIDS[0], "walk.gpx"),
    (None, GRIDS[3], f"No grid {GRIDS[3]} in your jurisdiction"),  # another officer's grid
])
def test_bad_files_and_other_grids_are_refused_and_store_nothing(county, tmp_path, text, grid, message):
    path = tmp_path / "walk.gpx"
    path.write_text(text or gpx([lattice(2.2, 0.5), lattice(2.5, 0.5)]))
    result = runner.invoke(app, ["patrols", "import", str(path), "--officer", OFFICER, "--grid", grid])
    assert result.exit_code == 1
    assert stored(county) == []
    assert message in " ".join(result.output.split())
