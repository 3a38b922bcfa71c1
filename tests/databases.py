"""Fresh, migrated databases on either backend for the test suite.

SQLite databases are files under a temporary folder. PostGIS databases are created in the throwaway
cluster that ``scripts/test`` starts (its URL is in ``GRIDGOV_TEST_POSTGIS_URL``): the schema is built once
by the migrations into a template database, and each new database is a cheap copy of that template.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from gridgov.storage.db import get_engine
from gridgov.storage.migrate import upgrade
from gridgov.storage.walls import APP_ROLE

POSTGIS_URL = os.environ.get("GRIDGOV_TEST_POSTGIS_URL")
TEMPLATE = "gridgov_template"
_counter = itertools.count()
_template_ready = False


def _admin_engine():
    return create_engine(POSTGIS_URL, isolation_level="AUTOCOMMIT")


def _ensure_template() -> None:
    global _template_ready
    if _template_ready:
        return
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {TEMPLATE}"))
        conn.execute(text(f"CREATE DATABASE {TEMPLATE}"))
    template_url = make_url(POSTGIS_URL).set(database=TEMPLATE).render_as_string(hide_password=False)
    engine = create_engine(template_url)
    upgrade(engine)
    engine.dispose()
    admin.dispose()
    _template_ready = True


def app_url(url: str) -> str:
    """The URL the web app uses for the database at ``url``: on PostGIS as ``gridgov_app``, which owns no
    table, so every request of the suite passes through row-level security as it would in production."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return url
    return parsed.set(username=APP_ROLE).render_as_string(hide_password=False)


def new_database(backend: str, tmp_dir: Path, name: str = "db", revision: str = "head") -> str:
    """The URL of a new, empty database migrated to ``revision`` (an older one, to test an upgrade)."""
    n = next(_counter)
    if backend == "sqlite":
        url = f"sqlite:///{tmp_dir / f'{name}_{n}.sqlite'}"
        upgrade(get_engine(url), revision)
        return url
    if revision == "head":
        _ensure_template()
    db_name = f"gridgov_{name}_{os.getpid()}_{n}"
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {db_name}" + (f" TEMPLATE {TEMPLATE}" if revision == "head" else "")))
    admin.dispose()
    url = make_url(POSTGIS_URL).set(database=db_name).render_as_string(hide_password=False)
    if revision != "head":
        upgrade(get_engine(url), revision)
    return url
