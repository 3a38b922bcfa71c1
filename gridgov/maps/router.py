"""Page routes: the overview of the signed-in user's area, the map page with its grid layer, and the
language switch."""

from __future__ import annotations

from typing import Annotated, Literal

import geopandas as gpd
import shapely
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridgov.config import get_settings
from gridgov.errors import InvalidParameter
from gridgov.geo.crs import STORAGE_EPSG
from gridgov.grids.models import Level, Unit
from gridgov.grids.scope import Jurisdiction
from gridgov.grids.service import get_county, level_counts, metric_epsg_of
from gridgov.maps.i18n import COOKIE, LANGUAGES, N_
from gridgov.maps.layers import DETAILS, compact_geojson, dumps, grid_topology
from gridgov.maps.templating import page_principal, templates
from gridgov.ogc.service import COLLECTIONS
from gridgov.people.auth import PrincipalDep
from gridgov.people.models import ChiefAssignment, OfficerAssignment
from gridgov.storage import memo
from gridgov.storage.session import SessionDep

router = APIRouter(include_in_schema=False)
LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600


def _people(session: Session, scope: Jurisdiction, column, table, unit_column) -> int:
    """Distinct people currently answering for units the jurisdiction sees."""
    where = [table.county_code == scope.county_code, table.valid_to.is_(None)]
    if not scope.county_wide:
        where.append(unit_column.in_(sorted(scope.units)))
    return session.scalar(select(func.count(func.distinct(column))).where(*where))


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep) -> Response:
    """The overview of the user's area: counts per level, people, and links to the data services."""
    principal = page_principal(request, session)
    if principal is None:
        return RedirectResponse("/sign-in", status_code=303)
    scope = principal.jurisdiction
    county = get_county(session=session, county_code=scope.county_code)
    counts = level_counts(session=session, jurisdiction=scope)
    officers = _people(session, scope, OfficerAssignment.officer_code, OfficerAssignment, OfficerAssignment.grid_code)
    chiefs = _people(session, scope, ChiefAssignment.chief_code, ChiefAssignment, ChiefAssignment.unit_code)
    cards = [
        (N_("Towns"), counts.get("town", 0)),
        (N_("Villages"), counts.get("village", 0)),
        (N_("Grids"), counts.get("grid", 0)),
        (N_("Micro-grids"), counts.get("micro_grid", 0)),
        (N_("Grid officers"), officers),
        (N_("Chiefs (river, forest, field)"), chiefs),
        (N_("River reaches"), counts.get("river", 0)),
        (N_("Forest patches"), counts.get("forest", 0)),
        (N_("Farmland parcels"), counts.get("farmland", 0)),
    ]
    where = [Unit.county_code == scope.county_code, Unit.level == "micro_grid"]
    if not scope.county_wide:
        where.append(Unit.code.in_(sorted(scope.units)))
    sample_area = session.scalar(select(Unit.geom).where(*where).order_by(Unit.code).limit(1))
    sample = shapely.point_on_surface(sample_area) if sample_area is not None else None
    return templates.TemplateResponse(
        request,
        "home.html",
        {
            "county": county, "cards": cards, "collections": COLLECTIONS.values(), "principal": principal,
            "sample": (sample.x, sample.y) if sample is not None else None,
        },
    )


def _units(session: Session, scope: Jurisdiction, level: Level) -> gpd.GeoDataFrame:
    """The units of one level the jurisdiction sees, ordered by code, with their parent's code (EPSG:4490)."""
    where = [Unit.county_code == scope.county_code, Unit.level == level.value]
    if not scope.county_wide:
        where.append(Unit.code.in_(sorted(scope.units)))
    rows = session.execute(select(Unit.code, Unit.parent_code, Unit.geom).where(*where).order_by(Unit.code)).all()
    return gpd.GeoDataFrame({"code": [r.code for r in rows], "parent": [r.parent_code for r in rows]},
                            geometry=[r.geom for r in rows], crs=STORAGE_EPSG)


@router.get("/map", response_class=HTMLResponse)
def grid_map(request: Request, session: SessionDep) -> Response:
    """The map of the user's grids (网格地图), drawn from /map/grids.topojson with the vendored Leaflet."""
    principal = page_principal(request, session)
    if principal is None:
        return RedirectResponse("/sign-in", status_code=303)
    county = get_county(session=session, county_code=principal.jurisdiction.county_code)
    return templates.TemplateResponse(request, "map.html", {"county": county, "principal": principal})


def unit_layer(session: Session, principal, kind: tuple, build, level: Level = Level.GRID) -> str:
    """The grids (or another level) of the caller's jurisdiction in one encoding and detail, remembered.

    Simplifying the county's grids costs more than the rest of the request: the layer is remembered per
    jurisdiction (an officer's is a grid or two) and forgotten when any unit changes (an audited change)."""
    scope = principal.jurisdiction
    key = (*kind, str(session.get_bind().url), scope.county_code, scope.county_wide,
           None if scope.county_wide else frozenset(scope.units))
    return memo.remembered(key, lambda: dumps(build(_units(session, scope, level),
                                                    metric_epsg=metric_epsg_of(session, scope.county_code))))


@router.get("/map/grids.topojson")
def grid_topology_layer(
    session: SessionDep, principal: PrincipalDep,
    detail: Annotated[Literal["overview", "fine"], Query(
        description="overview: simplified by 30 m, for a whole county on one screen; fine: by 2 m")] = "fine",
) -> Response:
    """The grids of the user's jurisdiction as TopoJSON: shared edges sent once as quantised arcs, each grid
    with its code (``id``) and nothing else. The page draws the village and town outlines from the same arcs:
    a grid's code starts with its village's 12 digits and its town's 9 (the import refuses any other code).

    Data, not a page: the bearer token or the session cookie signs in, anonymous callers get 401, and on
    PostgreSQL the request is walled in to the jurisdiction like every API request."""
    tolerance_m, quantum_m = DETAILS[detail]
    body = unit_layer(session, principal, ("grid_topology", detail),
                      lambda grids, metric_epsg: grid_topology(grids[["code", "geometry"]], tolerance_m=tolerance_m,
                                                               quantum_m=quantum_m, metric_epsg=metric_epsg))
    return Response(body, media_type="application/json", headers={"Cache-Control": "private, no-cache"})


@router.get("/map/grids.geojson")
def grid_layer(session: SessionDep, principal: PrincipalDep) -> Response:
    """The same grids as compact GeoJSON (simplified, 6 decimals, code only), for tools that do not read
    TopoJSON."""
    body = unit_layer(session, principal, ("grid_layer",),
                      lambda grids, metric_epsg: compact_geojson(grids[["code", "geometry"]], metric_epsg=metric_epsg))
    return Response(body, media_type="application/geo+json", headers={"Cache-Control": "private, no-cache"})


@router.get("/language")
def choose_language(
    language: Annotated[str, Query(alias="set", description="A language tag: zh-CN or en")],
    next_page: Annotated[str, Query(alias="next", max_length=2000)] = "/",
) -> Response:
    """Switch the pages' language (a cookie for a year) and go back to the page the user was on.

    Only a path on this site is followed back, so the switch cannot be used to send someone elsewhere."""
    if language not in LANGUAGES:
        raise InvalidParameter(f"Unknown language {language!r}; choose one of {', '.join(LANGUAGES)}.")
    local = next_page.startswith("/") and not next_page.startswith("//") and "\\" not in next_page
    response = RedirectResponse(next_page if local else "/", status_code=303)
    response.set_cookie(COOKIE, language, max_age=LANGUAGE_COOKIE_SECONDS, path="/", samesite="lax",
                        secure=get_settings().session_cookie_secure)
    return response
