"""Feature queries behind OGC API – Features: one collection per level or resource layer.

A bbox filter selects features whose geometry intersects the box, exactly. Both backends first narrow
on the stored bounding-box columns (a B-tree index); PostGIS then tests ``ST_Intersects`` in SQL with
its GiST index, SQLite tests the candidates in shapely. Paging is by ``offset`` over features ordered by
code, so pages are stable.

The unit collections have time: with ``datetime`` (an instant, or an interval of days) they answer from the
units' versions instead of the live map, so a GIS client sees the map as it was on a day, or every shape a
unit had over a period (``version``, ``valid_from``, ``valid_to`` in the properties). Other collections
accept ``datetime`` and ignore it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date

import numpy as np
import shapely
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from gridgov.api_types import as_utc
from gridgov.errors import NotFound
from gridgov.findings.models import Finding
from gridgov.findings.service import visible as finding_visible
from gridgov.geo.crs import STORAGE_EPSG
from gridgov.grids.models import Level, Resource, ResourceKind, Unit, UnitVersion
from gridgov.patrols.models import Patrol
from gridgov.patrols.service import visible as patrol_visible
from gridgov.people.principal import Principal
from gridgov.planning.history import ANCESTOR_DIGITS
from gridgov.storage.db import is_postgis


def _unit_scope(level: Level):
    def scope(principal: Principal) -> list:
        where = [Unit.level == level.value]
        if not principal.jurisdiction.county_wide:
            where.append(Unit.code.in_(sorted(principal.jurisdiction.units)))
        return where

    return scope


def _version_scope(level: Level, start: date | None, end: date | None):
    """Versions of a level in force at some day of ``[start, end]`` (None: open), in the caller's view: a
    retired unit is seen by whoever sees its grid, village or town (see planning.history.sees_historic)."""

    def scope(principal: Principal) -> list:
        where = [UnitVersion.level == level.value]
        if end is not None:
            where.append(UnitVersion.valid_from <= end)
        if start is not None:
            where.append(or_(UnitVersion.valid_to.is_(None), UnitVersion.valid_to > start))
        if not principal.jurisdiction.county_wide:
            units = sorted(principal.jurisdiction.units)
            where.append(or_(UnitVersion.code.in_(units),
                             *(func.substr(UnitVersion.code, 1, n).in_(units) for n in ANCESTOR_DIGITS)))
        return where

    return scope


def _resource_scope(kind: ResourceKind):
    def scope(principal: Principal) -> list:
        where = [Resource.resource == kind.value]
        if not principal.jurisdiction.county_wide:
            villages = principal.jurisdiction.resource_villages.get(kind.value, frozenset())
            where.append(Resource.parent_code.in_(sorted(villages)))
        return where

    return scope


def _unit_properties(row) -> dict:
    return {"code": row.code, "name": row.name, "parent_code": row.parent_code, "level": row.level,
            "area_m2": round(row.area_m2, 1)}


def _version_properties(row) -> dict:
    return {**_unit_properties(row), "version": row.version, "valid_from": row.valid_from.isoformat(),
            "valid_to": row.valid_to.isoformat() if row.valid_to else None}


def _resource_properties(row) -> dict:
    return {"code": row.code, "name": row.name, "parent_code": row.parent_code, "kind": row.kind,
            "length_m": round(row.length_m, 1), "area_m2": round(row.area_m2, 1)}


def _finding_properties(row) -> dict:
    return {"id": row.id, "domain": row.domain, "category_code": row.category_code, "severity": row.severity,
            "status": row.status, "observed_at": as_utc(row.observed_at).isoformat(), "grid_code": row.grid_code,
            "village_code": row.village_code, "town_code": row.town_code, "duplicate_of": row.duplicate_of,
            "owner_level": row.owner_level, "owner_person": row.owner_person,
            "accept_due": as_utc(row.accept_due).isoformat() if row.accept_due else None,
            "resolve_due": as_utc(row.resolve_due).isoformat() if row.resolve_due else None,
            "escalated_to": row.escalated_to}


def _patrol_properties(row) -> dict:
    return {"id": row.id, "grid_code": row.grid_code, "officer_code": row.officer_code, "status": row.status,
            "started_at": as_utc(row.started_at).isoformat(),
            "ended_at": as_utc(row.ended_at).isoformat() if row.ended_at else None,
            "length_m": None if row.length_m is None else round(row.length_m, 1), "duration_s": row.duration_s,
            "coverage_river": row.coverage_river, "coverage_forest": row.coverage_forest,
            "coverage_farmland": row.coverage_farmland}


@dataclass(frozen=True)
class Collection:
    """One published feature collection: which rows, which columns, and how its scope is worked out."""

    id: str
    title: str
    description: str
    model: type
    scope: Callable[[Principal], list]  # conditions (besides the county) on what a principal sees
    columns: tuple[str, ...]  # read for the properties
    properties: Callable[[object], dict]
    queryables: tuple[str, ...]
    id_column: str = "code"
    geom_column: str = "geom"
    bbox_columns: tuple[str, str, str, str] = ("min_x", "min_y", "max_x", "max_y")
    level: Level | None = None  # a unit collection: it has versions, so it has time

    def column(self, name: str):
        return getattr(self.model, name)

    def between(self, start: date | None, end: date | None) -> Collection:
        """The collection over the days ``[start, end]``: unit versions in force then; others unchanged."""
        if self.level is None:
            return self
        return replace(self, model=UnitVersion, scope=_version_scope(self.level, start, end),
                       columns=(*UNIT_COLUMNS, "version", "valid_from", "valid_to"), properties=_version_properties)


UNIT_COLUMNS = ("code", "name", "parent_code", "level", "area_m2")
RESOURCE_COLUMNS = ("code", "name", "parent_code", "kind", "length_m", "area_m2")
FINDING_COLUMNS = ("id", "domain", "category_code", "severity", "status", "observed_at", "grid_code", "village_code",
                   "town_code", "duplicate_of", "owner_level", "owner_person", "accept_due", "resolve_due",
                   "escalated_to")
PATROL_COLUMNS = ("id", "grid_code", "officer_code", "status", "started_at", "ended_at", "length_m", "duration_s",
                  "coverage_river", "coverage_forest", "coverage_farmland")


def _units(cid: str, title: str, description: str, level: Level) -> Collection:
    return Collection(cid, title, description, Unit, _unit_scope(level), UNIT_COLUMNS, _unit_properties,
                      ("code", "parent_code"), level=level)


def _resources(cid: str, title: str, description: str, kind: ResourceKind) -> Collection:
    return Collection(cid, title, description, Resource, _resource_scope(kind), RESOURCE_COLUMNS,
                      _resource_properties, ("code", "parent_code", "kind"))


COLLECTIONS: dict[str, Collection] = {
    c.id: c
    for c in (
        _units("towns", "Towns 乡镇", "Town-level units of the county.", Level.TOWN),
        _units("villages", "Villages 村(社区)", "Villages and communities.", Level.VILLAGE),
        _units("grids", "Grids 网格", "Grids, each with one responsible officer.", Level.GRID),
        _units("micro-grids", "Micro-grids 微网格", "Micro-grids, each inside one grid.", Level.MICRO_GRID),
        _resources("rivers", "River reaches 河段", "River and canal reaches, one village each.", ResourceKind.RIVER),
        _resources("forests", "Forest patches 林地", "Forest patches and poplar belts.", ResourceKind.FOREST),
        _resources("farmland", "Farmland parcels 耕地", "Farmland parcels.", ResourceKind.FARMLAND),
        Collection("findings", "Findings 问题", "Problems found on patrol, located to grid and village.", Finding,
                   lambda principal: [finding_visible(principal)], FINDING_COLUMNS, _finding_properties,
                   ("domain", "category_code", "severity", "status", "grid_code", "village_code", "town_code"),
                   id_column="id", bbox_columns=("lon", "lat", "lon", "lat")),
        Collection("patrols", "Patrols 巡查", "Patrol tracks with their length, duration and coverage.", Patrol,
                   lambda principal: [patrol_visible(principal), Patrol.track.is_not(None)], PATROL_COLUMNS,
                   _patrol_properties, ("grid_code", "officer_code", "status"), id_column="id",
                   geom_column="track"),
    )
}
"""Read-only collections: the hierarchy, the three resource layers, and what patrols recorded."""


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


def _in_scope(collection: Collection, principal: Principal) -> list:
    """The conditions that keep a collection's rows inside a principal's view: the one place OGC scopes."""
    return [collection.column("county_code") == principal.county_code, *collection.scope(principal)]


def collection_extent(*, session: Session, principal: Principal, collection: Collection) -> list[float] | None:
    """The bounding box [minx, miny, maxx, maxy] of what the caller sees of a collection, or None."""
    x0, y0, x1, y1 = (collection.column(name) for name in collection.bbox_columns)
    row = session.execute(
        select(func.min(x0), func.min(y0), func.max(x1), func.max(y1)).where(*_in_scope(collection, principal))
    ).one()
    return None if row[0] is None else [float(v) for v in row]


def _selected(collection: Collection) -> list:
    return [collection.column(name) for name in collection.columns] + [collection.column(collection.geom_column)]


def _feature_json(collection: Collection, row, geometry_json: str) -> str:
    props = json.dumps(collection.properties(row), ensure_ascii=False)
    feature_id = json.dumps(getattr(row, collection.id_column))
    return f'{{"type":"Feature","id":{feature_id},"geometry":{geometry_json},"properties":{props}}}'


def query_features(
    *,
    session: Session,
    principal: Principal,
    collection: Collection,
    bbox: tuple[float, float, float, float] | None,
    filters: dict[str, str],
    limit: int,
    offset: int,
) -> FeaturePage:
    """A page of the features of one collection the caller may see, filtered by bbox and properties."""
    where = _in_scope(collection, principal)
    where += [collection.column(name) == value for name, value in filters.items()]
    geom = collection.column(collection.geom_column)
    if bbox is not None:
        x0, y0, x1, y1 = bbox
        min_x, min_y, max_x, max_y = (collection.column(name) for name in collection.bbox_columns)
        where += [min_x <= x1, max_x >= x0, min_y <= y1, max_y >= y0]
    if bbox is not None and is_postgis(session):
        envelope = func.ST_MakeEnvelope(*bbox, STORAGE_EPSG)
        where.append(func.ST_Intersects(geom, envelope))
    condition = and_(*where)
    order = collection.column(collection.id_column)

    if bbox is None or is_postgis(session):
        matched = session.scalar(select(func.count()).select_from(collection.model).where(condition))
        rows = session.execute(
            select(*_selected(collection)).where(condition).order_by(order).limit(limit).offset(offset)
        ).all()
    else:
        candidates = session.execute(select(*_selected(collection)).where(condition).order_by(order)).all()
        geoms = np.array([getattr(r, collection.geom_column) for r in candidates], dtype=object)
        hit = shapely.intersects(geoms, shapely.box(*bbox)) if len(geoms) else np.zeros(0, bool)
        selected = [r for r, keep in zip(candidates, hit) if keep]
        matched = len(selected)
        rows = selected[offset : offset + limit]

    geoms = np.array([getattr(r, collection.geom_column) for r in rows], dtype=object)
    geometry_json = shapely.to_geojson(geoms) if rows else []
    return FeaturePage(
        features=[_feature_json(collection, r, g) for r, g in zip(rows, geometry_json)],
        number_matched=int(matched or 0),
    )


def get_feature(*, session: Session, principal: Principal, collection: Collection, feature_id: str) -> str:
    """One feature as GeoJSON text; NotFound also when it lies outside the caller's jurisdiction."""
    row = session.execute(
        select(*_selected(collection)).where(*_in_scope(collection, principal),
                                             collection.column(collection.id_column) == feature_id)
    ).one_or_none()
    if row is None:
        raise NotFound(f"No feature '{feature_id}' in collection '{collection.id}'.")
    return _feature_json(collection, row, shapely.to_geojson(getattr(row, collection.geom_column)))
