"""Control characters anywhere in a request: a clear 4xx on both backends, never a 500.

PostgreSQL cannot hold or compare NUL in text, so before the edge check these reached the database and
failed there.
"""

from __future__ import annotations

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
