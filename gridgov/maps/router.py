"""Page routes: the overview of the signed-in user's area and the supervisor map with its grid layer."""

from __future__ import annotations

import geopandas as gpd
import shapely
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridgov.config import REPO_ROOT
from gridgov.geo.crs import STORAGE_EPSG
from gridgov.grids.models import Level, Unit
from gridgov.grids.scope import Jurisdiction
from gridgov.grids.service import get_county, level_counts, metric_epsg_of
from gridgov.maps.layers import compact_geojson, dumps
from gridgov.ogc.service import COLLECTIONS
from gridgov.people.auth import PrincipalDep, Unauthorized, current_user, resolve_principal, wall_in
from gridgov.people.models import ChiefAssignment, OfficerAssignment
from gridgov.people.principal import Principal
from gridgov.storage import memo
from gridgov.storage.session import SessionDep

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=REPO_ROOT / "web" / "templates")


def page_principal(request: Request, session: Session) -> Principal | None:
    """The signed-in user of a page (session cookie), or None so the page can send them to sign in; the
    database is walled to their jurisdiction, as for an API request (row-level security on PostgreSQL)."""
    try:
        user = current_user(request, session, bearer=None)
    except Unauthorized:
        return None
    return wall_in(session, resolve_principal(session=session, user=user))


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
        ("towns 乡镇", counts.get("town", 0)),
        ("villages 村", counts.get("village", 0)),
        ("grids 网格", counts.get("grid", 0)),
        ("micro-grids 微网格", counts.get("micro_grid", 0)),
        ("grid officers 网格员", officers),
        ("chiefs 河长·林长·田长", chiefs),
        ("river reaches 河段", counts.get("river", 0)),
        ("forest patches 林地", counts.get("forest", 0)),
        ("farmland parcels 耕地", counts.get("farmland", 0)),
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


def _grids(session: Session, scope: Jurisdiction) -> gpd.GeoDataFrame:
    """The grids the jurisdiction sees, ordered by code, as a GeoDataFrame in EPSG:4490."""
    where = [Unit.county_code == scope.county_code, Unit.level == Level.GRID.value]
    if not scope.county_wide:
        where.append(Unit.code.in_(sorted(scope.units)))
    rows = session.execute(select(Unit.code, Unit.geom).where(*where).order_by(Unit.code)).all()
    return gpd.GeoDataFrame({"code": [r[0] for r in rows]}, geometry=[r[1] for r in rows], crs=STORAGE_EPSG)


@router.get("/map", response_class=HTMLResponse)
def grid_map(request: Request, session: SessionDep) -> Response:
    """The map of the user's grids (网格地图), drawn from /map/grids.geojson with the vendored Leaflet."""
    principal = page_principal(request, session)
    if principal is None:
        return RedirectResponse("/sign-in", status_code=303)
    county = get_county(session=session, county_code=principal.jurisdiction.county_code)
    return templates.TemplateResponse(request, "map.html", {"county": county, "principal": principal})


@router.get("/map/grids.geojson")
def grid_layer(session: SessionDep, principal: PrincipalDep) -> Response:
    """The grids of the user's jurisdiction as compact GeoJSON (simplified, 6 decimals, code only).

    Data, not a page: the bearer token or the session cookie signs in, anonymous callers get 401, and on
    PostgreSQL the request is walled in to the jurisdiction like every API request."""
    scope = principal.jurisdiction
    # Simplifying the county's grids costs more than the rest of the request: the layer is remembered per
    # jurisdiction (an officer's is a grid or two) and forgotten when any unit changes (an audited change).
    key = ("grid_layer", str(session.get_bind().url), scope.county_code, scope.county_wide,
           None if scope.county_wide else frozenset(scope.units))
    body = memo.remembered(key, lambda: dumps(compact_geojson(
        _grids(session, scope), metric_epsg=metric_epsg_of(session, scope.county_code))))
    return Response(body, media_type="application/geo+json", headers={"Cache-Control": "private, no-cache"})
