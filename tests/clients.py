"""Test clients of the API acting as a given principal, with the database walled as for a real request."""

from __future__ import annotations

from fastapi.testclient import TestClient

from gridgov.main import create_app
from gridgov.people.auth import current_principal, wall_in
from gridgov.people.principal import Principal
from gridgov.storage.session import SessionDep
from tests.databases import app_url


def client_as(url: str, principal: Principal) -> TestClient:
    """A client of the app on ``url`` whose every request is made by ``principal`` (no sign-in needed).

    The override still walls the request's transaction in to the principal's jurisdiction, so on PostGIS
    the app role's row-level security applies exactly as after a real sign-in.
    """
    app = create_app(app_url(url))

    def as_principal(session: SessionDep) -> Principal:
        return wall_in(session, principal)

    app.dependency_overrides[current_principal] = as_principal
    return TestClient(app)
