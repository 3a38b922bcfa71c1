"""Patrols: start one on your grid, send GPS fixes in any order (offline-safe), answer the three
checklists, end it; metrics, coverage and suspicious-track flags are computed when it ends, and again
when a late batch arrives afterwards.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import Session

from gridgov.api_types import as_utc
from gridgov.audit.service import record
from gridgov.config import get_settings
from gridgov.errors import Conflict, Forbidden, GridGovError, InvalidParameter, NotFound
from gridgov.geo.coverage import coverage
from gridgov.geo.crs import to_metric
from gridgov.grids.locating import locator_for
from gridgov.grids.models import Level, ResourceKind, Unit
from gridgov.grids.service import metric_epsg_of
from gridgov.patrols.checklists import DOMAIN_OF_RESOURCE, grid_resources, items_for
from gridgov.patrols.models import ChecklistItem, Patrol, PatrolCheck, PatrolRule, PatrolStatus, TrackBatch, TrackFix
from gridgov.patrols.tracks import Fixes, FlagKind, TrackTooLarge, flag_track, metric_xy, track_metrics, validate_fixes
from gridgov.people.assignments import in_force
from gridgov.people.models import OfficerAssignment, Role
from gridgov.people.principal import Principal
from gridgov.storage import bulk
from gridgov.storage.db import insert_new

COUNTY_PAD_M = 1000.0  # fixes this far past the county's bounding box are GPS noise, not a broken track


class InvalidPatrol(GridGovError):
    status = 422
    code = "invalid_patrol"


def content_hash(payload: dict) -> str:
    """The fingerprint a replayed submission must match: its fields, canonically serialised."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else as_utc(moment)


def visible(principal: Principal):
    """SQL condition: patrols of grids in the principal's jurisdiction, and their own."""
    where = Patrol.county_code == principal.county_code
    if principal.jurisdiction.county_wide:
        return where
    return and_(where, or_(Patrol.grid_code.in_(sorted(principal.jurisdiction.units)),
                           Patrol.username == principal.username))


def get_patrol(*, session: Session, principal: Principal, patrol_id: str) -> Patrol:
    patrol = session.scalars(select(Patrol).where(visible(principal), Patrol.id == patrol_id)).first()
    if patrol is None:
        raise NotFound(f"No patrol {patrol_id} in your jurisdiction.")
    return patrol


def _own(principal: Principal, patrol: Patrol) -> None:
    if patrol.username != principal.username:
        raise Forbidden(f"Patrol {patrol.id} is {patrol.username}'s; only they may add to it.")


def _officer_grid(session: Session, principal: Principal, grid_code: str, on: date) -> Unit:
    """The grid, when the principal is its officer on ``on``: 404 outside the jurisdiction, 403 otherwise."""
    grid = session.get(Unit, (principal.county_code, grid_code)) if principal.jurisdiction.sees_unit(grid_code) \
        else None
    if grid is None or grid.level != Level.GRID:
        raise NotFound(f"No grid {grid_code} in your jurisdiction.")
    holds = principal.person_code is not None and session.scalar(
        select(func.count()).select_from(OfficerAssignment).where(
            OfficerAssignment.county_code == principal.county_code, OfficerAssignment.grid_code == grid_code,
            OfficerAssignment.officer_code == principal.person_code, in_force(OfficerAssignment, on)))
    if not holds:
        raise Forbidden(f"Only the officer of grid {grid_code} patrols it (一人一格).")
    return grid


def _replayed(session: Session, principal: Principal, patrol_id: str, content: str) -> Patrol:
    """The stored patrol this start repeats, or 409 when the id holds another patrol (or one not theirs)."""
    existing = session.get(Patrol, (principal.county_code, patrol_id), populate_existing=True)
    if existing is None or existing.content_hash != content or existing.username != principal.username:
        raise Conflict(f"Patrol id {patrol_id} is already stored with different content.")
    return existing


def start_patrol(*, session: Session, principal: Principal, patrol_id: str, grid_code: str,
                 started_at: datetime, source: str = "live") -> Patrol:
    """Start a patrol on one's own grid; the same id and content again answers the stored patrol."""
    if not principal.has(Role.OFFICER):
        raise Forbidden("Only grid officers start patrols.")
    content = content_hash({"grid_code": grid_code, "started_at": started_at.astimezone(UTC).isoformat(),
                     "source": source})
    if session.get(Patrol, (principal.county_code, patrol_id)) is not None:
        return _replayed(session, principal, patrol_id, content)
    if started_at > datetime.now(UTC) + timedelta(minutes=5):
        raise InvalidPatrol(f"started_at {started_at.isoformat()} is in the future.")
    started_at = started_at.astimezone(UTC)  # SQLite keeps no offset: every stored moment is UTC
    grid = _officer_grid(session, principal, grid_code, started_at.date())
    row = {"county_code": principal.county_code, "id": patrol_id, "grid_code": grid.code,
           "officer_code": principal.person_code, "username": principal.username, "status": PatrolStatus.OPEN.value,
           "source": source, "started_at": started_at, "content_hash": content, "fix_count": 0}
    if not insert_new(session, Patrol, [row]):  # a concurrent request stored this id first
        return _replayed(session, principal, patrol_id, content)
    patrol = session.get(Patrol, (principal.county_code, patrol_id))
    record(session=session, principal=principal, action="start", object_type="patrol", object_id=patrol_id,
           unit_code=grid.code, after={"grid_code": grid.code, "started_at": started_at, "source": source})
    return patrol


def add_fixes(*, session: Session, principal: Principal, patrol_id: str, batch_id: str, fixes: Fixes,
              payload_hash: str) -> tuple[TrackBatch, Patrol]:
    """Store one batch of fixes (any order, possibly late); the same batch id and content is a replay."""
    patrol = get_patrol(session=session, principal=principal, patrol_id=patrol_id)
    _own(principal, patrol)
    existing = session.get(TrackBatch, (principal.county_code, batch_id))
    if existing is not None:
        if existing.content_hash != payload_hash or existing.patrol_id != patrol_id:
            raise Conflict(f"Track batch id {batch_id} is already stored with different content.")
        return existing, patrol
    settings = get_settings()
    if patrol.fix_count + len(fixes) > settings.track_max_fixes:
        raise TrackTooLarge(f"This batch would bring patrol {patrol_id} to {patrol.fix_count + len(fixes)} fixes; "
                            f"the limit is {settings.track_max_fixes} fixes per patrol.")
    validate_fixes(fixes, max_fixes=settings.track_max_fixes, min_fixes=1,
                   county_bbox=_county_bbox(session, principal.county_code))
    batch = TrackBatch(county_code=principal.county_code, id=batch_id, patrol_id=patrol_id,
                       content_hash=payload_hash, fix_count=len(fixes), received_at=datetime.now(UTC))
    session.add(batch)
    session.flush()
    moments = pd.to_datetime(fixes.t, utc=True).to_pydatetime()
    bulk.insert_rows(session, TrackFix.__table__, [
        {"county_code": principal.county_code, "batch_id": batch_id, "seq": i, "patrol_id": patrol_id, "t": t,
         "lon": lon, "lat": lat, "accuracy_m": _number(accuracy), "speed_mps": _number(speed)}
        for i, (t, lon, lat, accuracy, speed) in enumerate(zip(
            moments, fixes.lon.tolist(), fixes.lat.tolist(), fixes.accuracy_m.tolist(), fixes.speed_mps.tolist(),
            strict=True))
    ])
    patrol.fix_count += len(fixes)
    if patrol.status == PatrolStatus.ENDED:
        measure(session=session, patrol=patrol)
    session.flush()
    record(session=session, principal=principal, action="add_fixes", object_type="patrol", object_id=patrol_id,
           unit_code=patrol.grid_code, after={"batch_id": batch_id, "fixes": len(fixes),
                                              "patrol_fixes": patrol.fix_count})
    return batch, patrol


def _moment(t: np.datetime64) -> datetime:
    """A fix time (UTC ``datetime64``) as an aware datetime."""
    return datetime.fromtimestamp(int(t.astype("datetime64[ms]").astype("int64")) / 1000, UTC)


def _number(value: float) -> float | None:
    return None if value != value else value  # NaN: not reported


def _county_bbox(session: Session, county_code: str) -> tuple[float, float, float, float]:
    # From the county-wide partition: the county unit itself lies outside most callers' jurisdiction.
    x0, y0, x1, y1 = shapely.total_bounds(locator_for(session=session, county_code=county_code).polys)
    pad_lat = COUNTY_PAD_M / 111_000
    pad_lon = pad_lat / max(np.cos(np.radians(max(abs(y0), abs(y1)))), 0.1)
    return x0 - pad_lon, y0 - pad_lat, x1 + pad_lon, y1 + pad_lat


def stored_fixes(*, session: Session, patrol: Patrol) -> tuple[Fixes, np.ndarray]:
    """The patrol's fixes in the order received (batch by batch, each in its own order), and the index
    of each batch's first fix: a batch may arrive late, so only times going back inside one batch are
    out of order."""
    rows = session.execute(
        select(TrackFix.lon, TrackFix.lat, TrackFix.t, TrackFix.accuracy_m, TrackFix.speed_mps, TrackFix.seq)
        .join(TrackBatch, (TrackBatch.county_code == TrackFix.county_code) & (TrackBatch.id == TrackFix.batch_id))
        .where(TrackFix.county_code == patrol.county_code, TrackFix.patrol_id == patrol.id)
        .order_by(TrackBatch.received_at, TrackBatch.id, TrackFix.seq)
    ).all()
    if not rows:
        return Fixes.from_arrays([], [], np.array([], dtype="datetime64[ms]")), np.zeros(0, dtype=np.int64)
    lon, lat, t, accuracy, speed, seq = zip(*rows, strict=True)
    # Naive moments (SQLite) are UTC, as stored.
    stamps = pd.to_datetime(list(t), utc=True).tz_localize(None).to_numpy("datetime64[ms]")
    fixes = Fixes.from_arrays(np.array(lon), np.array(lat), stamps,
                              accuracy_m=np.array([np.nan if a is None else a for a in accuracy]),
                              speed_mps=np.array([np.nan if s is None else s for s in speed]))
    return fixes, np.flatnonzero(np.array(seq) == 0)


def measurements(*, received: Fixes, batch_starts: np.ndarray, grid_metric: shapely.Geometry,
                 resources_metric: dict, epsg: int, started_at: datetime, ended_at: datetime | None,
                 now: datetime, settings) -> dict:
    """A patrol's measured columns from its fixes as received, without the database: the track (time
    order), fix count, length and duration, coverage per domain of the grid's resources (``to_metric``
    geometries by ``ResourceKind``) and the suspicious-track flags. The micro-grids visited need the
    locator and are left to the caller. The live service and the demo seeder both measure through here.
    """
    ordered = received.sorted_by_time()
    flags = [
        {"kind": f.kind.value, "index": f.index, "message": f.message}
        for f in flag_track(received, grid_metric_geometry=grid_metric, metric_epsg=epsg, now=now,
                            started_at=started_at, ended_at=ended_at, max_speed_kmh=settings.max_speed_kmh,
                            max_outside_m=settings.max_outside_m)
        if not (f.kind == FlagKind.OUT_OF_ORDER and f.index in batch_starts)
    ] if len(received) else []
    if len(ordered) < 2:
        flags.append({"kind": "no_track", "index": None, "message": "Fewer than two GPS fixes: nothing to measure."})
        return {"track": None, "fix_count": len(received), "length_m": 0.0 if len(ordered) else None,
                "duration_s": (ended_at - started_at).total_seconds() if ended_at else None, "flags": flags,
                "coverage_river": None, "coverage_forest": None, "coverage_farmland": None,
                "min_x": None, "min_y": None, "max_x": None, "max_y": None}
    metrics = track_metrics(ordered, metric_epsg=epsg)
    shares = coverage(metric_xy(ordered, epsg), rivers=resources_metric.get(ResourceKind.RIVER, []),
                      forests=resources_metric.get(ResourceKind.FOREST, []),
                      farmland=resources_metric.get(ResourceKind.FARMLAND, []),
                      river_distance=settings.river_coverage_m, area_distance=settings.area_coverage_m)
    line = shapely.linestrings(np.column_stack([ordered.lon, ordered.lat]))
    min_x, min_y, max_x, max_y = (float(v) for v in line.bounds)
    return {"track": line, "fix_count": len(received), "length_m": metrics.length_m,
            "duration_s": metrics.duration_s, "flags": flags, "coverage_river": shares.river,
            "coverage_forest": shares.forest, "coverage_farmland": shares.farmland,
            "min_x": min_x, "min_y": min_y, "max_x": max_x, "max_y": max_y}


def measure(*, session: Session, patrol: Patrol, now: datetime | None = None) -> None:
    """Compute the patrol's track, length, duration, micro-grids visited, coverage and flags."""
    received, batch_starts = stored_fixes(session=session, patrol=patrol)
    epsg = metric_epsg_of(session, patrol.county_code)
    grid = session.get(Unit, (patrol.county_code, patrol.grid_code))
    resources = grid_resources(session=session, county_code=patrol.county_code, grid=grid)
    columns = measurements(
        received=received, batch_starts=batch_starts, grid_metric=to_metric(grid.geom, epsg),
        resources_metric={kind: to_metric(np.array(geoms, dtype=object), epsg) for kind, geoms in resources.items()},
        epsg=epsg, started_at=_utc(patrol.started_at), ended_at=_utc(patrol.ended_at),
        now=now or datetime.now(UTC), settings=get_settings(),
    )
    visited = []
    if columns["track"] is not None:
        ordered = received.sorted_by_time()
        located = locator_for(session=session, county_code=patrol.county_code).locate(ordered.lon, ordered.lat)
        visited = sorted({code for code in located["micro_grid_code"] if isinstance(code, str)})
    for name, value in columns.items():
        setattr(patrol, name, value)
    patrol.micro_grids = visited


def end_patrol(*, session: Session, principal: Principal, patrol_id: str, ended_at: datetime) -> Patrol:
    """End the patrol and measure it; ending again at the same moment answers the ended patrol."""
    patrol = get_patrol(session=session, principal=principal, patrol_id=patrol_id)
    _own(principal, patrol)
    if patrol.status == PatrolStatus.ENDED:
        if _utc(patrol.ended_at) != ended_at.astimezone(UTC):
            raise Conflict(f"Patrol {patrol_id} already ended at {_utc(patrol.ended_at).isoformat()}.")
        return patrol
    if ended_at < _utc(patrol.started_at):
        raise InvalidPatrol(f"The patrol cannot end ({ended_at.isoformat()}) before it started "
                            f"({_utc(patrol.started_at).isoformat()}).")
    if ended_at > datetime.now(UTC) + timedelta(minutes=5):
        raise InvalidPatrol(f"ended_at {ended_at.isoformat()} is in the future.")
    patrol.status, patrol.ended_at = PatrolStatus.ENDED.value, ended_at.astimezone(UTC)
    measure(session=session, patrol=patrol)
    session.flush()
    record(session=session, principal=principal, action="end", object_type="patrol", object_id=patrol_id,
           unit_code=patrol.grid_code, after={"ended_at": ended_at, "length_m": patrol.length_m,
                                              "duration_s": patrol.duration_s, "flags": len(patrol.flags or [])})
    return patrol


def checklist(*, session: Session, patrol: Patrol) -> list[tuple[ChecklistItem, PatrolCheck | None]]:
    """The items of the lists that apply to the patrol's grid, each with its answer so far."""
    grid = session.get(Unit, (patrol.county_code, patrol.grid_code))
    domains = {DOMAIN_OF_RESOURCE[kind] for kind in grid_resources(session=session, county_code=patrol.county_code,
                                                                    grid=grid)}
    answers = {c.item_code: c for c in session.scalars(select(PatrolCheck).where(
        PatrolCheck.county_code == patrol.county_code, PatrolCheck.patrol_id == patrol.id))}
    return [(item, answers.get(item.code)) for item in items_for(session=session, county_code=patrol.county_code,
                                                                domains=domains)]


def record_checks(*, session: Session, principal: Principal, patrol_id: str,
                  answers: list[tuple[str, str, str | None]]) -> Patrol:
    """Set answers ``(item_code, answer, note)``; items that do not apply to the grid are refused (422)."""
    patrol = get_patrol(session=session, principal=principal, patrol_id=patrol_id)
    _own(principal, patrol)
    applicable = {item.code for item, _answer in checklist(session=session, patrol=patrol)}
    unknown = sorted({code for code, _a, _n in answers} - applicable)
    if unknown:
        raise InvalidPatrol(f"Checklist items {', '.join(unknown)} do not apply to grid {patrol.grid_code}.",
                            details=[{"item_code": code} for code in unknown])
    codes = [code for code, _a, _n in answers]
    if len(set(codes)) != len(codes):
        raise InvalidParameter("Each checklist item may be answered once per request.")
    session.execute(delete(PatrolCheck).where(PatrolCheck.county_code == patrol.county_code,
                                              PatrolCheck.patrol_id == patrol.id, PatrolCheck.item_code.in_(codes)))
    session.add_all(PatrolCheck(county_code=patrol.county_code, patrol_id=patrol.id, item_code=code, answer=answer,
                                note=note) for code, answer, note in answers)
    session.flush()
    record(session=session, principal=principal, action="check", object_type="patrol", object_id=patrol_id,
           unit_code=patrol.grid_code, after={code: answer for code, answer, _note in answers})
    return patrol


def import_track(*, session: Session, principal: Principal, patrol_id: str, grid_code: str, fixes: Fixes,
                 source: str) -> Patrol:
    """A whole patrol from a GPX or GeoJSON file: started and ended at its first and last fix, measured."""
    validate_fixes(fixes, max_fixes=get_settings().track_max_fixes)  # a file is a whole track: two fixes at least
    ordered = fixes.sorted_by_time()
    started, ended = _moment(ordered.t[0]), _moment(ordered.t[-1])
    start_patrol(session=session, principal=principal, patrol_id=patrol_id, grid_code=grid_code,
                          started_at=started, source=source)
    payload = content_hash({"lon": fixes.lon.tolist(), "lat": fixes.lat.tolist(),
                     "t": fixes.t.astype("datetime64[ms]").astype("int64").tolist()})
    batch_id = str(uuid.uuid5(uuid.UUID(patrol_id), "file"))
    add_fixes(session=session, principal=principal, patrol_id=patrol_id, batch_id=batch_id, fixes=fixes,
              payload_hash=payload)
    return end_patrol(session=session, principal=principal, patrol_id=patrol_id, ended_at=ended)


def list_patrols(*, session: Session, principal: Principal, grid_code: str | None = None,
                 officer_code: str | None = None, since: datetime | None = None, until: datetime | None = None,
                 limit: int = 100, offset: int = 0) -> tuple[int, list[Patrol]]:
    where = [visible(principal)]
    if grid_code is not None:
        where.append(Patrol.grid_code == grid_code)
    if officer_code is not None:
        where.append(Patrol.officer_code == officer_code)
    if since is not None:
        where.append(Patrol.started_at >= as_utc(since))  # stored in UTC; SQLite compares text
    if until is not None:
        where.append(Patrol.started_at < as_utc(until))
    total = session.scalar(select(func.count()).select_from(Patrol).where(*where))
    rows = session.scalars(select(Patrol).where(*where).order_by(Patrol.started_at.desc(), Patrol.id)
                           .limit(limit).offset(offset)).all()
    return total, list(rows)


def compliance(*, session: Session, principal: Principal, on: date, town_code: str | None = None):
    """Per visible grid: last patrol, ended patrols meeting the grid rule within its period, compliant."""
    county = principal.county_code
    rule = session.get(PatrolRule, (county, Level.GRID.value))
    if rule is None:
        raise NotFound("The county has no patrol rule for grids.")
    grid_where = [Unit.county_code == county, Unit.level == Level.GRID.value]
    if not principal.jurisdiction.county_wide:
        grid_where.append(Unit.code.in_(sorted(principal.jurisdiction.units)))
    if town_code is not None:
        villages = select(Unit.code).where(Unit.county_code == county, Unit.parent_code == town_code)
        grid_where.append(Unit.parent_code.in_(villages))
    grids = list(session.scalars(select(Unit.code).where(*grid_where).order_by(Unit.code)))
    end = datetime.combine(on + timedelta(days=1), datetime.min.time(), UTC)
    start = end - timedelta(days=rule.period_days)
    last = dict(session.execute(
        select(Patrol.grid_code, func.max(Patrol.ended_at)).where(
            Patrol.county_code == county, Patrol.status == PatrolStatus.ENDED.value, Patrol.ended_at < end)
        .group_by(Patrol.grid_code)).all())
    counted = dict(session.execute(
        select(Patrol.grid_code, func.count()).where(
            Patrol.county_code == county, Patrol.status == PatrolStatus.ENDED.value, Patrol.ended_at >= start,
            Patrol.ended_at < end, Patrol.duration_s >= rule.min_minutes * 60, Patrol.length_m >= rule.min_km * 1000)
        .group_by(Patrol.grid_code)).all())
    return rule, [(code, _utc(last.get(code)), counted.get(code, 0)) for code in grids]
