"""row-level security: the app role, its grants, and one policy per table; the unit tree view

On PostgreSQL the web app connects as a member of ``gridgov_app``, a role that owns nothing. Every table
has row-level security, so whatever the application asks, the database hands back only the rows of the
jurisdiction the request set with ``gridgov.storage.walls``; a connection that set nothing sees nothing.
The audit log is insert-and-read only for that role.

The owner (migrations, imports, the shell) owns the tables and so bypasses the policies.

``unit_tree`` (both backends) is the county's administrative tree without geometry: codes, levels and
parents. Signing in needs it to work out a jurisdiction before there is one, so on PostgreSQL it is a
view owned by the owner and shows the tree of the request's county only.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

APP_ROLE = "gridgov_app"

# Tables holding one county's rows, by how far the wall narrows them. People and their assignments are
# walled at the county: the application narrows them further by jurisdiction.
COUNTY_TABLES = ("counties", "people", "officer_assignments", "chief_assignments", "role_grants")

FUNCTIONS = """
CREATE FUNCTION gridgov_county() RETURNS text STABLE LANGUAGE sql AS
  $$ SELECT nullif(current_setting('gridgov.county', true), '') $$;
CREATE FUNCTION gridgov_county_wide() RETURNS boolean STABLE LANGUAGE sql AS
  $$ SELECT coalesce(current_setting('gridgov.county_wide', true), '') = 'on' $$;
CREATE FUNCTION gridgov_setting_list(name text) RETURNS text[] STABLE LANGUAGE sql AS
  $$ SELECT coalesce(string_to_array(nullif(current_setting(name, true), ''), ','), '{}') $$;
CREATE FUNCTION gridgov_sees_unit(county text, code text) RETURNS boolean STABLE LANGUAGE sql AS
  $$ SELECT county = gridgov_county()
            AND (gridgov_county_wide() OR code = ANY (gridgov_setting_list('gridgov.units'))) $$;
"""

DROP_FUNCTIONS = """
DROP FUNCTION IF EXISTS gridgov_sees_unit(text, text);
DROP FUNCTION IF EXISTS gridgov_setting_list(text);
DROP FUNCTION IF EXISTS gridgov_county_wide();
DROP FUNCTION IF EXISTS gridgov_county();
"""

POLICIES = [
    *(
        f"CREATE POLICY county_rows ON {table} USING (county_code = gridgov_county())"
        for table in COUNTY_TABLES
    ),
    # A new unit (a planner's split) is allowed where its parent is in the jurisdiction.
    "CREATE POLICY jurisdiction_rows ON units USING (gridgov_sees_unit(county_code, code)) "
    "WITH CHECK (gridgov_sees_unit(county_code, code) OR gridgov_sees_unit(county_code, parent_code))",
    "CREATE POLICY jurisdiction_rows ON resources USING (county_code = gridgov_county() AND "
    "(gridgov_county_wide() OR parent_code = ANY (gridgov_setting_list('gridgov.villages.' || resource))))",
    # Signing in looks an account up by username before its county is known.
    "CREATE POLICY county_rows ON users USING (county_code = gridgov_county() "
    "OR username = nullif(current_setting('gridgov.sign_in', true), ''))",
    # Records about no unit are county business: county-wide readers only, as in gridgov.audit.service.
    "CREATE POLICY read_in_jurisdiction ON audit_log FOR SELECT USING (county_code = gridgov_county() AND "
    "(gridgov_county_wide() OR unit_code = ANY (gridgov_setting_list('gridgov.units'))))",
    "CREATE POLICY append_in_county ON audit_log FOR INSERT WITH CHECK (county_code = gridgov_county())",
]

WALLED_TABLES = (*COUNTY_TABLES, "units", "resources", "users", "audit_log")


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        op.execute("CREATE VIEW unit_tree AS SELECT county_code, code, level, parent_code FROM units")
        return
    op.execute(
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') "
        f"THEN CREATE ROLE {APP_ROLE} NOLOGIN; END IF; END $$"
    )
    op.execute(FUNCTIONS)
    op.execute(
        "CREATE VIEW unit_tree WITH (security_barrier) AS SELECT county_code, code, level, parent_code "
        "FROM units WHERE county_code = gridgov_county()"
    )
    for table in WALLED_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    for policy in POLICIES:
        op.execute(policy)
    op.execute(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_ROLE}")
    op.execute(f"REVOKE INSERT, UPDATE, DELETE ON alembic_version, spatial_ref_sys FROM {APP_ROLE}")
    op.execute(f"REVOKE UPDATE, DELETE ON audit_log FROM {APP_ROLE}")
    op.execute(f"REVOKE INSERT, UPDATE, DELETE ON unit_tree FROM {APP_ROLE}")
    op.execute(f"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO {APP_ROLE}")


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        op.execute("DROP VIEW unit_tree")
        return
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {APP_ROLE}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {APP_ROLE}")
    op.execute("DROP VIEW unit_tree")
    for table in WALLED_TABLES:
        op.execute(f"DROP POLICY IF EXISTS county_rows ON {table}")
        op.execute(f"DROP POLICY IF EXISTS jurisdiction_rows ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    op.execute("DROP POLICY IF EXISTS read_in_jurisdiction ON audit_log")
    op.execute("DROP POLICY IF EXISTS append_in_county ON audit_log")
    op.execute(DROP_FUNCTIONS)
