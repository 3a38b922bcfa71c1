"""HTTP routes of the hierarchy: locating points."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from gridgov.errors import InvalidParameter, OutsideCounty
from gridgov.grids.locating import locate_points
from gridgov.grids.schemas import LocateBatch, LocateBatchResult, Location
from gridgov.people.auth import PrincipalDep
from gridgov.storage.session import SessionDep

router = APIRouter(prefix="/api/v1", tags=["grids"])


def _code(value) -> str | None:
    return value if isinstance(value, str) else None


def _locations(frame, lon, lat) -> list[Location]:
    return [
        Location(
            lon=x, lat=y, inside=bool(inside), town_code=_code(town), village_code=_code(village),
            grid_code=_code(grid), micro_grid_code=_code(micro),
        )
        for x, y, inside, town, village, grid, micro in zip(
            lon, lat, frame["inside"], frame["town_code"], frame["village_code"], frame["grid_code"],
            frame["micro_grid_code"],
        )
    ]


@router.get("/locate", response_model=Location)
def locate(
    session: SessionDep,
    principal: PrincipalDep,
    lon: Annotated[float, Query(ge=-180, le=180, description="Longitude, CGCS2000 degrees")],
    lat: Annotated[float, Query(ge=-90, le=90, description="Latitude, CGCS2000 degrees")],
) -> Location:
    """The micro-grid, grid, village and town containing one point."""
    frame = locate_points(session=session, jurisdiction=principal.jurisdiction, lon=[lon], lat=[lat])
    location = _locations(frame, [lon], [lat])[0]
    if not location.inside:
        raise OutsideCounty(f"Point ({lon}, {lat}) lies outside the area you answer for.")
    return location


@router.post("/locate", response_model=LocateBatchResult)
def locate_batch(session: SessionDep, principal: PrincipalDep, batch: LocateBatch) -> LocateBatchResult:
    """Locate many points in one call; points outside your area come back with ``inside: false``."""
    if len(batch.lon) != len(batch.lat):
        raise InvalidParameter(f"lon has {len(batch.lon)} values but lat has {len(batch.lat)}.")
    frame = locate_points(session=session, jurisdiction=principal.jurisdiction, lon=batch.lon, lat=batch.lat)
    locations = _locations(frame, batch.lon, batch.lat)
    return LocateBatchResult(
        count=len(locations), outside=sum(not loc.inside for loc in locations), locations=locations
    )
