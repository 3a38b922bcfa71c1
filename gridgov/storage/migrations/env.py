"""Alembic environment: migrates the database at GRIDGOV_DATABASE_URL or the connection handed in."""

from alembic import context

from gridgov.storage.db import get_engine
from gridgov.storage.schema import Base

config = context.config
target_metadata = Base.metadata


def include_object(obj, name, type_, reflected, compare_to):
    # PostGIS' own tables (spatial_ref_sys, topology...) are not ours to migrate.
    return not (type_ == "table" and reflected and compare_to is None)


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = get_engine(config.get_main_option("sqlalchemy.url") or None)
    with engine.connect() as conn:
        _run(conn)
        conn.commit()


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("GridGov migrations run online only.")
run_migrations()
