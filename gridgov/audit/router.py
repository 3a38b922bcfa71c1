"""HTTP route of the audit log: read-only, for supervisors and admins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from gridgov.audit.schemas import MAX_LIMIT, AuditPage
from gridgov.audit.service import query
from gridgov.people.auth import require
from gridgov.people.models import Role
from gridgov.people.principal import Principal
from gridgov.storage.session import SessionDep

router = APIRouter(prefix="/api/v1", tags=["audit"])


AuditorDep = Annotated[Principal, Depends(require(Role.SUPERVISOR, Role.ADMIN))]


@router.get("/audit", response_model=AuditPage)
def list_audit(
    session: SessionDep,
    principal: AuditorDep,
    actor: Annotated[str | None, Query(max_length=64, description="Username, or cli:<OS user>")] = None,
    object_type: Annotated[str | None, Query(max_length=32)] = None,
    object_id: Annotated[str | None, Query(max_length=128)] = None,
    action: Annotated[str | None, Query(max_length=32)] = None,
    since: Annotated[datetime | None, Query(description="From this moment, inclusive (no zone: UTC)")] = None,
    until: Annotated[datetime | None, Query(description="Before this moment, exclusive (no zone: UTC)")] = None,
    limit: Annotated[int, Query(ge=1, description=f"Records per page, at most {MAX_LIMIT}")] = 100,
    before_id: Annotated[str | None, Query(pattern="^[0-9a-f]{32}$", description="A page's `next`")] = None,
) -> AuditPage:
    """Audit records of your jurisdiction, newest first; follow ``next`` as ``before_id`` for older ones."""
    limit = min(limit, MAX_LIMIT)
    records = query(
        session=session, principal=principal, actor=actor, object_type=object_type, object_id=object_id,
        action=action, since=since, until=until, limit=limit + 1, before_id=before_id,
    )
    return AuditPage.from_records(records, limit)
