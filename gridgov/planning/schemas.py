"""Pydantic shapes of the planning API (change sets, edits, previews, time travel)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Code = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z_-]+$")]


Lon = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
Lat = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]


class LineString(BaseModel):
    """A GeoJSON LineString in EPSG:4490 (lon, lat)."""

    type: Literal["LineString"]
    coordinates: list[tuple[Lon, Lat]] = Field(min_length=2, max_length=10_000)


class SplitEdit(BaseModel):
    op: Literal["split"]
    code: Code
    line: LineString


class MergeEdit(BaseModel):
    op: Literal["merge"]
    codes: list[Code] = Field(min_length=2, max_length=50)


class MoveBoundaryEdit(BaseModel):
    op: Literal["move_boundary"]
    a: Code
    b: Code
    line: LineString


class ReparentEdit(BaseModel):
    op: Literal["reparent"]
    code: Code
    new_parent: Code


EditIn = Annotated[SplitEdit | MergeEdit | MoveBoundaryEdit | ReparentEdit, Field(discriminator="op")]


class ChangeSetCreate(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    effective_on: date | None = None
    scope_code: Code | None = None


class BalanceIn(BaseModel):
    scope_code: Code | None = Field(default=None, description="A town or village; default your jurisdiction.")


class Reassignment(BaseModel):
    grid_code: Code
    officer_code: Code


class ReviewIn(BaseModel):
    approve: bool
    note: str = Field(default="", max_length=2000)


class ChangeSetRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    title: str
    status: str
    effective_on: date
    scope_code: str
    author: str
    created_at: datetime
    revision: int
    etag: str
    edits: list[dict]
    reassignments: list[dict]
    review: dict | None
    applied_at: datetime | None
    applied_by: str | None
    reverts: str | None
    result: dict | None


class ChangeSetList(BaseModel):
    change_sets: list[ChangeSetRead]


class Preview(BaseModel):
    change_set: ChangeSetRead
    before: dict
    after: dict
    retired: list[str]
    created: list[str]
    reshaped: list[str]
    findings: list[dict]
    officers: list[dict]
    chiefs: list[dict]
    patrols: list[dict]
    workload: list[dict] = Field(description="Hours per month per grid before and after (ground and patrol rule).")
    stale: list[str] = Field(description="Units changed by another change set since an edit was drawn on them.")


class Located(BaseModel):
    as_of: date
    micro_grid: str
    grid: str
    village: str
    town: str
    officer: str | None
