"""Loading a county's files into the database: read, validate against what is stored, then store.

Import is all-or-nothing: every defect is collected first, and any defect refuses the whole import, so a
defective file changes nothing. The caller's transaction wraps the inserts, so a failure while storing
(a constraint the checks did not foresee) also leaves the database as it was.
"""

from __future__ import annotations

from pathlib import Path

import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridgov.audit.service import record
from gridgov.geo.dataset import Defect, format_point
from gridgov.grids.checks import raise_for_defects, validate_path
from gridgov.grids.layers import LAYER_OF_LEVEL, RESOURCE_LAYERS, UNIT_LAYERS
from gridgov.grids.models import Level, Unit, UnitCode
from gridgov.grids.service import (
    ImportSummary,
    Progress,
    county_boundary,
    import_layers,
    known_codes,
    only_county_code,
)
from gridgov.people.principal import cli_principal


def _stored_parents(session: Session, county_code: str) -> dict[str, dict[str, object]]:
    """Stored geometries of the levels that can be parents of a partial dataset's features."""
    rows = session.execute(
        select(Unit.level, Unit.code, Unit.geom).where(
            Unit.county_code == county_code,
            Unit.level.in_([Level.COUNTY.value, Level.TOWN.value, Level.VILLAGE.value, Level.GRID.value]),
        )
    ).all()
    stored: dict[str, dict[str, object]] = {}
    for level, code, geom in rows:
        stored.setdefault(LAYER_OF_LEVEL[Level(level)], {})[code] = geom
    return stored


def _retired(session: Session, county_code: str) -> dict[str, object]:
    """Codes a planner's change set retired, with the day: never issued again (docs/data-format.md)."""
    return dict(session.execute(select(UnitCode.code, UnitCode.retired_on).where(
        UnitCode.county_code == county_code, UnitCode.retired_on.is_not(None))).all())


def _reused(layers: dict, retired: dict[str, object]) -> list[Defect]:
    """A feature whose code was retired would give an old code, still named by last year's records, new ground."""
    defects = []
    for layer in UNIT_LAYERS:
        frame = layers.get(layer)
        if frame is None or not retired:
            continue
        clash = frame["code"].astype(str).isin(retired).to_numpy()
        for code, point in zip(frame["code"][clash], shapely.point_on_surface(frame.geometry.values[clash])):
            defects.append(Defect("retired_code", layer, str(code), format_point(point),
                                  f"{layer} code {code} was retired on {retired[str(code)]}; codes are never reused"))
    return defects


def _already_stored(layers: dict, stored: dict[str, set[str]]) -> list[Defect]:
    """A feature whose code is already in the database would be imported twice."""
    defects = []
    for layer in (*UNIT_LAYERS, *RESOURCE_LAYERS):
        frame = layers.get(layer)
        if frame is None or not stored.get(layer):
            continue
        clash = frame["code"].astype(str).isin(stored[layer]).to_numpy()
        points = shapely.point_on_surface(frame.geometry.values[clash])
        for code, point in zip(frame["code"][clash], points):
            defects.append(
                Defect("duplicate_code", layer, str(code), format_point(point),
                       f"{layer} code {code} is already in the database")
            )
    return defects


def check_path(
    *, session: Session | None, path: Path, layer: str | None = None, crs: str | None = None,
    gcj02: bool = False,
) -> tuple[dict, list[Defect]]:
    """Read and check a dataset, against the stored county when a session is given."""
    county_code = only_county_code(session=session) if session is not None else None
    if county_code is None:
        return validate_path(path, layer=layer, crs=crs, gcj02=gcj02)
    stored_codes = known_codes(session=session, county_code=county_code)
    layers, defects = validate_path(
        path,
        layer=layer,
        crs=crs,
        gcj02=gcj02,
        county_boundary=county_boundary(session=session, county_code=county_code),
        known_codes=stored_codes,
        known_geometries=_stored_parents(session, county_code),
    )
    return layers, defects + _already_stored(layers, stored_codes) + _reused(layers, _retired(session, county_code))


def import_path(
    *, session: Session, path: Path, layer: str | None = None, crs: str | None = None,
    gcj02: bool = False, progress: Progress | None = None,
) -> ImportSummary:
    """Validate a dataset and store it; any defect raises InvalidDataset and stores nothing."""
    layers, defects = check_path(session=session, path=path, layer=layer, crs=crs, gcj02=gcj02)
    raise_for_defects(defects, path=path)
    return store_checked(session=session, layers=layers, source=path.name, progress=progress)


def store_checked(
    *, session: Session, layers: dict, source: str, progress: Progress | None = None
) -> ImportSummary:
    """Store layers ``check_path`` found no defect in, and log the import in the same transaction.

    Imports run from the server's shell, so the record names the operator at it (``cli:<OS user>``);
    the county exists only once its rows are in, so the operator is named after storing.
    """
    summary = import_layers(session=session, layers=layers, progress=progress)
    record(session=session, principal=cli_principal(session=session), action="import", object_type="dataset",
           object_id=source, unit_code=summary.county_code, after={"layers": summary.counts})
    return summary
