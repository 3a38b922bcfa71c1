"""Every mutation in the test suite leaves an audit record: a watch on every engine of this process.

Each statement that inserts, updates or deletes rows of a GridGov table is noted on its connection; when
that connection commits, an INSERT into ``audit_log`` must have been among the statements of the same
transaction, or the commit is noted as a violation and the test that made it fails (see conftest). A
statement that changed no row (an ``INSERT … ON CONFLICT DO NOTHING`` that met only stored ids, an UPDATE
that matched nothing) changed nothing. Its row count is taken when it ran on PostgreSQL (psycopg forgets
it when the cursor closes) and at commit on SQLite, which counts the rows of ``RETURNING`` only as they
are fetched. This
covers API requests, CLI commands, service calls and fixtures alike, on both backends. Only
bookkeeping is exempt: Alembic's version row and the outbox's delivery state are no one's action.
"""

from __future__ import annotations

import re

from sqlalchemy import Engine, event

MUTATION = re.compile(r"^\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+\"?(\w+)\"?", re.IGNORECASE)
AUDIT_TABLE = "audit_log"
# Outbox rows and their delivery bookkeeping (claims, attempts, sent) are operational state, no one's action.
EXEMPT = {"alembic_version", "notifications"}

violations: list[str] = []
"""Unaudited commits since the last check: one line each, naming the tables and a statement."""


def _note(conn, cursor, statement, _parameters, _context, _executemany) -> None:
    match = MUTATION.match(statement)
    if match is None:
        return
    table = match.group(1).lower()
    if table == AUDIT_TABLE:
        conn.info["audit_guard_audited"] = True
    elif table not in EXEMPT:
        rows = (lambda: cursor.rowcount) if conn.dialect.name == "sqlite" else (lambda count=cursor.rowcount: count)
        conn.info.setdefault("audit_guard_mutations", []).append((table, " ".join(statement.split())[:160], rows))


def _check(conn) -> None:
    mutated = {table: statement for table, statement, rows in conn.info.pop("audit_guard_mutations", [])
               if rows() != 0}  # -1 (unknown) counts as a change
    audited = conn.info.pop("audit_guard_audited", False)
    if mutated and not audited:
        violations.append(f"changed {', '.join(sorted(mutated))} with no audit record: {next(iter(mutated.values()))}")


def _forget(conn) -> None:
    conn.info.pop("audit_guard_mutations", None)
    conn.info.pop("audit_guard_audited", None)


def install() -> None:
    """Watch every engine created in this process (listeners on the Engine class)."""
    if not event.contains(Engine, "after_cursor_execute", _note):
        event.listen(Engine, "after_cursor_execute", _note)
        event.listen(Engine, "commit", _check)
        event.listen(Engine, "rollback", _forget)


def take() -> list[str]:
    """The violations noted since the last call, clearing them."""
    found, violations[:] = list(violations), []
    return found


def log_setup(session, *, county_code: str, object_type: str, object_id: str, after: dict | None = None) -> None:
    """Log a fixture's direct write (a state the API refuses to make, built on purpose) like any other change."""
    from gridgov.audit.service import record
    from gridgov.people.principal import Jurisdiction, Principal

    fixture = Principal(county_code=county_code, username="test:fixture", roles=frozenset(),
                        jurisdiction=Jurisdiction(county_code=county_code, county_wide=True), via="cli")
    record(session=session, principal=fixture, action="test_setup", object_type=object_type,
           object_id=object_id, after=after)
