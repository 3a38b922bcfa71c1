"""The officer's field page on the server side: who gets it, what it holds, and the service worker and
manifest that make it work offline and installable."""

from __future__ import annotations

import io
import re
import shutil
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridgov.main import create_app
from gridgov.maps import field
from gridgov.patrols import service
from gridgov.people.auth import resolve_principal
from gridgov.people.demo import DEMO_PASSWORD
from gridgov.people.models import User
from gridgov.storage.db import get_engine
from tests.conftest import app_url
from tests.factories_geo import GRIDS


@pytest.fixture(scope="module")
def app(small_county_db):
    return create_app(app_url(small_county_db))


def signed_in(app, username: str | None) -> TestClient:
    """A browser-like client: the session cookie of the real sign-in form, or nobody."""
    client = TestClient(app, base_url="https://testserver")
    if username is not None:
        response = client.post("/sign-in", data={"username": username, "password": DEMO_PASSWORD},
                               follow_redirects=False)
        assert response.status_code == 303, response.text
    return client


def test_anonymous_visitors_are_sent_to_sign_in(app):
    response = signed_in(app, None).get("/field", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/sign-in"


def test_officers_land_on_the_field_page(app):
    response = TestClient(app, base_url="https://testserver").post(
        "/sign-in", data={"username": "w4309210001", "password": DEMO_PASSWORD}, follow_redirects=False)
    assert response.headers["location"] == "/field"


def test_an_officer_gets_their_own_grids_and_their_checklists(app, small_county_db):
    client = signed_in(app, "w4309210001")
    own = client.get("/api/v1/me").json()["officer_grids"]
    assert own
    page = client.get("/field")
    assert page.status_code == 200
    options = dict(re.findall(r'<option value="(\d+)" data-domains="([a-z ]*)"', page.text))
    assert sorted(options) == sorted(own)
    assert not set(GRIDS) - set(own) & set(options)
    # each grid's checklists are those a patrol on it carries (the patrol API's own list)
    for code, domains in options.items():
        patrol_domains = {item["domain"] for item in _checklist_of_new_patrol(small_county_db, code)}
        assert set(domains.split()) == patrol_domains, code
    listed = set(re.findall(r'data-domain="([a-z]+)"', page.text))
    assert listed == {d for ds in options.values() for d in ds.split()}
    assert 'accept="image/*" capture="environment"' in page.text
    assert '<link rel="manifest" href="/field/manifest.webmanifest">' in page.text
    assert "开始巡查" in page.text and 'id="i18n"' in page.text


def _checklist_of_new_patrol(url: str, grid: str) -> list[dict]:
    """The checklist a patrol on ``grid`` carries, from a patrol started by the patrol service and rolled
    back (the small county is shared by the session's tests)."""
    with get_engine(url).connect() as connection, connection.begin() as outer:
        session = Session(bind=connection)
        user = session.scalars(select(User).where(User.username == "w4309210001")).one()
        patrol = service.start_patrol(session=session, principal=resolve_principal(session=session, user=user),
                                      patrol_id=str(uuid4()), grid_code=grid, started_at=datetime.now(UTC))
        items = [{"domain": item.domain, "code": item.code} for item, _ in
                 service.checklist(session=session, patrol=patrol)]
        outer.rollback()
    return items


def test_the_page_speaks_english_on_request(app):
    page = signed_in(app, "w4309210001").get("/field", params={"lang": "en"})
    assert "Start patrol" in page.text and "开始巡查" not in page.text


@pytest.mark.parametrize(("username", "landing"), [("supervisor", "/map"), ("zl430921100", "/map"),
                                                   ("planner", "/planner")])
def test_others_are_told_the_page_is_for_grid_officers(app, username, landing):
    page = signed_in(app, username).get("/field")
    assert page.status_code == 200
    assert "本页面供网格员使用" in page.text
    assert f'href="{landing}"' in page.text
    assert "field.js" not in page.text and "manifest" not in page.text


def test_the_service_worker_is_served_for_the_field_scope_and_never_cached(app):
    client = signed_in(app, None)
    response = client.get("/field/sw.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["service-worker-allowed"] == "/field"
    assert "SHELL_PLACEHOLDER" not in response.text
    assert f'"version":"{field.shell_version()}"' in response.text
    shell = re.search(r"const SHELL = (\{.*?\});", response.text).group(1)
    for url in re.findall(r'"(/static/[^"]+)"', shell):  # every file it caches exists
        assert client.get(url).status_code == 200, url
    assert '"/field"' in shell and field.GRID_LAYER in shell


def test_the_cache_version_follows_the_shell_files(tmp_path, monkeypatch):
    for path in (*field.STATIC_SHELL, "/static/field/sw.js"):
        target = tmp_path / path.removeprefix("/static/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(field.STATIC / path.removeprefix("/static/"), target)
    monkeypatch.setattr(field, "STATIC", tmp_path)
    field.shell_version.cache_clear()
    try:
        before = field.shell_version()
        (tmp_path / "field" / "field.js").write_text("// a deploy changed the page", encoding="utf-8")
        field.shell_version.cache_clear()
        assert field.shell_version() != before
    finally:
        monkeypatch.undo()
        field.shell_version.cache_clear()


def test_the_manifest_makes_the_page_installable(app):
    client = signed_in(app, None)
    response = client.get("/field/manifest.webmanifest")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/manifest+json")
    manifest = response.json()
    assert manifest["start_url"] == "/field" and manifest["scope"] == "/field"
    assert manifest["display"] == "standalone" and manifest["name"] == "GridGov 网格巡查"
    assert client.get("/field/manifest.webmanifest", params={"lang": "en"}).json()["name"] == "GridGov field patrol"
    sizes = set()
    for icon in manifest["icons"]:
        image = Image.open(io.BytesIO(client.get(icon["src"]).content))
        assert image.format == "PNG" and f"{image.width}x{image.height}" == icon["sizes"]
        sizes.add(image.width)
    assert {192, 512} <= sizes
