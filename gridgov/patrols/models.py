"""Patrols (巡查): one round of a grid that checks its rivers, forests and farmland together (一巡三查).

Ids of patrols and track batches are UUIDs made on the officer's phone, so a submission repeated after a
lost connection finds the first one instead of making a second (see ``gridgov.patrols.service``).
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
)
from sqlalchemy.orm import Mapped, mapped_column

from gridgov.storage.db import Base
from gridgov.storage.types import GeometryColumn


class PatrolStatus(StrEnum):
    OPEN = "open"  # started, fixes may still arrive
    ENDED = "ended"  # ended; metrics computed (and recomputed if a late batch arrives)


class CheckAnswer(StrEnum):
    OK = "ok"  # checked, nothing wrong
    PROBLEM = "problem"  # something wrong: a finding should follow
    NOT_CHECKED = "not_checked"


class ChecklistItem(Base):
    """One item of a domain's checklist (county-editable); it applies to grids holding that resource."""

    __tablename__ = "checklist_items"

    county_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    domain: Mapped[str] = mapped_column(String(16))  # river | forest | field
    text_zh: Mapped[str] = mapped_column(String(200))
    text_en: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    __table_args__ = (
        ForeignKeyConstraint(["county_code"], ["counties.county_code"]),
        CheckConstraint("domain IN ('river', 'forest', 'field')", name="ck_checklist_domain"),
    )


class PatrolRule(Base):
    """How often and how thoroughly units of one level must be patrolled, as data per county.

    E.g. grids: at least once in 7 days, each patrol at least 30 minutes and 2 km.
    """

    __tablename__ = "patrol_rules"

    county_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    level: Mapped[str] = mapped_column(String(16), primary_key=True)
    period_days: Mapped[int] = mapped_column(Integer)
    min_patrols: Mapped[int] = mapped_column(Integer, default=1)
    min_minutes: Mapped[float] = mapped_column(Float, default=0.0)
    min_km: Mapped[float] = mapped_column(Float, default=0.0)

    __table_args__ = (
        ForeignKeyConstraint(["county_code"], ["counties.county_code"]),
        CheckConstraint("period_days > 0 AND min_patrols > 0", name="ck_patrol_rules_positive"),
    )


class Patrol(Base):
    """One patrol of one grid by its officer, with the metrics computed when it ends."""

    __tablename__ = "patrols"

    county_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    grid_code: Mapped[str] = mapped_column(String(32))
    officer_code: Mapped[str | None] = mapped_column(String(32))
    username: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(8), default=PatrolStatus.OPEN.value)
    source: Mapped[str] = mapped_column(String(8), default="live")  # live | gpx | geojson
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    content_hash: Mapped[str] = mapped_column(String(64))
    track = mapped_column(GeometryColumn("LINESTRING"), nullable=True)
    fix_count: Mapped[int] = mapped_column(Integer, default=0)
    duration_s: Mapped[float | None] = mapped_column(Float)
    length_m: Mapped[float | None] = mapped_column(Float)
    micro_grids: Mapped[list | None] = mapped_column(JSON)
    coverage_river: Mapped[float | None] = mapped_column(Float)
    coverage_forest: Mapped[float | None] = mapped_column(Float)
    coverage_farmland: Mapped[float | None] = mapped_column(Float)
    flags: Mapped[list | None] = mapped_column(JSON)
    min_x: Mapped[float | None] = mapped_column(Float)
    min_y: Mapped[float | None] = mapped_column(Float)
    max_x: Mapped[float | None] = mapped_column(Float)
    max_y: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (
        ForeignKeyConstraint(["county_code", "grid_code"], ["unit_codes.county_code", "unit_codes.code"]),
        ForeignKeyConstraint(["county_code", "officer_code"], ["people.county_code", "people.code"]),
        CheckConstraint("status IN ('open', 'ended')", name="ck_patrols_status"),
        CheckConstraint("ended_at IS NULL OR ended_at >= started_at", name="ck_patrols_ends_after_start"),
        Index("ix_patrols_grid_started", "county_code", "grid_code", "started_at"),
        Index("ix_patrols_track", "track", postgresql_using="gist").ddl_if(dialect="postgresql"),
    )


class PatrolCheck(Base):
    """The answer to one checklist item on one patrol."""

    __tablename__ = "patrol_checks"

    county_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    patrol_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    item_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    answer: Mapped[str] = mapped_column(String(12))
    note: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        ForeignKeyConstraint(["county_code", "patrol_id"], ["patrols.county_code", "patrols.id"],
                             ondelete="CASCADE"),
        ForeignKeyConstraint(["county_code", "item_code"], ["checklist_items.county_code", "checklist_items.code"]),
        CheckConstraint("answer IN ('ok', 'problem', 'not_checked')", name="ck_patrol_checks_answer"),
    )


class TrackBatch(Base):
    """One batch of GPS fixes as the phone sent it: its UUID and content hash make re-sending safe."""

    __tablename__ = "track_batches"

    county_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    patrol_id: Mapped[str] = mapped_column(String(36))
    content_hash: Mapped[str] = mapped_column(String(64))
    fix_count: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        ForeignKeyConstraint(["county_code", "patrol_id"], ["patrols.county_code", "patrols.id"],
                             ondelete="CASCADE"),
        Index("ix_track_batches_patrol", "county_code", "patrol_id"),
    )


class TrackFix(Base):
    """One GPS fix (EPSG:4490 degrees) in the order its batch carried it; the track is sorted by time."""

    __tablename__ = "track_fixes"

    county_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    batch_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    patrol_id: Mapped[str] = mapped_column(String(36))
    t: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    speed_mps: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (
        ForeignKeyConstraint(["county_code", "batch_id"], ["track_batches.county_code", "track_batches.id"],
                             ondelete="CASCADE"),
        Index("ix_track_fixes_patrol_t", "county_code", "patrol_id", "t"),
    )
