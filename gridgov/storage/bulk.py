"""Storing many rows at once on PostgreSQL: COPY into a temporary table, then one INSERT … SELECT.

A batch of a thousand findings as one multi-row INSERT is a statement of tens of thousands of parameters
that the driver parses anew each time (it is too long to cache); COPY streams the rows instead. COPY
cannot write into a table with row-level security, so the rows go to a session-private temporary table
first and reach the real table through an ordinary INSERT, which the policies check as usual.
"""

from __future__ import annotations

import json

import numpy as np
import shapely
from sqlalchemy import JSON, Table, insert, text
from sqlalchemy.orm import Session

from gridgov.storage.types import GeometryColumn

COPY_FROM_ROWS = 100
"""Fewer rows than this go as one INSERT: COPY's extra round trips cost more than they save."""


def _column_values(table: Table, name: str, rows: list[dict]) -> list:
    """One column of ``rows`` in the text COPY understands: geometry as hex EWKB (all at once), JSON as text."""
    column = table.columns[name]
    values = [row[name] for row in rows]
    if isinstance(column.type, GeometryColumn):
        geoms = np.array(values, dtype=object)
        present = geoms != None  # noqa: E711 (elementwise)
        encoded = np.full(len(values), None, dtype=object)
        if present.any():
            encoded[present] = shapely.to_wkb(shapely.set_srid(geoms[present], column.type.srid), hex=True,
                                              include_srid=True)
        return encoded.tolist()
    if isinstance(column.type, JSON):
        return [None if value is None else json.dumps(value, ensure_ascii=False) for value in values]
    return values


def copy_insert(session: Session, table: Table, rows: list[dict], *, skip_taken: bool = False) -> set[tuple] | None:
    """Insert ``rows`` into ``table`` in the session's transaction (PostgreSQL only).

    With ``skip_taken``, rows whose primary key is taken are skipped (``ON CONFLICT DO NOTHING``) and the
    keys actually inserted are answered.
    """
    names = list(rows[0])
    columns = [_column_values(table, name, rows) for name in names]
    quoted = ", ".join(f'"{name}"' for name in names)
    temp = f"incoming_{table.name}"
    raw = session.connection().connection.dbapi_connection
    with raw.cursor() as cursor:  # the staging table is scratch, not data: straight to the driver
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {temp} (LIKE {table.name} INCLUDING DEFAULTS) "
                       "ON COMMIT DELETE ROWS")
        with cursor.copy(f"COPY {temp} ({quoted}) FROM STDIN") as copy:
            for values in zip(*columns, strict=True):
                copy.write_row(values)
    # The real write goes through SQLAlchemy like every other, so its listeners see it.
    keys = ", ".join(f'"{c.name}"' for c in table.primary_key.columns)
    statement = f"INSERT INTO {table.name} ({quoted}) SELECT {quoted} FROM {temp}"
    inserted = None
    if skip_taken:
        result = session.execute(text(f"{statement} ON CONFLICT DO NOTHING RETURNING {keys}"))
        inserted = {tuple(row) for row in result}
    else:
        session.execute(text(statement))
    with raw.cursor() as cursor:
        cursor.execute(f"DELETE FROM {temp}")  # a second batch in this transaction starts empty
    return inserted


def insert_rows(session: Session, table: Table, rows: list[dict]) -> None:
    """Insert ``rows`` into ``table``: by COPY on PostgreSQL when there are many, else one INSERT."""
    if not rows:
        return
    if len(rows) >= COPY_FROM_ROWS and session.get_bind().dialect.name == "postgresql":
        copy_insert(session, table, rows)
    else:
        session.execute(insert(table), rows)
