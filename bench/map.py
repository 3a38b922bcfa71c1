"""Benchmark: the supervisor's map page (/map) beside folium's default rendering of the same grids.

In one run the program builds a fresh SQLite demo database of Nan County in a temporary folder (the
780 grids of ``geodata/nan_county/nan_county.gpkg``, the county defaults and the demo accounts, no
patrol history), starts ``gridgov serve`` on a free loopback port and, in headless Debian chromium
(Playwright, ``/usr/bin/chromium``; no browser is downloaded), signs in as ``supervisor`` through the
form at /sign-in. Then it loads the page ``--loads`` times, each time in a fresh browser context (cold
cache, the session cookie carried over), and measures

* ``bytes``: the compressed bytes on the wire for the page and everything it loads, the sum of
  ``encodedBodySize`` over the Performance API's navigation and resource entries (chromium asks for
  gzip and the server compresses the page, Leaflet and the grid layer);
* ``draw``: milliseconds from navigation start until ``document.body.dataset.gridsDrawn`` is set (the
  page's own ``gridsMs`` stamp), and, measured the same way for both pages, until the document holds
  as many ``path.leaflet-interactive`` elements as there are grids (polled on every animation frame).

The baseline is folium's default rendering of the same layer: ``folium.Map(tiles=None)`` (GridGov's
page draws no basemap either) plus ``folium.GeoJson(gdf)`` of the grids GeoDataFrame at full precision
with the attributes the database holds (code, name, parent_code), saved as HTML. The machine has no
internet, so

* its bytes are computed, not measured: the HTML document gzip-compressed at level 6 (as a server would
  send it) plus the locally vendored Leaflet files compressed the same way. Folium's other CDN assets
  (jQuery, Bootstrap, Font Awesome, awesome-markers, ...; their URLs are printed) are NOT counted, so
  the baseline is an underestimate and GridGov's ratio an overestimate;
* its draw time is measured in the same chromium: the HTML is served by Python's http.server with the
  Leaflet tags pointed at the vendored copy and the other CDN tags removed, and every request off the
  loopback interface is blocked (for both pages).

Medians of the loads are reported beside the issue's targets (bytes at most a quarter of the
baseline's, first full draw under 1000 ms). The last line is machine-readable:

    map: gridgov_bytes=<B> baseline_bytes=<B> ratio=<x> gridgov_draw_ms=<ms> baseline_draw_ms=<ms>

Run: ``python bench/map.py [--loads N]``.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import http.server
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import folium
import geopandas as gpd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "bench"))

from ingest import build, serve  # noqa: E402 — the demo county and `gridgov serve`, as the ingest benchmark runs them

from gridgov.people.demo import DEMO_PASSWORD  # noqa: E402

DEMO = ROOT / "geodata" / "nan_county" / "nan_county.gpkg"
LEAFLET = ROOT / "web" / "static" / "vendor" / "leaflet"
CHROMIUM = "/usr/bin/chromium"
TARGET_RATIO = 0.25  # GridGov's bytes over the baseline's, at most (issue 6)
TARGET_DRAW_MS = 1000.0  # first full draw, under

SIZES_JS = """() => {
  const entries = [...performance.getEntriesByType("navigation"), ...performance.getEntriesByType("resource")];
  return entries.map(e => ({name: e.name, encoded: e.encodedBodySize, decoded: e.decodedBodySize,
                            transfer: e.transferSize}));
}"""
PATHS_JS = """(n) => document.querySelectorAll("path.leaflet-interactive").length >= n ? performance.now() : false"""


def gz(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=6))


def folium_page(folder: Path) -> tuple[int, int, int, list[str], int]:
    """Write folium's page of the grids into ``folder`` (as map.html, with Leaflet pointed at the vendored
    copy beside it); its raw and gzipped bytes, the gzipped bytes of the vendored Leaflet files, the CDN
    URLs left out of the count, and the number of grids."""
    gdf = gpd.read_file(DEMO, layer="grids")[["code", "name", "parent_code", "geometry"]]
    gdf = gdf.set_crs(4326, allow_override=True)  # CGCS2000 (EPSG:4490) lon/lat, the same numbers
    x0, y0, x1, y1 = gdf.total_bounds
    fmap = folium.Map(location=[(y0 + y1) / 2, (x0 + x1) / 2], zoom_start=10, tiles=None)
    folium.GeoJson(gdf).add_to(fmap)
    fmap.fit_bounds([[y0, x0], [y1, x1]])
    html = fmap.get_root().render()
    raw = html.encode()
    urls = sorted(set(re.findall(r"""(?:src|href)=["'](https?://[^"']+)["']""", html)))
    leaflet_urls = [u for u in urls if re.search(r"/leaflet(@[\d.]+)?/dist/leaflet\.(js|css)$", u)]
    others = [u for u in urls if u not in leaflet_urls]

    local = html
    for url in leaflet_urls:
        local = local.replace(url, "leaflet/" + url.rsplit("/", 1)[1])
    for url in others:  # drop the whole tag of every other CDN asset
        local = re.sub(r"<script[^>]*" + re.escape(url) + r"[^>]*>\s*</script>", "", local)
        local = re.sub(r"<link[^>]*" + re.escape(url) + r"[^>]*/?>", "", local)
    if re.search(r"(?:src|href)=[\"']https?://", local):
        raise RuntimeError("a CDN tag survived the rewrite of folium's page")
    (folder / "map.html").write_text(local, encoding="utf-8")
    shutil.copytree(LEAFLET, folder / "leaflet")
    leaflet_gz = sum(gz((LEAFLET / name).read_bytes()) for name in ("leaflet.js", "leaflet.css"))
    return len(raw), gz(raw), leaflet_gz, others, len(gdf)


def static_server(folder: Path) -> tuple[http.server.ThreadingHTTPServer, int]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, httpd.server_address[1]


def loopback_only(route) -> None:
    if urllib.parse.urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
        route.continue_()
    else:
        route.abort()


def load(browser, url: str, grids: int, state: dict | None, gridgov: bool) -> dict:
    """One cold load of ``url`` in a fresh context: bytes on the wire and draw times (ms since navigation)."""
    context = browser.new_context(storage_state=state, viewport={"width": 1280, "height": 900})
    try:
        context.route("**/*", loopback_only)
        page = context.new_page()
        page.goto(url, wait_until="commit")
        paths_ms = page.wait_for_function(PATHS_JS, arg=grids, polling="raf", timeout=60_000).json_value()
        result = {"paths_ms": float(paths_ms)}
        if gridgov:
            page.wait_for_function("() => document.body && document.body.dataset.gridsDrawn", timeout=60_000)
            result["drawn"] = int(page.evaluate("document.body.dataset.gridsDrawn"))
            result["grids_ms"] = float(page.evaluate("document.body.dataset.gridsMs"))
        page.wait_for_load_state("load")
        entries = page.evaluate(SIZES_JS)
        result["entries"] = entries
        result["encoded"] = sum(e["encoded"] for e in entries)
        result["decoded"] = sum(e["decoded"] for e in entries)
        return result
    finally:
        context.close()


def sign_in(browser, base: str) -> dict:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{base}/sign-in")
        page.fill("#username", "supervisor")
        page.fill("#password", DEMO_PASSWORD)
        with page.expect_navigation():
            page.click("button[type=submit]")
        if "/sign-in" in page.url:
            raise RuntimeError("signing in as supervisor failed")
        return context.storage_state()
    finally:
        context.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loads", type=int, default=5, help="page loads of each kind; medians are reported")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="gridgov-bench-map-") as tmp:
        tmp_dir = Path(tmp)
        url = f"sqlite:///{tmp_dir / 'bench.sqlite'}"
        started = time.perf_counter()
        build(url)  # bench/ingest.py's: the demo county, its defaults and accounts
        print(f"demo database built in {time.perf_counter() - started:.1f} s")
        baseline_dir = tmp_dir / "folium"
        baseline_dir.mkdir()
        base_raw, base_html_gz, leaflet_gz, uncounted, grids = folium_page(baseline_dir)
        server, port = serve(url, url, 1, session_cookie_secure="0", scheduler_seconds="0")
        httpd, static_port = static_server(baseline_dir)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
                try:
                    base = f"http://127.0.0.1:{port}"
                    state = sign_in(browser, base)
                    ours = [load(browser, f"{base}/map", grids, state, True) for _ in range(args.loads)]
                    theirs = [load(browser, f"http://127.0.0.1:{static_port}/map.html", grids, None, False)
                              for _ in range(args.loads)]
                finally:
                    browser.close()
        finally:
            httpd.shutdown()
            server.terminate()
            server.wait(timeout=30)

    drawn = {r["drawn"] for r in ours}
    if drawn != {grids}:
        print(f"warning: the page reported {sorted(drawn)} grids drawn, the GeoPackage holds {grids}")
    ours_bytes = statistics.median(r["encoded"] for r in ours)
    ours_decoded = statistics.median(r["decoded"] for r in ours)
    ours_grids_ms = statistics.median(r["grids_ms"] for r in ours)
    ours_paths_ms = statistics.median(r["paths_ms"] for r in ours)
    base_paths_ms = statistics.median(r["paths_ms"] for r in theirs)
    base_bytes = base_html_gz + leaflet_gz
    ratio = ours_bytes / base_bytes

    print(f"\n{grids} grids, medians of {args.loads} cold loads in headless chromium "
          f"({CHROMIUM}, Playwright, loopback)")
    print("\nGridGov /map as supervisor, per resource (first load):")
    print(f"  {'resource':<44}{'wire B':>10}{'decoded B':>11}")
    for e in ours[0]["entries"]:
        name = urllib.parse.urlsplit(e["name"]).path or "/"
        print(f"  {name:<44}{e['encoded']:>10}{e['decoded']:>11}")
    print(f"\nfolium {folium.__version__} default page (folium.Map(tiles=None) + folium.GeoJson(gdf), full precision):")
    print(f"  HTML document          {base_raw:>10} B raw, {base_html_gz:>9} B gzip -6")
    print(f"  vendored Leaflet js+css {leaflet_gz:>9} B gzip -6")
    print("  NOT counted (CDN assets the page would also fetch; the baseline is an underestimate):")
    for u in uncounted:
        print(f"    {u}")

    print(f"\n{'measure':<34}{'GridGov':>12}{'folium':>12}{'target':>22}")
    print(f"{'bytes on the wire':<34}{ours_bytes:>12.0f}{base_bytes:>12}{'':>22}")
    print(f"{'bytes decoded':<34}{ours_decoded:>12.0f}{base_raw:>12}{'(folium: HTML only)':>22}")
    print(f"{'bytes ratio GridGov/folium':<34}{ratio:>12.3f}{'':>12}{f'<= {TARGET_RATIO}':>22}")
    print(f"{'draw ms (page stamp gridsMs)':<34}{ours_grids_ms:>12.0f}{'':>12}{f'< {TARGET_DRAW_MS:.0f}':>22}")
    print(f"{'draw ms (all paths in the DOM)':<34}{ours_paths_ms:>12.0f}{base_paths_ms:>12.0f}"
          f"{f'< {TARGET_DRAW_MS:.0f}':>22}")
    print(f"\nbytes target {'met' if ratio <= TARGET_RATIO else 'MISSED'}; "
          f"draw target {'met' if ours_grids_ms < TARGET_DRAW_MS else 'MISSED'}")
    print(f"map: gridgov_bytes={ours_bytes:.0f} baseline_bytes={base_bytes} ratio={ratio:.3f} "
          f"gridgov_draw_ms={ours_grids_ms:.0f} baseline_draw_ms={base_paths_ms:.0f} "
          f"target_ratio={TARGET_RATIO} target_draw_ms={TARGET_DRAW_MS:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
