"""API shapes of patrols: starting one, sending fixes, answering checklists, ending, reading back."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from gridgov.api_types import UtcDateTime
from gridgov.grids.schemas import Latitude, Longitude
from gridgov.patrols.models import CheckAnswer


class PatrolIn(BaseModel):
    """A patrol as the phone starts it; ``id`` is made on the phone (offline-safe)."""

    model_config = ConfigDict(extra="forbid")

    id: UUID
    grid_code: Annotated[str, Field(min_length=1, max_length=32)]
    started_at: AwareDatetime


class FixIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lon: Longitude
    lat: Latitude
    time: AwareDatetime
    accuracy_m: Annotated[float | None, Field(ge=0, allow_inf_nan=False)] = None
    speed_mps: Annotated[float | None, Field(ge=0, allow_inf_nan=False)] = None


class TrackBatchIn(BaseModel):
    """GPS fixes as the phone collected them since its last batch; ``id`` makes re-sending safe."""

    model_config = ConfigDict(extra="forbid")

    id: UUID
    fixes: list[FixIn] = Field(min_length=1)


class CheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_code: Annotated[str, Field(min_length=1, max_length=32)]
    answer: CheckAnswer
    note: Annotated[str | None, Field(max_length=500)] = None


class ChecksIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answers: list[CheckIn] = Field(min_length=1)


class EndIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ended_at: AwareDatetime


class TrackBatchRead(BaseModel):
    id: str
    patrol_id: str
    fix_count: int
    patrol_fix_count: int


class CheckRead(BaseModel):
    item_code: str
    domain: str
    text_zh: str
    text_en: str
    answer: str | None
    note: str | None


class CoverageRead(BaseModel):
    """Share of the grid's river length within the river distance of the track, and of its forest and
    farmland area within the area distance; null where the grid holds none of that resource."""

    river: float | None
    forest: float | None
    farmland: float | None


class FlagRead(BaseModel):
    kind: str
    index: int | None
    message: str


class PatrolRead(BaseModel):
    id: str
    grid_code: str
    officer_code: str | None
    username: str
    status: str
    source: str
    started_at: UtcDateTime
    ended_at: UtcDateTime | None
    fix_count: int
    duration_s: float | None
    length_m: float | None
    micro_grids: list[str]
    coverage: CoverageRead
    flags: list[FlagRead]
    checklist: list[CheckRead]


class PatrolSummary(BaseModel):
    id: str
    grid_code: str
    officer_code: str | None
    status: str
    started_at: UtcDateTime
    ended_at: UtcDateTime | None
    duration_s: float | None
    length_m: float | None
    coverage: CoverageRead
    flag_count: int


class PatrolPage(BaseModel):
    count: int
    limit: int
    offset: int
    items: list[PatrolSummary]


class GridCompliance(BaseModel):
    grid_code: str
    last_patrolled_at: UtcDateTime | None
    patrols_in_period: int
    required: int
    period_days: int
    compliant: bool


class ComplianceRead(BaseModel):
    on: date
    count: int
    compliant: int
    grids: list[GridCompliance]
