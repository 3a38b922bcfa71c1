"""Appending and reading audit records (SQLite and PostGIS): round trip, transactions, scoping, paging."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import shapely
from sqlalchemy import select

import gridgov.audit.service as audit_service
from gridgov.audit.service import json_safe, new_id, query, record, snapshot
from gridgov.grids.models import Level, Unit
from gridgov.storage.db import get_engine, session_factory, transaction
from tests.audit.principals import COUNTY_ADMIN, OFFICER, TOWN_SUPERVISOR, principal
from tests.conftest import import_dataset
from tests.databases import new_database
from tests.factories_geo import COUNTY, GRIDS, TOWNS, VILLAGES


@pytest.fixture
def imported(session) -> str:
    """Id of the record the import of the county left: the one committed record of ``county_db``."""
    [row] = query(session=session, principal=COUNTY_ADMIN)
    assert (row.action, row.object_type, row.object_id, row.via) == ("import", "dataset", "small_county.gpkg", "cli")
    return row.id


def test_a_record_reads_back_as_written_with_json_safe_values(session, imported):
    boundary = shapely.Polygon([(112.48, 29.28), (112.490000123, 29.28), (112.49, 29.29)])
    row = record(
        session=session, principal=COUNTY_ADMIN, action="assign", object_type="officer_assignment",
        object_id=GRIDS[0], unit_code=GRIDS[0],
        before={"valid_from": date(2024, 5, 1), "stipend": Decimal("1200.50"), "level": Level.GRID},
        after={"at": datetime(2024, 5, 2, 8, 30, tzinfo=UTC), "geom": boundary, "roles": {"b", "a"}},
    )
    session.expunge_all()
    read, earlier = query(session=session, principal=COUNTY_ADMIN)
    assert earlier.id == imported
    assert read is not row and read.id == row.id
    assert (read.county_code, read.actor, read.via, read.action) == (COUNTY, "zhang.admin", "api", "assign")
    assert (read.object_type, read.object_id, read.unit_code) == ("officer_assignment", GRIDS[0], GRIDS[0])
    assert read.before == {"valid_from": "2024-05-01", "stipend": "1200.50", "level": "grid"}
    assert read.after["at"] == "2024-05-02T08:30:00+00:00"
    assert read.after["roles"] == ["a", "b"]
    assert shapely.equals_exact(shapely.from_wkt(read.after["geom"]), boundary, tolerance=0)
    at = read.at if read.at.tzinfo else read.at.replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - at) < timedelta(minutes=1)


def test_snapshot_takes_named_fields_of_an_orm_row(session):
    grid = session.scalars(select(Unit).where(Unit.code == GRIDS[0])).one()
    shot = snapshot(grid, ["code", "level", "area_m2", "geom"])
    assert shot["code"] == GRIDS[0] and shot["level"] == "grid" and shot["area_m2"] == grid.area_m2
    assert shapely.equals(shapely.from_wkt(shot["geom"]), grid.geom)


def test_json_safe_refuses_what_it_cannot_represent():
    assert json_safe({1: float("nan"), "x": (1, 2.5)}) == {"1": "nan", "x": [1, 2.5]}
    with pytest.raises(TypeError, match="object"):
        json_safe({"bad": object()})


def test_ids_are_unique_and_sort_by_time_even_within_one_millisecond():
    moment = datetime(2024, 5, 1, tzinfo=UTC)
    later = moment + timedelta(milliseconds=5)
    ids = [new_id(moment) for _ in range(500)] + [new_id(later)]
    assert len(set(ids)) == len(ids) and ids == sorted(ids) and all(len(i) == 32 for i in ids)
    assert int(ids[-1][:12], 16) >= int(later.timestamp() * 1000)
    assert new_id(moment - timedelta(days=1)) > ids[-1]  # a clock stepping back does not reorder ids


def test_the_service_offers_no_way_to_change_or_remove_a_record():
    public = {name for name, value in vars(audit_service).items() if not name.startswith("_")
              and callable(value) and getattr(value, "__module__", None) == audit_service.__name__}
    assert public == {"new_id", "json_safe", "snapshot", "record", "record_many", "query"}


@pytest.fixture
def fresh_county(backend, small_county_gpkg, tmp_path) -> str:
    url = new_database(backend, tmp_path, "audit_tx")
    import_dataset(url, small_county_gpkg, defaults=False)
    return url


def test_a_rolled_back_change_leaves_no_record_and_a_committed_one_keeps_its_record(fresh_county):
    engine = get_engine(fresh_county)
    with pytest.raises(RuntimeError), transaction(engine) as session:
        record(session=session, principal=COUNTY_ADMIN, action="create", object_type="user", object_id="lost")
        raise RuntimeError("the change itself failed")
    with transaction(engine) as session:
        record(session=session, principal=COUNTY_ADMIN, action="create", object_type="user", object_id="kept")
    with session_factory(engine)() as session:
        assert [r.object_id for r in query(session=session, principal=COUNTY_ADMIN)] == ["kept", "small_county.gpkg"]


def _record_units(session, units) -> list[str]:
    return [
        record(session=session, principal=COUNTY_ADMIN, action="edit", object_type="unit", object_id=str(n),
               unit_code=unit).id
        for n, unit in enumerate(units)
    ]


def test_a_town_supervisor_reads_only_records_of_their_jurisdiction(session, imported):
    ids = _record_units(session, [GRIDS[0], GRIDS[3], VILLAGES[1], None, TOWNS[1], TOWNS[0]])

    def seen(who):
        return {r.id for r in query(session=session, principal=who)}

    assert seen(COUNTY_ADMIN) == {*ids, imported}
    assert seen(TOWN_SUPERVISOR) == {ids[0], ids[2], ids[5]}
    assert seen(OFFICER) == {ids[0]}
    assert seen(principal("nobody", units=frozenset())) == set()
    assert seen(principal("neighbour", county_code="430922")) == set()


def test_records_come_newest_first_in_keyset_pages(session, imported):
    ids = _record_units(session, [None] * 7)
    pages, before_id = [], None
    while True:
        page = query(session=session, principal=COUNTY_ADMIN, limit=3, before_id=before_id)
        if not page:
            break
        pages.append([r.id for r in page])
        before_id = page[-1].id
    assert [len(p) for p in pages] == [3, 3, 2]
    assert [i for p in pages for i in p] == [*ids[::-1], imported]
    times = [r.at for r in query(session=session, principal=COUNTY_ADMIN)]
    assert times == sorted(times, reverse=True)


def test_filters_combine(session, imported):
    first = record(session=session, principal=COUNTY_ADMIN, action="create", object_type="user", object_id="u1")
    second = record(session=session, principal=OFFICER, action="disable", object_type="user", object_id="u1")
    third = record(session=session, principal=OFFICER, action="create", object_type="finding", object_id="f1")

    def ids(**filters):
        return [r.id for r in query(session=session, principal=COUNTY_ADMIN, **filters)]

    assert ids(actor="wang.officer") == [third.id, second.id]
    assert ids(object_type="user", object_id="u1") == [second.id, first.id]
    assert ids(action="create") == [third.id, first.id]
    assert ids(action="create", actor="wang.officer") == [third.id]
    assert ids(object_id="nothing") == []
    assert ids(since=second.at) == [third.id, second.id]
    assert ids(until=second.at) == [first.id, imported]
    assert ids(since=second.at, until=third.at) == [second.id]
    aware = second.at if second.at.tzinfo else second.at.replace(tzinfo=UTC)
    assert ids(since=aware.astimezone(timezone(timedelta(hours=8)))) == [third.id, second.id]
    assert ids(since=aware.replace(tzinfo=None)) == [third.id, second.id]  # no zone: UTC
