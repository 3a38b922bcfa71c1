"""Tables of the spatial hierarchy and of the three resource layers chiefs answer for.

Every table carries ``county_code`` and has it first in its primary key, so that a province or national
deployment can distribute the tables by county on Citus without a schema change.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
)
from sqlalchemy.orm import Mapped, mapped_column

from gridgov.storage.db import Base
from gridgov.storage.types import GeometryColumn


class Level(StrEnum):
    """Levels of the hierarchy, top-down."""

    COUNTY = "county"
    TOWN = "town"  # 乡镇
    VILLAGE = "village"  # 村/社区
    GRID = "grid"  # 网格
    MICRO_GRID = "micro_grid"  # 微网格


PARENT_LEVEL: dict[Level, Level | None] = {
    Level.COUNTY: None,
    Level.TOWN: Level.COUNTY,
    Level.VILLAGE: Level.TOWN,
    Level.GRID: Level.VILLAGE,
    Level.MICRO_GRID: Level.GRID,
}


class ResourceKind(StrEnum):
    """The three resource layers of the three-chief system (河长制·林长制·田长制)."""

    RIVER = "river"  # river reaches 河段, lines
    FOREST = "forest"  # forest patches 林地, polygons
    FARMLAND = "farmland"  # farmland parcels 耕地, polygons


class County(Base):
    """A county deployment: its code, name and the metric CRS its measurements use."""

    __tablename__ = "counties"

    county_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    metric_epsg: Mapped[int] = mapped_column(Integer, default=4546)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)


class UnitCode(Base):
    """Every unit code ever issued (编码登记): the target of every foreign key that names a unit.

    A planner's split or merge retires codes (``retired_on``) and issues new ones; patrols, findings and
    assignments that name a retired code keep naming it, so last year's records keep last year's map.
    ``units`` holds only the live map, and each code's shapes over time are in ``unit_versions``.
    """

    __tablename__ = "unit_codes"

    county_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    level: Mapped[str] = mapped_column(String(16))
    parent_code: Mapped[str | None] = mapped_column(String(32))  # the parent when the code was issued
    issued_on: Mapped[date] = mapped_column(Date)
    retired_on: Mapped[date | None] = mapped_column(Date)  # None while the code is on the live map
    change_set_id: Mapped[str | None] = mapped_column(String(36))  # None: imported

    __table_args__ = (
        ForeignKeyConstraint(["county_code"], ["counties.county_code"]),
        ForeignKeyConstraint(["county_code", "parent_code"], ["unit_codes.county_code", "unit_codes.code"]),
        CheckConstraint(
            "level IN ('county', 'town', 'village', 'grid', 'micro_grid')", name="ck_unit_codes_level"
        ),
    )


class UnitShape:
    """The columns a unit and each of its versions have: where it sits in the tree, its shape and its
    bounding box (so that bbox filters use a B-tree index on SQLite as well)."""

    county_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    level: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    parent_code: Mapped[str | None] = mapped_column(String(32))
    geom = mapped_column(GeometryColumn("MULTIPOLYGON"), nullable=False)
    area_m2: Mapped[float] = mapped_column(Float)
    min_x: Mapped[float] = mapped_column(Float)
    min_y: Mapped[float] = mapped_column(Float)
    max_x: Mapped[float] = mapped_column(Float)
    max_y: Mapped[float] = mapped_column(Float)


class UnitVersion(UnitShape, Base):
    """One shape a unit code had over ``[valid_from, valid_to)`` (``valid_to`` None: the current one)."""

    __tablename__ = "unit_versions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    change_set_id: Mapped[str | None] = mapped_column(String(36))  # None: imported

    __table_args__ = (
        ForeignKeyConstraint(["county_code", "code"], ["unit_codes.county_code", "unit_codes.code"]),
        Index("ix_unit_versions_bbox", "county_code", "level", "valid_from", "min_x", "max_x", "min_y", "max_y"),
        Index("ix_unit_versions_geom", "geom", postgresql_using="gist").ddl_if(dialect="postgresql"),
    )


class Unit(UnitShape, Base):
    """A unit of the live map: the county itself, a town, village, grid or micro-grid.

    One row per code in force today (its current ``unit_versions`` row, denormalised for the many
    readers of the map); retired codes leave this table and stay in ``unit_codes``.
    """

    __tablename__ = "units"

    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        ForeignKeyConstraint(["county_code"], ["counties.county_code"]),
        ForeignKeyConstraint(["county_code", "code"], ["unit_codes.county_code", "unit_codes.code"]),
        ForeignKeyConstraint(
            ["county_code", "parent_code"], ["units.county_code", "units.code"]
        ),
        CheckConstraint(
            "level IN ('county', 'town', 'village', 'grid', 'micro_grid')", name="ck_units_level"
        ),
        Index("ix_units_level_code", "county_code", "level", "code"),
        Index("ix_units_parent", "county_code", "parent_code"),
        Index("ix_units_bbox", "county_code", "level", "min_x", "max_x", "min_y", "max_y"),
        Index("ix_units_geom", "geom", postgresql_using="gist").ddl_if(dialect="postgresql"),
    )


unit_tree = Table(
    "unit_tree",
    MetaData(),  # a view (migration 0003), kept out of Base.metadata so nothing tries to create it
    Column("county_code", String(12), primary_key=True),
    Column("code", String(32), primary_key=True),
    Column("level", String(16)),
    Column("parent_code", String(32)),
)
"""The administrative tree without geometry, readable before a jurisdiction is known (signing in works
one out from it); on PostgreSQL it shows the request's county only."""

micro_grid_partition = Table(
    "micro_grid_partition",
    MetaData(),  # a view (migration 0004)
    Column("county_code", String(12), primary_key=True),
    Column("code", String(32), primary_key=True),
    Column("name", String(200)),
    Column("parent_code", String(32)),
    Column("area_m2", Float),
    Column("geom", GeometryColumn("MULTIPOLYGON")),
)
"""The county's micro-grids with their shapes, for any request of the county: a point is located in
the whole partition (a finding just across an officer's border still gets its grid), never in the part
the caller may see; what the caller is told is narrowed afterwards."""


class Resource(Base):
    """A feature of a resource layer: a river reach, forest patch or farmland parcel, in one village."""

    __tablename__ = "resources"

    county_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    resource: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str | None] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    parent_code: Mapped[str] = mapped_column(String(32))
    geom = mapped_column(GeometryColumn("GEOMETRY"), nullable=False)
    length_m: Mapped[float] = mapped_column(Float, default=0.0)
    area_m2: Mapped[float] = mapped_column(Float, default=0.0)
    min_x: Mapped[float] = mapped_column(Float)
    min_y: Mapped[float] = mapped_column(Float)
    max_x: Mapped[float] = mapped_column(Float)
    max_y: Mapped[float] = mapped_column(Float)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        ForeignKeyConstraint(["county_code", "parent_code"], ["unit_codes.county_code", "unit_codes.code"]),
        CheckConstraint("resource IN ('river', 'forest', 'farmland')", name="ck_resources_resource"),
        Index("ix_resources_bbox", "county_code", "resource", "min_x", "max_x", "min_y", "max_y"),
        Index("ix_resources_parent", "county_code", "parent_code"),
        Index("ix_resources_geom", "geom", postgresql_using="gist").ddl_if(dialect="postgresql"),
    )
