"""The outbox: a notification is a row written in the transaction of the event it announces.

If that transaction rolls back, there is nothing to send; once it commits, the delivery worker
(``gridgov.notifications.delivery``) sends it, however long after and whatever crashed in between.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gridgov.storage.db import Base


class Notification(Base):
    """One message to one recipient over one channel, with its delivery state."""

    __tablename__ = "notifications"

    county_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # also the idempotency key sent with it
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    channel: Mapped[str] = mapped_column(String(16))  # log, webhook, sms, email, ...
    recipient: Mapped[str] = mapped_column(String(64))  # person code, or a unit code for a unit's queue
    kind: Mapped[str] = mapped_column(String(32))  # dispatched, escalated, returned, reopened, ...
    subject_type: Mapped[str] = mapped_column(String(32))  # e.g. finding
    subject_id: Mapped[str] = mapped_column(String(36))
    payload: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # a worker is sending it
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sent', 'failed')", name="ck_notifications_status"),
        Index("ix_notifications_due", "status", "next_attempt_at"),
        Index("ix_notifications_subject", "county_code", "subject_type", "subject_id"),
    )
