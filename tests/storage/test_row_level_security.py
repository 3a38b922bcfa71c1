"""The second wall (PostGIS): as ``gridgov_app``, which owns no table, the database returns only rows of the
jurisdiction the transaction set, and none at all when it set nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from gridgov.grids.models import ResourceKind
from gridgov.storage import walls
from gridgov.storage.db import get_engine
from tests.databases import app_url
from tests.factories_geo import COUNTY, GRIDS, TOWNS, VILLAGES

WALLED = ("counties", "units", "resources", "people", "officer_assignments", "chief_assignments", "users",
          "role_grants", "audit_log", "unit_tree", "micro_grid_partition", "patrols", "findings")
# Views that show the transaction's county only, and tables this county has no rows in yet.
EMPTY_FOR_THE_OWNER = ("unit_tree", "micro_grid_partition", "audit_log", "patrols", "findings")
NOT_DATA = {"alembic_version", "spatial_ref_sys"}


@pytest.fixture(scope="module")
def engines(backend, small_county_db) -> tuple[Engine, Engine]:
    """(owner, app role) engines on the small county; PostGIS only."""
    if backend != "postgis":
        pytest.skip("row-level security is PostgreSQL's")
    app = create_engine(app_url(small_county_db))
    yield get_engine(small_county_db), app
    app.dispose()


def counts(engine: Engine, wall=None) -> dict[str, int]:
    """Rows of each walled table visible in one transaction after ``wall(session)``; rolled back."""
    with Session(engine) as session:
        if wall is not None:
            wall(session)
        found = {table: session.scalar(text(f"SELECT count(*) FROM {table}")) for table in WALLED}
        session.rollback()
    return found


def test_the_app_role_sees_nothing_without_a_jurisdiction(engines):
    owner, app = engines
    with app.connect() as conn:
        assert conn.scalar(text("SELECT current_user")) == walls.APP_ROLE
    stored = counts(owner)
    assert all(stored[table] > 0 for table in WALLED if table not in EMPTY_FOR_THE_OWNER), stored
    assert counts(app) == dict.fromkeys(WALLED, 0)


def test_a_county_setting_shows_people_and_the_tree_but_no_unit_or_resource(engines):
    owner, app = engines
    stored = counts(owner, lambda s: walls.for_county(s, COUNTY))
    seen = counts(app, lambda s: walls.for_county(s, COUNTY))
    for table in ("counties", "people", "officer_assignments", "chief_assignments", "users", "role_grants",
                  "unit_tree", "micro_grid_partition"):
        assert seen[table] == stored[table] > 0, table
    assert seen["units"] == seen["resources"] == 0


def test_sign_in_shows_only_the_accounts_of_that_name(engines):
    _owner, app = engines
    with Session(app) as session:
        walls.for_sign_in(session, "admin")
        assert session.scalars(text("SELECT username FROM users")).all() == ["admin"]
        assert session.scalar(text("SELECT count(*) FROM people")) == 0


def test_an_officer_sees_their_grid_and_their_village_resources(engines):
    owner, app = engines
    village = VILLAGES[0]

    def officer(session):
        walls.for_jurisdiction(
            session, county_code=COUNTY, username="x", county_wide=False, units={GRIDS[0]},
            resource_villages=dict.fromkeys(ResourceKind, {village}), resource_kinds=ResourceKind,
        )

    with Session(app) as session:
        officer(session)
        assert session.scalars(text("SELECT code FROM units")).all() == [GRIDS[0]]
        parents = set(session.scalars(text("SELECT parent_code FROM resources")))
    with owner.connect() as conn:
        in_village = conn.scalar(text("SELECT count(*) FROM resources WHERE parent_code = :v"), {"v": village})
    assert parents == {village} and counts(app, officer)["resources"] == in_village > 0


def test_a_chief_sees_only_the_resources_of_their_domain(engines):
    owner, app = engines
    with owner.connect() as conn:  # every layer has features in these villages
        assert set(conn.scalars(text("SELECT DISTINCT resource FROM resources"))) == set(ResourceKind)
    with Session(app) as session:
        walls.for_jurisdiction(
            session, county_code=COUNTY, username="x", county_wide=False, units={TOWNS[0], TOWNS[1], *VILLAGES},
            resource_villages={"river": set(VILLAGES)}, resource_kinds=ResourceKind,
        )
        assert set(session.scalars(text("SELECT DISTINCT resource FROM resources"))) == {"river"}


def test_county_wide_in_another_county_sees_nothing_of_this_one(engines):
    _owner, app = engines
    seen = counts(app, lambda s: walls.for_jurisdiction(s, county_code="430922", username="x", county_wide=True,
                                                        resource_kinds=ResourceKind))
    assert seen == dict.fromkeys(WALLED, 0)


def test_the_app_role_cannot_write_outside_its_jurisdiction(engines):
    _owner, app = engines
    with Session(app) as session:
        walls.for_jurisdiction(session, county_code=COUNTY, username="x", county_wide=False, units={GRIDS[0]},
                               resource_kinds=ResourceKind)
        changed = session.execute(text("UPDATE units SET name = 'x' WHERE code = :c"), {"c": GRIDS[3]}).rowcount
        session.rollback()
    assert changed == 0
    with Session(app) as session, pytest.raises(DBAPIError, match="row-level security"):
        walls.for_county(session, COUNTY)
        session.execute(text(
            "INSERT INTO audit_log (county_code, id, at, actor, via, action, object_type, object_id) "
            "VALUES ('430922', 'x', now(), 'a', 'api', 'edit', 'unit', 'u')"
        ))


@pytest.mark.parametrize("statement", [
    "UPDATE audit_log SET actor = 'someone.else'",
    "DELETE FROM audit_log",
    "TRUNCATE audit_log",
    "DELETE FROM alembic_version",
    "DROP TABLE units",
])
def test_the_app_role_may_not_rewrite_history_or_the_schema(engines, statement):
    _owner, app = engines
    with Session(app) as session, pytest.raises(DBAPIError, match="permission denied|must be owner"):
        walls.for_jurisdiction(session, county_code=COUNTY, username="x", county_wide=True, resource_kinds=ResourceKind)
        session.execute(text(statement))


def test_every_table_is_walled_and_owned_by_someone_else(engines):
    """A table added by a later migration without row-level security fails here."""
    owner, app = engines
    with owner.connect() as conn:
        tables = conn.execute(text(
            "SELECT c.relname, c.relrowsecurity, pg_get_userbyid(c.relowner) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'"
        )).all()
    unwalled = sorted(name for name, walled, _owner in tables if not walled and name not in NOT_DATA)
    assert tables and not unwalled
    assert walls.APP_ROLE not in {table_owner for *_rest, table_owner in tables}
    assert walls.bypassed_by(owner) and not walls.bypassed_by(app)
