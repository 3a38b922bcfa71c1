"""HTTP routes of planning: change sets (drafts, edits, preview, review, apply, discard, revert) and the
map as of a date. Writes to a change set need ``If-Match`` with its ETag (412 stale, 428 missing)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Response, status
from shapely.geometry import mapping

from gridgov.config import county_today
from gridgov.errors import NotFound
from gridgov.people.auth import PrincipalDep, require
from gridgov.people.models import Role
from gridgov.planning import applying, flows, history, proposals, service
from gridgov.planning.models import ChangeSet
from gridgov.planning.schemas import (
    BalanceIn,
    ChangeSetCreate,
    ChangeSetList,
    ChangeSetRead,
    EditIn,
    Located,
    Preview,
    Reassignment,
    ReviewIn,
)
from gridgov.storage.session import SessionDep

router = APIRouter(prefix="/api/v1/planning", tags=["planning"],
                   dependencies=[Depends(require(Role.PLANNER, Role.ADMIN, Role.SUPERVISOR))])

IdPath = Annotated[str, Path(min_length=1, max_length=36)]
IfMatch = Annotated[str | None, Header(alias="If-Match", description="The change set's ETag.")]
AsOf = Annotated[date | None, Query(description="The day to look at (YYYY-MM-DD); default today.")]


def _read(change_set: ChangeSet, response: Response) -> ChangeSetRead:
    tag = service.etag(change_set)
    response.headers["ETag"] = tag
    fields = {name: getattr(change_set, name) for name in ChangeSetRead.model_fields if name != "etag"}
    return ChangeSetRead(**fields, etag=tag)


@router.post("/change-sets", response_model=ChangeSetRead, status_code=status.HTTP_201_CREATED)
def create_change_set(session: SessionDep, principal: PrincipalDep, body: ChangeSetCreate,
                      response: Response) -> ChangeSetRead:
    """Start a draft change set (effective today unless a date is given)."""
    return _read(service.create(session=session, principal=principal, **body.model_dump()), response)


@router.get("/change-sets", response_model=ChangeSetList)
def list_change_sets(session: SessionDep, principal: PrincipalDep,
                     status_: Annotated[Literal["draft", "applied", "discarded", "reverted"] | None,
                                        Query(alias="status")] = None) -> ChangeSetList:
    """The change sets of your jurisdiction, newest first."""
    rows = service.listed(session=session, principal=principal, status=status_)
    return ChangeSetList(change_sets=[_read(row, Response()) for row in rows])


@router.get("/change-sets/{change_set_id}", response_model=ChangeSetRead)
def get_change_set(session: SessionDep, principal: PrincipalDep, change_set_id: IdPath,
                   response: Response) -> ChangeSetRead:
    """One change set, with its ETag."""
    return _read(service.get(session=session, principal=principal, change_set_id=change_set_id), response)


@router.post("/change-sets/{change_set_id}/edits", response_model=ChangeSetRead)
def add_edit(session: SessionDep, principal: PrincipalDep, change_set_id: IdPath, edit: Annotated[EditIn, Body()],
             response: Response, if_match: IfMatch = None) -> ChangeSetRead:
    """Add a split, merge, boundary move or re-parent; it is checked at once (422 naming the unit)."""
    return _read(service.add_edit(session=session, principal=principal, change_set_id=change_set_id,
                                  if_match=if_match, edit=edit.model_dump()), response)


@router.delete("/change-sets/{change_set_id}/edits/{index}", response_model=ChangeSetRead)
def remove_edit(session: SessionDep, principal: PrincipalDep, change_set_id: IdPath,
                index: Annotated[int, Path(ge=0, le=10_000)], response: Response,
                if_match: IfMatch = None) -> ChangeSetRead:
    """Remove one edit of the draft (counted from 0)."""
    return _read(service.remove_edit(session=session, principal=principal, change_set_id=change_set_id,
                                     if_match=if_match, index=index), response)


@router.post("/change-sets/{change_set_id}/reassignments", response_model=ChangeSetRead)
def reassign(session: SessionDep, principal: PrincipalDep, change_set_id: IdPath, body: Reassignment,
             response: Response, if_match: IfMatch = None) -> ChangeSetRead:
    """Give a grid to an officer from the change set's effective date."""
    return _read(service.reassign(session=session, principal=principal, change_set_id=change_set_id,
                                  if_match=if_match, **body.model_dump()), response)


@router.get("/change-sets/{change_set_id}/preview", response_model=Preview)
def preview(session: SessionDep, principal: PrincipalDep, change_set_id: IdPath) -> Preview:
    """Before and after, and what moves: open findings, officers, workload."""
    found = service.preview(session=session, principal=principal, change_set_id=change_set_id)
    return Preview(**{**found, "change_set": _read(found["change_set"], Response())})


@router.post("/change-sets/{change_set_id}/review", response_model=ChangeSetRead)
def review(session: SessionDep, principal: PrincipalDep, change_set_id: IdPath, body: ReviewIn,
           response: Response, if_match: IfMatch = None) -> ChangeSetRead:
    """Approve or reject a draft (another planner than its author)."""
    return _read(service.review(session=session, principal=principal, change_set_id=change_set_id,
                                if_match=if_match, **body.model_dump()), response)


@router.post("/change-sets/{change_set_id}/apply", response_model=ChangeSetRead)
def apply(session: SessionDep, principal: PrincipalDep, change_set_id: IdPath, response: Response,
          if_match: IfMatch = None) -> ChangeSetRead:
    """Apply the draft, all or nothing; one dated later is checked and scheduled for its day."""
    return _read(applying.apply(session=session, principal=principal, change_set_id=change_set_id,
                                if_match=if_match), response)


@router.post("/change-sets/{change_set_id}/discard", response_model=ChangeSetRead)
def discard(session: SessionDep, principal: PrincipalDep, change_set_id: IdPath, response: Response,
            if_match: IfMatch = None) -> ChangeSetRead:
    """Discard the draft."""
    return _read(service.discard(session=session, principal=principal, change_set_id=change_set_id,
                                 if_match=if_match), response)


@router.post("/change-sets/{change_set_id}/revert", response_model=ChangeSetRead,
             status_code=status.HTTP_201_CREATED)
def revert(session: SessionDep, principal: PrincipalDep, change_set_id: IdPath,
           response: Response) -> ChangeSetRead:
    """A new draft undoing an applied change set (apply it to take effect)."""
    return _read(service.revert(session=session, principal=principal, change_set_id=change_set_id), response)


@router.post("/balance", response_model=ChangeSetRead, status_code=status.HTTP_201_CREATED)
def balance(session: SessionDep, principal: PrincipalDep, body: BalanceIn, response: Response) -> ChangeSetRead:
    """A balancing proposal for your area (or ``scope_code``) as a draft change set; its spread before and
    after is in ``result.proposal``. A whole county takes some seconds."""
    return _read(proposals.propose(session=session, principal=principal, scope_code=body.scope_code), response)


def _feature(row) -> dict:
    return {"type": "Feature", "id": row.code, "geometry": mapping(row.geom), "properties": {
        "code": row.code, "level": row.level, "parent_code": row.parent_code, "name": row.name,
        "version": row.version, "valid_from": row.valid_from.isoformat(),
        "valid_to": row.valid_to.isoformat() if row.valid_to else None}}


@router.get("/units/{code}")
def unit_as_of(session: SessionDep, principal: PrincipalDep, code: Annotated[str, Path(max_length=32)],
               response: Response, as_of: AsOf = None) -> dict:
    """A unit as it was on a day (GeoJSON Feature), with the ETag of that version."""
    if not history.sees_historic(principal.jurisdiction, code):
        raise NotFound(f"No unit {code} in your jurisdiction.")
    row = history.unit_as_of(session=session, county_code=principal.county_code, code=code,
                             on=as_of or county_today())
    response.headers["ETag"] = f'"u-{row.code}-{row.version}"'
    return _feature(row)


@router.get("/map")
def map_as_of(session: SessionDep, principal: PrincipalDep,
              level: Annotated[Literal["grid", "micro_grid"], Query()] = "grid", as_of: AsOf = None) -> dict:
    """The grids or micro-grids of your jurisdiction as they were on a day (GeoJSON FeatureCollection)."""
    rows = history.map_as_of(session=session, county_code=principal.county_code, level=level,
                             on=as_of or county_today())
    return {"type": "FeatureCollection", "features": [
        _feature(row) for row in rows if history.sees_historic(principal.jurisdiction, row.code)]}


@router.get("/locate", response_model=Located)
def locate(session: SessionDep, principal: PrincipalDep, lon: Annotated[float, Query(ge=-180, le=180)],
           lat: Annotated[float, Query(ge=-90, le=90)], as_of: AsOf = None) -> Located:
    """Which micro-grid, grid, village and town held a point on a day, and who was the grid's officer."""
    on = as_of or county_today()
    found = history.locate_as_of(session=session, county_code=principal.county_code, lon=lon, lat=lat, on=on)
    if found["micro_grid"] is None or not history.sees_historic(principal.jurisdiction, found["micro_grid"]):
        raise NotFound(f"No micro-grid of your jurisdiction held the point {lon}, {lat} on {on}.")
    officers = flows.officers_of(
        session=session, county_code=principal.county_code, grid_codes=[found["grid"]], on=on)
    return Located(as_of=on, officer=officers.get(found["grid"]), **found)
