"""people: users, role grants; audit log

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION gridgov_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$
"""


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('county_code', sa.String(length=12), nullable=False),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('via', sa.String(length=8), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('object_type', sa.String(length=32), nullable=False),
    sa.Column('object_id', sa.String(length=128), nullable=False),
    sa.Column('unit_code', sa.String(length=32), nullable=True),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['county_code'], ['counties.county_code'], ),
    sa.PrimaryKeyConstraint('county_code', 'id')
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_actor', ['county_code', 'actor'], unique=False)
        batch_op.create_index('ix_audit_log_at', ['county_code', 'at'], unique=False)
        batch_op.create_index(
            'ix_audit_log_object', ['county_code', 'object_type', 'object_id'], unique=False
        )

    op.create_table('users',
    sa.Column('county_code', sa.String(length=12), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=100), nullable=False),
    sa.Column('person_code', sa.String(length=32), nullable=True),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('token_version', sa.Integer(), nullable=False),
    sa.Column('failed_sign_ins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['county_code', 'person_code'], ['people.county_code', 'people.code'], ),
    sa.ForeignKeyConstraint(['county_code'], ['counties.county_code'], ),
    sa.PrimaryKeyConstraint('county_code', 'username')
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index('ix_users_person', ['county_code', 'person_code'], unique=False)

    op.create_table('role_grants',
    sa.Column('county_code', sa.String(length=12), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('unit_code', sa.String(length=32), nullable=False),
    sa.CheckConstraint("role IN ('supervisor', 'planner', 'admin')", name='ck_role_grants_role'),
    sa.ForeignKeyConstraint(['county_code', 'unit_code'], ['units.county_code', 'units.code'], ),
    sa.ForeignKeyConstraint(
        ['county_code', 'username'], ['users.county_code', 'users.username'], ondelete='CASCADE'
    ),
    sa.PrimaryKeyConstraint('county_code', 'username', 'role', 'unit_code')
    )
    if op.get_context().dialect.name == "postgresql":
        # Append-only even for the tables' owner: the database refuses to rewrite history.
        op.execute(APPEND_ONLY_FUNCTION)
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION gridgov_audit_append_only()"
        )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS gridgov_audit_append_only()")
    op.drop_table('role_grants')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index('ix_users_person')

    op.drop_table('users')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_object')
        batch_op.drop_index('ix_audit_log_at')
        batch_op.drop_index('ix_audit_log_actor')

    op.drop_table('audit_log')
