"""Operations on the stored hierarchy: import a validated dataset, read levels back as GeoDataFrames."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from gridgov.errors import Conflict, InvalidDataset, NotFound
from gridgov.geo.crs import DEFAULT_METRIC_EPSG, STORAGE_EPSG, to_metric
from gridgov.grids.layers import LAYER_OF_LEVEL, RESOURCE_LAYERS, UNIT_LAYERS
from gridgov.grids.models import (
    County,
    Level,
    Resource,
    ResourceKind,
    Unit,
    UnitCode,
    UnitVersion,
    micro_grid_partition,
    unit_tree,
)
from gridgov.grids.scope import Jurisdiction
from gridgov.people.models import ChiefAssignment, OfficerAssignment, Person
from gridgov.storage import memo, walls

Progress = Callable[[str, int], None]
"""Called as ``progress(step, n_rows)`` after each stored batch (the CLI draws a bar)."""

SERVICE_START = date(2026, 1, 1)
"""Assignments imported without a start date count from this day."""


@dataclass
class ImportSummary:
    """What one import stored, per layer."""

    county_code: str
    counts: dict[str, int] = field(default_factory=dict)


def get_county(*, session: Session, county_code: str) -> County:
    """The county row, or NotFound."""
    county = session.get(County, county_code)
    if county is None:
        raise NotFound(f"County {county_code} is not loaded; run `gridgov import` first.")
    return county


def metric_epsg_of(session: Session, county_code: str) -> int:
    """The county's metric CRS (EPSG code), remembered a few seconds."""
    return memo.remembered(
        ("metric_epsg", str(session.get_bind().url), county_code),
        lambda: session.scalar(select(County.metric_epsg).where(County.county_code == county_code)),
    )


def only_county_code(*, session: Session) -> str | None:
    """The county code when exactly one county is loaded (the usual single-county deployment)."""
    codes = session.scalars(select(County.county_code).limit(2)).all()
    return codes[0] if len(codes) == 1 else None


def known_codes(*, session: Session, county_code: str) -> dict[str, set[str]]:
    """Codes already stored, per layer name, so a partial dataset can be checked against them."""
    rows = session.execute(
        select(Unit.level, Unit.code).where(Unit.county_code == county_code)
    ).all()
    codes: dict[str, set[str]] = {layer: set() for layer in UNIT_LAYERS}
    for level, code in rows:
        codes[LAYER_OF_LEVEL[Level(level)]].add(code)
    for layer, kind in RESOURCE_LAYERS.items():
        codes[layer] = set(
            session.scalars(
                select(Resource.code).where(
                    Resource.county_code == county_code, Resource.resource == kind.value
                )
            )
        )
    return codes


def county_boundary(*, session: Session, county_code: str):
    """The stored county polygon (EPSG:4490), or None when the county is not loaded yet."""
    return session.scalar(
        select(Unit.geom).where(Unit.county_code == county_code, Unit.level == Level.COUNTY.value)
    )


def as_multi(geoms: np.ndarray, multi: Callable) -> np.ndarray:
    """Promote single parts to their Multi type so every row of a column has one geometry type."""
    single = shapely.get_type_id(geoms) != shapely.get_type_id(multi([]))
    out = geoms.copy()
    out[single] = [multi([g]) for g in geoms[single]]
    return out


def geometry_columns(geoms, metric_epsg: int) -> dict[str, np.ndarray]:
    """The stored columns of geometries in EPSG:4490: themselves, area and length measured in the metric CRS,
    and the bounding box (so that bbox filters use a B-tree index on SQLite too)."""
    geoms = np.asarray(geoms, dtype=object)
    bounds = shapely.bounds(geoms)
    metric = to_metric(geoms, metric_epsg)
    return {
        "geom": geoms,
        "area_m2": shapely.area(metric),
        "length_m": shapely.length(metric),
        "min_x": bounds[:, 0],
        "min_y": bounds[:, 1],
        "max_x": bounds[:, 2],
        "max_y": bounds[:, 3],
    }


def _text(value) -> str | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def _synthetic(frame: pd.DataFrame) -> np.ndarray:
    if "synthetic" not in frame:
        return np.zeros(len(frame), dtype=bool)
    return frame["synthetic"].fillna(0).astype(int).to_numpy() == 1


def import_layers(
    *,
    session: Session,
    layers: dict[str, pd.DataFrame],
    metric_epsg: int = DEFAULT_METRIC_EPSG,
    valid_from: date = SERVICE_START,
    progress: Progress | None = None,
) -> ImportSummary:
    """Store a validated dataset in the session's transaction (the caller commits or rolls back)."""
    county_code = _county_code_of(session=session, layers=layers)
    summary = ImportSummary(county_code=county_code)
    report = progress or (lambda step, n: None)

    if "county" in layers:
        county_row = layers["county"].iloc[0]
        if session.get(County, county_code) is not None:
            raise Conflict(f"County {county_code} is already loaded; its layers cannot be imported twice.")
        session.add(
            County(
                county_code=county_code,
                name=str(county_row["name"]),
                metric_epsg=metric_epsg,
                synthetic=bool(_synthetic(layers["county"])[0]),
            )
        )
        session.flush()

    for layer, level in UNIT_LAYERS.items():
        if layer in layers:
            summary.counts[layer] = _insert_units(
                session=session, county_code=county_code, frame=layers[layer], level=level,
                metric_epsg=metric_epsg, valid_from=valid_from,
            )
            report(layer, summary.counts[layer])
    for layer, kind in RESOURCE_LAYERS.items():
        if layer in layers:
            summary.counts[layer] = _insert_resources(
                session=session, county_code=county_code, frame=layers[layer], kind=kind.value,
                metric_epsg=metric_epsg,
            )
            report(layer, summary.counts[layer])
    if "officers" in layers or "chiefs" in layers:
        summary.counts.update(
            _insert_people(
                session=session, county_code=county_code, officers=layers.get("officers"),
                chiefs=layers.get("chiefs"), valid_from=valid_from,
            )
        )
        report("people", summary.counts.get("officers", 0) + summary.counts.get("chiefs", 0))
    session.flush()
    return summary


def _county_code_of(*, session: Session, layers: dict[str, pd.DataFrame]) -> str:
    if "county" in layers:
        frame = layers["county"]
        if len(frame) != 1:
            raise InvalidDataset(f"The county layer must hold exactly one feature, not {len(frame)}.")
        return str(frame["code"].iloc[0])
    if "towns" in layers and len(layers["towns"]):
        return str(layers["towns"]["parent_code"].iloc[0])
    county_code = only_county_code(session=session)
    if county_code is None:
        raise InvalidDataset("The dataset has no county layer and no single county is loaded yet.")
    return county_code


def _insert_units(
    *, session: Session, county_code: str, frame: gpd.GeoDataFrame, level: Level, metric_epsg: int,
    valid_from: date,
) -> int:
    """Register the codes, store the live units and their first versions (valid from ``valid_from``)."""
    geo = geometry_columns(frame.geometry.values, metric_epsg)
    geo["geom"] = as_multi(geo["geom"], shapely.MultiPolygon)
    parents = [None] * len(frame) if level is Level.COUNTY else [_text(p) for p in frame["parent_code"]]
    synthetic = _synthetic(frame)
    rows = [
        {
            "county_code": county_code,
            "code": str(code),
            "level": level.value,
            "name": str(name),
            "parent_code": parent,
            "geom": geom,
            "area_m2": float(area),
            "min_x": float(x0), "min_y": float(y0), "max_x": float(x1), "max_y": float(y1),
            "synthetic": bool(syn),
        }
        for code, name, parent, geom, area, x0, y0, x1, y1, syn in zip(
            frame["code"], frame["name"], parents, geo["geom"], geo["area_m2"],
            geo["min_x"], geo["min_y"], geo["max_x"], geo["max_y"], synthetic,
        )
    ]
    if rows:
        session.execute(insert(UnitCode), [
            {"county_code": county_code, "code": row["code"], "level": row["level"], "parent_code": row["parent_code"],
             "issued_on": valid_from} for row in rows])
        session.execute(insert(Unit), rows)
        session.execute(insert(UnitVersion), [
            {key: value for key, value in row.items() if key != "synthetic"} | {"version": 1, "valid_from": valid_from}
            for row in rows])
    return len(rows)


def _insert_resources(
    *, session: Session, county_code: str, frame: gpd.GeoDataFrame, kind: str, metric_epsg: int
) -> int:
    geo = geometry_columns(frame.geometry.values, metric_epsg)
    if kind == "river":
        geo["geom"] = as_multi(geo["geom"], shapely.MultiLineString)
        geo["area_m2"] = np.zeros(len(frame))
    else:
        geo["geom"] = as_multi(geo["geom"], shapely.MultiPolygon)
        geo["length_m"] = np.zeros(len(frame))
    kinds = frame["kind"] if "kind" in frame else [None] * len(frame)
    synthetic = _synthetic(frame)
    rows = [
        {
            "county_code": county_code,
            "code": str(code),
            "resource": kind,
            "kind": _text(sub),
            "name": str(name),
            "parent_code": str(parent),
            "geom": geom,
            "length_m": float(length),
            "area_m2": float(area),
            "min_x": float(x0), "min_y": float(y0), "max_x": float(x1), "max_y": float(y1),
            "synthetic": bool(syn),
        }
        for code, name, parent, sub, geom, length, area, x0, y0, x1, y1, syn in zip(
            frame["code"], frame["name"], frame["parent_code"], kinds, geo["geom"],
            geo["length_m"], geo["area_m2"], geo["min_x"], geo["min_y"], geo["max_x"],
            geo["max_y"], synthetic,
        )
    ]
    if rows:
        session.execute(insert(Resource), rows)
    return len(rows)


def _insert_people(
    *,
    session: Session,
    county_code: str,
    officers: pd.DataFrame | None,
    chiefs: pd.DataFrame | None,
    valid_from: date,
) -> dict[str, int]:
    people: dict[str, dict] = {}
    counts: dict[str, int] = {}
    for frame, role in ((officers, "officers"), (chiefs, "chiefs")):
        if frame is None:
            continue
        synthetic = _synthetic(frame)
        for code, name, syn in zip(frame["code"], frame["name"], synthetic):
            people.setdefault(
                str(code),
                {"county_code": county_code, "code": str(code), "name": str(name), "synthetic": bool(syn)},
            )
        counts[role] = int(frame["code"].astype(str).nunique())
    existing = set(
        session.scalars(
            select(Person.code).where(Person.county_code == county_code, Person.code.in_(people))
        )
    )
    new_people = [row for code, row in people.items() if code not in existing]
    if new_people:
        session.execute(insert(Person), new_people)
    if officers is not None and len(officers):
        session.execute(
            insert(OfficerAssignment),
            [
                {"county_code": county_code, "grid_code": str(grid), "officer_code": str(code),
                 "valid_from": valid_from}
                for code, grid in zip(officers["code"], officers["grid_code"])
            ],
        )
    if chiefs is not None and len(chiefs):
        session.execute(
            insert(ChiefAssignment),
            [
                {"county_code": county_code, "unit_code": str(unit), "domain": str(domain),
                 "level": str(level), "chief_code": str(code), "valid_from": valid_from}
                for code, unit, domain, level in zip(
                    chiefs["code"], chiefs["unit_code"], chiefs["domain"], chiefs["level"]
                )
            ],
        )
    return counts


def _frame(session: Session, query) -> gpd.GeoDataFrame:
    """Rows of ``query`` (its last column the geometry) as a GeoDataFrame in EPSG:4490."""
    result = session.execute(query)
    columns = list(result.keys())
    rows = result.all()
    data = {name: [r[i] for r in rows] for i, name in enumerate(columns[:-1])}
    return gpd.GeoDataFrame(data, geometry=[r[-1] for r in rows], crs=STORAGE_EPSG)


def units_frame(*, session: Session, county_code: str, level: Level) -> gpd.GeoDataFrame:
    """One level of the hierarchy as a GeoDataFrame (EPSG:4490) ordered by code."""
    return _frame(
        session,
        select(Unit.code, Unit.name, Unit.parent_code, Unit.area_m2, Unit.geom)
        .where(Unit.county_code == county_code, Unit.level == level.value)
        .order_by(Unit.code),
    )


def micro_grid_lineage(*, session: Session, county_code: str) -> gpd.GeoDataFrame:
    """Micro-grids with the codes of their grid, village and town: what the locator is built from.

    Read from the county-wide views (``micro_grid_partition``, ``unit_tree``), not from ``units``, which
    row-level security narrows to the caller's jurisdiction on PostgreSQL.
    """
    walls.for_county(session, county_code)  # the views show the county of the transaction (PostgreSQL)
    part, tree = micro_grid_partition.c, unit_tree.c
    micro = _frame(
        session,
        select(part.code, part.name, part.parent_code, part.geom)
        .where(part.county_code == county_code).order_by(part.code),
    )
    parent_of = dict(
        session.execute(
            select(tree.code, tree.parent_code).where(
                tree.county_code == county_code, tree.level.in_([Level.GRID.value, Level.VILLAGE.value]),
            )
        ).all()
    )
    micro = micro.rename(columns={"parent_code": "grid_code"})
    micro["village_code"] = micro["grid_code"].map(parent_of)
    micro["town_code"] = micro["village_code"].map(parent_of)
    return micro[["code", "name", "grid_code", "village_code", "town_code", "geometry"]]


def level_counts(*, session: Session, jurisdiction: Jurisdiction) -> dict[str, int]:
    """Units per level and resources per kind that a jurisdiction sees (summaries, CLI, pages)."""
    unit_where = [Unit.county_code == jurisdiction.county_code]
    if not jurisdiction.county_wide:
        unit_where.append(Unit.code.in_(sorted(jurisdiction.units)))
    counts = dict(session.execute(select(Unit.level, func.count()).where(*unit_where).group_by(Unit.level)).all())
    for kind in ResourceKind:
        where = [Resource.county_code == jurisdiction.county_code, Resource.resource == kind.value]
        if not jurisdiction.county_wide:
            where.append(Resource.parent_code.in_(sorted(jurisdiction.resource_villages.get(kind.value, ()))))
        counts[kind.value] = session.scalar(select(func.count()).select_from(Resource).where(*where))
    return counts


def resources_frame(*, session: Session, county_code: str, resource: str) -> gpd.GeoDataFrame:
    """One resource layer as a GeoDataFrame (EPSG:4490) ordered by code."""
    return _frame(
        session,
        select(Resource.code, Resource.name, Resource.parent_code, Resource.kind, Resource.geom)
        .where(Resource.county_code == county_code, Resource.resource == resource)
        .order_by(Resource.code),
    )


def dataset_layers(*, session: Session, county_code: str) -> dict[str, pd.DataFrame]:
    """The stored county in the import format (docs/data-format.md), current assignments only."""
    layers: dict[str, pd.DataFrame] = {}
    for layer, level in UNIT_LAYERS.items():
        frame = units_frame(session=session, county_code=county_code, level=level).drop(columns="area_m2")
        if level is Level.COUNTY:
            frame["parent_code"] = ""
        layers[layer] = frame
    for layer, kind in RESOURCE_LAYERS.items():
        layers[layer] = resources_frame(session=session, county_code=county_code, resource=kind.value)
    officers = session.execute(
        select(Person.code, Person.name, OfficerAssignment.grid_code)
        .join(Person, (Person.county_code == OfficerAssignment.county_code)
              & (Person.code == OfficerAssignment.officer_code))
        .where(OfficerAssignment.county_code == county_code, OfficerAssignment.valid_to.is_(None))
        .order_by(OfficerAssignment.grid_code)
    ).all()
    layers["officers"] = pd.DataFrame(officers, columns=["code", "name", "grid_code"])
    chiefs = session.execute(
        select(Person.code, Person.name, ChiefAssignment.domain, ChiefAssignment.level,
               ChiefAssignment.unit_code)
        .join(Person, (Person.county_code == ChiefAssignment.county_code)
              & (Person.code == ChiefAssignment.chief_code))
        .where(ChiefAssignment.county_code == county_code, ChiefAssignment.valid_to.is_(None))
        .order_by(ChiefAssignment.unit_code, ChiefAssignment.domain)
    ).all()
    layers["chiefs"] = pd.DataFrame(chiefs, columns=["code", "name", "domain", "level", "unit_code"])
    return layers
