"""Geometry columns that work on both backends, converting to shapely at the storage edge only.

On PostgreSQL the column is a PostGIS ``geometry(<type>, 4490)`` (GeoAlchemy2), so heavy spatial work
runs in SQL with GiST indexes. On SQLite, the embedded default that needs no system package, it is a
BLOB of WKB and spatial work happens in shapely. Either way the ORM hands shapely geometries in and out.
"""

from __future__ import annotations

import shapely
from geoalchemy2 import Geometry as PostGISGeometry
from sqlalchemy import LargeBinary
from sqlalchemy.types import TypeDecorator

from gridgov.geo.crs import STORAGE_EPSG


class GeometryColumn(TypeDecorator):
    """A shapely geometry stored as PostGIS geometry (SRID 4490) or as WKB on SQLite."""

    impl = LargeBinary
    cache_ok = True
    # Read by GeoAlchemy2's DDL hooks: the GiST indexes are created by the migrations, not by them.
    spatial_index = False

    def __init__(self, geometry_type: str = "GEOMETRY", srid: int = STORAGE_EPSG) -> None:
        super().__init__()
        self.geometry_type = geometry_type
        self.srid = srid

    def load_dialect_impl(self, dialect):
        if dialect is not None and dialect.name == "postgresql":
            return dialect.type_descriptor(
                PostGISGeometry(self.geometry_type, srid=self.srid, spatial_index=False)
            )
        return LargeBinary() if dialect is None else dialect.type_descriptor(LargeBinary())

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if dialect.name == "postgresql":
            # Hex EWKB as text: PostgreSQL's geometry input function parses it, SRID included.
            return shapely.to_wkb(shapely.set_srid(value, self.srid), hex=True, include_srid=True)
        return shapely.to_wkb(value)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if hasattr(value, "data"):  # a GeoAlchemy2 WKBElement
            value = value.data
        if isinstance(value, memoryview):
            value = bytes(value)
        return shapely.from_wkb(value)
