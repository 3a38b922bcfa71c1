"""Putting notifications in the outbox, in the transaction of the event they announce."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from uuid import uuid4

from sqlalchemy.orm import Session

from gridgov.api_types import as_utc
from gridgov.notifications.adapters import check_channels, configured_channels
from gridgov.notifications.models import Notification


def enqueue(
    *,
    session: Session,
    county_code: str,
    kind: str,
    recipient: str,
    subject_type: str,
    subject_id: str,
    payload: dict,
    now: datetime | None = None,
    channels: Iterable[str] | None = None,
) -> list[Notification]:
    """Queue one notification per channel (default: the configured ones); it is sent only if the caller commits."""
    moment = as_utc(now or datetime.now(UTC))
    names = configured_channels() if channels is None else check_channels(channels)
    rows = [
        Notification(
            county_code=county_code, id=str(uuid4()), created_at=moment, channel=name, recipient=recipient,
            kind=kind, subject_type=subject_type, subject_id=subject_id, payload=payload, status="pending",
            attempts=0, next_attempt_at=moment,
        )
        for name in names
    ]
    session.add_all(rows)
    session.flush()
    return rows
