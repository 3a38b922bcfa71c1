"""Engine and sessions: one engine per database URL, one session (and transaction) per request."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache, partial
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from gridgov.config import get_settings
from gridgov.storage import bulk


class Base(DeclarativeBase):
    """Declarative base of every GridGov table."""


def is_postgis(engine_or_session) -> bool:
    """True when the session or engine talks to PostgreSQL (+PostGIS), False for SQLite."""
    bind = engine_or_session.get_bind() if isinstance(engine_or_session, Session) else engine_or_session
    return bind.dialect.name == "postgresql"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def get_engine(url: str | None = None) -> Engine:
    """The engine for ``url`` (default: ``GRIDGOV_DATABASE_URL``), created once per URL."""
    return _engine_for(url or get_settings().database_url)


def owner_engine() -> Engine:
    """The engine of the tables' owner (``GRIDGOV_DATABASE_OWNER_URL``, else ``GRIDGOV_DATABASE_URL``).

    Migrations, imports and shell commands use it; the operator at the shell is trusted with the whole
    database and passes under the row-level security that walls the web app in.
    """
    settings = get_settings()
    return _engine_for(settings.database_owner_url or settings.database_url)


@lru_cache(maxsize=16)
def _engine_for(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # A fixed set of connections, as many as the requests a worker serves at once (see gridgov.main), plus a
    # few for the rare nested transaction: opening a PostgreSQL connection forks a server process, which
    # costs more than most requests, so connections are kept rather than opened and closed under load.
    return create_engine(url, pool_pre_ping=True, pool_size=get_settings().database_pool_size, max_overflow=5)


def insert_new(session: Session, model, rows: list[dict]) -> set[tuple]:
    """Insert the rows whose primary key is free; answer the keys actually inserted.

    For ids made on a phone, where two requests may carry the same new id at once: PostgreSQL makes the
    second wait for the first and then skips the row (``ON CONFLICT DO NOTHING``), SQLite serialises
    writers. No savepoint is needed, which matters: pysqlite, with no transaction open yet, would make a
    savepoint the transaction and commit it at its release.
    """
    if not rows:
        return set()
    table = model.__table__
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres and len(rows) >= bulk.COPY_FROM_ROWS:
        return bulk.copy_insert(session, table, rows, skip_taken=True)
    insert = postgresql_insert if postgres else sqlite_insert
    keys = list(table.primary_key.columns)
    result = session.execute(insert(table).on_conflict_do_nothing().returning(*keys), rows)
    return {tuple(row) for row in result}


def refresh_statistics(engine: Engine) -> None:
    """After a bulk load on PostgreSQL, let the planner know the tables' new sizes (``ANALYZE``): with the
    statistics of empty tables it checks foreign keys and picks indexes as if they were still empty."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))


_sessions = sessionmaker(expire_on_commit=False)
"""One factory for every engine: a sessionmaker made per request would make a new Session class each
time, and setting up a class's event dispatch costs more than a short request's own work."""


def session_factory(engine: Engine) -> Callable[[], Session]:
    """Sessions on ``engine`` whose objects stay readable after commit."""
    return partial(_sessions, bind=engine)


@contextmanager
def transaction(engine: Engine | None = None) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error (CLI and request scope).

    Without ``engine`` it is the owner's: the web app always passes its own.
    """
    session = session_factory(engine or owner_engine())()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
