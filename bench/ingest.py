"""Benchmark: findings per second through the HTTP API, as an officer's phones would send them.

For each backend (SQLite file, and PostgreSQL + PostGIS in a private throwaway cluster started with
``scripts/pg-cluster``), the program builds the Nan County demo database, starts ``gridgov serve`` in its
own process as a county would run it (the web app connecting as ``gridgov_app`` on PostgreSQL, so
row-level security is on), signs in as officers, and posts findings at random points of their grids with
authentication, validation, locating, chiefs, duplicate search and the audit log all on:

* ``single``: one finding per request, from ``--clients`` concurrent keep-alive connections;
* ``batch``:  ``--batch`` findings per request (``POST /api/v1/findings/batch``).

Beside each figure it prints the target of the issue and, as a ceiling for this machine, the rate of
``GET /api/v1/me`` (authentication and nothing else) on the same server. The last line is machine-readable:

    ingest: sqlite_single=<f/s> sqlite_batch=<f/s> postgis_single=<f/s> postgis_batch=<f/s>

Run: ``python bench/ingest.py [--singles N] [--batches N] [--batch N] [--clients N] [--workers N]
[--backend sqlite|postgis|both]``. PostgreSQL needs the server packages scripts/test installs.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

import numpy as np
import shapely

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gridgov.findings.taxonomy import seed_county_defaults  # noqa: E402
from gridgov.grids.importing import import_path  # noqa: E402
from gridgov.grids.models import Unit  # noqa: E402
from gridgov.people.demo import DEMO_PASSWORD, seed_demo_users  # noqa: E402
from gridgov.people.models import OfficerAssignment  # noqa: E402
from gridgov.people.principal import cli_principal  # noqa: E402
from gridgov.storage.db import get_engine, transaction  # noqa: E402
from gridgov.storage.migrate import upgrade  # noqa: E402

DEMO = ROOT / "geodata" / "nan_county" / "nan_county.gpkg"
TARGETS = {"single": 1_000, "batch": 30_000}  # findings/s on PostGIS, from the issue


def build(url: str) -> dict[str, list[tuple[float, float]]]:
    """Migrate, import the demo county and its accounts; officers' usernames with points in their grids."""
    from sqlalchemy import select

    upgrade(get_engine(url))
    with transaction(get_engine(url)) as session:
        import_path(session=session, path=DEMO)
        operator = cli_principal(session=session)
        seed_county_defaults(session=session, principal=operator)
        seed_demo_users(session=session, county_code=operator.county_code)
        rows = session.execute(
            select(OfficerAssignment.officer_code, Unit.geom)
            .join(Unit, (Unit.county_code == OfficerAssignment.county_code)
                  & (Unit.code == OfficerAssignment.grid_code))
            .where(OfficerAssignment.valid_to.is_(None))
        ).all()
    rng = np.random.default_rng(7)
    points: dict[str, list[tuple[float, float]]] = {}
    for officer, geom in rows:
        inner = shapely.buffer(geom, -0.0003)  # keep off the border (about 30 m)
        x0, y0, x1, y1 = inner.bounds
        xs, ys = rng.uniform(x0, x1, 400), rng.uniform(y0, y1, 400)
        keep = shapely.contains_xy(inner, xs, ys)
        points.setdefault(officer.lower(), []).extend(zip(xs[keep].tolist(), ys[keep].tolist(), strict=True))
    return points


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(app_url: str, owner_url: str, workers: int, **settings: str) -> tuple[subprocess.Popen, int]:
    """``gridgov serve`` in a process of its own on a free loopback port, once it answers; ``settings`` are
    more ``GRIDGOV_*`` variables (lower-case names without the prefix)."""
    port = free_port()
    env = {**os.environ, "GRIDGOV_DATABASE_URL": app_url, "GRIDGOV_DATABASE_OWNER_URL": owner_url,
           "GRIDGOV_SECRET_KEY": secrets.token_urlsafe(48), "GRIDGOV_PHOTO_ROOT": tempfile.mkdtemp(),
           **{f"GRIDGOV_{name.upper()}": value for name, value in settings.items()}}
    server = subprocess.Popen(
        [sys.executable, "-m", "gridgov.cli", "serve", "--port", str(port), "--workers", str(workers)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/ogc/")
            if conn.getresponse().status == 200:
                return server, port
        except OSError:
            time.sleep(0.3)
        if server.poll() is not None:
            break
    server.kill()
    raise RuntimeError(f"gridgov serve did not start: {server.stderr.read().decode()[-2000:]}")


def token(port: int, username: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    body = urllib.parse.urlencode({"username": username, "password": DEMO_PASSWORD})
    conn.request("POST", "/api/v1/auth/token", body, {"Content-Type": "application/x-www-form-urlencoded"})
    response = conn.getresponse()
    payload = json.loads(response.read())
    if response.status != 200:
        raise RuntimeError(f"sign-in of {username} failed: {payload}")
    return payload["access_token"]


def finding(point: tuple[float, float], n: int) -> dict:
    categories = ("river_garbage", "forest_fire_hazard", "field_straw_burning", "field_abandonment")
    return {"id": str(uuid.uuid4()), "category_code": categories[n % len(categories)], "severity": "medium",
            "description": "bench", "lon": point[0], "lat": point[1], "observed_at": "2026-11-20T09:00:00+08:00"}


def run(port: int, jobs: list[tuple[str, str, bytes]], clients: int) -> float:
    """Send ``jobs`` (method, path and body, each with its officer's token) over ``clients`` keep-alive
    connections; the wall-clock seconds it took. Any answer but 200/201 stops the benchmark."""
    lock, cursor, failures = threading.Lock(), [0], []

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port)
        while True:
            with lock:
                if cursor[0] >= len(jobs) or failures:
                    return
                method, path, body, bearer = jobs[cursor[0]]
                cursor[0] += 1
            headers = {"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"}
            conn.request(method, path, body, headers)
            response = conn.getresponse()
            text = response.read()
            if response.status not in (200, 201):
                failures.append(f"{method} {path}: {response.status} {text[:300]!r}")

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if failures:
        raise RuntimeError(failures[0])
    return elapsed


def bench_backend(name: str, owner_url: str, app_url: str, args) -> dict[str, float]:
    print(f"[{name}] building the demo county ...", flush=True)
    points = build(owner_url)
    server, port = serve(app_url, owner_url, args.workers)
    try:
        officers = sorted(points)[: args.officers]
        tokens = {officer: token(port, officer) for officer in officers}
        rng = np.random.default_rng(11)

        def pick(i: int) -> tuple[str, tuple[float, float]]:
            officer = officers[i % len(officers)]
            spots = points[officer]
            return officer, spots[int(rng.integers(len(spots)))]

        me = [("GET", "/api/v1/me", None, tokens[officers[i % len(officers)]]) for i in range(args.singles)]
        seconds = run(port, me, args.clients)
        ceiling = args.singles / seconds

        singles = []
        for i in range(args.singles):
            officer, point = pick(i)
            singles.append(("POST", "/api/v1/findings", json.dumps(finding(point, i)), tokens[officer]))
        run(port, singles[: args.clients * 5], args.clients)  # warm the locator and connections
        singles = singles[args.clients * 5:]
        single_rate = len(singles) / run(port, singles, args.clients)

        batches = []
        for b in range(args.batches):
            officer = officers[b % len(officers)]
            spots = points[officer]
            items = [finding(spots[int(rng.integers(len(spots)))], i) for i in range(args.batch)]
            batches.append(("POST", "/api/v1/findings/batch", json.dumps({"items": items}), tokens[officer]))
        batch_rate = args.batches * args.batch / run(port, batches, max(1, min(args.clients, args.workers * 2)))
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"[{name}] GET /api/v1/me (authentication only): {ceiling:,.0f} req/s")
    print(f"[{name}] single findings: {single_rate:,.0f} findings/s (target on PostGIS: {TARGETS['single']:,})")
    print(f"[{name}] batches of {args.batch}: {batch_rate:,.0f} findings/s (target on PostGIS: {TARGETS['batch']:,})")
    return {"single": single_rate, "batch": batch_rate}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--singles", type=int, default=3000)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--officers", type=int, default=50)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--backend", choices=["sqlite", "postgis", "both"], default="both")
    args = parser.parse_args()
    figures = {}
    with tempfile.TemporaryDirectory(prefix="gridgov-bench-") as tmp:
        if args.backend in ("sqlite", "both"):
            url = f"sqlite:///{tmp}/bench.sqlite"
            figures["sqlite"] = bench_backend("sqlite", url, url, args)
        if args.backend in ("postgis", "both"):
            cluster = Path(tempfile.mkdtemp(prefix="gridgov-bench-pg-"))  # pg-cluster hands it to postgres
            port = str(free_port())
            owner = subprocess.run([ROOT / "scripts" / "pg-cluster", "start", str(cluster), port], check=True,
                                   capture_output=True, text=True).stdout.strip()
            try:
                app = owner.replace("postgresql+psycopg://gridgov@", "postgresql+psycopg://gridgov_app@")
                figures["postgis"] = bench_backend("postgis", owner, app, args)
            finally:
                subprocess.run([ROOT / "scripts" / "pg-cluster", "stop", str(cluster)], check=False)
    print("ingest: " + " ".join(f"{backend}_{kind}={rate:.0f}" for backend, rates in figures.items()
                                for kind, rate in rates.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
