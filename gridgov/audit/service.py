"""Appending to and reading the audit log. There is deliberately no function that changes or removes a record."""

from __future__ import annotations

import math
import secrets
import threading
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from uuid import UUID

import numpy as np
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridgov.audit.models import AuditRecord
from gridgov.errors import InvalidParameter
from gridgov.people.principal import Principal
from gridgov.storage import bulk, memo

_TAIL_BITS = 80
_id_lock = threading.Lock()
_last_ms = 0
_last_tail = 0


def new_id(at: datetime) -> str:
    """A 32-hex-digit id that sorts by time: 48 bits of Unix milliseconds, then 80 bits.

    The 80 bits are random for the first id of a millisecond and the previous id's plus one after it,
    so ids made by one process never go backwards (a UUIDv7 with a monotonic counter, without the
    version bits) and ordering by id is ordering by time.
    """
    global _last_ms, _last_tail
    ms = int(at.timestamp() * 1000)
    with _id_lock:
        if ms <= _last_ms:
            ms, tail = _last_ms, _last_tail + 1
            if tail >> _TAIL_BITS:
                ms, tail = ms + 1, secrets.randbits(_TAIL_BITS)
        else:
            tail = secrets.randbits(_TAIL_BITS)
        _last_ms, _last_tail = ms, tail
    return f"{ms:012x}{tail:020x}"


def json_safe(value):
    """``value`` as plain JSON types, exactly enough to tell later what an object was.

    Dates and datetimes become ISO 8601 text, ``Decimal`` its exact text, shapely geometries their full
    precision WKT (so a grid's boundary before a split can be redrawn), enums their value, sets a sorted
    list, and NaN or infinity their text (JSON has no such numbers). Anything else is a programming error.
    """
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:  # the common case, checked first
        return value
    if kind is dict:
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, date):  # datetime included
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, BaseGeometry):
        return value.wkt
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted((json_safe(item) for item in value), key=str)
    raise TypeError(f"Cannot store a {type(value).__name__} in the audit log: convert it first.")


def snapshot(obj, fields: Iterable[str]) -> dict:
    """The named attributes of an ORM row as a JSON-safe dict, for ``before``/``after``."""
    return {name: json_safe(getattr(obj, name)) for name in fields}


REMEMBERED = frozenset({
    "dataset", "unit", "user", "role_grant", "officer_assignment", "chief_assignment", "finding_category",
    "checklist_item", "patrol_rule", "routing_rule", "deadline_rule",
})
"""Kinds of object that ``gridgov.storage.memo`` remembers facts about. Every change is audited, so the
audit log is the one place that tells the memory to forget: a new kind of change cannot slip past it."""


def record(
    *,
    session: Session,
    principal: Principal,
    action: str,
    object_type: str,
    object_id: str,
    unit_code: str | None = None,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditRecord:
    """Append one record in the caller's transaction, so it commits or rolls back with the change it describes."""
    at = datetime.now(UTC)
    row = AuditRecord(
        county_code=principal.county_code, id=new_id(at), at=at, actor=principal.username, via=principal.via,
        action=action, object_type=object_type, object_id=object_id, unit_code=unit_code,
        before=json_safe(before), after=json_safe(after),
    )
    session.add(row)
    session.flush()
    if object_type in REMEMBERED:
        memo.changes(session)
    return row


def record_many(
    *, session: Session, principal: Principal, action: str, object_type: str,
    changes: Iterable[tuple[str, str | None, dict | None, dict | None]],
) -> int:
    """Append one record per ``(object_id, unit_code, before, after)`` in one multi-row INSERT.

    For batch endpoints: ten thousand findings still leave ten thousand records, one per finding, as
    ``record`` would, without ten thousand round trips.
    """
    at = datetime.now(UTC)
    rows = [
        {"county_code": principal.county_code, "id": new_id(at), "at": at, "actor": principal.username,
         "via": principal.via, "action": action, "object_type": object_type, "object_id": object_id,
         "unit_code": unit_code, "before": json_safe(before), "after": json_safe(after)}
        for object_id, unit_code, before, after in changes
    ]
    bulk.insert_rows(session, AuditRecord.__table__, rows)
    if rows and object_type in REMEMBERED:
        memo.changes(session)
    return len(rows)


def _utc(moment: datetime) -> datetime:
    """Naive moments are taken as UTC, the zone the log is written in."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def query(
    *,
    session: Session,
    principal: Principal,
    actor: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    before_id: str | None = None,
) -> list[AuditRecord]:
    """Records the principal may read, newest first; pass the last id as ``before_id`` for the next page.

    A county-wide principal reads the whole county; anyone else only records about units in their
    jurisdiction (records with no unit are county business). ``since`` is inclusive, ``until`` exclusive.
    """
    if limit < 1:
        raise InvalidParameter(f"limit must be at least 1, not {limit}.")
    stmt = select(AuditRecord).where(AuditRecord.county_code == principal.county_code)
    if not principal.jurisdiction.county_wide:
        stmt = stmt.where(AuditRecord.unit_code.in_(principal.jurisdiction.units))
    for column, value in (
        (AuditRecord.actor, actor), (AuditRecord.object_type, object_type),
        (AuditRecord.object_id, object_id), (AuditRecord.action, action),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if since is not None:
        stmt = stmt.where(AuditRecord.at >= _utc(since))
    if until is not None:
        stmt = stmt.where(AuditRecord.at < _utc(until))
    if before_id is not None:
        stmt = stmt.where(AuditRecord.id < before_id)
    return list(session.scalars(stmt.order_by(AuditRecord.id.desc()).limit(limit)))
