"""Locating points to micro-grid, grid, village and town, with one locator per county in memory."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridgov.geo.locate import Locator
from gridgov.grids.models import micro_grid_partition
from gridgov.grids.scope import Jurisdiction
from gridgov.grids.service import micro_grid_lineage
from gridgov.storage import memo, walls

_cache: dict[tuple[str, str], tuple[tuple, Locator]] = {}
_lock = threading.Lock()


def _fingerprint(session: Session, county_code: str) -> tuple:
    """Changes whenever the micro-grid layer changes: count, code range, total area, and the sum of squared
    areas, which a planner's boundary move changes although it keeps the count, the codes and the total."""
    walls.for_county(session, county_code)
    part = micro_grid_partition.c
    return tuple(
        session.execute(
            select(func.count(), func.sum(part.area_m2), func.sum(part.area_m2 * part.area_m2), func.min(part.code),
                   func.max(part.code))
            .where(part.county_code == county_code)
        ).one()
    )


def locator_for(*, session: Session, county_code: str) -> Locator:
    """The county's locator, rebuilt only when its micro-grids changed since the last build."""
    key = (str(session.get_bind().url), county_code)
    # The partition changes only by import or by a planner, both audited (which makes memo forget).
    fingerprint = memo.remembered(("partition", key), lambda: _fingerprint(session, county_code))
    cached = _cache.get(key)
    if cached is not None and cached[0] == fingerprint:
        return cached[1]
    with _lock:
        cached = _cache.get(key)
        if cached is None or cached[0] != fingerprint:
            locator = Locator(micro_grid_lineage(session=session, county_code=county_code))
            _cache[key] = (fingerprint, locator)
        return _cache[key][1]


CODE_COLUMNS = ["micro_grid_code", "grid_code", "village_code", "town_code"]


def locate_points(*, session: Session, jurisdiction: Jurisdiction, lon, lat) -> pd.DataFrame:
    """Codes of the units containing each point; ``inside`` is False outside the caller's area.

    A point in the county but outside the caller's jurisdiction is answered exactly like a point
    outside the county, so locating cannot be used to learn the codes of other people's grids.
    """
    locator = locator_for(session=session, county_code=jurisdiction.county_code)
    frame = locator.locate(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    if not jurisdiction.county_wide:
        hidden = ~frame["micro_grid_code"].isin(jurisdiction.units).to_numpy()
        frame.loc[hidden, CODE_COLUMNS] = None
        frame.loc[hidden, "inside"] = False
    return frame
