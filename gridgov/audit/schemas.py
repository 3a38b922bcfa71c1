"""API shapes of the audit log: one record, and a page of them with the cursor to the next."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, field_validator

from gridgov.audit.models import AuditRecord

MAX_LIMIT = 1000
"""The most records one page holds; a larger ``limit`` is clamped to it, not refused."""


class AuditRead(BaseModel):
    """One audit record (追踪问效): who, through which door, did what to which object, before and after."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    at: datetime
    actor: str
    via: str
    action: str
    object_type: str
    object_id: str
    unit_code: str | None
    before: dict | None
    after: dict | None

    @field_validator("at")
    @classmethod
    def _in_utc(cls, at: datetime) -> datetime:
        """SQLite hands back the stored UTC time without its zone; say it is UTC."""
        return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


class AuditPage(BaseModel):
    """Records newest first; ``next`` is the ``before_id`` that fetches the following (older) page."""

    items: list[AuditRead]
    next: str | None

    @classmethod
    def from_records(cls, records: Sequence[AuditRecord], limit: int) -> AuditPage:
        """A page of ``limit`` records from a query asked for ``limit + 1``: the extra one proves a next page."""
        items = records[:limit]
        following = items[-1].id if len(records) > limit else None
        return cls(items=[AuditRead.model_validate(row) for row in items], next=following)
