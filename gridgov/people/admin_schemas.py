"""API shapes for user administration and assignments.

Input shapes forbid unknown fields, so a client cannot smuggle ``county_code``, ``token_version``,
``password_hash`` or ``failed_sign_ins`` into an account (mass assignment): it gets a 422 instead.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from gridgov.people.models import ChiefDomain
from gridgov.people.users import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH

MAX_CHANGES = 5_000

Code = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z_-]+$")]
Username = Annotated[str, Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")]
DisplayName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")]
Password = Annotated[str, Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)]


class GrantedRole(StrEnum):
    """The roles an administrator grants; officer and chief follow from assignments."""

    SUPERVISOR = "supervisor"
    PLANNER = "planner"
    ADMIN = "admin"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UserCreate(Strict):
    username: Username
    display_name: DisplayName
    password: Password
    person_code: Code | None = None


class UserUpdate(Strict):
    """Fields left out stay as they are."""

    display_name: DisplayName | None = None
    password: Password | None = None
    disabled: bool | None = None


class GrantCreate(Strict):
    role: GrantedRole
    unit_code: Code


class GrantRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    role: str
    unit_code: str


class UserRead(BaseModel):
    username: str
    display_name: str
    person_code: str | None
    disabled: bool
    created_at: datetime
    grants: list[GrantRead]


class OfficerChange(Strict):
    grid_code: Code
    officer_code: Code


class OfficerHandover(Strict):
    """Grids to hand to new officers from ``effective`` on; all or nothing."""

    effective: date
    changes: list[OfficerChange] = Field(min_length=1, max_length=MAX_CHANGES)


class ChiefChange(Strict):
    unit_code: Code
    domain: ChiefDomain
    chief_code: Code


class ChiefHandover(Strict):
    """Units and domains to hand to new chiefs from ``effective`` on; all or nothing."""

    effective: date
    changes: list[ChiefChange] = Field(min_length=1, max_length=MAX_CHANGES)


class HandoverRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    effective: date
    changed: list[str]
    unchanged: list[str]


class OfficerDutyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    grid_code: str
    officer_code: str
    officer_name: str
    valid_from: date
    valid_to: date | None


class ChiefDutyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    unit_code: str
    domain: str
    level: str
    chief_code: str
    chief_name: str
    valid_from: date
    valid_to: date | None


class GridOfficerRead(BaseModel):
    grid_code: str
    on: date
    officer: OfficerDutyRead | None


class OfficerGridsRead(BaseModel):
    officer_code: str
    on: date
    grids: list[OfficerDutyRead]


class UnitChiefsRead(BaseModel):
    unit_code: str
    on: date
    chiefs: list[ChiefDutyRead]


class UncoveredRead(BaseModel):
    on: date
    count: int
    grid_codes: list[str]
