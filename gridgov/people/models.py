"""People and the areas they answer for, with validity dates so that past duty stays answerable."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKeyConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from gridgov.storage.db import Base


class ChiefDomain(StrEnum):
    """What a chief answers for: rivers (河长), forests (林长) or fields (田长)."""

    RIVER = "river"
    FOREST = "forest"
    FIELD = "field"


class Person(Base):
    """A person known to the county: grid officer, chief, or (later) staff."""

    __tablename__ = "people"

    county_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (ForeignKeyConstraint(["county_code"], ["counties.county_code"]),)


class OfficerAssignment(Base):
    """A grid officer answering for a grid ("one person, one grid") from ``valid_from``."""

    __tablename__ = "officer_assignments"

    county_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    grid_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    valid_from: Mapped[date] = mapped_column(Date, primary_key=True)
    officer_code: Mapped[str] = mapped_column(String(32))
    valid_to: Mapped[date | None] = mapped_column(Date)

    __table_args__ = (
        ForeignKeyConstraint(["county_code", "officer_code"], ["people.county_code", "people.code"]),
        ForeignKeyConstraint(["county_code", "grid_code"], ["units.county_code", "units.code"]),
        Index("ix_officer_assignments_officer", "county_code", "officer_code"),
    )


class ChiefAssignment(Base):
    """A chief answering for one domain in one unit (county, town or village) from ``valid_from``."""

    __tablename__ = "chief_assignments"

    county_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    unit_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    domain: Mapped[str] = mapped_column(String(16), primary_key=True)
    valid_from: Mapped[date] = mapped_column(Date, primary_key=True)
    chief_code: Mapped[str] = mapped_column(String(32))
    level: Mapped[str] = mapped_column(String(16))
    valid_to: Mapped[date | None] = mapped_column(Date)

    __table_args__ = (
        ForeignKeyConstraint(["county_code", "chief_code"], ["people.county_code", "people.code"]),
        ForeignKeyConstraint(["county_code", "unit_code"], ["units.county_code", "units.code"]),
        CheckConstraint("domain IN ('river', 'forest', 'field')", name="ck_chief_domain"),
        CheckConstraint("level IN ('county', 'town', 'village')", name="ck_chief_level"),
        Index("ix_chief_assignments_chief", "county_code", "chief_code"),
    )
