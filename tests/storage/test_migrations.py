"""Upgrading a database that already holds data (SQLite and PostGIS): what was stored keeps its meaning."""

from __future__ import annotations

from datetime import UTC, date, datetime

import shapely
import sqlalchemy as sa
from sqlalchemy import DateTime, bindparam, select, text

from gridgov.audit.models import AuditRecord
from gridgov.findings.models import Finding, FindingEvent
from gridgov.grids.importing import check_path
from gridgov.grids.models import Unit, UnitCode, UnitVersion
from gridgov.grids.service import UNIT_LAYERS
from gridgov.people.models import OfficerAssignment, Person
from gridgov.storage.db import get_engine, transaction
from gridgov.storage.migrate import upgrade
from tests.audit_guard import log_setup
from tests.databases import new_database
from tests.factories_geo import COUNTY, GRIDS, TOWNS, VILLAGES, lattice


def test_findings_stored_before_the_workflow_get_their_report_event(backend, small_county_gpkg, tmp_path):
    url = new_database(backend, tmp_path, "upgrade", revision="0005")
    store_units_before_0007(url, small_county_gpkg)
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


def store_units_before_0007(url: str, gpkg) -> None:
    """The dataset's county and units in a database older than 0007 (one ``units`` table, no registry),
    as the importer of that time stored them."""
    layers, defects = check_path(session=None, path=gpkg)
    assert not defects
    units = sa.table("units", *(sa.column(c) for c in ("county_code", "code", "level", "name", "parent_code",
                                                        "area_m2", "min_x", "min_y", "max_x", "max_y", "synthetic")),
                     sa.column("geom", Unit.__table__.c.geom.type))
    county = str(layers["county"]["code"].iloc[0])
    with transaction(get_engine(url)) as session:
        session.execute(text("INSERT INTO counties (county_code, name, metric_epsg, synthetic) "
                             "VALUES (:c, 'Test', 4546, false)"), {"c": county})
        for layer, level in UNIT_LAYERS.items():
            frame = layers[layer]
            parents = [None] * len(frame) if layer == "county" else frame["parent_code"]
            for code, name, parent, geom in zip(frame["code"], frame["name"], parents, frame.geometry):
                x0, y0, x1, y1 = geom.bounds
                session.execute(units.insert().values(
                    county_code=county, code=str(code), level=level.value, name=str(name),
                    parent_code=None if parent is None else str(parent), area_m2=1.0, min_x=x0, min_y=y0,
                    max_x=x1, max_y=y1, synthetic=False, geom=shapely.MultiPolygon([geom])
                    if geom.geom_type == "Polygon" else geom))
        log_setup(session, county_code=county, object_type="dataset", object_id=str(gpkg.name))


def test_units_become_a_registry_and_a_live_map_with_first_versions(backend, small_county_gpkg, tmp_path):
    url = new_database(backend, tmp_path, "registry", revision="0006")
    store_units_before_0007(url, small_county_gpkg)
    with transaction(get_engine(url)) as session:
        before = dict(session.execute(text("SELECT code, geom FROM units")).all())
    upgrade(get_engine(url))
    micro = GRIDS[1] + "01"
    with transaction(get_engine(url)) as session:
        live = {u.code: u for u in session.scalars(select(Unit))}
        versions = {v.code: v for v in session.scalars(select(UnitVersion))}
        registry = {c.code: c for c in session.scalars(select(UnitCode))}
        assert set(live) == set(versions) == set(registry) == set(before)
        assert all(v.version == 1 and v.valid_to is None and shapely.equals_exact(v.geom, live[c].geom, 0)
                   for c, v in versions.items())
        assert registry[micro].parent_code == GRIDS[1] and registry[micro].retired_on is None
        # A retired grid leaves the live map and stays the target of the history naming it.
        session.add(Person(county_code=COUNTY, code="w1", name="Officer", synthetic=True))
        session.flush()
        session.add(OfficerAssignment(county_code=COUNTY, grid_code=GRIDS[1], valid_from=date(2026, 1, 1),
                                      officer_code="w1"))
        session.flush()
        for code in [c for c, u in live.items() if u.parent_code == GRIDS[1]] + [GRIDS[1]]:
            session.delete(live[code])
            session.flush()
        assert session.get(OfficerAssignment, (COUNTY, GRIDS[1], date(2026, 1, 1))).officer_code == "w1"
        assert session.get(UnitCode, (COUNTY, GRIDS[1])).level == "grid"
        log_setup(session, county_code=COUNTY, object_type="unit", object_id=GRIDS[1])
