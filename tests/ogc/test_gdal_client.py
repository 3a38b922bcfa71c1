"""A real GDAL client (pyogrio's bundled GDAL, OAPIF driver) lists and pages every collection."""

from __future__ import annotations

import socket
import threading
import time

import pyogrio
import pytest
import uvicorn
from sqlalchemy import func, select

from gridgov.grids.models import Resource, Unit
from gridgov.main import create_app
from gridgov.ogc.service import COLLECTIONS
from gridgov.storage.db import get_engine, transaction


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def demo_server(demo_db):
    """The demo served by uvicorn on a loopback port for the duration of the module."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(demo_db), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", demo_db
    server.should_exit = True
    thread.join(timeout=10)


def _stored_count(url: str, collection) -> int:
    model = collection.model
    with transaction(get_engine(url)) as session:
        return session.scalar(
            select(func.count()).select_from(model).where(collection.kind_column == collection.value)
        )


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
    assert frame["code"].is_unique
    assert frame.crs.to_epsg() == 4326 or frame.crs.equals("OGC:CRS84")
    assert {"code", "name", "parent_code"} <= set(frame.columns)
