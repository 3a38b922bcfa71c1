"""HTTP routes of patrols: start, send fixes, answer checklists, end, upload a GPX/GeoJSON track, read,
list, and grid compliance."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, File, Form, Query, UploadFile

from gridgov.config import get_settings
from gridgov.patrols import service
from gridgov.patrols.models import Patrol
from gridgov.patrols.schemas import (
    CheckRead,
    ChecksIn,
    ComplianceRead,
    CoverageRead,
    EndIn,
    FlagRead,
    GridCompliance,
    PatrolIn,
    PatrolPage,
    PatrolRead,
    PatrolSummary,
    TrackBatchIn,
    TrackBatchRead,
)
from gridgov.patrols.track_files import read_track_file
from gridgov.patrols.tracks import Fixes, TrackTooLarge
from gridgov.people.auth import PrincipalDep
from gridgov.storage.session import SessionDep

router = APIRouter(prefix="/api/v1/patrols", tags=["patrols"])

MAX_TRACK_FILE_BYTES = 50 * 1024 * 1024


def _coverage(patrol: Patrol) -> CoverageRead:
    return CoverageRead(river=patrol.coverage_river, forest=patrol.coverage_forest, farmland=patrol.coverage_farmland)


def patrol_read(session, patrol: Patrol) -> PatrolRead:
    return PatrolRead(
        id=patrol.id, grid_code=patrol.grid_code, officer_code=patrol.officer_code, username=patrol.username,
        status=patrol.status, source=patrol.source, started_at=patrol.started_at, ended_at=patrol.ended_at,
        fix_count=patrol.fix_count, duration_s=patrol.duration_s, length_m=patrol.length_m,
        micro_grids=patrol.micro_grids or [], coverage=_coverage(patrol),
        flags=[FlagRead(**flag) for flag in patrol.flags or []],
        checklist=[
            CheckRead(item_code=item.code, domain=item.domain, text_zh=item.text_zh, text_en=item.text_en,
                      answer=answer.answer if answer else None, note=answer.note if answer else None)
            for item, answer in service.checklist(session=session, patrol=patrol)
        ],
    )


@router.post("", response_model=PatrolRead, status_code=201)
def start_patrol(session: SessionDep, principal: PrincipalDep, patrol: PatrolIn) -> PatrolRead:
    """Start a patrol on your grid; it carries the checklists of the resources the grid holds."""
    started = service.start_patrol(session=session, principal=principal, patrol_id=str(patrol.id),
                                   grid_code=patrol.grid_code, started_at=patrol.started_at)
    return patrol_read(session, started)


@router.get("", response_model=PatrolPage)
def list_patrols(
    session: SessionDep, principal: PrincipalDep, grid_code: str | None = None, officer_code: str | None = None,
    since: datetime | None = None, until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100, offset: Annotated[int, Query(ge=0)] = 0,
) -> PatrolPage:
    """Patrols of grids in your jurisdiction, newest first."""
    total, rows = service.list_patrols(session=session, principal=principal, grid_code=grid_code,
                                       officer_code=officer_code, since=since, until=until, limit=limit, offset=offset)
    return PatrolPage(count=total, limit=limit, offset=offset, items=[
        PatrolSummary(id=p.id, grid_code=p.grid_code, officer_code=p.officer_code, status=p.status,
                      started_at=p.started_at, ended_at=p.ended_at, duration_s=p.duration_s, length_m=p.length_m,
                      coverage=_coverage(p), flag_count=len(p.flags or []))
        for p in rows
    ])


@router.get("/compliance", response_model=ComplianceRead)
def compliance(session: SessionDep, principal: PrincipalDep, on: date | None = None,
               town_code: str | None = None) -> ComplianceRead:
    """Whether each grid of your jurisdiction was patrolled enough in the rule's period ending ``on``."""
    on = on or date.today()
    rule, rows = service.compliance(session=session, principal=principal, on=on, town_code=town_code)
    grids = [GridCompliance(grid_code=code, last_patrolled_at=last, patrols_in_period=n, required=rule.min_patrols,
                            period_days=rule.period_days, compliant=n >= rule.min_patrols) for code, last, n in rows]
    return ComplianceRead(on=on, count=len(grids), compliant=sum(g.compliant for g in grids), grids=grids)


@router.post("/upload", response_model=PatrolRead, status_code=201)
def upload_track(
    session: SessionDep, principal: PrincipalDep, file: Annotated[UploadFile, File(description="GPX or GeoJSON")],
    grid_code: Annotated[str, Form(pattern=r"^[0-9A-Za-z_-]{1,32}$")],
    id: Annotated[UUID, Form(description="The patrol's id, made on the phone")],
) -> PatrolRead:
    """A whole patrol from a GPX or GeoJSON track recorded offline: started, ended and measured at once."""
    data = file.file.read(MAX_TRACK_FILE_BYTES + 1)
    if len(data) > MAX_TRACK_FILE_BYTES:
        raise TrackTooLarge(f"A track file may be at most {MAX_TRACK_FILE_BYTES // 1024 // 1024} MB.")
    fixes = read_track_file(data, filename=file.filename or "track")
    source = "gpx" if (file.filename or "").lower().endswith(".gpx") else "geojson"
    patrol = service.import_track(session=session, principal=principal, patrol_id=str(id), grid_code=grid_code,
                                  fixes=fixes, source=source)
    return patrol_read(session, patrol)


@router.get("/{patrol_id}", response_model=PatrolRead)
def get_patrol(session: SessionDep, principal: PrincipalDep, patrol_id: str) -> PatrolRead:
    return patrol_read(session, service.get_patrol(session=session, principal=principal, patrol_id=patrol_id))


@router.post("/{patrol_id}/fixes", response_model=TrackBatchRead, status_code=201)
def add_fixes(session: SessionDep, principal: PrincipalDep, patrol_id: str, batch: TrackBatchIn) -> TrackBatchRead:
    """Add one batch of GPS fixes; batches may arrive late and in any order, the track is put in time order."""
    limit = get_settings().batch_max_items
    if len(batch.fixes) > limit:
        raise TrackTooLarge(f"A batch holds at most {limit} fixes; this one has {len(batch.fixes)}.")
    payload = hashlib.sha256(batch.model_dump_json(exclude={"id"}).encode()).hexdigest()
    fixes = Fixes.from_arrays(
        [f.lon for f in batch.fixes], [f.lat for f in batch.fixes],
        [round(f.time.timestamp() * 1000) for f in batch.fixes],  # epoch milliseconds, UTC
        accuracy_m=[float("nan") if f.accuracy_m is None else f.accuracy_m for f in batch.fixes],
        speed_mps=[float("nan") if f.speed_mps is None else f.speed_mps for f in batch.fixes],
    )
    stored, patrol = service.add_fixes(session=session, principal=principal, patrol_id=patrol_id,
                                       batch_id=str(batch.id), fixes=fixes, payload_hash=payload)
    return TrackBatchRead(id=stored.id, patrol_id=patrol.id, fix_count=stored.fix_count,
                          patrol_fix_count=patrol.fix_count)


@router.put("/{patrol_id}/checks", response_model=PatrolRead)
def record_checks(session: SessionDep, principal: PrincipalDep, patrol_id: str, checks: ChecksIn) -> PatrolRead:
    """Answer checklist items (ok, problem, not_checked); answering again replaces the answer."""
    patrol = service.record_checks(session=session, principal=principal, patrol_id=patrol_id,
                                   answers=[(c.item_code, c.answer.value, c.note) for c in checks.answers])
    return patrol_read(session, patrol)


@router.post("/{patrol_id}/end", response_model=PatrolRead)
def end_patrol(session: SessionDep, principal: PrincipalDep, patrol_id: str, end: EndIn) -> PatrolRead:
    """End the patrol: length, duration, micro-grids visited, coverage per domain and flags are computed."""
    patrol = service.end_patrol(session=session, principal=principal, patrol_id=patrol_id, ended_at=end.ended_at)
    return patrol_read(session, patrol)
