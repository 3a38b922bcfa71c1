"""Feature queries behind OGC API – Features: one collection per level or resource layer.

A bbox filter selects features whose geometry intersects the box, exactly. Both backends first narrow
on the stored bounding-box columns (a B-tree index); PostGIS then tests ``ST_Intersects`` in SQL with
its GiST index, SQLite tests the candidates in shapely. Paging is by ``offset`` over features ordered by
code, so pages are stable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import shapely
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from gridgov.errors import NotFound
from gridgov.geo.crs import STORAGE_EPSG
from gridgov.grids.models import Level, Resource, ResourceKind, Unit
from gridgov.grids.scope import Jurisdiction
from gridgov.storage.db import is_postgis


@dataclass(frozen=True)
class Collection:
    """One published feature collection."""

    id: str
    title: str
    description: str
    model: type
    value: str  # the level or resource kind that selects its rows

    @property
    def kind_column(self):
        return self.model.level if self.model is Unit else self.model.resource

    @property
    def queryables(self) -> tuple[str, ...]:
        return ("code", "parent_code") if self.model is Unit else ("code", "parent_code", "kind")


COLLECTIONS: dict[str, Collection] = {
    c.id: c
    for c in (
        Collection("towns", "Towns 乡镇", "Town-level units of the county.", Unit, Level.TOWN.value),
        Collection("villages", "Villages 村(社区)", "Villages and communities.", Unit, Level.VILLAGE.value),
        Collection("grids", "Grids 网格", "Grids, each with one responsible officer.", Unit, Level.GRID.value),
        Collection("micro-grids", "Micro-grids 微网格", "Micro-grids, each inside one grid.", Unit,
                   Level.MICRO_GRID.value),
        Collection("rivers", "River reaches 河段", "River and canal reaches, one village each.", Resource,
                   ResourceKind.RIVER.value),
        Collection("forests", "Forest patches 林地", "Forest patches and poplar belts.", Resource,
                   ResourceKind.FOREST.value),
        Collection("farmland", "Farmland parcels 耕地", "Farmland parcels.", Resource,
                   ResourceKind.FARMLAND.value),
    )
}


def get_collection(collection_id: str) -> Collection:
    try:
        return COLLECTIONS[collection_id]
    except KeyError:
        raise NotFound(
            f"No collection '{collection_id}'. Collections: {', '.join(COLLECTIONS)}."
        ) from None


@dataclass
class FeaturePage:
    features: list[str]  # each a GeoJSON Feature, already serialised
    number_matched: int


def _in_scope(collection: Collection, jurisdiction: Jurisdiction) -> list:
    """The conditions that keep a collection's rows inside a jurisdiction: the one place OGC scopes."""
    m = collection.model
    where = [m.county_code == jurisdiction.county_code, collection.kind_column == collection.value]
    if jurisdiction.county_wide:
        return where
    if m is Unit:
        return [*where, m.code.in_(sorted(jurisdiction.units))]
    villages = jurisdiction.resource_villages.get(collection.value, frozenset())
    return [*where, m.parent_code.in_(sorted(villages))]


def collection_extent(*, session: Session, jurisdiction: Jurisdiction, collection: Collection) -> list[float] | None:
    """The bounding box [minx, miny, maxx, maxy] of what the caller sees of a collection, or None."""
    m = collection.model
    row = session.execute(
        select(func.min(m.min_x), func.min(m.min_y), func.max(m.max_x), func.max(m.max_y)).where(
            *_in_scope(collection, jurisdiction)
        )
    ).one()
    return None if row[0] is None else [float(v) for v in row]


def _columns(collection: Collection):
    m = collection.model
    if m is Unit:
        return [m.code, m.name, m.parent_code, m.area_m2]
    return [m.code, m.name, m.parent_code, m.kind, m.length_m, m.area_m2]


def _properties(collection: Collection, row) -> dict:
    props = {"code": row.code, "name": row.name, "parent_code": row.parent_code}
    if collection.model is Unit:
        props["level"] = collection.value
        props["area_m2"] = round(row.area_m2, 1)
    else:
        props["kind"] = row.kind
        props["length_m"] = round(row.length_m, 1)
        props["area_m2"] = round(row.area_m2, 1)
    return props


def _feature_json(collection: Collection, row, geometry_json: str) -> str:
    props = json.dumps(_properties(collection, row), ensure_ascii=False)
    return f'{{"type":"Feature","id":{json.dumps(row.code)},"geometry":{geometry_json},"properties":{props}}}'


def query_features(
    *,
    session: Session,
    jurisdiction: Jurisdiction,
    collection: Collection,
    bbox: tuple[float, float, float, float] | None,
    filters: dict[str, str],
    limit: int,
    offset: int,
) -> FeaturePage:
    """A page of the features of one collection the caller may see, filtered by bbox and properties."""
    m = collection.model
    where = _in_scope(collection, jurisdiction)
    where += [getattr(m, name) == value for name, value in filters.items()]
    if bbox is not None:
        x0, y0, x1, y1 = bbox
        where += [m.min_x <= x1, m.max_x >= x0, m.min_y <= y1, m.max_y >= y0]
    if bbox is not None and is_postgis(session):
        envelope = func.ST_MakeEnvelope(*bbox, STORAGE_EPSG)
        where.append(func.ST_Intersects(m.geom, envelope))
    condition = and_(*where)

    if bbox is None or is_postgis(session):
        matched = session.scalar(select(func.count()).select_from(m).where(condition))
        rows = session.execute(
            select(*_columns(collection), m.geom).where(condition).order_by(m.code).limit(limit).offset(offset)
        ).all()
    else:
        candidates = session.execute(select(*_columns(collection), m.geom).where(condition).order_by(m.code)).all()
        geoms = np.array([r.geom for r in candidates], dtype=object)
        hit = shapely.intersects(geoms, shapely.box(*bbox)) if len(geoms) else np.zeros(0, bool)
        selected = [r for r, keep in zip(candidates, hit) if keep]
        matched = len(selected)
        rows = selected[offset : offset + limit]

    geometry_json = shapely.to_geojson(np.array([r.geom for r in rows], dtype=object)) if rows else []
    return FeaturePage(
        features=[_feature_json(collection, r, g) for r, g in zip(rows, geometry_json)],
        number_matched=int(matched or 0),
    )


def get_feature(*, session: Session, jurisdiction: Jurisdiction, collection: Collection, feature_id: str) -> str:
    """One feature as GeoJSON text; NotFound also when it lies outside the caller's jurisdiction."""
    m = collection.model
    row = session.execute(
        select(*_columns(collection), m.geom).where(*_in_scope(collection, jurisdiction), m.code == feature_id)
    ).one_or_none()
    if row is None:
        raise NotFound(f"No feature '{feature_id}' in collection '{collection.id}'.")
    return _feature_json(collection, row, shapely.to_geojson(row.geom))
