"""patrols and findings: checklists, patrol rules, patrols and their tracks, findings and their photos

Every new table is walled like those of 0003 (row-level security, granted to gridgov_app): patrols by
their grid, findings by the village and domain they lie in (or their reporter), the rest by county.
``micro_grid_partition`` (both backends) is the county's micro-grids with geometry, readable by any
request of the county: locating a finding needs the whole partition, whoever reports it.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

import gridgov.storage.types

APP_ROLE = "gridgov_app"
COUNTY_TABLES = ("checklist_items", "finding_categories", "patrol_rules", "track_batches", "track_fixes",
                 "patrol_checks", "finding_photos")
NEW_TABLES = (*COUNTY_TABLES, "patrols", "findings")
# Resource layer of each finding domain, to reuse the villages-per-layer settings of 0003.
FINDING_LAYER = "CASE domain WHEN 'field' THEN 'farmland' ELSE domain END"
POLICIES = [
    *(f"CREATE POLICY county_rows ON {table} USING (county_code = gridgov_county())" for table in COUNTY_TABLES),
    "CREATE POLICY jurisdiction_rows ON patrols USING (gridgov_sees_unit(county_code, grid_code) "
    "OR (county_code = gridgov_county() AND username = current_setting('gridgov.username', true)))",
    "CREATE POLICY jurisdiction_rows ON findings USING (county_code = gridgov_county() AND (gridgov_county_wide() "
    f"OR village_code = ANY (gridgov_setting_list('gridgov.villages.' || {FINDING_LAYER})) "
    "OR reporter = current_setting('gridgov.username', true)))",
]
PARTITION = "SELECT county_code, code, name, parent_code, area_m2, geom FROM units WHERE level = 'micro_grid'"


def _postgis() -> bool:
    return op.get_context().dialect.name == "postgresql"


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('checklist_items',
    sa.Column('county_code', sa.String(length=12), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('domain', sa.String(length=16), nullable=False),
    sa.Column('text_zh', sa.String(length=200), nullable=False),
    sa.Column('text_en', sa.String(length=200), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.CheckConstraint("domain IN ('river', 'forest', 'field')", name='ck_checklist_domain'),
    sa.ForeignKeyConstraint(['county_code'], ['counties.county_code'], ),
    sa.PrimaryKeyConstraint('county_code', 'code')
    )
    op.create_table('finding_categories',
    sa.Column('county_code', sa.String(length=12), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('domain', sa.String(length=16), nullable=False),
    sa.Column('name_zh', sa.String(length=100), nullable=False),
    sa.Column('name_en', sa.String(length=100), nullable=False),
    sa.Column('duplicate_radius_m', sa.Float(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.CheckConstraint("domain IN ('river', 'forest', 'field')", name='ck_finding_categories_domain'),
    sa.ForeignKeyConstraint(['county_code'], ['counties.county_code'], ),
    sa.PrimaryKeyConstraint('county_code', 'code')
    )
    op.create_table('patrol_rules',
    sa.Column('county_code', sa.String(length=12), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('period_days', sa.Integer(), nullable=False),
    sa.Column('min_patrols', sa.Integer(), nullable=False),
    sa.Column('min_minutes', sa.Float(), nullable=False),
    sa.Column('min_km', sa.Float(), nullable=False),
    sa.CheckConstraint('period_days > 0 AND min_patrols > 0', name='ck_patrol_rules_positive'),
    sa.ForeignKeyConstraint(['county_code'], ['counties.county_code'], ),
    sa.PrimaryKeyConstraint('county_code', 'level')
    )
    op.create_table('patrols',
    sa.Column('county_code', sa.String(length=12), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('grid_code', sa.String(length=32), nullable=False),
    sa.Column('officer_code', sa.String(length=32), nullable=True),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('track', gridgov.storage.types.GeometryColumn(), nullable=True),
    sa.Column('fix_count', sa.Integer(), nullable=False),
    sa.Column('duration_s', sa.Float(), nullable=True),
    sa.Column('length_m', sa.Float(), nullable=True),
    sa.Column('micro_grids', sa.JSON(), nullable=True),
    sa.Column('coverage_river', sa.Float(), nullable=True),
    sa.Column('coverage_forest', sa.Float(), nullable=True),
    sa.Column('coverage_farmland', sa.Float(), nullable=True),
    sa.Column('flags', sa.JSON(), nullable=True),
    sa.Column('min_x', sa.Float(), nullable=True),
    sa.Column('min_y', sa.Float(), nullable=True),
    sa.Column('max_x', sa.Float(), nullable=True),
    sa.Column('max_y', sa.Float(), nullable=True),
    sa.CheckConstraint("status IN ('open', 'ended')", name='ck_patrols_status'),
    sa.CheckConstraint('ended_at IS NULL OR ended_at >= started_at', name='ck_patrols_ends_after_start'),
    sa.ForeignKeyConstraint(['county_code', 'grid_code'], ['units.county_code', 'units.code'], ),
    sa.ForeignKeyConstraint(['county_code', 'officer_code'], ['people.county_code', 'people.code'], ),
    sa.PrimaryKeyConstraint('county_code', 'id')
    )
    with op.batch_alter_table('patrols', schema=None) as batch_op:
        batch_op.create_index('ix_patrols_grid_started', ['county_code', 'grid_code', 'started_at'], unique=False)

    op.create_table('findings',
    sa.Column('county_code', sa.String(length=12), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('domain', sa.String(length=16), nullable=False),
    sa.Column('category_code', sa.String(length=32), nullable=False),
    sa.Column('severity', sa.String(length=8), nullable=False),
    sa.Column('description', sa.String(length=2000), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('observed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reporter', sa.String(length=64), nullable=False),
    sa.Column('patrol_id', sa.String(length=36), nullable=True),
    sa.Column('geom', gridgov.storage.types.GeometryColumn(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('gcj02_input', sa.Boolean(), nullable=False),
    sa.Column('micro_grid_code', sa.String(length=32), nullable=False),
    sa.Column('grid_code', sa.String(length=32), nullable=False),
    sa.Column('village_code', sa.String(length=32), nullable=False),
    sa.Column('town_code', sa.String(length=32), nullable=False),
    sa.Column('chiefs', sa.JSON(), nullable=True),
    sa.Column('duplicate_of', sa.String(length=36), nullable=True),
    sa.Column('flags', sa.JSON(), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.CheckConstraint("domain IN ('river', 'forest', 'field')", name='ck_findings_domain'),
    sa.CheckConstraint("severity IN ('low', 'medium', 'high', 'urgent')", name='ck_findings_severity'),
    sa.ForeignKeyConstraint(
        ['county_code', 'category_code'], ['finding_categories.county_code', 'finding_categories.code']
    ),
    sa.ForeignKeyConstraint(['county_code', 'micro_grid_code'], ['units.county_code', 'units.code'], ),
    sa.ForeignKeyConstraint(['county_code', 'patrol_id'], ['patrols.county_code', 'patrols.id'], ),
    sa.PrimaryKeyConstraint('county_code', 'id')
    )
    with op.batch_alter_table('findings', schema=None) as batch_op:
        batch_op.create_index(
            'ix_findings_category_xy', ['county_code', 'category_code', 'status', 'lon', 'lat'], unique=False
        )
        batch_op.create_index('ix_findings_grid', ['county_code', 'grid_code', 'observed_at'], unique=False)
        batch_op.create_index('ix_findings_village', ['county_code', 'village_code'], unique=False)

    op.create_table('patrol_checks',
    sa.Column('county_code', sa.String(length=12), nullable=False),
    sa.Column('patrol_id', sa.String(length=36), nullable=False),
    sa.Column('item_code', sa.String(length=32), nullable=False),
    sa.Column('answer', sa.String(length=12), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.CheckConstraint("answer IN ('ok', 'problem', 'not_checked')", name='ck_patrol_checks_answer'),
    sa.ForeignKeyConstraint(['county_code', 'item_code'], ['checklist_items.county_code', 'checklist_items.code'], ),
    sa.ForeignKeyConstraint(['county_code', 'patrol_id'], ['patrols.county_code', 'patrols.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('county_code', 'patrol_id', 'item_code')
    )
    op.create_table('track_batches',
    sa.Column('county_code', sa.String(length=12), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('patrol_id', sa.String(length=36), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('fix_count', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['county_code', 'patrol_id'], ['patrols.county_code', 'patrols.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('county_code', 'id')
    )
    with op.batch_alter_table('track_batches', schema=None) as batch_op:
        batch_op.create_index('ix_track_batches_patrol', ['county_code', 'patrol_id'], unique=False)

    op.create_table('finding_photos',
    sa.Column('county_code', sa.String(length=12), nullable=False),
    sa.Column('finding_id', sa.String(length=36), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('storage_key', sa.String(length=100), nullable=False),
    sa.Column('media_type', sa.String(length=16), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('exif_lon', sa.Float(), nullable=True),
    sa.Column('exif_lat', sa.Float(), nullable=True),
    sa.Column('flags', sa.JSON(), nullable=True),
    sa.Column('uploaded_by', sa.String(length=64), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['county_code', 'finding_id'], ['findings.county_code', 'findings.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('county_code', 'finding_id', 'sha256')
    )
    op.create_table('track_fixes',
    sa.Column('county_code', sa.String(length=12), nullable=False),
    sa.Column('batch_id', sa.String(length=36), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('patrol_id', sa.String(length=36), nullable=False),
    sa.Column('t', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('accuracy_m', sa.Float(), nullable=True),
    sa.Column('speed_mps', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(
        ['county_code', 'batch_id'], ['track_batches.county_code', 'track_batches.id'], ondelete='CASCADE'
    ),
    sa.PrimaryKeyConstraint('county_code', 'batch_id', 'seq')
    )
    with op.batch_alter_table('track_fixes', schema=None) as batch_op:
        batch_op.create_index('ix_track_fixes_patrol_t', ['county_code', 'patrol_id', 't'], unique=False)

    if not _postgis():
        op.execute(f"CREATE VIEW micro_grid_partition AS {PARTITION}")
        return
    op.create_index('ix_patrols_track', 'patrols', ['track'], postgresql_using='gist')
    op.create_index('ix_findings_geom', 'findings', ['geom'], postgresql_using='gist')
    op.execute(f"CREATE VIEW micro_grid_partition WITH (security_barrier) AS {PARTITION} "
               "AND county_code = gridgov_county()")
    for table in NEW_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    for policy in POLICIES:
        op.execute(policy)
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {', '.join(NEW_TABLES)} TO {APP_ROLE}")
    op.execute(f"GRANT SELECT ON micro_grid_partition TO {APP_ROLE}")


def downgrade() -> None:
    op.execute("DROP VIEW micro_grid_partition")

    with op.batch_alter_table('track_fixes', schema=None) as batch_op:
        batch_op.drop_index('ix_track_fixes_patrol_t')

    op.drop_table('track_fixes')
    op.drop_table('finding_photos')
    with op.batch_alter_table('track_batches', schema=None) as batch_op:
        batch_op.drop_index('ix_track_batches_patrol')

    op.drop_table('track_batches')
    op.drop_table('patrol_checks')
    with op.batch_alter_table('findings', schema=None) as batch_op:
        batch_op.drop_index('ix_findings_village')
        batch_op.drop_index('ix_findings_grid')
        batch_op.drop_index('ix_findings_category_xy')

    op.drop_table('findings')
    with op.batch_alter_table('patrols', schema=None) as batch_op:
        batch_op.drop_index('ix_patrols_grid_started')

    op.drop_table('patrols')
    op.drop_table('patrol_rules')
    op.drop_table('finding_categories')
    op.drop_table('checklist_items')
