"""API shapes for locating points."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

MAX_BATCH_POINTS = 100_000

Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]


class Location(BaseModel):
    """The units containing one point, top-down."""

    lon: float
    lat: float
    inside: bool
    town_code: str | None = None
    village_code: str | None = None
    grid_code: str | None = None
    micro_grid_code: str | None = None


class LocateBatch(BaseModel):
    """Points to locate in one call, as parallel lon/lat arrays (CGCS2000 / WGS84 degrees)."""

    lon: list[Longitude] = Field(max_length=MAX_BATCH_POINTS)
    lat: list[Latitude] = Field(max_length=MAX_BATCH_POINTS)


class LocateBatchResult(BaseModel):
    count: int
    outside: int
    locations: list[Location]
