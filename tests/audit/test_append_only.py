"""On PostGIS the database itself refuses to rewrite the audit log (the trigger of migration 0002)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from gridgov.audit.models import AuditRecord
from gridgov.audit.service import record
from gridgov.storage.db import get_engine, transaction
from tests.audit.principals import COUNTY_ADMIN


def _rows(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(select(AuditRecord.__table__).order_by(AuditRecord.id))]


@pytest.mark.parametrize("statement", [
    "UPDATE audit_log SET actor = 'someone.else'",
    "DELETE FROM audit_log",
    "DELETE FROM audit_log WHERE object_id = 'u1'",
    "TRUNCATE audit_log",
])
def test_postgis_refuses_to_change_or_remove_records(backend, county_db, statement):
    if backend != "postgis":
        pytest.skip("the append-only trigger exists on PostgreSQL only")
    engine = get_engine(county_db)
    with transaction(engine) as session:
        record(session=session, principal=COUNTY_ADMIN, action="create", object_type="user", object_id="u1",
               after={"display_name": "王五"})
    before = _rows(engine)
    with pytest.raises(DBAPIError, match="audit_log is append-only"), engine.begin() as conn:
        conn.execute(text(statement))
    assert _rows(engine) == before and before
