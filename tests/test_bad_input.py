"""Control characters anywhere in a request: a clear 4xx on both backends, never a 500.

PostgreSQL cannot hold or compare NUL in text, so before the edge check these reached the database and
failed there.
"""

from __future__ import annotations

import uuid

import pytest


@pytest.mark.parametrize(
    "path",
    ["/api/v1/users/%00", "/api/v1/grids/%00/officer", "/api/v1/units/%01/chiefs", "/ogc/collections/%00"],
)
def test_a_control_character_in_the_path_names_nothing(small_client, path):
    assert small_client.get(path).status_code == 404


@pytest.mark.parametrize(
    "query",
    ["/api/v1/audit?actor=%00", "/api/v1/audit?object_id=a%00b", "/ogc/collections/grids/items?code=%07",
     "/api/v1/assignments/uncovered?on=%00", "/api/v1/locate?lon=1%00&lat=2"],
)
def test_a_control_character_in_a_query_is_invalid(small_client, query):
    response = small_client.get(query)
    assert response.status_code == 400
    assert "control character" in response.json()["description"]


def test_a_control_character_in_a_username_is_just_a_wrong_sign_in(small_client):
    response = small_client.post("/api/v1/auth/token", data={"username": "admin\x00", "password": "x"})
    assert response.status_code == 401


def test_a_nul_inside_a_json_string_is_invalid_but_an_escaped_backslash_is_not(small_client):
    base = '{"lon": [112.485], "lat": [29.285], "note": "%s"}'
    refused = small_client.post("/api/v1/locate", content=(base % "a\\u0000b").encode(),
                                headers={"Content-Type": "application/json"})
    assert refused.status_code == 422 and "NUL" in refused.json()["description"]
    # "a\\u0000b" is the text a-backslash-u0000-b, which holds no NUL: it reaches validation as usual.
    kept = small_client.post("/api/v1/locate", content=(base % "a\\\\u0000b").encode(),
                             headers={"Content-Type": "application/json"})
    assert kept.status_code == 200, kept.text


def test_a_nul_in_an_uploaded_form_field_is_invalid(small_client):
    gpx = b'<?xml version="1.0"?><gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1"></gpx>'
    response = small_client.post("/api/v1/patrols/upload", data={"grid_code": "a\x00b", "id": str(uuid.uuid4())},
                                 files={"file": ("walk.gpx", gpx, "application/gpx+xml")})
    assert response.status_code == 422
