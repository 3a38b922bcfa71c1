"""Findings (问题): what a patrol found wrong, where, in which domain, with photos; and the taxonomy.

A finding's id is a UUID made on the officer's phone, so a submission repeated after a lost connection
finds the first one (see ``gridgov.findings.service``).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gridgov.storage.db import Base
from gridgov.storage.types import GeometryColumn

CLOSED_STATES = ("verified", "rejected")
"""States of a finding that is no longer open: verified (closed) and rejected (not a problem); the rest of
the workflow (reported, dispatched, accepted, in progress, resolved, …) is open."""
OPEN_CONDITION = "status NOT IN (%s)" % ", ".join(f"'{state}'" for state in CLOSED_STATES)
"""The same in SQL, for the partial index of open findings (migration 0005 wrote it out)."""


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    URGENT = "urgent"


class FindingCategory(Base):
    """One kind of problem in one domain; the county edits the list, so it is data, not an enum."""

    __tablename__ = "finding_categories"

    county_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    domain: Mapped[str] = mapped_column(String(16))  # river | forest | field
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    # A new finding this close to an open one of the same category is flagged as a possible duplicate.
    duplicate_radius_m: Mapped[float] = mapped_column(Float, default=30.0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    __table_args__ = (
        ForeignKeyConstraint(["county_code"], ["counties.county_code"]),
        CheckConstraint("domain IN ('river', 'forest', 'field')", name="ck_finding_categories_domain"),
    )


class Finding(Base):
    """A problem at a point, located to micro-grid, grid, village and town and to the domain's chiefs there."""

    __tablename__ = "findings"

    county_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    domain: Mapped[str] = mapped_column(String(16))
    category_code: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(8))
    description: Mapped[str] = mapped_column(String(2000), default="")
    status: Mapped[str] = mapped_column(String(16), default="reported")
    observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reporter: Mapped[str] = mapped_column(String(64))
    patrol_id: Mapped[str | None] = mapped_column(String(36))
    geom = mapped_column(GeometryColumn("POINT"), nullable=False)
    lon: Mapped[float] = mapped_column(Float)  # EPSG:4490, as stored in geom; plain columns for SQLite queries
    lat: Mapped[float] = mapped_column(Float)
    gcj02_input: Mapped[bool] = mapped_column(Boolean, default=False)
    micro_grid_code: Mapped[str] = mapped_column(String(32))
    grid_code: Mapped[str] = mapped_column(String(32))
    village_code: Mapped[str] = mapped_column(String(32))
    town_code: Mapped[str] = mapped_column(String(32))
    chiefs: Mapped[dict | None] = mapped_column(JSON)  # {"village": code, "town": code, "county": code}
    duplicate_of: Mapped[str | None] = mapped_column(String(36))
    flags: Mapped[list | None] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
    # Where the workflow stands: kept in step with the events (gridgov.findings.flows) so that inboxes and
    # maps read one row; the events remain the record, and the KPIs are computed from them.
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # seq of the latest event
    owner_level: Mapped[str | None] = mapped_column(String(16))  # village, town or county
    owner_unit: Mapped[str | None] = mapped_column(String(32))  # the unit answering for it (属地)
    owner_person: Mapped[str | None] = mapped_column(String(32))  # the person it waits on; None: the unit's queue
    accept_due: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolve_due: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolve_left_s: Mapped[float | None] = mapped_column(Float)  # working seconds left, kept while suspended
    escalated_to: Mapped[str | None] = mapped_column(String(16))  # the highest level it was escalated to
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        ForeignKeyConstraint(["county_code", "category_code"],
                             ["finding_categories.county_code", "finding_categories.code"]),
        ForeignKeyConstraint(["county_code", "micro_grid_code"], ["unit_codes.county_code", "unit_codes.code"]),
        ForeignKeyConstraint(["county_code", "patrol_id"], ["patrols.county_code", "patrols.id"]),
        CheckConstraint("domain IN ('river', 'forest', 'field')", name="ck_findings_domain"),
        CheckConstraint("severity IN ('low', 'medium', 'high', 'urgent')", name="ck_findings_severity"),
        Index("ix_findings_grid", "county_code", "grid_code", "observed_at"),
        Index("ix_findings_village", "county_code", "village_code"),
        # The duplicate search reads open findings of a category by place (migration 0005).
        Index("ix_findings_open_xy", "county_code", "category_code", "lon", "lat",
              postgresql_where=text(OPEN_CONDITION), sqlite_where=text(OPEN_CONDITION)),
        Index("ix_findings_geom", "geom", postgresql_using="gist").ddl_if(dialect="postgresql"),
        Index("ix_findings_owner", "county_code", "owner_person", "status"),
        Index("ix_findings_owner_unit", "county_code", "owner_unit", "status"),
    )


class FindingEvent(Base):
    """One step of a finding's workflow: who, when, from which state to which, why, with which photos.

    ``seq`` numbers a finding's events from 1; two steps taken at once on the same state both ask for
    the same next number and the primary key lets one through (the other is stale: 409).
    """

    __tablename__ = "finding_events"

    county_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    finding_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(64))  # username, or "system"
    capacity: Mapped[str] = mapped_column(String(16))  # owner, supervisor, reporter, system
    action: Mapped[str] = mapped_column(String(16))
    from_state: Mapped[str | None] = mapped_column(String(16))  # None for the report
    to_state: Mapped[str | None] = mapped_column(String(16))  # None when the state stays (escalation)
    note: Mapped[str | None] = mapped_column(String(2000))
    owner_level: Mapped[str | None] = mapped_column(String(16))  # dispatch, reroute, escalate: the level
    owner_unit: Mapped[str | None] = mapped_column(String(32))
    owner_person: Mapped[str | None] = mapped_column(String(32))
    photos: Mapped[list | None] = mapped_column(JSON)  # sha256 of photos attached to this step
    data: Mapped[dict | None] = mapped_column(JSON)  # e.g. the routing rule used, the due times set

    __table_args__ = (
        ForeignKeyConstraint(["county_code", "finding_id"], ["findings.county_code", "findings.id"],
                             ondelete="CASCADE"),
        Index("ix_finding_events_at", "county_code", "at"),
        # One escalation per finding, step and level, however often or concurrently the scheduler runs.
        Index("ux_finding_events_escalation", "county_code", "finding_id", "owner_level", unique=True,
              postgresql_where=text("action = 'escalate'"), sqlite_where=text("action = 'escalate'")),
    )


class RoutingRule(Base):
    """Who answers for a kind of finding (分流): the level whose chief of the domain gets it.

    ``category_code`` and ``severity`` may be ``*``; the most specific matching rule wins. The person is
    the chief of the finding's domain at that level over its place; with none there, the next level up.
    """

    __tablename__ = "routing_rules"

    county_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    domain: Mapped[str] = mapped_column(String(16), primary_key=True)
    category_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    severity: Mapped[str] = mapped_column(String(8), primary_key=True)
    level: Mapped[str] = mapped_column(String(16))

    __table_args__ = (
        CheckConstraint("level IN ('village', 'town', 'county')", name="ck_routing_rules_level"),
    )


class DeadlineRule(Base):
    """How long a kind of finding may wait, in working time on the official calendar (``*`` matches any)."""

    __tablename__ = "deadline_rules"

    county_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    category_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    severity: Mapped[str] = mapped_column(String(8), primary_key=True)
    accept_hours: Mapped[float] = mapped_column(Float)  # working hours from dispatch to acceptance
    resolve_days: Mapped[float] = mapped_column(Float)  # working days from acceptance to resolution
    escalate_hours: Mapped[float] = mapped_column(Float)  # working hours between escalation steps


class FindingPhoto(Base):
    """A photo of a finding, stored by content hash; EXIF time and place kept for the mismatch check."""

    __tablename__ = "finding_photos"

    county_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    finding_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    storage_key: Mapped[str] = mapped_column(String(100))
    media_type: Mapped[str] = mapped_column(String(16))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    taken_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    exif_lon: Mapped[float | None] = mapped_column(Float)
    exif_lat: Mapped[float | None] = mapped_column(Float)
    flags: Mapped[list | None] = mapped_column(JSON)
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        ForeignKeyConstraint(["county_code", "finding_id"], ["findings.county_code", "findings.id"],
                             ondelete="CASCADE"),
    )
