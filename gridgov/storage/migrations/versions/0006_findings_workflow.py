"""findings workflow: events, routing and deadline rules, the notification outbox

Findings gain the columns that say where their workflow stands (kept in step with their events); those
already stored get their report event. The new
tables are walled by county like 0004's county tables: a finding's events are read through the finding,
whose own policy walls it by place; routing and deadline rules are the county's; the outbox is written
by the app and read by the delivery worker, which runs as the owner.

Revision ID: 0006
Revises: 0005
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from gridgov.audit.service import new_id

APP_ROLE = "gridgov_app"
ESCALATION = "action = 'escalate'"
NEW_TABLES = ("finding_events", "routing_rules", "deadline_rules", "notifications")


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('deadline_rules',
    sa.Column('county_code', sa.String(length=12), nullable=False),
    sa.Column('category_code', sa.String(length=32), nullable=False),
    sa.Column('severity', sa.String(length=8), nullable=False),
    sa.Column('accept_hours', sa.Float(), nullable=False),
    sa.Column('resolve_days', sa.Float(), nullable=False),
    sa.Column('escalate_hours', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('county_code', 'category_code', 'severity')
    )
    op.create_table('notifications',
    sa.Column('county_code', sa.String(length=12), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('recipient', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('subject_type', sa.String(length=32), nullable=False),
    sa.Column('subject_id', sa.String(length=36), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'sent', 'failed')", name='ck_notifications_status'),
    sa.PrimaryKeyConstraint('county_code', 'id')
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_notifications_subject', ['county_code', 'subject_type', 'subject_id'], unique=False)

    op.create_table('routing_rules',
    sa.Column('county_code', sa.String(length=12), nullable=False),
    sa.Column('domain', sa.String(length=16), nullable=False),
    sa.Column('category_code', sa.String(length=32), nullable=False),
    sa.Column('severity', sa.String(length=8), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.CheckConstraint("level IN ('village', 'town', 'county')", name='ck_routing_rules_level'),
    sa.PrimaryKeyConstraint('county_code', 'domain', 'category_code', 'severity')
    )
    op.create_table('finding_events',
    sa.Column('county_code', sa.String(length=12), nullable=False),
    sa.Column('finding_id', sa.String(length=36), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('capacity', sa.String(length=16), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('from_state', sa.String(length=16), nullable=True),
    sa.Column('to_state', sa.String(length=16), nullable=True),
    sa.Column('note', sa.String(length=2000), nullable=True),
    sa.Column('owner_level', sa.String(length=16), nullable=True),
    sa.Column('owner_unit', sa.String(length=32), nullable=True),
    sa.Column('owner_person', sa.String(length=32), nullable=True),
    sa.Column('photos', sa.JSON(), nullable=True),
    sa.Column('data', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['county_code', 'finding_id'], ['findings.county_code', 'findings.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('county_code', 'finding_id', 'seq')
    )
    with op.batch_alter_table('finding_events', schema=None) as batch_op:
        batch_op.create_index('ix_finding_events_at', ['county_code', 'at'], unique=False)
        batch_op.create_index('ux_finding_events_escalation', ['county_code', 'finding_id', 'owner_level'],
                              unique=True, postgresql_where=sa.text(ESCALATION), sqlite_where=sa.text(ESCALATION))

    with op.batch_alter_table('findings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('owner_level', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('owner_unit', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('owner_person', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('accept_due', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('resolve_due', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('resolve_left_s', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('escalated_to', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_findings_owner', ['county_code', 'owner_person', 'status'], unique=False)
        batch_op.create_index('ix_findings_owner_unit', ['county_code', 'owner_unit', 'status'], unique=False)

    # Findings stored before the workflow get the event they began with, their report, so that the
    # timeline, the state derived from events and the KPIs know them; they stay reported, for the
    # command centre to dispatch.
    op.execute("INSERT INTO finding_events (county_code, finding_id, seq, at, actor, capacity, action, from_state, "
               "to_state) SELECT county_code, id, 1, received_at, reporter, 'reporter', 'report', NULL, 'reported' "
               "FROM findings")
    op.execute("UPDATE findings SET version = 1")
    _audit_backfill()

    if op.get_bind().dialect.name == "postgresql":
        for table in NEW_TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"CREATE POLICY county_rows ON {table} USING (county_code = gridgov_county())")
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {', '.join(NEW_TABLES)} TO {APP_ROLE}")



def _audit_backfill() -> None:
    """One audit record per county saying how many findings got their report event here."""
    audit_log = sa.table("audit_log", sa.column("county_code"), sa.column("id"), sa.column("at"),
                         sa.column("actor"), sa.column("via"), sa.column("action"), sa.column("object_type"),
                         sa.column("object_id"), sa.column("after", sa.JSON))
    bind = op.get_bind()
    counts = bind.execute(sa.text("SELECT county_code, count(*) FROM findings GROUP BY county_code")).all()
    at = datetime.now(UTC)
    for county_code, n in counts:
        bind.execute(audit_log.insert().values(
            county_code=county_code, id=new_id(at), at=at, actor="migration 0006", via="cli",
            action="backfill_report_events", object_type="finding", object_id="*", after={"findings": n}))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in NEW_TABLES:
            op.execute(f"DROP POLICY county_rows ON {table}")
    with op.batch_alter_table('findings', schema=None) as batch_op:
        batch_op.drop_index('ix_findings_owner_unit')
        batch_op.drop_index('ix_findings_owner')
        batch_op.drop_column('closed_at')
        batch_op.drop_column('escalated_to')
        batch_op.drop_column('resolve_left_s')
        batch_op.drop_column('resolve_due')
        batch_op.drop_column('accept_due')
        batch_op.drop_column('owner_person')
        batch_op.drop_column('owner_unit')
        batch_op.drop_column('owner_level')
        batch_op.drop_column('version')

    with op.batch_alter_table('finding_events', schema=None) as batch_op:
        batch_op.drop_index('ux_finding_events_escalation')
        batch_op.drop_index('ix_finding_events_at')

    op.drop_table('finding_events')
    op.drop_table('routing_rules')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_subject')
        batch_op.drop_index('ix_notifications_due')

    op.drop_table('notifications')
    op.drop_table('deadline_rules')
