"""spatial core: counties, units, resources, people, assignments

Revision ID: 0001
Revises: (none)
"""

import sqlalchemy as sa
from alembic import op

import gridgov.storage.types

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def _postgis() -> bool:
    return op.get_context().dialect.name == "postgresql"


def upgrade() -> None:
    op.create_table('counties',
    sa.Column('county_code', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('metric_epsg', sa.Integer(), nullable=False),
    sa.Column('synthetic', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('county_code')
    )
    op.create_table('people',
    sa.Column('county_code', sa.String(length=12), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('synthetic', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['county_code'], ['counties.county_code'], ),
    sa.PrimaryKeyConstraint('county_code', 'code')
    )
    op.create_table('units',
    sa.Column('county_code', sa.String(length=12), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('parent_code', sa.String(length=32), nullable=True),
    sa.Column('geom', gridgov.storage.types.GeometryColumn('MULTIPOLYGON'), nullable=False),
    sa.Column('area_m2', sa.Float(), nullable=False),
    sa.Column('min_x', sa.Float(), nullable=False),
    sa.Column('min_y', sa.Float(), nullable=False),
    sa.Column('max_x', sa.Float(), nullable=False),
    sa.Column('max_y', sa.Float(), nullable=False),
    sa.Column('synthetic', sa.Boolean(), nullable=False),
    sa.CheckConstraint("level IN ('county', 'town', 'village', 'grid', 'micro_grid')", name='ck_units_level'),
    sa.ForeignKeyConstraint(['county_code', 'parent_code'], ['units.county_code', 'units.code'], ),
    sa.ForeignKeyConstraint(['county_code'], ['counties.county_code'], ),
    sa.PrimaryKeyConstraint('county_code', 'code')
    )
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.create_index(
            'ix_units_bbox', ['county_code', 'level', 'min_x', 'max_x', 'min_y', 'max_y'], unique=False
        )
        batch_op.create_index('ix_units_level_code', ['county_code', 'level', 'code'], unique=False)
        batch_op.create_index('ix_units_parent', ['county_code', 'parent_code'], unique=False)

    op.create_table('chief_assignments',
    sa.Column('county_code', sa.String(length=12), nullable=False),
    sa.Column('unit_code', sa.String(length=32), nullable=False),
    sa.Column('domain', sa.String(length=16), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('chief_code', sa.String(length=32), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.CheckConstraint("domain IN ('river', 'forest', 'field')", name='ck_chief_domain'),
    sa.CheckConstraint("level IN ('county', 'town', 'village')", name='ck_chief_level'),
    sa.ForeignKeyConstraint(['county_code', 'chief_code'], ['people.county_code', 'people.code'], ),
    sa.ForeignKeyConstraint(['county_code', 'unit_code'], ['units.county_code', 'units.code'], ),
    sa.PrimaryKeyConstraint('county_code', 'unit_code', 'domain', 'valid_from')
    )
    with op.batch_alter_table('chief_assignments', schema=None) as batch_op:
        batch_op.create_index('ix_chief_assignments_chief', ['county_code', 'chief_code'], unique=False)

    op.create_table('officer_assignments',
    sa.Column('county_code', sa.String(length=12), nullable=False),
    sa.Column('grid_code', sa.String(length=32), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('officer_code', sa.String(length=32), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['county_code', 'grid_code'], ['units.county_code', 'units.code'], ),
    sa.ForeignKeyConstraint(['county_code', 'officer_code'], ['people.county_code', 'people.code'], ),
    sa.PrimaryKeyConstraint('county_code', 'grid_code', 'valid_from')
    )
    with op.batch_alter_table('officer_assignments', schema=None) as batch_op:
        batch_op.create_index('ix_officer_assignments_officer', ['county_code', 'officer_code'], unique=False)

    op.create_table('resources',
    sa.Column('county_code', sa.String(length=12), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('resource', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('parent_code', sa.String(length=32), nullable=False),
    sa.Column('geom', gridgov.storage.types.GeometryColumn('GEOMETRY'), nullable=False),
    sa.Column('length_m', sa.Float(), nullable=False),
    sa.Column('area_m2', sa.Float(), nullable=False),
    sa.Column('min_x', sa.Float(), nullable=False),
    sa.Column('min_y', sa.Float(), nullable=False),
    sa.Column('max_x', sa.Float(), nullable=False),
    sa.Column('max_y', sa.Float(), nullable=False),
    sa.Column('synthetic', sa.Boolean(), nullable=False),
    sa.CheckConstraint("resource IN ('river', 'forest', 'farmland')", name='ck_resources_resource'),
    sa.ForeignKeyConstraint(['county_code', 'parent_code'], ['units.county_code', 'units.code'], ),
    sa.PrimaryKeyConstraint('county_code', 'code')
    )
    with op.batch_alter_table('resources', schema=None) as batch_op:
        batch_op.create_index(
            'ix_resources_bbox', ['county_code', 'resource', 'min_x', 'max_x', 'min_y', 'max_y'], unique=False
        )
        batch_op.create_index('ix_resources_parent', ['county_code', 'parent_code'], unique=False)
    if _postgis():
        # GiST indexes serve the heavy spatial queries; SQLite filters on the bbox columns instead.
        op.create_index('ix_units_geom', 'units', ['geom'], postgresql_using='gist')
        op.create_index('ix_resources_geom', 'resources', ['geom'], postgresql_using='gist')



def downgrade() -> None:
    with op.batch_alter_table('resources', schema=None) as batch_op:
        batch_op.drop_index('ix_resources_parent')
        batch_op.drop_index('ix_resources_bbox')

    op.drop_table('resources')
    with op.batch_alter_table('officer_assignments', schema=None) as batch_op:
        batch_op.drop_index('ix_officer_assignments_officer')

    op.drop_table('officer_assignments')
    with op.batch_alter_table('chief_assignments', schema=None) as batch_op:
        batch_op.drop_index('ix_chief_assignments_chief')

    op.drop_table('chief_assignments')
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.drop_index('ix_units_parent')
        batch_op.drop_index('ix_units_level_code')
        batch_op.drop_index('ix_units_bbox')

    op.drop_table('units')
    op.drop_table('people')
    op.drop_table('counties')
