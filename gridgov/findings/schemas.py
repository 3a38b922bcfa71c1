"""API shapes of findings: what a phone sends, what comes back, list filters."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from gridgov.api_types import UtcDateTime
from gridgov.findings.models import Severity
from gridgov.grids.schemas import Latitude, Longitude


class InputCrs(StrEnum):
    """Coordinates as the device gives them: CGCS2000/WGS84 from GPS (the same within centimetres), or
    GCJ-02 from an Amap-based app, converted exactly on arrival."""

    CGCS2000 = "cgcs2000"
    WGS84 = "wgs84"
    GCJ02 = "gcj02"


class FindingIn(BaseModel):
    """One finding as an officer's phone submits it; ``id`` is made on the phone (offline-safe)."""

    model_config = ConfigDict(extra="forbid")

    id: UUID
    category_code: Annotated[str, Field(min_length=1, max_length=32)]
    severity: Severity = Severity.MEDIUM
    description: Annotated[str, Field(max_length=2000)] = ""
    lon: Longitude
    lat: Latitude
    crs: InputCrs = InputCrs.CGCS2000
    observed_at: AwareDatetime
    patrol_id: UUID | None = None


class FindingBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[FindingIn] = Field(min_length=1)


class PhotoRead(BaseModel):
    sha256: str
    media_type: str
    width: int
    height: int
    size_bytes: int
    taken_at: UtcDateTime | None
    flags: list[str]
    href: str


class FindingRead(BaseModel):
    id: str
    domain: str
    category_code: str
    severity: str
    description: str
    status: str
    observed_at: UtcDateTime
    received_at: UtcDateTime
    reporter: str
    patrol_id: str | None
    lon: float
    lat: float
    micro_grid_code: str
    grid_code: str
    village_code: str
    town_code: str
    chiefs: dict[str, str]
    duplicate_of: str | None
    flags: list[str]


class FindingBatchRead(BaseModel):
    count: int
    created: int
    replayed: int
    items: list[FindingRead]


class FindingPage(BaseModel):
    count: int
    limit: int
    offset: int
    items: list[FindingRead]


class CategoryIn(BaseModel):
    """A category as an administrator sends it; omitted fields keep their value."""

    model_config = ConfigDict(extra="forbid")

    domain: Literal["river", "forest", "field"]
    name_zh: Annotated[str | None, Field(min_length=1, max_length=100)] = None
    name_en: Annotated[str | None, Field(min_length=1, max_length=100)] = None
    duplicate_radius_m: Annotated[float | None, Field(ge=0, le=5000, allow_inf_nan=False)] = None
    active: bool | None = None


class CategoryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    domain: str
    name_zh: str
    name_en: str
    duplicate_radius_m: float
    active: bool
