"""A map of the findings that travels as one file (地图快照): folium's page with the vendored Leaflet
inlined, for people without an account (county leaders, other departments) and for machines with no
network. Opened from an e-mail or a USB stick it draws the grids coloured by open findings and the findings
themselves, with no request to any server.

Folium builds the page; its CDN defaults are replaced by the vendored Leaflet alone (the map uses nothing
else: circle markers instead of icon fonts, no jQuery or Bootstrap) and the files are written into the page.
"""

from __future__ import annotations

import html
from collections.abc import Callable

import folium
import geopandas as gpd

from gridgov.config import REPO_ROOT
from gridgov.maps.i18n import N_
from gridgov.maps.layers import compact_geojson

LEAFLET = REPO_ROOT / "web" / "static" / "vendor" / "leaflet"
PALETTE = ("#f4f1ea", "#fdd49e", "#fc8d59", "#d7301f", "#7f0000")
"""The supervisor map's classes of open findings, lightest for none (web/static/map/map.js)."""
STATUS_COLOURS = {
    "reported": "#546e7a", "returned": "#546e7a", "dispatched": "#ef6c00", "accepted": "#c62828",
    "in_progress": "#c62828", "reopened": "#c62828", "suspended": "#6a1b9a", "resolved": "#00838f",
    "verified": "#2e7d32", "rejected": "#9e9e9e",
}
"""Marker colours by status, as on the supervisor map (web/static/map/map.css)."""
STATUS_LABELS = {
    "reported": N_("Reported"), "dispatched": N_("Dispatched"), "accepted": N_("Accepted"),
    "in_progress": N_("In progress"), "resolved": N_("Resolved"), "verified": N_("Verified"),
    "rejected": N_("Rejected"), "returned": N_("Returned"), "reopened": N_("Reopened"), "suspended": N_("Suspended"),
}
TITLE = N_("Findings map")
PERIOD = N_("Findings observed {since} to {until}")
MADE = N_("Made by {user} at {time}. Grids are coloured by open findings.")
SYNTHETIC = N_(
    "Demo data: the county boundary is real; towns' boundaries, villages, grids, resources and people are synthetic.")
FINDING = N_("{category} · {status}")


def snapshot_html(grids: gpd.GeoDataFrame, findings: list[dict], *, heading: str, lines: list[str],
                  translate: Callable[[str], str], metric_epsg: int) -> str:
    """The self-contained HTML page.

    Parameters
    ----------
    grids : GeoDataFrame in EPSG:4490 with ``code``, ``name``, ``open`` and ``open_class`` columns
    findings : dicts with ``lon``, ``lat``, ``status`` and ``category`` (its name in the reader's language)
    heading, lines : the title box's heading and lines (already translated)
    translate : message id → text in the reader's language
    metric_epsg : the county's metric CRS, where the grids are simplified
    """
    x0, y0, x1, y1 = grids.total_bounds if len(grids) else (112.2, 29.0, 112.6, 29.6)
    fmap = folium.Map(location=[(y0 + y1) / 2, (x0 + x1) / 2], zoom_start=11, tiles=None, control_scale=True)
    fmap.default_js = [("leaflet", "LEAFLET_JS")]
    fmap.default_css = [("leaflet_css", "LEAFLET_CSS")]
    if len(grids):  # the filters can leave no grid (a town outside the caller's area): the title box only
        _grid_layer(grids, translate, metric_epsg).add_to(fmap)
    for f in findings:
        folium.CircleMarker(
            [f["lat"], f["lon"]], radius=5, weight=1, color="#ffffff", fill=True, fill_opacity=0.95,
            fill_color=STATUS_COLOURS.get(f["status"], "#546e7a"),
            tooltip=translate(FINDING).format(category=f["category"],
                                              status=translate(STATUS_LABELS.get(f["status"], f["status"]))),
        ).add_to(fmap)
    if len(grids):
        fmap.fit_bounds([[y0, x0], [y1, x1]])
    box = "".join(f"<p style='margin:.2rem 0'>{html.escape(line)}</p>" for line in lines)
    fmap.get_root().html.add_child(folium.Element(
        "<div style='position:fixed;top:10px;right:10px;z-index:1000;background:#fff;padding:.5rem .8rem;"
        "border-radius:.4rem;box-shadow:0 1px 3px #0004;font:14px system-ui,sans-serif;max-width:22rem'>"
        f"<h1 style='font-size:1.05rem;margin:0 0 .3rem'>{html.escape(heading)}</h1>{box}</div>"))
    page = fmap.get_root().render()
    return _inline_leaflet(page)


def _grid_layer(grids: gpd.GeoDataFrame, translate: Callable[[str], str], metric_epsg: int) -> folium.GeoJson:
    """The grids filled by their class of open findings, with a tooltip of code, name and count."""
    layer = compact_geojson(grids, metric_epsg=metric_epsg, properties=("code", "name", "open", "open_class"))
    return folium.GeoJson(
        layer, name=translate("Grids"),
        style_function=lambda f: {"color": "#37474f", "weight": 0.6, "fillOpacity": 0.75,
                                  "fillColor": PALETTE[min(f["properties"]["open_class"], len(PALETTE) - 1)]},
        tooltip=folium.GeoJsonTooltip(["code", "name", "open"],
                                      aliases=[translate("Grid code"), translate("Name"), translate("Open")]),
    )


def _inline_leaflet(page: str) -> str:
    """Write the vendored Leaflet into the page in place of folium's links to it."""
    script = (LEAFLET / "leaflet.js").read_text(encoding="utf-8").replace("</script", "<\\/script")
    style = (LEAFLET / "leaflet.css").read_text(encoding="utf-8")
    page = page.replace('<script src="LEAFLET_JS"></script>', f"<script>{script}</script>", 1)
    page = page.replace('<link rel="stylesheet" href="LEAFLET_CSS"/>', f"<style>{style}</style>", 1)
    if "LEAFLET_JS" in page or "LEAFLET_CSS" in page:
        raise RuntimeError("folium's page no longer links Leaflet the way snapshot.py replaces it")
    return page
