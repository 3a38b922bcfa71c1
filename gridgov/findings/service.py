"""Reporting and reading findings: offline-safe creation in batches, locating, chiefs, duplicates, scoping.

A batch is all or nothing: every item is checked first and any bad item refuses the batch with one error
per bad item (its index, id and what is wrong), so a phone can fix and resend it. An item whose id is
already stored with the same content is a replay and answers the stored finding; with other content it
is a conflict (409).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import numpy as np
import shapely
from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.orm import Session

from gridgov.api_types import as_utc
from gridgov.audit.service import record, record_many
from gridgov.errors import Forbidden, GridGovError, NotFound
from gridgov.findings import intake
from gridgov.findings.duplicates import nearest_open
from gridgov.findings.models import CLOSED_STATES, Finding, FindingCategory, FindingPhoto
from gridgov.findings.photos import PhotoStore, check_photo, exif_mismatch
from gridgov.findings.routing import chiefs_in_office
from gridgov.findings.schemas import FindingIn, InputCrs
from gridgov.geo.crs import to_metric
from gridgov.geo.gcj02 import gcj02_to_wgs84
from gridgov.grids.locating import locator_for
from gridgov.grids.models import ResourceKind
from gridgov.grids.service import metric_epsg_of
from gridgov.patrols.models import Patrol
from gridgov.people.models import Role
from gridgov.people.principal import Principal
from gridgov.storage import memo
from gridgov.storage.db import insert_new

REPORTING_ROLES = (Role.OFFICER, Role.CHIEF, Role.SUPERVISOR, Role.ADMIN)
FUTURE_TOLERANCE = timedelta(minutes=5)
LAYER_OF_DOMAIN = {"river": ResourceKind.RIVER, "forest": ResourceKind.FOREST, "field": ResourceKind.FARMLAND}
_DEG_PER_M = 1 / 111_000  # only to widen a bounding box before measuring in metres


class BatchRejected(GridGovError):
    """Some items of a batch are bad; ``details`` has one entry per bad item, and nothing was stored."""

    status = 422
    code = "batch_rejected"


class BatchConflict(BatchRejected):
    """Some items reuse an id already stored with other content."""

    status = 409
    code = "id_conflict"


@dataclass(frozen=True)
class Submitted:
    """What a batch did: the findings in the order sent (stored rows, or the new rows as namespaces with
    the same attributes), and how many were replays of stored ones."""

    findings: list
    created: int
    replayed: int


def content_hash(item: FindingIn) -> str:
    """The fingerprint a replay must match: the submitted fields, canonically serialised."""
    canonical = json.dumps(item.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def visible(principal: Principal):
    """SQL condition: findings the principal may see (by village and domain, plus their own reports)."""
    scope = principal.jurisdiction
    if scope.county_wide:
        return Finding.county_code == principal.county_code
    by_area = [
        and_(Finding.domain == domain, Finding.village_code.in_(sorted(villages)))
        for domain, layer in LAYER_OF_DOMAIN.items()
        if (villages := scope.resource_villages.get(layer.value))
    ]
    return and_(Finding.county_code == principal.county_code, or_(Finding.reporter == principal.username, *by_area))


def get_finding(*, session: Session, principal: Principal, finding_id: str) -> Finding:
    finding = session.scalars(select(Finding).where(visible(principal), Finding.id == finding_id)).first()
    if finding is None:
        raise NotFound(f"No finding {finding_id} in your jurisdiction.")
    return finding


def _problem(index: int, item: FindingIn, message: str) -> dict:
    return {"index": index, "id": str(item.id), "message": message}


def _storage_coordinates(items: Sequence[FindingIn]) -> tuple[np.ndarray, np.ndarray]:
    lon = np.array([item.lon for item in items], dtype=float)
    lat = np.array([item.lat for item in items], dtype=float)
    gcj = np.array([item.crs is InputCrs.GCJ02 for item in items])
    if gcj.any():
        lon[gcj], lat[gcj] = gcj02_to_wgs84(lon[gcj], lat[gcj])
    return lon, lat


def _stored(session: Session, county_code: str, ids: list[str]) -> dict[str, Finding]:
    found: dict[str, Finding] = {}
    for start in range(0, len(ids), 1000):
        chunk = ids[start:start + 1000]
        found |= {f.id: f for f in session.scalars(
            select(Finding).where(Finding.county_code == county_code, Finding.id.in_(chunk)))}
    return found


def _categories(session: Session, county_code: str) -> dict[str, SimpleNamespace]:
    """The county's active categories (domain and duplicate radius by code), remembered a few seconds."""
    def load() -> dict[str, SimpleNamespace]:
        rows = session.execute(
            select(FindingCategory.code, FindingCategory.domain, FindingCategory.duplicate_radius_m)
            .where(FindingCategory.county_code == county_code, FindingCategory.active)
        ).all()
        return {code: SimpleNamespace(domain=domain, duplicate_radius_m=radius) for code, domain, radius in rows}

    return memo.remembered(("categories", str(session.get_bind().url), county_code), load)


def _open_near(session: Session, county_code: str, categories: set[str], lon: np.ndarray, lat: np.ndarray,
               margin_m: float) -> list[tuple[str, str, float, float]]:
    pad = margin_m * _DEG_PER_M / max(np.cos(np.radians(np.abs(lat).max())), 0.1)
    f = Finding.__table__.c  # a plain Core query: it runs on every report
    return session.execute(
        select(f.id, f.category_code, f.lon, f.lat).where(
            f.county_code == county_code, f.category_code.in_(sorted(categories)), f.status.not_in(CLOSED_STATES),
            f.lon.between(lon.min() - pad, lon.max() + pad), f.lat.between(lat.min() - pad, lat.max() + pad),
        )
    ).all()


def submit_findings(
    *, session: Session, principal: Principal, items: Sequence[FindingIn], now: datetime | None = None,
) -> Submitted:
    """Check, locate and store ``items`` (all or nothing), replaying those already stored unchanged.

    Ids come from phones and are almost always new, so the batch is first checked as if all were new and
    inserted with ``ON CONFLICT DO NOTHING``; the ids the database skipped are then loaded and compared:
    same content, a replay; other content, a conflict (409, and the transaction rolls back). Only when an
    item fails the checks are stored ids looked up first, since an item checked today may be the replay of
    one stored when it passed. Two requests replaying the same new id at once both pass the checks; the
    primary key lets one insert, and the other finds the stored finding: one record, both answered with it.
    """
    if not principal.has(*REPORTING_ROLES):
        raise Forbidden("Only officers, chiefs, supervisors and administrators report findings.")
    now = now or datetime.now(UTC)
    county = principal.county_code
    hashes = [content_hash(item) for item in items]
    repeated: list[dict] = []
    seen_ids: dict[str, int] = {}
    for index, item in enumerate(items):
        if str(item.id) in seen_ids:
            repeated.append(_problem(index, item, f"id repeats item {seen_ids[str(item.id)]} of this batch"))
        seen_ids.setdefault(str(item.id), index)
    stored: dict[str, Finding] = {}
    problems = list(repeated)
    rows = _new_rows(session, principal, items, hashes, list(range(len(items))), now, problems)
    if len(problems) > len(repeated):
        stored = _stored(session, county, list(seen_ids))
        _refuse_conflicts(items, hashes, stored)
        fresh = [i for i, item in enumerate(items) if str(item.id) not in stored]
        problems = list(repeated)
        rows = _new_rows(session, principal, [items[i] for i in fresh], [hashes[i] for i in fresh], fresh, now,
                         problems)
    if problems:
        problems.sort(key=lambda p: p["index"])
        raise BatchRejected(f"{len(problems)} item(s) of {len(items)} are invalid; nothing was stored.",
                            details=problems)
    events, notices = intake.dispatch_new(session=session, principal=principal, rows=rows, now=now)
    inserted = {finding_id for _county, finding_id in insert_new(session, Finding, rows)}
    intake.store_first_events(session=session, events=[e for e in events if e["finding_id"] in inserted],
                              notices=[n for n in notices if n["subject_id"] in inserted])
    # What was just inserted answers from memory (loading ten thousand rows back would cost more than
    # storing them); the ids the database skipped are stored already: loaded now, and compared.
    by_id: dict[str, object] = {r["id"]: SimpleNamespace(**r) for r in rows if r["id"] in inserted}
    by_id |= stored
    late = [i for i in seen_ids if i not in by_id]
    by_id |= _stored(session, county, late) if late else {}
    _refuse_conflicts(items, hashes, {i: f for i, f in by_id.items() if i not in inserted})
    record_many(session=session, principal=principal, action="report", object_type="finding",
                changes=[(r["id"], r["grid_code"], None, _audit_state(r)) for r in rows if r["id"] in inserted])
    return Submitted(findings=[by_id[str(item.id)] for item in items], created=len(inserted),
                     replayed=len(items) - len(inserted))


def _refuse_conflicts(items: Sequence[FindingIn], hashes: list[str], stored: dict[str, object]) -> None:
    """409 when any item's id is among ``stored`` with other content."""
    conflicts = [_problem(i, item, "this id is already stored with different content") for i, item in enumerate(items)
                 if str(item.id) in stored and stored[str(item.id)].content_hash != hashes[i]]
    if conflicts:
        raise BatchConflict(f"{len(conflicts)} item(s) reuse an id with different content; nothing was stored.",
                            details=conflicts)


def _audit_state(row: dict) -> dict:
    keys = ("category_code", "severity", "lon", "lat", "grid_code", "observed_at", "duplicate_of", "patrol_id")
    return {key: row[key] for key in keys}


def _new_rows(session: Session, principal: Principal, items: list[FindingIn], hashes: list[str],
              indexes: list[int], now: datetime, problems: list[dict]) -> list[dict]:
    """Rows to insert for the new items; problems with any of them are appended to ``problems``."""
    if not items:
        return []
    county = principal.county_code
    categories = _categories(session, county)
    lon, lat = _storage_coordinates(items)
    located = locator_for(session=session, county_code=county).codes(lon, lat)
    patrol_ids = {str(item.patrol_id) for item in items if item.patrol_id}
    patrols = set(session.scalars(select(Patrol.id).where(Patrol.county_code == county,
                                                           Patrol.id.in_(sorted(patrol_ids))))) if patrol_ids else set()
    micro_codes = located["micro_grid_code"]
    good = []
    for k, item in enumerate(items):
        index = indexes[k]
        before = len(problems)
        category = categories.get(item.category_code)
        if category is None:
            problems.append(_problem(index, item, f"unknown category {item.category_code!r}; "
                                                  "GET /api/v1/findings/categories lists them"))
        if item.observed_at > now + FUTURE_TOLERANCE:
            problems.append(_problem(index, item, f"observed_at {item.observed_at.isoformat()} is in the future"))
        micro = micro_codes[k]
        if not isinstance(micro, str):
            problems.append(_problem(index, item, f"point ({item.lon}, {item.lat}) lies outside the county"))
        elif not principal.jurisdiction.sees_unit(micro):
            problems.append(_problem(index, item, f"point ({item.lon}, {item.lat}) lies outside your jurisdiction"))
        if item.patrol_id and str(item.patrol_id) not in patrols:
            problems.append(_problem(index, item, f"no patrol {item.patrol_id} in your jurisdiction"))
        if len(problems) == before:
            good.append(k)
    if len(good) < len(items):
        return []
    metric_epsg = metric_epsg_of(session, county)
    xy = shapely.get_coordinates(to_metric(shapely.points(lon, lat), metric_epsg))
    item_categories = np.array([item.category_code for item in items], dtype=object)
    radius_of = {code: c.duplicate_radius_m for code, c in categories.items()}
    near = _open_near(session, county, set(item_categories), lon, lat, max(radius_of.values()))
    open_xy = (shapely.get_coordinates(to_metric(shapely.points([r[2] for r in near], [r[3] for r in near]),
                                                 metric_epsg)) if near else np.empty((0, 2)))
    duplicate = nearest_open(new_xy=xy, new_category=item_categories, open_xy=open_xy,
                             open_category=np.array([r[1] for r in near], dtype=object), radius_of=radius_of)
    chiefs = chiefs_in_office(session, county, now.date())
    points = shapely.points(lon, lat)
    rows = []
    for k, item in enumerate(items):
        domain = categories[item.category_code].domain
        codes = {name: values[k] for name, values in located.items()}
        answerable = {}
        for level, unit in (("village", codes["village_code"]), ("town", codes["town_code"]), ("county", county)):
            if (unit, domain) in chiefs:
                answerable[level] = chiefs[(unit, domain)]
        dup = int(duplicate[k])
        duplicate_of = None if dup < 0 else (near[dup][0] if dup < len(near) else str(items[dup - len(near)].id))
        rows.append({
            "county_code": county, "id": str(item.id), "domain": domain, "category_code": item.category_code,
            "severity": item.severity.value, "description": item.description, "status": "reported",
            "observed_at": item.observed_at.astimezone(UTC), "received_at": now, "reporter": principal.username,
            "patrol_id": str(item.patrol_id) if item.patrol_id else None, "geom": points[k],
            "lon": float(lon[k]), "lat": float(lat[k]), "gcj02_input": item.crs is InputCrs.GCJ02, **codes,
            "chiefs": answerable, "duplicate_of": duplicate_of,
            "flags": ["possible_duplicate"] if duplicate_of else [], "content_hash": hashes[k],
        })
    return rows


def list_findings(
    *, session: Session, principal: Principal, grid_code: str | None = None, village_code: str | None = None,
    town_code: str | None = None, domain: str | None = None, category_code: str | None = None,
    status: str | None = None, since: datetime | None = None, until: datetime | None = None,
    bbox: tuple[float, float, float, float] | None = None, limit: int = 100, offset: int = 0,
) -> tuple[int, list[Finding]]:
    """Visible findings matching every filter given, newest observation first, and how many match."""
    where = [visible(principal)]
    for column, value in ((Finding.grid_code, grid_code), (Finding.village_code, village_code),
                          (Finding.town_code, town_code), (Finding.domain, domain),
                          (Finding.category_code, category_code), (Finding.status, status)):
        if value is not None:
            where.append(column == value)
    if since is not None:
        where.append(Finding.observed_at >= as_utc(since))  # stored in UTC; SQLite compares text
    if until is not None:
        where.append(Finding.observed_at < as_utc(until))
    if bbox is not None:
        x0, y0, x1, y1 = bbox
        where.append(and_(Finding.lon.between(x0, x1), Finding.lat.between(y0, y1)) if x0 <= x1 and y0 <= y1
                     else false())
    total = session.scalar(select(func.count()).select_from(Finding).where(*where))
    rows = session.scalars(select(Finding).where(*where).order_by(Finding.observed_at.desc(), Finding.id)
                           .limit(limit).offset(offset)).all()
    return total, list(rows)


def attach_photo(
    *, session: Session, principal: Principal, finding_id: str, data: bytes, store: PhotoStore,
    max_bytes: int, now: datetime | None = None,
) -> FindingPhoto:
    """Check ``data`` as a photo of the finding, store it by content hash, and flag an EXIF mismatch.

    Sending the same photo twice answers the stored one: the hash is the photo's identity.
    """
    if not principal.has(*REPORTING_ROLES):
        raise Forbidden("Only officers, chiefs, supervisors and administrators add photos to findings.")
    finding = get_finding(session=session, principal=principal, finding_id=finding_id)
    info = check_photo(data, max_bytes=max_bytes)
    existing = session.get(FindingPhoto, (finding.county_code, finding.id, info.sha256))
    if existing is not None:
        return existing
    key = store.put(data, info)
    mismatches = exif_mismatch(info, finding_time=as_utc(finding.observed_at), finding_lon=finding.lon,
                               finding_lat=finding.lat)
    photo = FindingPhoto(
        county_code=finding.county_code, finding_id=finding.id, sha256=info.sha256, storage_key=key,
        media_type=info.mime_type, width=info.width, height=info.height, size_bytes=info.byte_size,
        taken_at=info.taken_at, exif_lon=info.gps[0] if info.gps else None,
        exif_lat=info.gps[1] if info.gps else None, flags=mismatches, uploaded_by=principal.username,
        uploaded_at=now or datetime.now(UTC),
    )
    session.add(photo)
    if mismatches and "photo_mismatch" not in (finding.flags or []):
        finding.flags = [*(finding.flags or []), "photo_mismatch"]
    session.flush()
    record(session=session, principal=principal, action="add_photo", object_type="finding", object_id=finding.id,
           unit_code=finding.grid_code, after={"sha256": info.sha256, "media_type": info.mime_type,
                                               "flags": mismatches})
    return photo


def photos_of(*, session: Session, finding: Finding) -> list[FindingPhoto]:
    return list(session.scalars(
        select(FindingPhoto).where(FindingPhoto.county_code == finding.county_code,
                                   FindingPhoto.finding_id == finding.id).order_by(FindingPhoto.uploaded_at)
    ))
