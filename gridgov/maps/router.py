"""Page routes. For now the county overview; the supervisor map and dashboards come later."""

from __future__ import annotations

from typing import Annotated

import shapely
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridgov.config import REPO_ROOT
from gridgov.grids.router import CountyDep
from gridgov.grids.service import county_boundary, get_county, level_counts
from gridgov.ogc.service import COLLECTIONS
from gridgov.people.models import ChiefAssignment, OfficerAssignment
from gridgov.storage.session import get_session

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=REPO_ROOT / "web" / "templates")

SessionDep = Annotated[Session, Depends(get_session)]


def _distinct_people(session: Session, county_code: str, column, table) -> int:
    return session.scalar(
        select(func.count(func.distinct(column))).where(table.county_code == county_code, table.valid_to.is_(None))
    )


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep, county_code: CountyDep) -> HTMLResponse:
    """The county overview: counts per level, people, and links to the data services."""
    county = get_county(session=session, county_code=county_code)
    counts = level_counts(session=session, county_code=county_code)
    cards = [
        ("towns 乡镇", counts.get("town", 0)),
        ("villages 村", counts.get("village", 0)),
        ("grids 网格", counts.get("grid", 0)),
        ("micro-grids 微网格", counts.get("micro_grid", 0)),
        ("grid officers 网格员", _distinct_people(session, county_code, OfficerAssignment.officer_code,
                                                  OfficerAssignment)),
        ("chiefs 河长·林长·田长", _distinct_people(session, county_code, ChiefAssignment.chief_code, ChiefAssignment)),
        ("river reaches 河段", counts.get("river", 0)),
        ("forest patches 林地", counts.get("forest", 0)),
        ("farmland parcels 耕地", counts.get("farmland", 0)),
    ]
    sample = shapely.point_on_surface(county_boundary(session=session, county_code=county_code))
    return templates.TemplateResponse(
        request,
        "home.html",
        {"county": county, "cards": cards, "collections": COLLECTIONS.values(), "sample": (sample.x, sample.y)},
    )
