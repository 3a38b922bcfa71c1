"""Change sets (规划变更单): a planner's edits and reassignments, drafted, reviewed, applied or discarded."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, Date, DateTime, ForeignKeyConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gridgov.storage.db import Base


class ChangeSetStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"  # checked and waiting for its effective date; the scheduler applies it then
    APPLIED = "applied"
    DISCARDED = "discarded"
    REVERTED = "reverted"  # applied, then undone by the change set that names it in ``reverts``


class ChangeSet(Base):
    """A draft of edits and officer reassignments taking effect on one day, applied all or nothing.

    ``revision`` counts the writes to the draft and makes its ETag: a write must name the revision it was
    made against (If-Match), so two planners never silently overwrite each other. ``scope_code`` is the
    unit the draft is about (the planner's jurisdiction when created); the draft is seen, like any object,
    by those who see that unit. ``result`` records what applying did (codes, versions, findings moved),
    which is what a revert undoes.
    """

    __tablename__ = "change_sets"

    county_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=ChangeSetStatus.DRAFT.value)
    effective_on: Mapped[date] = mapped_column(Date)
    scope_code: Mapped[str] = mapped_column(String(32))
    author: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    edits: Mapped[list] = mapped_column(JSON, default=list)
    reassignments: Mapped[list] = mapped_column(JSON, default=list)
    review: Mapped[dict | None] = mapped_column(JSON)  # {"reviewer", "approve", "note", "at"}
    applied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    applied_by: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[dict | None] = mapped_column(JSON)
    reverts: Mapped[str | None] = mapped_column(String(36))

    __table_args__ = (
        ForeignKeyConstraint(["county_code", "scope_code"], ["unit_codes.county_code", "unit_codes.code"]),
        CheckConstraint("status IN ('draft', 'scheduled', 'applied', 'discarded', 'reverted')",
                        name="ck_change_sets_status"),
        Index("ix_change_sets_status", "county_code", "status", "created_at"),
    )
