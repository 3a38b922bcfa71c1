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
)
from sqlalchemy.orm import Mapped, mapped_column

from gridgov.storage.db import Base
from gridgov.storage.types import GeometryColumn


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

    __table_args__ = (
        ForeignKeyConstraint(["county_code", "category_code"],
                             ["finding_categories.county_code", "finding_categories.code"]),
        ForeignKeyConstraint(["county_code", "micro_grid_code"], ["units.county_code", "units.code"]),
        ForeignKeyConstraint(["county_code", "patrol_id"], ["patrols.county_code", "patrols.id"]),
        CheckConstraint("domain IN ('river', 'forest', 'field')", name="ck_findings_domain"),
        CheckConstraint("severity IN ('low', 'medium', 'high', 'urgent')", name="ck_findings_severity"),
        Index("ix_findings_grid", "county_code", "grid_code", "observed_at"),
        Index("ix_findings_village", "county_code", "village_code"),
        Index("ix_findings_category_xy", "county_code", "category_code", "status", "lon", "lat"),
        Index("ix_findings_geom", "geom", postgresql_using="gist").ddl_if(dialect="postgresql"),
    )


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
