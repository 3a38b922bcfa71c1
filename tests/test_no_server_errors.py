"""Malformed and hostile bodies on every writing route (SQLite and PostGIS): a clear 4xx, never a 500.

The routes come from the app's own table, so a new writing route is probed without anyone adding it.
Besides generic junk, each body is also sent with a NUL character inside a string, which PostgreSQL
cannot store or compare.
"""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from gridgov.main import create_app
from tests.conftest import bearer, import_dataset, seed_users
from tests.databases import app_url, new_database
from tests.factories_geo import GRIDS, lattice
from tests.test_authorization_matrix import app_routes

JUNK = [b"not json", b"null", b"[]", b"{}", b'{"id": "not-a-uuid"}', b'{"items": "x"}', b"\xff\xfe",
        b'{"lon": 1e400, "lat": -1e400}', b'{"' + b"a" * 100_000 + b'": 1}']
LON, LAT = lattice(0.5, 0.5)


def hostile_bodies() -> dict[str, dict]:
    """Well-formed bodies whose strings carry a NUL, per route that reads them."""
    nul = "a\x00b"
    finding = {"id": str(uuid.uuid4()), "category_code": "river_garbage", "lon": LON, "lat": LAT,
               "observed_at": "2026-03-01T09:00:00+08:00", "description": nul}
    return {
        "/api/v1/findings": finding,
        "/api/v1/findings/batch": {"items": [finding | {"id": str(uuid.uuid4()), "category_code": nul}]},
        "/api/v1/findings/categories/{code}": {"domain": "river", "name_zh": nul, "name_en": nul},
        "/api/v1/patrols": {"id": str(uuid.uuid4()), "grid_code": nul, "started_at": "2026-03-01T09:00:00+08:00"},
        "/api/v1/patrols/{patrol_id}/checks": {"answers": [{"item_code": nul, "answer": "ok", "note": nul}]},
        "/api/v1/users": {"username": nul, "display_name": nul, "password": "a long enough password"},
        "/api/v1/users/{username}": {"display_name": nul},
        "/api/v1/users/{username}/grants": {"role": "supervisor", "unit_code": nul},
        "/api/v1/assignments/officers": {"effective": "2026-03-01", "changes": [{"grid_code": nul,
                                                                                  "officer_code": nul}]},
        "/api/v1/assignments/chiefs": {"effective": "2026-03-01", "changes": [{"unit_code": nul, "domain": "river",
                                                                                "chief_code": nul}]},
        "/api/v1/locate": {"lon": [LON], "lat": [LAT]},
    }


PATH_VALUES = {"{code}": "river_garbage", "{patrol_id}": "0e4a4d3c-0000-4000-8000-0000000000b1",
               "{username}": "w4309210001", "{finding_id}": "0e4a4d3c-0000-4000-8000-0000000000b2",
               "{role}": "supervisor", "{unit_code}": GRIDS[0], "{sha256}": "0" * 64}


@pytest.fixture(scope="module")
def county(backend, small_county_gpkg, tmp_path_factory) -> str:
    url = new_database(backend, tmp_path_factory.mktemp("fuzz"), "fuzz")
    import_dataset(url, small_county_gpkg)
    seed_users(url)
    return url


def writing_routes(url: str) -> list[tuple[str, str]]:
    return sorted((method, path) for method, path in app_routes(create_app(app_url(url)))
                  if method in {"POST", "PUT", "PATCH"} and not path.startswith(("/sign-", "/api/v1/auth/")))


@pytest.mark.parametrize("who", ["admin", "w4309210001"])
def test_no_writing_route_answers_500(county, who):
    bodies = hostile_bodies()
    client = TestClient(create_app(app_url(county)), headers=bearer(county, who), raise_server_exceptions=False)
    failures = []
    routes = writing_routes(county)
    assert len(routes) >= 12, routes
    for method, path in routes:
        url = path
        for placeholder, value in PATH_VALUES.items():
            url = url.replace(placeholder, value)
        attempts = [(junk, {"Content-Type": "application/json"}) for junk in JUNK]
        if path in bodies:
            import json

            attempts.append((json.dumps(bodies[path]).encode(), {"Content-Type": "application/json"}))
        for body, headers in attempts:
            response = client.request(method, url, content=body, headers=headers)
            if response.status_code >= 500:
                failures.append(f"{method} {url} {body[:60]!r}: {response.status_code} {response.text[:200]}")
    assert not failures, "\n".join(failures)
