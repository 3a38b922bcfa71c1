"""People and the areas they answer for, with validity dates so that past duty stays answerable."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, Date, DateTime, ForeignKeyConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gridgov.storage.db import Base


class ChiefDomain(StrEnum):
    """What a chief answers for: rivers (河长), forests (林长) or fields (田长)."""

    RIVER = "river"
    FOREST = "forest"
    FIELD = "field"


class Role(StrEnum):
    """What a user may do. Officer and chief roles follow from assignments; the others are granted."""

    OFFICER = "officer"  # 网格员
    CHIEF = "chief"  # 河长 / 林长 / 田长
    SUPERVISOR = "supervisor"  # command centre (指挥中心)
    PLANNER = "planner"
    ADMIN = "admin"


GRANTED_ROLES = (Role.SUPERVISOR, Role.PLANNER, Role.ADMIN)
"""Roles held through a RoleGrant on a unit; officer and chief come from current assignments."""


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
        ForeignKeyConstraint(["county_code", "grid_code"], ["unit_codes.county_code", "unit_codes.code"]),
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
        ForeignKeyConstraint(["county_code", "unit_code"], ["unit_codes.county_code", "unit_codes.code"]),
        CheckConstraint("domain IN ('river', 'forest', 'field')", name="ck_chief_domain"),
        CheckConstraint("level IN ('county', 'town', 'village')", name="ck_chief_level"),
        Index("ix_chief_assignments_chief", "county_code", "chief_code"),
    )


class User(Base):
    """A sign-in account, optionally linked to the person (officer or chief) it belongs to."""

    __tablename__ = "users"

    county_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(100))
    person_code: Mapped[str | None] = mapped_column(String(32))
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Raised when a user is disabled or changes password: tokens carrying an older value stop working.
    token_version: Mapped[int] = mapped_column(Integer, default=0)
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        ForeignKeyConstraint(["county_code"], ["counties.county_code"]),
        ForeignKeyConstraint(["county_code", "person_code"], ["people.county_code", "people.code"]),
        Index("ix_users_person", "county_code", "person_code"),
    )


class RoleGrant(Base):
    """A staff role (supervisor, planner, admin) held over one unit and everything inside it."""

    __tablename__ = "role_grants"

    county_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    unit_code: Mapped[str] = mapped_column(String(32), primary_key=True)

    __table_args__ = (
        ForeignKeyConstraint(["county_code", "username"], ["users.county_code", "users.username"],
                             ondelete="CASCADE"),
        ForeignKeyConstraint(["county_code", "unit_code"], ["unit_codes.county_code", "unit_codes.code"]),
        CheckConstraint("role IN ('supervisor', 'planner', 'admin')", name="ck_role_grants_role"),
    )
