"""The supervisor map's overlays: patrol tracks of the last days, the three resource layers (rivers,
forests, farmland), and the GCJ-02 offset grid for an Amap basemap.

Lines and polygons are simplified in the county's metric CRS (tolerances in metres, never degrees),
brought back to EPSG:4490 and quantised, so a layer of 5,620 farmland parcels travels in a few hundred
kilobytes. A resource layer is remembered per jurisdiction and layer (``gridgov.storage.memo``), as the
grid layer is: simplifying the county's parcels costs more than the rest of the request.

**GCJ-02.** GridGov's data is CGCS2000 (≈ WGS84); Amap tiles are in GCJ-02, shifted by a smooth offset of a
few hundred metres. The layers here stay in CGCS2000 (the grid topology is shared and cached, and
findings are posted back in CGCS2000): the map page shifts what it draws on the client, interpolating an
offset grid computed here with ``gridgov.geo.gcj02.wgs84_to_gcj02`` (the exact forward formula). The
offset varies by at most a few metres per 0.01°, so bilinear interpolation on a 0.01° grid stays within
0.2 m of the exact shift (tested halfway between nodes).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridgov.geo.crs import to_metric, to_storage
from gridgov.geo.gcj02 import wgs84_to_gcj02
from gridgov.grids.models import Resource, ResourceKind
from gridgov.grids.service import metric_epsg_of
from gridgov.maps.layers import dumps, quantise
from gridgov.patrols.models import Patrol, PatrolStatus
from gridgov.patrols.service import visible as patrol_visible
from gridgov.people.models import ChiefDomain
from gridgov.people.principal import DOMAIN_RESOURCE, Principal
from gridgov.storage import memo

TRACK_TOLERANCE_M = 10.0
"""A track drawn at county zoom needs no GPS jitter: 10 m keeps every turn a person can see."""
RESOURCE_TOLERANCE_M = 5.0
OVERLAY_DECIMALS = 5
"""1e-5° is about a metre: plenty for lines drawn over 5 m simplification."""
GCJ02_STEP_DEG = 0.01


def simplified_lonlat(geoms, *, tolerance_m: float, metric_epsg: int, decimals: int = OVERLAY_DECIMALS):
    """Geometries (EPSG:4490) simplified in the metric CRS, back in EPSG:4490 and quantised.

    Examples
    --------
    >>> from shapely import LineString
    >>> line = LineString([(112.40, 29.37), (112.40001, 29.370001), (112.41, 29.37)])
    >>> simplified_lonlat([line], tolerance_m=5, metric_epsg=4546)[0].wkt
    'LINESTRING (112.4 29.37, 112.41 29.37)'
    """
    metric = shapely.simplify(to_metric(np.asarray(geoms, dtype=object), metric_epsg), tolerance_m,
                              preserve_topology=True)
    return quantise(to_storage(metric, metric_epsg), decimals)


def _collection(geoms, properties: list[dict], ids: list[str]) -> dict:
    features = [{"type": "Feature", "id": fid, "properties": props, "geometry": json.loads(text)}
                for fid, props, text in zip(ids, properties, shapely.to_geojson(geoms), strict=True)]
    return {"type": "FeatureCollection", "features": features}


def patrol_tracks(*, session: Session, principal: Principal, until: datetime, days: int) -> dict:
    """Tracks of the ended patrols the caller sees that started in the ``days`` before ``until``, as a
    GeoJSON FeatureCollection (id, grid, officer, start, length in metres)."""
    rows = session.execute(
        select(Patrol.id, Patrol.grid_code, Patrol.officer_code, Patrol.started_at, Patrol.length_m, Patrol.track)
        .where(patrol_visible(principal), Patrol.status == PatrolStatus.ENDED.value, Patrol.track.is_not(None),
               Patrol.started_at >= until - timedelta(days=days), Patrol.started_at < until)
        .order_by(Patrol.started_at, Patrol.id)).all()
    if not rows:
        return {"type": "FeatureCollection", "features": []}
    geoms = simplified_lonlat([r.track for r in rows], tolerance_m=TRACK_TOLERANCE_M,
                              metric_epsg=metric_epsg_of(session, principal.county_code))
    properties = [{"grid": r.grid_code, "officer": r.officer_code, "length_m": round(r.length_m or 0.0),
                   "started_at": r.started_at.isoformat()} for r in rows]
    return _collection(geoms, properties, [r.id for r in rows])


def resource_kinds(principal: Principal) -> list[ChiefDomain]:
    """The domains whose resource layer the caller sees any of (a chief: their own domain only)."""
    scope = principal.jurisdiction
    return [domain for domain, kind in DOMAIN_RESOURCE.items()
            if scope.county_wide or scope.resource_villages.get(kind.value)]


def resource_layer(*, session: Session, principal: Principal, domain: ChiefDomain) -> str:
    """The rivers, forests or farmland the caller sees, as compact GeoJSON text (code; rivers' names), remembered
    per jurisdiction and layer; an empty collection for a domain the caller sees none of."""
    kind: ResourceKind = DOMAIN_RESOURCE[domain]
    scope = principal.jurisdiction
    villages = None if scope.county_wide else frozenset(scope.resource_villages.get(kind.value, ()))
    key = ("map_resources", str(session.get_bind().url), scope.county_code, kind.value, villages)

    def build() -> str:
        where = [Resource.county_code == scope.county_code, Resource.resource == kind.value]
        if villages is not None:
            where.append(Resource.parent_code.in_(sorted(villages)))
        rows = session.execute(select(Resource.code, Resource.name, Resource.geom).where(*where)
                               .order_by(Resource.code)).all()
        if not rows:
            return dumps({"type": "FeatureCollection", "features": []})
        geoms = simplified_lonlat([r.geom for r in rows], tolerance_m=RESOURCE_TOLERANCE_M,
                                  metric_epsg=metric_epsg_of(session, scope.county_code))
        # Rivers carry their reach names (a few hundred); 5,620 parcel names would double the farmland layer.
        named = kind == ResourceKind.RIVER
        return dumps(_collection(geoms, [{"name": r.name} if named else {} for r in rows], [r.code for r in rows]))

    return memo.remembered(key, build)


def gcj02_offsets(bounds: tuple[float, float, float, float], step: float = GCJ02_STEP_DEG) -> dict:
    """The GCJ-02 shift (degrees) on a regular lon/lat grid covering ``bounds`` (one step of margin),
    for the page to interpolate bilinearly: ``dlon[j][i]`` at ``(x0 + i*step, y0 + j*step)``.

    Examples
    --------
    >>> grid = gcj02_offsets((112.4, 29.3, 112.41, 29.31))
    >>> grid["nx"], grid["ny"], 0.004 < grid["dlon"][0][0] < 0.007
    (4, 4, True)
    """
    x0, y0, x1, y1 = bounds
    x0, y0 = np.floor(x0 / step) * step - step, np.floor(y0 / step) * step - step
    nx, ny = int(np.ceil((x1 - x0) / step)) + 2, int(np.ceil((y1 - y0) / step)) + 2
    lon, lat = np.meshgrid(x0 + step * np.arange(nx), y0 + step * np.arange(ny))
    glon, glat = wgs84_to_gcj02(lon.ravel(), lat.ravel())
    return {"x0": round(float(x0), 6), "y0": round(float(y0), 6), "step": step, "nx": nx, "ny": ny,
            "dlon": np.round((glon - lon.ravel()).reshape(ny, nx), 8).tolist(),
            "dlat": np.round((glat - lat.ravel()).reshape(ny, nx), 8).tolist()}
