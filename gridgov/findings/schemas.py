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
    version: int = Field(description="Number of the finding's latest event: send it with a step.")
    owner_level: str | None
    owner_unit: str | None
    owner_person: str | None = Field(description="Who it waits on; null: the owner unit's queue.")
    accept_due: UtcDateTime | None
    resolve_due: UtcDateTime | None
    escalated_to: str | None
    closed_at: UtcDateTime | None


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


class StepRequest(BaseModel):
    """One step of a finding's workflow, as its taker sends it."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["dispatch", "reroute", "accept", "return", "start", "suspend", "resume", "resolve", "verify",
                    "reopen", "reject"]
    version: int | None = Field(default=None, ge=0, description="The version the step was decided on; a finding "
                                "that moved on since answers 409 instead of acting on a state you never saw.")
    note: Annotated[str | None, Field(max_length=2000)] = None
    reason: Annotated[str | None, Field(max_length=2000, description="Required to return, suspend, reopen, "
                                                                      "reject and reroute.")] = None
    photos: list[Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]] = Field(
        default_factory=list, max_length=20, description="sha256 of photos already attached to the finding")
    owner_person: Annotated[str | None, Field(max_length=32)] = Field(
        default=None, description="dispatch/reroute: the person to give it to (a chief of its domain over its "
                                  "place, or its grid's officer); omitted: routed by the county's rules")
    owner_level: Literal["village", "town", "county"] | None = None


class EventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    at: UtcDateTime
    actor: str
    capacity: str
    action: str
    from_state: str | None
    to_state: str | None
    note: str | None
    owner_level: str | None
    owner_unit: str | None
    owner_person: str | None
    photos: list[str] | None
    data: dict | None


class TimelineRead(BaseModel):
    finding: FindingRead
    events: list[EventRead]
    allowed: list[str] = Field(description="The steps you may take now.")


class RouteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: Literal["village", "town", "county"]


class RouteRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    domain: str
    category_code: str
    severity: str
    level: str


class DeadlineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accept_hours: Annotated[float, Field(gt=0, le=2000, allow_inf_nan=False)]
    resolve_days: Annotated[float, Field(gt=0, le=365, allow_inf_nan=False)]
    escalate_hours: Annotated[float, Field(gt=0, le=2000, allow_inf_nan=False)]


class DeadlineRead(DeadlineIn):
    model_config = ConfigDict(from_attributes=True)

    category_code: str
    severity: str
