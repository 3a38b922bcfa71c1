"""HTTP routes for user administration and for who answers for which grid or unit (assignments)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status
from sqlalchemy.orm import Session

from gridgov.config import county_today
from gridgov.people import assignments, users
from gridgov.people.admin_schemas import (
    ChiefDutyRead,
    ChiefHandover,
    GrantCreate,
    GrantedRole,
    GrantRead,
    GridOfficerRead,
    HandoverRead,
    OfficerDutyRead,
    OfficerGridsRead,
    OfficerHandover,
    UncoveredRead,
    UnitChiefsRead,
    UserCreate,
    UserRead,
    UserUpdate,
)
from gridgov.people.auth import PrincipalDep, require
from gridgov.people.models import ChiefDomain, Role, User
from gridgov.storage.session import SessionDep

router = APIRouter(prefix="/api/v1", tags=["people"])

CodePath = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z_-]+$")]
UsernamePath = Annotated[str, Path(min_length=1, max_length=64)]
ADMIN_ONLY = [Depends(require(Role.ADMIN))]
PLANNERS_ONLY = [Depends(require(Role.PLANNER, Role.ADMIN))]


OnQuery = Annotated[date | None, Query(description="Day to ask about (YYYY-MM-DD); default today.")]


def _user_read(session: Session, user: User) -> UserRead:
    grants = users.grants_of(session=session, county_code=user.county_code, usernames=[user.username])
    return _as_read(user, grants.get(user.username, []))


def _as_read(user: User, grants) -> UserRead:
    return UserRead(username=user.username, display_name=user.display_name, person_code=user.person_code,
                    disabled=user.disabled, created_at=user.created_at,
                    grants=[GrantRead.model_validate(grant) for grant in grants])


@router.get("/users", response_model=list[UserRead], dependencies=ADMIN_ONLY)
def list_users(session: SessionDep, principal: PrincipalDep) -> list[UserRead]:
    """The accounts this administrator may manage, with their role grants."""
    found = users.list_users(session=session, principal=principal)
    grants = users.grants_of(session=session, county_code=principal.county_code,
                             usernames=[user.username for user in found])
    return [_as_read(user, grants.get(user.username, [])) for user in found]


@router.post("/users", response_model=UserRead, status_code=status.HTTP_201_CREATED, dependencies=ADMIN_ONLY)
def create_user(session: SessionDep, principal: PrincipalDep, user_in: UserCreate) -> UserRead:
    """Create an account (no grants yet); link it to a person to give it that person's duties."""
    user = users.create_user(session=session, principal=principal, **user_in.model_dump())
    return _user_read(session, user)


@router.get("/users/{username}", response_model=UserRead)
def get_user(session: SessionDep, principal: PrincipalDep, username: UsernamePath) -> UserRead:
    """One account: for administrators over it, or for its own user."""
    return _user_read(session, users.get_user(session=session, principal=principal, username=username))


@router.patch("/users/{username}", response_model=UserRead, dependencies=ADMIN_ONLY)
def update_user(session: SessionDep, principal: PrincipalDep, username: UsernamePath,
                changes: UserUpdate) -> UserRead:
    """Rename, reset the password or disable an account; the last two sign it out everywhere."""
    user = users.update_user(session=session, principal=principal, username=username,
                             **changes.model_dump(exclude_unset=True))
    return _user_read(session, user)


@router.post("/users/{username}/grants", response_model=GrantRead, status_code=status.HTTP_201_CREATED,
             dependencies=ADMIN_ONLY)
def grant_role(session: SessionDep, principal: PrincipalDep, username: UsernamePath,
               grant_in: GrantCreate) -> GrantRead:
    """Give an account a staff role over a unit inside the administrator's jurisdiction."""
    grant = users.grant_role(session=session, principal=principal, username=username, role=grant_in.role.value,
                             unit_code=grant_in.unit_code)
    return GrantRead.model_validate(grant)


@router.delete("/users/{username}/grants/{role}/{unit_code}", status_code=status.HTTP_204_NO_CONTENT,
               dependencies=ADMIN_ONLY)
def revoke_role(session: SessionDep, principal: PrincipalDep, username: UsernamePath, role: GrantedRole,
                unit_code: CodePath) -> Response:
    """Take a staff role over a unit away from an account."""
    users.revoke_role(session=session, principal=principal, username=username, role=role.value, unit_code=unit_code)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/grids/{grid_code}/officer", response_model=GridOfficerRead)
def officer_of_grid(session: SessionDep, principal: PrincipalDep, grid_code: CodePath,
                    on: OnQuery = None) -> GridOfficerRead:
    """Who answered for a grid on a day (``officer`` is null when nobody did)."""
    day = on or county_today()
    duty = assignments.officer_of_grid(session=session, principal=principal, grid_code=grid_code, on=day)
    officer = OfficerDutyRead.model_validate(duty) if duty else None
    return GridOfficerRead(grid_code=grid_code, on=day, officer=officer)


@router.get("/officers/{officer_code}/grids", response_model=OfficerGridsRead)
def grids_of_officer(session: SessionDep, principal: PrincipalDep, officer_code: CodePath,
                     on: OnQuery = None) -> OfficerGridsRead:
    """The grids an officer answered for on a day, within the caller's jurisdiction."""
    day = on or county_today()
    duties = assignments.grids_of_officer(session=session, principal=principal, officer_code=officer_code, on=day)
    return OfficerGridsRead(officer_code=officer_code, on=day,
                            grids=[OfficerDutyRead.model_validate(duty) for duty in duties])


@router.get("/units/{unit_code}/chiefs", response_model=UnitChiefsRead)
def chiefs_of_unit(session: SessionDep, principal: PrincipalDep, unit_code: CodePath, on: OnQuery = None,
                   domain: ChiefDomain | None = None) -> UnitChiefsRead:
    """The river, forest and field chiefs of a county, town or village on a day."""
    day = on or county_today()
    duties = assignments.chiefs_of_unit(session=session, principal=principal, unit_code=unit_code, on=day,
                                        domain=domain)
    return UnitChiefsRead(unit_code=unit_code, on=day,
                          chiefs=[ChiefDutyRead.model_validate(duty) for duty in duties])


@router.get("/assignments/uncovered", response_model=UncoveredRead)
def uncovered_grids(session: SessionDep, principal: PrincipalDep, on: OnQuery = None) -> UncoveredRead:
    """Grids in the caller's jurisdiction that had no officer on a day."""
    day = on or county_today()
    codes = assignments.uncovered_grids(session=session, principal=principal, on=day)
    return UncoveredRead(on=day, count=len(codes), grid_codes=codes)


@router.post("/assignments/officers", response_model=HandoverRead, dependencies=PLANNERS_ONLY)
def reassign_grids(session: SessionDep, principal: PrincipalDep, handover: OfficerHandover) -> HandoverRead:
    """Hand grids to new officers from a date on; refused whole if any grid would have none or two."""
    result = assignments.reassign_grids(
        session=session, principal=principal, effective=handover.effective,
        changes=[(change.grid_code, change.officer_code) for change in handover.changes],
    )
    return HandoverRead.model_validate(result)


@router.post("/assignments/chiefs", response_model=HandoverRead, dependencies=PLANNERS_ONLY)
def assign_chiefs(session: SessionDep, principal: PrincipalDep, handover: ChiefHandover) -> HandoverRead:
    """Hand units' river, forest or field duty to new chiefs from a date on; one chief per domain at a time."""
    result = assignments.assign_chiefs(
        session=session, principal=principal, effective=handover.effective,
        changes=[(change.unit_code, change.domain, change.chief_code) for change in handover.changes],
    )
    return HandoverRead.model_validate(result)

