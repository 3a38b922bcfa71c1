"""API shapes for locating points."""

from __future__ import annotations

from pydantic import BaseModel, Field

MAX_BATCH_POINTS = 100_000


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

    lon: list[float] = Field(max_length=MAX_BATCH_POINTS)
    lat: list[float] = Field(max_length=MAX_BATCH_POINTS)


class LocateBatchResult(BaseModel):
    count: int
    outside: int
    locations: list[Location]
