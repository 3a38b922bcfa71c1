"""The grid officer's field page (网格员 巡查页): my grids, my patrol with its three checklists (一巡三查),
reporting a finding with a photo, my inbox — for a phone in a field with no signal.

The page is an app shell: everything it writes goes through a queue in the browser (IndexedDB) and is sent
when the connection allows; the patrol and findings APIs take the phone-made ids, so a replay is harmless.
A service worker (served here, so that its scope can be ``/field``) keeps the shell and the officer's data
so the page opens offline; its cache is named after a hash of the shell's files, so a deploy replaces it.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridgov.config import REPO_ROOT, county_today
from gridgov.grids.models import Unit
from gridgov.grids.service import get_county
from gridgov.maps.i18n import N_, gettext, language_of
from gridgov.maps.templating import landing_page, page_principal, templates
from gridgov.patrols.checklists import DOMAIN_OF_RESOURCE, grid_resources, items_for
from gridgov.people import assignments
from gridgov.people.models import Role
from gridgov.people.principal import Principal
from gridgov.storage.session import SessionDep

router = APIRouter(include_in_schema=False)

STATIC = REPO_ROOT / "web" / "static"
SCOPE = "/field"
GRID_LAYER = "/map/grids.topojson"
"""The officer's grids (the layer is scoped to the caller), drawn on the page and kept for offline use."""
DATA_URLS = (GRID_LAYER, "/api/v1/findings/categories", "/api/v1/inbox")
"""Data the page reads; the service worker answers them from its cache when the network fails."""
STATIC_SHELL = (
    "/static/gridgov/base.css",
    "/static/gridgov/i18n.js",
    "/static/vendor/leaflet/leaflet.css",
    "/static/vendor/leaflet/leaflet.js",
    "/static/vendor/topojson-client/topojson-client.min.js",
    "/static/field/field.css",
    "/static/field/field.js",
    "/static/field/queue.js",
    "/static/field/icons/icon-192.png",
    "/static/field/icons/icon-512.png",
)
"""The shell's files: the page cannot open without them."""
ICON_SIZES = (192, 512)
APP_NAME, SHORT_NAME = N_("GridGov field patrol"), N_("Patrol")
DOMAINS = ("river", "forest", "field")


@lru_cache
def shell_version() -> str:
    """A short hash of the shell's static files and the service worker: it names the worker's cache, so a
    deploy that changes any of them installs a new cache and drops the old one."""
    digest = hashlib.sha256()
    for path in (*STATIC_SHELL, "/static/field/sw.js"):
        digest.update((STATIC / path.removeprefix("/static/")).read_bytes())
    return digest.hexdigest()[:12]


def officer_grids(session: Session, principal: Principal) -> list[Unit]:
    """The grids ``principal`` is the officer of today (the assignment service's answer), by code."""
    if principal.person_code is None:
        return []
    codes = [duty.grid_code for duty in assignments.grids_of_officer(
        session=session, principal=principal, officer_code=principal.person_code, on=county_today())]
    return list(session.scalars(select(Unit).where(Unit.county_code == principal.county_code,
                                                   Unit.code.in_(codes)).order_by(Unit.code)))


def grid_domains(session: Session, county_code: str, grid: Unit) -> list[str]:
    """The checklist domains of the grid (those of the resources it holds), in the county's order."""
    found = {DOMAIN_OF_RESOURCE[kind] for kind in grid_resources(session=session, county_code=county_code,
                                                                  grid=grid)}
    return [domain for domain in DOMAINS if domain in found]


@router.get(SCOPE, response_class=HTMLResponse)
def field_page(request: Request, session: SessionDep) -> Response:
    """The officer's field page; anyone else signed in is told whom it is for and where their page is."""
    principal = page_principal(request, session)
    if principal is None:
        return RedirectResponse("/sign-in", status_code=303)
    county = get_county(session=session, county_code=principal.county_code)
    grids = officer_grids(session, principal) if principal.has(Role.OFFICER) else []
    if not grids:
        return templates.TemplateResponse(request, "field.html", {
            "principal": principal, "county": county, "officer": False, "landing": landing_page(principal)})
    domains = {grid.code: grid_domains(session, principal.county_code, grid) for grid in grids}
    used = {d for ds in domains.values() for d in ds}
    items = items_for(session=session, county_code=principal.county_code, domains=used)
    english = language_of(request) == "en"
    checklists = [(domain, [(item.code, item.text_en if english else item.text_zh)
                            for item in items if item.domain == domain]) for domain in DOMAINS if domain in used]
    return templates.TemplateResponse(request, "field.html", {
        "principal": principal, "county": county, "officer": True, "grids": grids, "domains": domains,
        "checklists": checklists, "grid_layer": GRID_LAYER,
        "bounds": [min(g.min_x for g in grids), min(g.min_y for g in grids), max(g.max_x for g in grids),
                   max(g.max_y for g in grids)],
    })


@router.get(f"{SCOPE}/sw.js")
def service_worker() -> Response:
    """The field page's service worker, with its cache version and the shell's URLs filled in. Served
    under /field, never cached by HTTP (the browser checks it on each visit), allowed the scope /field."""
    shell = {"version": shell_version(), "page": SCOPE, "static": [*STATIC_SHELL, f"{SCOPE}/manifest.webmanifest"],
             "data": list(DATA_URLS)}
    source = (STATIC / "field" / "sw.js").read_text(encoding="utf-8")
    body = source.replace("self.SHELL_PLACEHOLDER", json.dumps(shell, separators=(",", ":")), 1)
    return Response(body, media_type="text/javascript", headers={
        "Cache-Control": "no-cache", "Service-Worker-Allowed": SCOPE})


@router.get(f"{SCOPE}/manifest.webmanifest")
def manifest(request: Request) -> JSONResponse:
    """The web app manifest that makes the field page installable on the phone's home screen."""
    language = language_of(request)
    return JSONResponse({
        "name": gettext(language, APP_NAME),
        "short_name": gettext(language, SHORT_NAME),
        "lang": language,
        "start_url": SCOPE,
        "scope": SCOPE,
        "display": "standalone",
        "background_color": "#f6f7f9",
        "theme_color": "#0b4f6c",
        "icons": [{"src": f"/static/field/icons/icon-{size}.png", "sizes": f"{size}x{size}", "type": "image/png",
                   "purpose": "any maskable"} for size in ICON_SIZES],
    }, media_type="application/manifest+json", headers={"Cache-Control": "no-cache"})
