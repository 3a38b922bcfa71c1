"""A photo recorded in the database whose file is gone from the store answers 404, not 500."""

from __future__ import annotations

import io
import uuid

from fastapi.testclient import TestClient
from PIL import Image

from gridgov.config import get_settings
from gridgov.findings.photos import PhotoStore
from gridgov.main import create_app
from tests.conftest import bearer, import_dataset, seed_users
from tests.databases import app_url, new_database
from tests.factories_geo import lattice


def test_a_photo_whose_file_is_missing_is_not_found(backend, small_county_gpkg, tmp_path):
    small_county_db = new_database(backend, tmp_path, "photos")  # a county of its own: this test writes
    import_dataset(small_county_db, small_county_gpkg)
    seed_users(small_county_db)
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (10, 20, 30)).save(buffer, "PNG")
    lon, lat = lattice(0.5, 0.5)
    with TestClient(create_app(app_url(small_county_db)), headers=bearer(small_county_db, "admin")) as client:
        finding = client.post("/api/v1/findings", json={"id": str(uuid.uuid4()), "category_code": "river_garbage",
                                                        "lon": lon, "lat": lat,
                                                        "observed_at": "2026-03-01T09:00:00+08:00"}).json()
        photo = client.post(f"/api/v1/findings/{finding['id']}/photos", content=buffer.getvalue(),
                            headers={"Content-Type": "image/png"}).json()
        assert client.get(photo["href"]).content == buffer.getvalue()
        PhotoStore(get_settings().photo_root).path(f"{photo['sha256']}.png").unlink()
        gone = client.get(photo["href"])
    assert gone.status_code == 404 and "missing" in gone.json()["description"]
