"""Data of the supervisor map (指挥中心地图): small JSON answers the page fetches beside the grid layer.

The grid geometry is fetched once (``/map/grids.topojson``), the micro-grids' once the map is zoomed in
(``/map/micro-grids.topojson``); what changes with the filters is fetched again: counts and colour classes
per grid, the findings for the markers, a grid's panel. Every answer is scoped to the caller's
jurisdiction; anonymous callers get 401, bad filters 422.

Filters, shared by every endpoint that takes them: ``since`` and ``until`` are days on the county clock
(``until`` inclusive, default the last 30 days), ``domain``, ``category``, ``status`` and ``town``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

import geopandas as gpd
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridgov.api_types import as_utc
from gridgov.config import county_today, get_settings
from gridgov.findings import taxonomy
from gridgov.findings.workflow import State
from gridgov.geo.crs import STORAGE_EPSG
from gridgov.grids.models import Level, Unit
from gridgov.grids.service import get_county, metric_epsg_of
from gridgov.maps import findings_layer, overlays, panels, snapshot
from gridgov.maps.dashboard import period_bounds
from gridgov.maps.findings_layer import InvalidFilter, MapFilters, check_filters, grid_stats, map_findings
from gridgov.maps.i18n import gettext, language_of
from gridgov.maps.layers import DETAILS, grid_topology
from gridgov.maps.router import unit_layer
from gridgov.people.auth import PrincipalDep
from gridgov.people.models import ChiefDomain
from gridgov.people.principal import Principal
from gridgov.storage.session import SessionDep

router = APIRouter(include_in_schema=False)

DEFAULT_DAYS = 30
DEFAULT_TRACK_DAYS = 7
MAX_TRACK_DAYS = 31
MAX_PERIOD_DAYS = 3660
CODE = r"^[A-Za-z0-9_]{1,32}$"
PRIVATE = {"Cache-Control": "private, no-cache"}


def default_period(today: date) -> tuple[date, date]:
    return today - timedelta(days=DEFAULT_DAYS - 1), today


def map_filters(
    session: SessionDep,
    principal: PrincipalDep,
    since: Annotated[date | None, Query(description="First day (YYYY-MM-DD, county clock)")] = None,
    until: Annotated[date | None, Query(description="Last day, inclusive")] = None,
    domain: Literal["river", "forest", "field"] | None = None,
    category: Annotated[str | None, Query(pattern=CODE)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
    town: Annotated[str | None, Query(pattern=CODE)] = None,
) -> MapFilters:
    """The map's filters from the query, checked (422 naming the bad one)."""
    first, last = default_period(county_today())
    until = until or last
    since = since or min(first, until)
    if since > until:
        raise InvalidFilter(f"The period starts ({since}) after it ends ({until}).")
    if (until - since).days > MAX_PERIOD_DAYS:
        raise InvalidFilter(f"The period may span at most {MAX_PERIOD_DAYS} days.")
    start, end = period_bounds(since, until, get_settings().timezone)
    filters = MapFilters(since=as_utc(start), until=as_utc(end), domain=domain, category=category or None,
                         status=status or None, town=town or None)
    check_filters(session=session, principal=principal, filters=filters)
    return filters


FiltersDep = Annotated[MapFilters, Depends(map_filters)]


def _json(body) -> JSONResponse:
    return JSONResponse(body, headers=PRIVATE)


def _bounds(session: Session, principal: Principal) -> tuple[float, float, float, float] | None:
    where = [Unit.county_code == principal.county_code, Unit.level == Level.GRID.value]
    if not principal.jurisdiction.county_wide:
        where.append(Unit.code.in_(sorted(principal.jurisdiction.units)))
    box = session.execute(select(func.min(Unit.min_x), func.min(Unit.min_y), func.max(Unit.max_x),
                                 func.max(Unit.max_y)).where(*where)).one()
    return None if box[0] is None else tuple(float(v) for v in box)


def _towns(session: Session, principal: Principal) -> list[dict]:
    """Towns holding grids the caller sees, with their names where the caller may read them."""
    grids = Unit.__table__.alias("g")
    villages = Unit.__table__.alias("v")
    where = [grids.c.county_code == principal.county_code, grids.c.level == Level.GRID.value]
    if not principal.jurisdiction.county_wide:
        where.append(grids.c.code.in_(sorted(principal.jurisdiction.units)))
    codes = sorted(set(session.scalars(
        select(villages.c.parent_code).select_from(grids.join(
            villages, (villages.c.county_code == grids.c.county_code) & (villages.c.code == grids.c.parent_code)))
        .where(*where))))
    names = dict(session.execute(select(Unit.code, Unit.name).where(Unit.county_code == principal.county_code,
                                                                    Unit.code.in_(codes))).all())
    return [{"code": code, "name": names.get(code, code)} for code in codes]


@router.get("/map/options.json")
def map_options(session: SessionDep, principal: PrincipalDep) -> Response:
    """What the map page needs besides the layers: the default period, the filter choices, the resource
    layers the caller may switch on, and the basemap (with the GCJ-02 offset grid for Amap tiles)."""
    settings = get_settings()
    today = county_today()
    since, until = default_period(today)
    tile_url = settings.map_tile_url or None
    gcj02 = bool(tile_url and settings.map_tile_gcj02)
    bounds = _bounds(session, principal)
    return _json({
        "today": today.isoformat(), "since": since.isoformat(), "until": until.isoformat(),
        "track_days": DEFAULT_TRACK_DAYS, "max_track_days": MAX_TRACK_DAYS,
        "bounds": bounds,
        "towns": _towns(session, principal),
        "categories": [{"code": c.code, "domain": c.domain, "name_zh": c.name_zh, "name_en": c.name_en}
                       for c in taxonomy.categories(session=session, county_code=principal.county_code)],
        "statuses": [*findings_layer.STATUS_GROUPS, *(s.value for s in State)],
        "default_status": findings_layer.DEFAULT_STATUS,
        "resource_domains": [d.value for d in overlays.resource_kinds(principal)],
        "tiles": {"url": tile_url, "attribution": settings.map_tile_attribution, "gcj02": gcj02,
                  "offsets": overlays.gcj02_offsets(bounds) if gcj02 and bounds else None},
    })


@router.get("/map/micro-grids.topojson")
def map_micro_grids(session: SessionDep, principal: PrincipalDep) -> Response:
    """The micro-grids (微网格) of the caller's jurisdiction as TopoJSON at the grid layer's fine detail: object
    ``micro_grids``, each geometry with its code (``id``) and its grid's (``grid``). The map draws them as
    outlines once zoomed in, so the county overview never pays for them.

    Remembered per jurisdiction like the grid layer, and forgotten when a change set reshapes the units."""
    tolerance_m, quantum_m = DETAILS["fine"]
    def build(units, metric_epsg: int) -> dict:
        return grid_topology(units.rename(columns={"parent": "grid"}), object_name="micro_grids", properties=("grid",),
                             tolerance_m=tolerance_m, quantum_m=quantum_m, metric_epsg=metric_epsg)

    body = unit_layer(session, principal, ("micro_grid_topology",), build, level=Level.MICRO_GRID)
    return Response(body, media_type="application/json", headers=PRIVATE)


@router.get("/map/grid-stats.json")
def map_grid_stats(session: SessionDep, principal: PrincipalDep, filters: FiltersDep) -> Response:
    """Per grid: open and overdue findings under the filters, their colour classes (mapclassify) and
    whether the grid meets the patrol rule."""
    return _json(grid_stats(session=session, principal=principal, filters=filters, today=county_today()))


@router.get("/map/findings.json")
def map_findings_layer(session: SessionDep, principal: PrincipalDep, filters: FiltersDep) -> Response:
    """The findings under the filters as compact rows: id, lon, lat, status, overdue, domain, category."""
    return _json(map_findings(session=session, principal=principal, filters=filters))


@router.get("/map/tracks.json")
def map_tracks(
    session: SessionDep, principal: PrincipalDep,
    days: Annotated[int, Query(ge=1, le=MAX_TRACK_DAYS)] = DEFAULT_TRACK_DAYS,
    until: Annotated[date | None, Query(description="Last day, inclusive (default today)")] = None,
) -> Response:
    """Tracks of the patrols of the last ``days`` days up to ``until``, simplified (GeoJSON, EPSG:4490)."""
    day = until or county_today()
    _start, end = period_bounds(day, day, get_settings().timezone)
    body = overlays.patrol_tracks(session=session, principal=principal, until=as_utc(end), days=days)
    return JSONResponse(body, media_type="application/geo+json", headers=PRIVATE)


@router.get("/map/resources/{domain}.json")
def map_resources(session: SessionDep, principal: PrincipalDep, domain: ChiefDomain) -> Response:
    """The rivers, forests or farmland of the caller's area (chiefs: their own domain's only), simplified."""
    body = overlays.resource_layer(session=session, principal=principal, domain=domain)
    return Response(body, media_type="application/geo+json", headers=PRIVATE)


@router.get("/map/grids/{grid_code}/panel.json")
def map_grid_panel(session: SessionDep, principal: PrincipalDep, filters: FiltersDep,
                   grid_code: Annotated[str, Path(pattern=CODE)]) -> Response:
    """One grid: officer, chiefs of its village and town, KPIs for the period, open findings."""
    return _json(panels.grid_panel(session=session, principal=principal, grid_code=grid_code, filters=filters,
                                   today=county_today()))


@router.get("/map/findings/{finding_id}/reroute-targets.json")
def map_reroute_targets(session: SessionDep, principal: PrincipalDep,
                        finding_id: Annotated[str, Path(max_length=36)]) -> Response:
    """The people a finding may be rerouted to: its domain's chiefs over its place and its grid's officer."""
    return _json(panels.reroute_targets(session=session, principal=principal, finding_id=finding_id,
                                        today=county_today()))


@router.get("/map/snapshot.html")
def map_snapshot(request: Request, session: SessionDep, principal: PrincipalDep, filters: FiltersDep) -> Response:
    """The map under the filters as one self-contained HTML file (folium, Leaflet inlined) to send to people
    without an account or open with no network; a download, named after the county and the period."""
    language = language_of(request)

    def translate(message: str) -> str:
        return gettext(language, message)

    stats = grid_stats(session=session, principal=principal, filters=filters, today=county_today())
    codes = list(stats["grids"])
    rows = session.execute(select(Unit.code, Unit.name, Unit.geom).where(
        Unit.county_code == principal.county_code, Unit.code.in_(codes)).order_by(Unit.code)).all()
    grids = gpd.GeoDataFrame(
        {"code": [r.code for r in rows], "name": [r.name for r in rows],
         "open": [stats["grids"][r.code]["open"] for r in rows],
         "open_class": [stats["grids"][r.code]["open_class"] for r in rows]},
        geometry=[r.geom for r in rows], crs=STORAGE_EPSG)
    names = {c.code: (c.name_en if language == "en" else c.name_zh)
             for c in taxonomy.categories(session=session, county_code=principal.county_code)}
    found = map_findings(session=session, principal=principal, filters=filters)
    findings = [{**row, "category": names.get(row["category"], row["category"])}
                for row in (dict(zip(found["columns"], r, strict=True)) for r in found["rows"])]
    county = get_county(session=session, county_code=principal.county_code)
    zone = ZoneInfo(get_settings().timezone)
    since, until = filters.since.astimezone(zone).date(), (filters.until.astimezone(zone) - timedelta(days=1)).date()
    lines = [translate(snapshot.PERIOD).format(since=since, until=until),
             translate(snapshot.MADE).format(user=principal.username,
                                             time=datetime.now(zone).strftime("%Y-%m-%d %H:%M"))]
    if county.synthetic:
        lines.append(translate(snapshot.SYNTHETIC))
    body = snapshot.snapshot_html(grids, findings, heading=f"{county.name} · {translate(snapshot.TITLE)}",
                                  lines=lines, translate=translate,
                                  metric_epsg=metric_epsg_of(session, principal.county_code))
    filename = f"gridgov-map-{county.county_code}-{since}-{until}.html"
    return HTMLResponse(body, headers={**PRIVATE, "Content-Disposition": f'attachment; filename="{filename}"'})
