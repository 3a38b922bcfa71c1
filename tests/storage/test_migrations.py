"""Upgrading a database that already holds data (SQLite and PostGIS): what was stored keeps its meaning."""

from __future__ import annotations

from datetime import UTC, datetime

import shapely
from sqlalchemy import DateTime, bindparam, select, text

from gridgov.audit.models import AuditRecord
from gridgov.findings.models import Finding, FindingEvent
from gridgov.storage.db import get_engine, transaction
from gridgov.storage.migrate import upgrade
from tests.audit_guard import log_setup
from tests.conftest import import_dataset
from tests.databases import new_database
from tests.factories_geo import COUNTY, GRIDS, TOWNS, VILLAGES, lattice


def test_findings_stored_before_the_workflow_get_their_report_event(backend, small_county_gpkg, tmp_path):
    url = new_database(backend, tmp_path, "upgrade", revision="0005")
    import_dataset(url, small_county_gpkg, defaults=False)  # 0005 has no routing tables to seed
    lon, lat = lattice(0.5, 2.5)
    with transaction(get_engine(url)) as session:  # as 0005's findings API stored one
        session.execute(text(
            "INSERT INTO finding_categories (county_code, code, domain, name_zh, name_en, duplicate_radius_m, active) "
            "VALUES (:county, 'field_abandonment', 'field', '耕地撂荒', 'Abandoned farmland', 100, true)"),
            {"county": COUNTY})
        session.execute(text(
            "INSERT INTO findings (county_code, id, domain, category_code, severity, description, status, "
            "observed_at, received_at, reporter, geom, lon, lat, gcj02_input, micro_grid_code, grid_code, "
            "village_code, town_code, content_hash) VALUES (:county, 'f-old', 'field', 'field_abandonment', "
            "'medium', '', 'reported', :observed, :received, 'w4309210001', :geom, :lon, :lat, false, "
            ":micro, :grid, :village, :town, 'x')").bindparams(bindparam("geom", type_=Finding.__table__.c.geom.type),
                                                                bindparam("observed", type_=DateTime(timezone=True)),
                                                                bindparam("received", type_=DateTime(timezone=True))),
            {"county": COUNTY, "geom": shapely.Point(lon, lat), "lon": lon, "lat": lat, "micro": GRIDS[1] + "01",
             "grid": GRIDS[1], "village": VILLAGES[1], "town": TOWNS[0],
             "observed": datetime(2026, 3, 1, 1, 0, tzinfo=UTC), "received": datetime(2026, 3, 1, 1, 5, tzinfo=UTC)})
        log_setup(session, county_code=COUNTY, object_type="finding", object_id="f-old")
    upgrade(get_engine(url))
    with transaction(get_engine(url)) as session:
        event = session.scalars(select(FindingEvent).where(FindingEvent.finding_id == "f-old")).one()
        finding = session.get(Finding, (COUNTY, "f-old"))
        logged = session.scalars(select(AuditRecord).where(AuditRecord.action == "backfill_report_events")).one()
    assert (event.seq, event.action, event.actor, event.to_state) == (1, "report", "w4309210001", "reported")
    assert (finding.version, finding.status) == (1, "reported")
    assert (logged.county_code, logged.actor, logged.after) == (COUNTY, "migration 0006", {"findings": 1})
