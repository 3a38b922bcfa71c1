"""A real GDAL client (pyogrio's bundled GDAL, OAPIF driver) lists and pages every collection."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request

import pyogrio
import pytest
from sqlalchemy import func, select

from gridgov.ogc.service import COLLECTIONS
from gridgov.people.principal import cli_principal
from gridgov.storage.db import get_engine, transaction
from tests.conftest import bearer
from tests.databases import app_url


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def demo_server(demo_db):
    """`gridgov serve` on the demo database, in its own process, on a loopback port.

    A separate process, not a thread: GDAL holds the GIL while it reads, which would starve a server
    thread in this process.
    """
    port = _free_port()
    # As in production: the server reads as the app role (walled in on PostGIS), migrates as the owner.
    env = {**os.environ, "GRIDGOV_DATABASE_URL": app_url(demo_db), "GRIDGOV_DATABASE_OWNER_URL": demo_db}
    server = subprocess.Popen(
        [sys.executable, "-m", "gridgov.cli", "serve", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/ogc/", timeout=2).read()
            break
        except OSError as error:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                log = server.stderr.read().decode()[-2000:]
                raise RuntimeError(f"gridgov serve did not start: {log}") from error
            time.sleep(0.2)
    # GDAL sends the bearer token with every request it makes (the OAPIF driver ignores GDAL_HTTP_HEADERS).
    token = bearer(demo_db, "admin")["Authorization"].removeprefix("Bearer ")
    pyogrio.set_gdal_config_options({"GDAL_HTTP_AUTH": "BEARER", "GDAL_HTTP_BEARER": token})
    yield base, demo_db
    pyogrio.set_gdal_config_options({"GDAL_HTTP_AUTH": None, "GDAL_HTTP_BEARER": None})
    server.terminate()
    server.wait(timeout=20)


def _stored_count(url: str, collection) -> int:
    """Features of the collection the county's operator (county-wide) sees, counted in the database."""
    with transaction(get_engine(url)) as session:
        operator = cli_principal(session=session)
        return session.scalar(select(func.count()).select_from(collection.model).where(*collection.scope(operator)))


def test_gdal_lists_every_collection(demo_server):
    base, _ = demo_server
    names = [name for name, _type in pyogrio.list_layers(f"OAPIF:{base}/ogc")]
    assert sorted(names) == sorted(COLLECTIONS)


@pytest.mark.parametrize("collection_id", list(COLLECTIONS))
def test_gdal_pages_through_each_collection(demo_server, collection_id):
    base, url = demo_server
    collection = COLLECTIONS[collection_id]
    # A small page size forces GDAL to follow many `next` links.
    frame = pyogrio.read_dataframe(f"OAPIF:{base}/ogc", layer=collection_id, PAGE_SIZE=250)
    stored = _stored_count(url, collection)
    assert stored > 0
    assert len(frame) == stored
    assert frame[collection.id_column].is_unique
    assert frame.crs.to_epsg() == 4326 or frame.crs.equals("OGC:CRS84")
    assert set(collection.columns) - {"id"} <= set(frame.columns)
