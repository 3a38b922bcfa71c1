"""The audit guard of tests/audit_guard.py can fail: an unaudited change is caught, an audited one is not."""

from __future__ import annotations

from sqlalchemy import update

from gridgov.audit.service import record
from gridgov.grids.models import Unit
from gridgov.storage.db import get_engine, transaction
from tests import audit_guard
from tests.audit.principals import COUNTY_ADMIN
from tests.conftest import import_dataset
from tests.databases import new_database
from tests.factories_geo import GRIDS


def rename(url: str, name: str, *, audited: bool) -> None:
    with transaction(get_engine(url)) as session:
        session.execute(update(Unit).where(Unit.code == GRIDS[0]).values(name=name))
        if audited:
            record(session=session, principal=COUNTY_ADMIN, action="rename", object_type="unit", object_id=GRIDS[0],
                   unit_code=GRIDS[0], after={"name": name})


def test_an_unaudited_change_is_caught_and_an_audited_one_is_not(backend, small_county_gpkg, tmp_path):
    url = new_database(backend, tmp_path, "guard")
    import_dataset(url, small_county_gpkg)
    assert audit_guard.take() == []
    rename(url, "改名一", audited=True)
    assert audit_guard.take() == []
    rename(url, "改名二", audited=False)
    found = audit_guard.take()
    assert len(found) == 1 and "changed units with no audit record: UPDATE units" in found[0]


def test_an_insert_returning_rows_is_caught_and_one_that_changed_nothing_is_not(backend, small_county_gpkg,
                                                                                 tmp_path):
    """``INSERT … ON CONFLICT DO NOTHING RETURNING`` counts by the rows it stored (SQLite counts them only
    as they are returned, so the guard reads the count at commit)."""
    from gridgov.people.models import Person
    from gridgov.storage.db import insert_new

    url = new_database(backend, tmp_path, "guard_returning")
    import_dataset(url, small_county_gpkg)
    audit_guard.take()
    row = {"county_code": "430921", "code": "P0001", "name": "测试人", "synthetic": True}
    with transaction(get_engine(url)) as session:
        assert insert_new(session, Person, [row]) == {("430921", "P0001")}
    found = audit_guard.take()
    assert len(found) == 1 and "changed people with no audit record" in found[0]
    with transaction(get_engine(url)) as session:
        assert insert_new(session, Person, [row]) == set()  # taken: nothing stored, nothing to audit
    assert audit_guard.take() == []
