"""HTTP routes of findings: report one or a batch, list with filters (JSON or GeoJSON), photos."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse

from gridgov.config import get_settings
from gridgov.errors import GridGovError, InvalidParameter
from gridgov.findings import service, taxonomy
from gridgov.findings.models import Finding, FindingPhoto
from gridgov.findings.photos import PhotoNotFound, PhotoStore, PhotoTooLarge, read_limited
from gridgov.findings.schemas import (
    CategoryIn,
    CategoryRead,
    FindingBatchIn,
    FindingBatchRead,
    FindingIn,
    FindingPage,
    FindingRead,
    PhotoRead,
)
from gridgov.people.auth import PrincipalDep
from gridgov.storage.session import SessionDep

router = APIRouter(prefix="/api/v1/findings", tags=["findings"])
CODE = r"^[a-z][a-z0-9_]{0,31}$"


class TooManyItems(GridGovError):
    status = 413
    code = "too_many_items"


def finding_read(finding: Finding) -> FindingRead:
    return FindingRead(
        id=finding.id, domain=finding.domain, category_code=finding.category_code, severity=finding.severity,
        description=finding.description, status=finding.status, observed_at=finding.observed_at,
        received_at=finding.received_at, reporter=finding.reporter, patrol_id=finding.patrol_id, lon=finding.lon,
        lat=finding.lat, micro_grid_code=finding.micro_grid_code, grid_code=finding.grid_code,
        village_code=finding.village_code, town_code=finding.town_code, chiefs=finding.chiefs or {},
        duplicate_of=finding.duplicate_of, flags=finding.flags or [], version=finding.version,
        owner_level=finding.owner_level, owner_unit=finding.owner_unit, owner_person=finding.owner_person,
        accept_due=finding.accept_due, resolve_due=finding.resolve_due,
        escalated_to=finding.escalated_to, closed_at=finding.closed_at,
    )


def photo_read(photo: FindingPhoto) -> PhotoRead:
    return PhotoRead(
        sha256=photo.sha256, media_type=photo.media_type, width=photo.width, height=photo.height,
        size_bytes=photo.size_bytes, taken_at=photo.taken_at, flags=photo.flags or [],
        href=f"/api/v1/findings/{photo.finding_id}/photos/{photo.sha256}",
    )


def photo_store() -> PhotoStore:
    return PhotoStore(get_settings().photo_root)


@router.get("/categories", response_model=list[CategoryRead])
def list_categories(session: SessionDep, principal: PrincipalDep) -> list[CategoryRead]:
    """The county's finding categories per domain, with the radius used to spot duplicates."""
    return [CategoryRead.model_validate(c) for c in taxonomy.categories(session=session,
                                                                        county_code=principal.county_code)]


@router.put("/categories/{code}", response_model=CategoryRead)
def save_category(session: SessionDep, principal: PrincipalDep, code: Annotated[str, Path(pattern=CODE)],
                  category: CategoryIn) -> CategoryRead:
    """Create or change a category of the county's taxonomy (county-wide administrators)."""
    saved = taxonomy.save_category(session=session, principal=principal, code=code, domain=category.domain,
                                   fields=category.model_dump(exclude={"domain"}))
    return CategoryRead.model_validate(saved)


@router.post("", response_model=FindingRead, status_code=201)
def report_finding(session: SessionDep, principal: PrincipalDep, finding: FindingIn) -> FindingRead:
    """Report one finding. Sending the same id and content again answers the stored finding."""
    submitted = service.submit_findings(session=session, principal=principal, items=[finding])
    return finding_read(submitted.findings[0])


@router.post("/batch", response_model=FindingBatchRead, status_code=201)
def report_findings(session: SessionDep, principal: PrincipalDep, batch: FindingBatchIn) -> FindingBatchRead:
    """Report up to ``GRIDGOV_BATCH_MAX_ITEMS`` findings, all or nothing (422 lists every bad item)."""
    limit = get_settings().batch_max_items
    if len(batch.items) > limit:
        raise TooManyItems(f"A batch holds at most {limit} findings; this one has {len(batch.items)}.")
    submitted = service.submit_findings(session=session, principal=principal, items=batch.items)
    return FindingBatchRead(count=len(submitted.findings), created=submitted.created, replayed=submitted.replayed,
                            items=[finding_read(f) for f in submitted.findings])


def _bbox(text: str | None) -> tuple[float, float, float, float] | None:
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4:
        raise InvalidParameter(f"bbox must be four numbers minLon,minLat,maxLon,maxLat, not {text!r}.")
    return values


@router.get("", response_model=FindingPage)
def list_findings(
    session: SessionDep,
    principal: PrincipalDep,
    grid_code: str | None = None,
    village_code: str | None = None,
    town_code: str | None = None,
    domain: Literal["river", "forest", "field"] | None = None,
    category_code: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    bbox: Annotated[str | None, Query(description="minLon,minLat,maxLon,maxLat (CGCS2000)")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
    f: Annotated[Literal["json", "geojson"], Query(description="json (default) or geojson")] = "json",
):
    """Findings in your jurisdiction, newest first; ``f=geojson`` answers a GeoJSON FeatureCollection."""
    total, rows = service.list_findings(
        session=session, principal=principal, grid_code=grid_code, village_code=village_code, town_code=town_code,
        domain=domain, category_code=category_code, status=status, since=since, until=until, bbox=_bbox(bbox),
        limit=limit, offset=offset,
    )
    items = [finding_read(f) for f in rows]
    if f == "geojson":
        features = [
            {"type": "Feature", "id": item.id, "geometry": {"type": "Point", "coordinates": [item.lon, item.lat]},
             "properties": item.model_dump(mode="json", exclude={"lon", "lat"})}
            for item in items
        ]
        collection = {"type": "FeatureCollection", "numberMatched": total, "numberReturned": len(items),
                      "features": features}
        return JSONResponse(collection, media_type="application/geo+json")
    return FindingPage(count=total, limit=limit, offset=offset, items=items)


@router.get("/{finding_id}", response_model=FindingRead)
def get_finding(session: SessionDep, principal: PrincipalDep, finding_id: str) -> FindingRead:
    return finding_read(service.get_finding(session=session, principal=principal, finding_id=finding_id))


@router.get("/{finding_id}/photos", response_model=list[PhotoRead])
def list_photos(session: SessionDep, principal: PrincipalDep, finding_id: str) -> list[PhotoRead]:
    finding = service.get_finding(session=session, principal=principal, finding_id=finding_id)
    return [photo_read(p) for p in service.photos_of(session=session, finding=finding)]


@router.post("/{finding_id}/photos", response_model=PhotoRead, status_code=201)
async def add_photo(request: Request, session: SessionDep, principal: PrincipalDep, finding_id: str) -> PhotoRead:
    """Attach a photo sent as the raw request body (``Content-Type: image/jpeg``, ``image/png`` or
    ``image/webp``). The size limit is enforced while the body streams in, before it is all read."""
    max_bytes = get_settings().photo_max_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise PhotoTooLarge(f"The photo is {int(declared)} bytes; the limit is {max_bytes} bytes "
                            f"({max_bytes / 1024 / 1024:.0f} MB).")
    data = await read_limited(request.stream(), max_bytes=max_bytes)
    photo = await run_in_threadpool(
        service.attach_photo, session=session, principal=principal, finding_id=finding_id, data=data,
        store=photo_store(), max_bytes=max_bytes,
    )
    return photo_read(photo)


@router.get("/{finding_id}/photos/{sha256}")
def get_photo(session: SessionDep, principal: PrincipalDep, finding_id: str, sha256: str) -> FileResponse:
    """The photo itself, to whoever may see its finding."""
    finding = service.get_finding(session=session, principal=principal, finding_id=finding_id)
    photo = session.get(FindingPhoto, (finding.county_code, finding.id, sha256))
    if photo is None:
        raise PhotoNotFound(f"Finding {finding_id} has no photo {sha256}.")
    path = photo_store().path(photo.storage_key)
    if not path.is_file():  # recorded but not on this server's disk (a moved GRIDGOV_PHOTO_ROOT): 404, not 500
        raise PhotoNotFound(f"The file of photo {sha256} is missing from the photo store.")
    return FileResponse(path, media_type=photo.media_type)
