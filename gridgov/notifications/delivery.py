"""The delivery worker: sends what the outbox holds, retrying with backoff, without holding a transaction open.

One round (``deliver_due``) goes in three steps:

1. **Claim.** In one short committed transaction, take up to ``limit`` due rows (pending, next attempt
   reached, no live lease) and set their lease (``lease_until``). On PostgreSQL the rows are picked with
   ``FOR UPDATE SKIP LOCKED``, so concurrent workers take disjoint rows without waiting for each other;
   on SQLite one UPDATE picks and leases them under the database's single write lock. Either way no row
   is claimed by two workers while its lease lasts.
2. **Send** each claimed row with no transaction open: a slow webhook holds no lock and no connection.
3. **Record** each outcome in a short transaction of its own: sent; or, on failure, one more attempt, the
   error, the next attempt after a backoff doubling from ``GRIDGOV_NOTIFY_BACKOFF_SECONDS``, or failed for
   good once the error is permanent or ``GRIDGOV_NOTIFY_MAX_ATTEMPTS`` is reached.

What is guaranteed: **at-least-once sending**. A worker that dies between a send and its record leaves
the row pending under its lease; once the lease expires the next round sends it again, with the same id.
The id is the ``Idempotency-Key``, so the effect is **exactly once** for a receiver that honours the key.
The log channel honours it itself (it skips ids already in its file): it holds each notification exactly
once even across a crash. A send that outlasts the lease may overlap another worker's resend of the same
row; a worker therefore stops sending its batch once the lease it took has run out.

The worker passes the owner's engine (``owner_engine()``): it delivers the rows of every county, which
row-level security would hide from the web app's role.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, and_, or_, select, tuple_, update

from gridgov.api_types import as_utc
from gridgov.config import get_settings
from gridgov.notifications.adapters import Adapter, DeliveryError
from gridgov.notifications.models import Notification
from gridgov.storage.db import is_postgis, transaction

LAST_ERROR_CHARS = 500
OUTBOX = Notification.__table__
columns = OUTBOX.c


@dataclass(frozen=True)
class DeliveryReport:
    """What one round did: notifications sent, failed attempts to be tried again, notifications given up."""

    sent: int = 0
    retried: int = 0
    failed: int = 0


def deliver_due(
    *,
    engine: Engine,
    adapters: Mapping[str, Adapter],
    now: datetime | None = None,
    limit: int = 100,
    lease_seconds: float = 60,
) -> DeliveryReport:
    """Send up to ``limit`` due notifications over the channels of ``adapters``; other channels' rows wait."""
    moment = as_utc(now or datetime.now(UTC))
    claimed = _claim(engine=engine, channels=list(adapters), now=moment, limit=limit, lease_seconds=lease_seconds)
    lease_ends = time.monotonic() + lease_seconds
    outcomes = {"sent": 0, "retried": 0, "failed": 0}
    for row in claimed:
        if time.monotonic() >= lease_ends:
            break  # the rest may be another worker's by now; they stay pending and are claimed again
        try:
            adapters[row["channel"]].send(_message(row))
        except DeliveryError as error:
            outcome = _record_failure(engine=engine, row=row, now=moment, error=str(error), retryable=error.retryable)
        except Exception as error:  # a bug or an unforeseen failure of a channel: an attempt like any other
            outcome = _record_failure(engine=engine, row=row, now=moment, error=f"{type(error).__name__}: {error}",
                                      retryable=True)
        else:
            outcome = _record_sent(engine=engine, row=row, now=moment)
        outcomes[outcome] += 1
    return DeliveryReport(**outcomes)


def _claim(*, engine: Engine, channels: list[str], now: datetime, limit: int, lease_seconds: float) -> Sequence:
    if not channels:
        return []
    due = and_(columns.status == "pending", columns.next_attempt_at <= now, columns.channel.in_(channels),
               or_(columns.lease_until.is_(None), columns.lease_until <= now))
    key = tuple_(columns.county_code, columns.id)
    pick = select(columns.county_code, columns.id).where(due).order_by(columns.next_attempt_at).limit(limit)
    with transaction(engine) as session:
        if is_postgis(session):
            # Locked until this transaction commits; rows another worker has locked are skipped, not waited for.
            keys = [tuple(row) for row in session.execute(pick.with_for_update(skip_locked=True))]
            if not keys:
                return []
            chosen = key.in_(keys)
        else:
            # One statement: SQLite picks and leases under its one write lock, so no worker loses a race for
            # rows another just took (pysqlite runs a lone SELECT outside the transaction).
            chosen = key.in_(pick)
        lease = (update(OUTBOX).where(chosen, due)
                 .values(lease_until=now + timedelta(seconds=lease_seconds)).returning(*OUTBOX.c))
        rows = session.execute(lease).mappings().all()
    return sorted(rows, key=lambda row: row["created_at"])


def _message(row) -> dict:
    """What an adapter sends: the notification without its delivery state."""
    return {
        "id": row["id"], "county_code": row["county_code"], "kind": row["kind"], "recipient": row["recipient"],
        "subject": {"type": row["subject_type"], "id": row["subject_id"]}, "payload": row["payload"],
        "created_at": as_utc(row["created_at"]).isoformat(),
    }


def _key(row):
    return and_(columns.county_code == row["county_code"], columns.id == row["id"])


def _record_sent(*, engine: Engine, row, now: datetime) -> str:
    with transaction(engine) as session:
        session.execute(update(OUTBOX).where(_key(row)).values(
            status="sent", sent_at=now, attempts=row["attempts"] + 1, lease_until=None))
    return "sent"


def _record_failure(*, engine: Engine, row, now: datetime, error: str, retryable: bool) -> str:
    settings = get_settings()
    attempts = row["attempts"] + 1
    values = {"attempts": attempts, "last_error": error[:LAST_ERROR_CHARS], "lease_until": None}
    if retryable and attempts < settings.notify_max_attempts:
        values["next_attempt_at"] = now + timedelta(seconds=settings.notify_backoff_seconds * 2 ** (attempts - 1))
        outcome = "retried"
    else:
        values["status"] = outcome = "failed"
    with transaction(engine) as session:
        # Pending only: a worker whose lease ran out must not undo a resend another worker got through.
        session.execute(update(OUTBOX).where(_key(row), columns.status == "pending").values(**values))
    return outcome
