"""Real-browser tests: `gridgov serve` on loopback, Debian's chromium driven by Playwright.

Every request that does not go to the live server is aborted and recorded, so a page that reaches for a
CDN (or anything else on the internet) fails its test. Only the SQLite backend runs here: the pages are
the same on both, and the browser is the slow part.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy.engine import make_url

from gridgov.config import REPO_ROOT
from gridgov.people.demo import DEMO_PASSWORD

playwright_sync = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    database_url: str


@pytest.fixture(scope="session")
def live_server(backend, request, tmp_path_factory) -> Iterator[LiveServer]:
    """`gridgov serve` on a free loopback port over a copy of the Nan County demo database (SQLite only).

    A copy, because browser tests change it (an officer files a finding) and `demo_db` must stay as built."""
    if backend != "sqlite":
        pytest.skip("browser tests run on SQLite only")
    demo_file = Path(make_url(request.getfixturevalue("demo_db")).database)
    copy = tmp_path_factory.mktemp("live_db") / demo_file.name
    with sqlite3.connect(demo_file) as source, sqlite3.connect(copy) as target:
        source.backup(target)  # the backup API, not a file copy: the demo database is in WAL mode
    database_url = f"sqlite:///{copy}"
    port = _free_port()
    env = dict(os.environ, GRIDGOV_DATABASE_URL=database_url, GRIDGOV_SESSION_COOKIE_SECURE="0",
               GRIDGOV_SCHEDULER_SECONDS="0")
    log = tmp_path_factory.mktemp("live") / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "gridgov.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO_ROOT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/sign-in", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"gridgov serve did not start:\n{log.read_text(errors='replace')}")
                time.sleep(0.2)
        yield LiveServer(url=url, database_url=database_url)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


@pytest.fixture(scope="session")
def browser(live_server):
    """Headless Debian chromium (never a downloaded browser); --no-sandbox because CI runs as root."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/test installs Debian's chromium package")
    with playwright_sync.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@dataclass
class Outbound:
    """Requests the page tried to send anywhere but the live server (all aborted)."""

    urls: list[str] = field(default_factory=list)


@pytest.fixture
def outbound() -> Outbound:
    return Outbound()


def only_live_server(live_server: LiveServer, outbound: Outbound):
    """A route handler (``context.route("**/*", ...)``) that lets requests to the live server through and
    aborts and records every other one."""
    allowed = live_server.url + "/"

    def route(route):
        url = route.request.url
        if url.startswith(allowed):
            route.continue_()
        else:
            outbound.urls.append(url)
            route.abort()

    return route


@pytest.fixture
def page(browser, live_server, outbound):
    """A fresh browser context and page whose every non-loopback request is aborted and recorded."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900},
                                  locale="zh-CN", service_workers="block")
    context.route("**/*", only_live_server(live_server, outbound))
    page = context.new_page()
    yield page
    context.close()
    assert outbound.urls == [], f"requests left the machine: {outbound.urls}"


def sign_in(page, username: str, password: str = DEMO_PASSWORD, *, lands_on: str | None = None) -> None:
    """Sign in through the real form at /sign-in; signing in lands on the role's page, which must be
    ``lands_on`` (a path) when given."""
    page.goto("/sign-in")
    page.fill("#username", username)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("button[type=submit]")
    landed = urlsplit(page.url).path
    assert landed != "/sign-in", f"signing in as {username} failed"
    assert lands_on is None or landed == lands_on, page.url


def open_grid_page(page, path: str) -> int:
    """Open a page that draws the grid layer (the map, the planner view) and wait until it has drawn it; the
    number of grids the page says it drew."""
    page.goto(path)
    page.wait_for_function("document.body.dataset.gridsDrawn !== undefined || document.body.dataset.gridsError",
                           timeout=20_000)
    assert page.evaluate("document.body.dataset.gridsError") is None
    return int(page.evaluate("document.body.dataset.gridsDrawn"))
