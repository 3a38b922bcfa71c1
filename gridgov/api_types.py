"""Types shared by the API schemas of several domains."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive one is taken as UTC, the zone every moment is stored in (SQLite hands
    stored moments back without their zone)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


UtcDateTime = Annotated[datetime, AfterValidator(as_utc)]
"""A moment answered in UTC with its zone, on both backends."""
