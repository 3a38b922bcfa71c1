"""unit history: a registry of every code ever issued, unit versions, planners' change sets

A planner's split or merge retires unit codes, yet last year's patrols, closed findings and past
assignments must keep naming the grid they were about. So the old ``units`` table becomes the registry
``unit_codes`` (renamed in place: on both backends every foreign key that named ``units`` follows the
rename, so no table holding history is rebuilt), and a new ``units`` holds the live map only, as every
reader of the map expects. Each code's shapes over time go to ``unit_versions``, valid from the date the
county's officers started (their first assignment), else from today. ``change_sets`` holds the drafts.

``issued_on`` gets a constant default so that SQLite can add it as NOT NULL; the backfill overwrites it.

Revision ID: 0007
Revises: 0006
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import gridgov.storage.types
from gridgov.audit.service import new_id

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

APP_ROLE = "gridgov_app"
UNIT_COLUMNS = "county_code, code, level, name, parent_code, geom, area_m2, min_x, min_y, max_x, max_y"
LIVE_COLUMNS = f"{UNIT_COLUMNS}, synthetic"
PARTITION = "SELECT county_code, code, name, parent_code, area_m2, geom FROM units WHERE level = 'micro_grid'"
TREE = "SELECT county_code, code, level, parent_code FROM units"
STARTED = ("coalesce((SELECT min(o.valid_from) FROM officer_assignments o "
           "WHERE o.county_code = unit_codes.county_code), CURRENT_DATE)")
JURISDICTION = ("USING (gridgov_sees_unit(county_code, code)) "
                "WITH CHECK (gridgov_sees_unit(county_code, code) OR gridgov_sees_unit(county_code, parent_code))")
# Jurisdictions list live codes; a retired unit is seen by whoever sees its grid, village or town (a child's
# code starts with its parent's: 9, 12 and 14 digits), as gridgov.planning.history.sees_historic does.
SEES_HISTORIC = """
CREATE FUNCTION gridgov_sees_historic(county text, code text) RETURNS boolean STABLE LANGUAGE sql AS
  $$ SELECT gridgov_sees_unit(county, code) OR gridgov_sees_unit(county, left(code, 14))
            OR gridgov_sees_unit(county, left(code, 12)) OR gridgov_sees_unit(county, left(code, 9)) $$;
"""
HISTORY = ("USING (gridgov_sees_historic(county_code, code)) "
           "WITH CHECK (gridgov_sees_historic(county_code, code) OR gridgov_sees_unit(county_code, parent_code))")


def _postgis() -> bool:
    return op.get_context().dialect.name == "postgresql"


def _geometry_columns() -> list:
    return [
        sa.Column('geom', gridgov.storage.types.GeometryColumn('MULTIPOLYGON'), nullable=False),
        sa.Column('area_m2', sa.Float(), nullable=False),
        sa.Column('min_x', sa.Float(), nullable=False),
        sa.Column('min_y', sa.Float(), nullable=False),
        sa.Column('max_x', sa.Float(), nullable=False),
        sa.Column('max_y', sa.Float(), nullable=False),
    ]


def upgrade() -> None:
    pg = _postgis()
    op.execute("DROP VIEW micro_grid_partition")
    op.execute("DROP VIEW unit_tree")
    op.execute("ALTER TABLE units RENAME TO unit_codes")
    for index in ("ix_units_bbox", "ix_units_level_code", "ix_units_parent", *(("ix_units_geom",) if pg else ())):
        op.execute(f"DROP INDEX {index}")
    if pg:
        op.execute("ALTER INDEX units_pkey RENAME TO unit_codes_pkey")
        op.execute("ALTER TABLE unit_codes RENAME CONSTRAINT ck_units_level TO ck_unit_codes_level")

    op.create_table('units',
    sa.Column('county_code', sa.String(length=12), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('parent_code', sa.String(length=32), nullable=True),
    *_geometry_columns(),
    sa.Column('synthetic', sa.Boolean(), nullable=False),
    sa.CheckConstraint("level IN ('county', 'town', 'village', 'grid', 'micro_grid')", name='ck_units_level'),
    sa.ForeignKeyConstraint(['county_code'], ['counties.county_code'], ),
    sa.ForeignKeyConstraint(['county_code', 'code'], ['unit_codes.county_code', 'unit_codes.code'], ),
    sa.ForeignKeyConstraint(['county_code', 'parent_code'], ['units.county_code', 'units.code'], ),
    sa.PrimaryKeyConstraint('county_code', 'code')
    )
    op.create_index('ix_units_bbox', 'units', ['county_code', 'level', 'min_x', 'max_x', 'min_y', 'max_y'])
    op.create_index('ix_units_level_code', 'units', ['county_code', 'level', 'code'])
    op.create_index('ix_units_parent', 'units', ['county_code', 'parent_code'])
    op.execute(f"INSERT INTO units ({LIVE_COLUMNS}) SELECT {LIVE_COLUMNS} FROM unit_codes")

    op.create_table('unit_versions',
    sa.Column('county_code', sa.String(length=12), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('parent_code', sa.String(length=32), nullable=True),
    *_geometry_columns(),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('change_set_id', sa.String(length=36), nullable=True),
    sa.ForeignKeyConstraint(['county_code', 'code'], ['unit_codes.county_code', 'unit_codes.code'], ),
    sa.PrimaryKeyConstraint('county_code', 'code', 'version')
    )
    op.create_index('ix_unit_versions_bbox', 'unit_versions',
                    ['county_code', 'level', 'valid_from', 'min_x', 'max_x', 'min_y', 'max_y'])
    op.execute(f"INSERT INTO unit_versions ({UNIT_COLUMNS}, version, valid_from) "
               f"SELECT {UNIT_COLUMNS}, 1, {STARTED} FROM unit_codes")

    op.execute("ALTER TABLE unit_codes ADD COLUMN issued_on DATE NOT NULL DEFAULT '2026-01-01'")
    op.execute("ALTER TABLE unit_codes ADD COLUMN retired_on DATE")
    op.execute("ALTER TABLE unit_codes ADD COLUMN change_set_id VARCHAR(36)")
    op.execute(f"UPDATE unit_codes SET issued_on = {STARTED}")
    for column in ("name", "geom", "area_m2", "min_x", "min_y", "max_x", "max_y", "synthetic"):
        op.execute(f"ALTER TABLE unit_codes DROP COLUMN {column}")
    _audit_backfill()

    op.create_table('change_sets',
    sa.Column('county_code', sa.String(length=12), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('effective_on', sa.Date(), nullable=False),
    sa.Column('scope_code', sa.String(length=32), nullable=False),
    sa.Column('author', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('edits', sa.JSON(), nullable=False),
    sa.Column('reassignments', sa.JSON(), nullable=False),
    sa.Column('review', sa.JSON(), nullable=True),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('applied_by', sa.String(length=64), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('reverts', sa.String(length=36), nullable=True),
    sa.CheckConstraint("status IN ('draft', 'scheduled', 'applied', 'discarded', 'reverted')",
                       name='ck_change_sets_status'),
    sa.ForeignKeyConstraint(['county_code', 'scope_code'], ['unit_codes.county_code', 'unit_codes.code'], ),
    sa.PrimaryKeyConstraint('county_code', 'id')
    )
    op.create_index('ix_change_sets_status', 'change_sets', ['county_code', 'status', 'created_at'])

    if not pg:
        op.execute(f"CREATE VIEW unit_tree AS {TREE}")
        op.execute(f"CREATE VIEW micro_grid_partition AS {PARTITION}")
        return
    op.execute("ALTER TABLE unit_codes ALTER COLUMN issued_on DROP DEFAULT")
    op.create_index('ix_units_geom', 'units', ['geom'], postgresql_using='gist')
    op.create_index('ix_unit_versions_geom', 'unit_versions', ['geom'], postgresql_using='gist')
    op.execute(f"CREATE VIEW unit_tree WITH (security_barrier) AS {TREE} WHERE county_code = gridgov_county()")
    op.execute(f"CREATE VIEW micro_grid_partition WITH (security_barrier) AS {PARTITION} "
               "AND county_code = gridgov_county()")
    op.execute(SEES_HISTORIC)
    op.execute("ALTER TABLE units ENABLE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY jurisdiction_rows ON units {JURISDICTION}")
    op.execute("ALTER TABLE unit_versions ENABLE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY jurisdiction_rows ON unit_versions {HISTORY}")
    op.execute("DROP POLICY jurisdiction_rows ON unit_codes")
    op.execute(f"CREATE POLICY jurisdiction_rows ON unit_codes {HISTORY}")
    op.execute("ALTER TABLE change_sets ENABLE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY jurisdiction_rows ON change_sets USING (gridgov_sees_unit(county_code, scope_code))")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON units, unit_versions, change_sets TO {APP_ROLE}")
    op.execute(f"GRANT SELECT ON unit_tree, micro_grid_partition TO {APP_ROLE}")
    op.execute(f"GRANT EXECUTE ON FUNCTION gridgov_sees_historic(text, text) TO {APP_ROLE}")


def _audit_backfill() -> None:
    """One audit record per county saying how many units got their registry entry and first version."""
    audit_log = sa.table("audit_log", sa.column("county_code"), sa.column("id"), sa.column("at"),
                         sa.column("actor"), sa.column("via"), sa.column("action"), sa.column("object_type"),
                         sa.column("object_id"), sa.column("after", sa.JSON))
    bind = op.get_bind()
    counts = bind.execute(sa.text("SELECT county_code, count(*) FROM unit_versions GROUP BY county_code")).all()
    at = datetime.now(UTC)
    for county_code, n in counts:
        bind.execute(audit_log.insert().values(
            county_code=county_code, id=new_id(at), at=at, actor="migration 0007", via="cli",
            action="backfill_unit_history", object_type="unit", object_id="*", after={"units": n}))


def downgrade() -> None:
    raise NotImplementedError("0007 is one-way: 0006 has no place for retired codes and past unit shapes. "
                              "Restore the backup taken before upgrading.")
