"""The append-only audit table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKeyConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from gridgov.storage.db import Base


class AuditRecord(Base):
    """One mutation: who did it (and through the API or the CLI), to what object, before and after.

    The application has no update or delete path for these rows; on PostgreSQL a trigger and the
    app role's privileges refuse UPDATE and DELETE as well.
    """

    __tablename__ = "audit_log"

    county_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # time-ordered, see audit.service
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(64))
    via: Mapped[str] = mapped_column(String(8))  # "api" | "cli"
    action: Mapped[str] = mapped_column(String(32))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(128))
    # The unit the object belongs to (a grid for an assignment, the county for a user), so that a
    # supervisor reads only the records of their own jurisdiction.
    unit_code: Mapped[str | None] = mapped_column(String(32))
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)

    __table_args__ = (
        ForeignKeyConstraint(["county_code"], ["counties.county_code"]),
        Index("ix_audit_log_at", "county_code", "at"),
        Index("ix_audit_log_object", "county_code", "object_type", "object_id"),
        Index("ix_audit_log_actor", "county_code", "actor"),
    )
