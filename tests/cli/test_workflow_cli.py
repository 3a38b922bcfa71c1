"""`gridgov tick` and `gridgov kpi` (SQLite and PostGIS): the workflow's clock and figures from the shell."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from gridgov.cli import app
from gridgov.config import get_settings
from gridgov.findings.models import Finding, FindingEvent
from gridgov.findings.schemas import FindingIn
from gridgov.findings.service import submit_findings
from gridgov.people.principal import cli_principal
from gridgov.storage.db import get_engine, transaction
from tests.audit_guard import log_setup
from tests.conftest import import_dataset
from tests.factories_geo import COUNTY, lattice

runner = CliRunner()


@pytest.fixture
def county(empty_db, small_county_gpkg, monkeypatch, tmp_path) -> str:
    import_dataset(empty_db, small_county_gpkg)
    monkeypatch.setenv("GRIDGOV_DATABASE_URL", empty_db)
    monkeypatch.setenv("GRIDGOV_NOTIFY_LOG_PATH", str(tmp_path / "notifications.jsonl"))
    get_settings.cache_clear()
    yield empty_db
    get_settings.cache_clear()


def overdue_finding(url: str) -> str:
    """A field finding reported and dispatched, whose acceptance was due an hour ago."""
    with transaction(get_engine(url)) as session:
        item = FindingIn(id=uuid.uuid4(), category_code="field_abandonment", lon=lattice(0.5, 2.5)[0],
                         lat=lattice(0.5, 2.5)[1], observed_at=datetime.now(UTC) - timedelta(days=3))
        finding = submit_findings(session=session, principal=cli_principal(session=session), items=[item]).findings[0]
        session.execute(update(Finding).where(Finding.id == finding.id)
                        .values(accept_due=datetime.now(UTC) - timedelta(hours=1)))
        log_setup(session, county_code=COUNTY, object_type="finding", object_id=finding.id)
    return finding.id


def test_tick_escalates_once_and_delivers_the_notifications(county, tmp_path):
    finding_id = overdue_finding(county)
    first = runner.invoke(app, ["tick"])
    assert first.exit_code == 0, first.output
    assert "escalated 1" in first.output and f"{finding_id} → town" in first.output
    second = runner.invoke(app, ["tick"])
    assert "escalated 0" in second.output  # the next rung waits one more escalation interval
    with transaction(get_engine(county)) as session:
        actions = session.scalars(select(FindingEvent.action).where(FindingEvent.finding_id == finding_id)
                                  .order_by(FindingEvent.seq)).all()
    assert actions == ["report", "dispatch", "escalate"]
    lines = [json.loads(line) for line in (tmp_path / "notifications.jsonl").read_text().splitlines()]
    assert sorted(n["kind"] for n in lines) == ["dispatched", "escalated"]


def test_kpi_prints_the_figures_and_writes_the_csv(county, tmp_path):
    overdue_finding(county)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()  # the command reads dates on the county's clock
    csv = tmp_path / "kpis.csv"
    result = runner.invoke(app, ["kpi", "--since", str(today - timedelta(days=1)),
                                 "--until", str(today + timedelta(days=1)), "--group-by", "county",
                                 "--csv", str(csv)])
    assert result.exit_code == 0, result.output
    header, row = csv.read_text().splitlines()
    assert header.startswith("county_code,registered,closed,completion_rate")
    assert row.startswith(f"{COUNTY},1,0,0.0000")
    bad = runner.invoke(app, ["kpi", "--since", "yesterday", "--until", "2026-12-01"])
    assert bad.exit_code == 1 and "dates like" in bad.output
