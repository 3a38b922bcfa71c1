"""OGC API – Features Part 1 (Core, GeoJSON), read-only, so county GIS tools can read GridGov directly.

Coordinates are served in CRS84 (lon/lat). They are stored in CGCS2000, which agrees with WGS 84 at
the centimetre level, so the numbers are served as stored. Invalid or unknown query parameters answer
400 as the standard requires; a ``limit`` above the maximum is clamped, not refused.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime, timezone
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gridgov.config import get_settings
from gridgov.errors import InvalidParameter
from gridgov.ogc.service import (
    COLLECTIONS,
    Collection,
    collection_extent,
    get_collection,
    get_feature,
    query_features,
)
from gridgov.people.auth import PrincipalDep
from gridgov.storage.session import SessionDep

router = APIRouter(prefix="/ogc", tags=["OGC API - Features"])

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GEOJSON = "application/geo+json"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
ITEM_PARAMS = {"limit", "offset", "bbox", "bbox-crs", "datetime", "f"}
MAX_OFFSET = 2**31 - 1  # both backends' integer range for OFFSET


def _base(request: Request) -> str:
    configured = get_settings().base_url
    return (configured or str(request.base_url)).rstrip("/")


def _json(body: dict, media_type: str = "application/json") -> Response:
    return Response(json.dumps(body, ensure_ascii=False), media_type=media_type)


def _check_format(request: Request, allowed: set[str] = frozenset({"json"})) -> None:
    f = request.query_params.get("f")
    if f is not None and f not in allowed:
        raise InvalidParameter(f"Unsupported format f={f}; this server offers {', '.join(sorted(allowed))}.")


@router.get("/", summary="Landing page")
def landing(request: Request) -> Response:
    """Landing page with links to the API definition, conformance and collections."""
    _check_format(request)
    base = _base(request)
    return _json(
        {
            "title": "GridGov OGC API – Features",
            "description": "Towns, villages, grids, micro-grids and the river, forest and farmland layers.",
            "links": [
                {"href": f"{base}/ogc/", "rel": "self", "type": "application/json", "title": "This document"},
                {"href": f"{base}/openapi.json", "rel": "service-desc",
                 "type": "application/vnd.oai.openapi+json;version=3.0", "title": "API definition"},
                {"href": f"{base}/docs", "rel": "service-doc", "type": "text/html", "title": "API documentation"},
                {"href": f"{base}/ogc/conformance", "rel": "conformance", "type": "application/json",
                 "title": "Conformance classes"},
                {"href": f"{base}/ogc/collections", "rel": "data", "type": "application/json",
                 "title": "Collections"},
            ],
        }
    )


@router.get("/conformance", summary="Conformance classes")
def conformance(request: Request) -> Response:
    """The conformance classes this server implements."""
    _check_format(request)
    return _json({"conformsTo": CONFORMANCE})


def _collection_body(base: str, collection: Collection, extent: list[float] | None) -> dict:
    body = {
        "id": collection.id,
        "title": collection.title,
        "description": collection.description,
        "itemType": "feature",
        "crs": [CRS84],
        "links": [
            {"href": f"{base}/ogc/collections/{collection.id}", "rel": "self", "type": "application/json"},
            {"href": f"{base}/ogc/collections/{collection.id}/items", "rel": "items", "type": GEOJSON,
             "title": collection.title},
        ],
    }
    if extent is not None:
        body["extent"] = {"spatial": {"bbox": [extent], "crs": CRS84}}
    return body


@router.get("/collections", summary="Feature collections")
def collections(request: Request, session: SessionDep, principal: PrincipalDep) -> Response:
    """All collections, each with its spatial extent."""
    _check_format(request)
    base = _base(request)
    return _json(
        {
            "links": [{"href": f"{base}/ogc/collections", "rel": "self", "type": "application/json"}],
            "collections": [
                _collection_body(base, c, collection_extent(session=session, principal=principal, collection=c))
                for c in COLLECTIONS.values()
            ],
        }
    )


@router.get("/collections/{collection_id}", summary="One feature collection")
def collection(collection_id: str, request: Request, session: SessionDep, principal: PrincipalDep) -> Response:
    """Description of one collection."""
    _check_format(request)
    c = get_collection(collection_id)
    extent = collection_extent(session=session, principal=principal, collection=c)
    return _json(_collection_body(_base(request), c, extent))


def _int_param(request: Request, name: str, default: int, minimum: int, maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidParameter(f"Parameter {name}={raw!r} is not an integer.") from None
    if value < minimum:
        raise InvalidParameter(f"Parameter {name}={value} must be at least {minimum}.")
    if maximum is not None and value > maximum:
        raise InvalidParameter(f"Parameter {name}={value} must be at most {maximum}.")
    return value


def _bbox_param(request: Request) -> tuple[float, float, float, float] | None:
    raw = request.query_params.get("bbox")
    crs = request.query_params.get("bbox-crs")
    if crs is not None and crs != CRS84:
        raise InvalidParameter(f"bbox-crs {crs} is not supported; use {CRS84}.")
    if raw is None:
        return None
    try:
        values = [float(v) for v in raw.split(",")]
    except ValueError:
        raise InvalidParameter(f"bbox={raw!r} must be 4 or 6 comma-separated numbers.") from None
    if len(values) == 6:
        values = [values[0], values[1], values[3], values[4]]
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise InvalidParameter(f"bbox={raw!r} must be 4 or 6 comma-separated finite numbers.")
    x0, y0, x1, y1 = values
    if not (-180 <= x0 <= 180 and -180 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise InvalidParameter(
            f"bbox={raw!r} is out of range: expected minlon,minlat,maxlon,maxlat in degrees, minlat <= maxlat."
        )
    if x0 > x1:
        raise InvalidParameter(f"bbox={raw!r} crosses the antimeridian, which this county cannot.")
    return x0, y0, x1, y1


def _datetime_param(request: Request) -> tuple[date | None, date | None] | None:
    """The days a ``datetime`` instant or interval covers, in the county's time zone (None: no datetime).

    A date alone (``2026-03-01``) or a time without a zone is the county's local time.
    """
    raw = request.query_params.get("datetime")
    if raw is None:
        return None
    parts = raw.split("/")
    if len(parts) > 2:
        raise InvalidParameter(f"datetime={raw!r} is not an RFC 3339 instant or interval.")
    zone = ZoneInfo(get_settings().timezone)
    days = []
    for part in parts:
        if part in ("", ".."):
            days.append(None)
            continue
        try:
            moment = datetime.fromisoformat(part.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidParameter(f"datetime={raw!r} is not an RFC 3339 instant or interval.") from None
        days.append((moment.astimezone(zone) if moment.tzinfo else moment).date())
    start, end = days[0], days[-1]
    if start is not None and end is not None and end < start:
        raise InvalidParameter(f"datetime={raw!r} ends before it starts.")
    return start, end


@router.get("/collections/{collection_id}/items", summary="Features of a collection")
def items(collection_id: str, request: Request, session: SessionDep, principal: PrincipalDep) -> Response:
    """Features as a GeoJSON FeatureCollection, with ``next``/``prev`` links for paging."""
    c = get_collection(collection_id)
    unknown = set(request.query_params) - ITEM_PARAMS - set(c.queryables)
    if unknown:
        raise InvalidParameter(
            f"Unknown query parameter(s): {', '.join(sorted(unknown))}. Allowed: "
            f"{', '.join(sorted(ITEM_PARAMS | set(c.queryables)))}."
        )
    _check_format(request, {"json", "geojson"})
    settings = get_settings()
    limit = min(_int_param(request, "limit", settings.ogc_default_limit, 1), settings.ogc_max_limit)
    offset = _int_param(request, "offset", 0, 0, MAX_OFFSET)
    bbox = _bbox_param(request)
    window = _datetime_param(request)
    if window is not None:
        c = c.between(*window)
    filters = {name: request.query_params[name] for name in c.queryables if name in request.query_params}

    page = query_features(
        session=session, principal=principal, collection=c, bbox=bbox, filters=filters,
        limit=limit, offset=offset,
    )
    base = _base(request)
    kept = {k: v for k, v in request.query_params.items() if k not in ("limit", "offset")}
    url = f"{base}/ogc/collections/{c.id}/items"

    def link(rel: str, off: int) -> dict:
        query = urlencode({**kept, "limit": limit, "offset": off})
        return {"href": f"{url}?{query}", "rel": rel, "type": GEOJSON}

    links = [link("self", offset), {"href": f"{base}/ogc/collections/{c.id}", "rel": "collection",
                                    "type": "application/json"}]
    if offset + len(page.features) < page.number_matched:
        links.append(link("next", offset + limit))
    if offset > 0:
        links.append(link("prev", max(0, offset - limit)))
    head = {
        "type": "FeatureCollection",
        "timeStamp": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "numberMatched": page.number_matched,
        "numberReturned": len(page.features),
        "links": links,
    }
    body = json.dumps(head, ensure_ascii=False)[:-1] + ',"features":[' + ",".join(page.features) + "]}"
    return Response(body, media_type=GEOJSON)


@router.get("/collections/{collection_id}/items/{feature_id}", summary="One feature")
def item(
    collection_id: str, feature_id: str, request: Request, session: SessionDep, principal: PrincipalDep
) -> Response:
    """One feature as GeoJSON."""
    _check_format(request, {"json", "geojson"})
    c = get_collection(collection_id)
    feature = get_feature(session=session, principal=principal, collection=c, feature_id=feature_id)
    base = _base(request)
    links = json.dumps(
        [
            {"href": f"{base}/ogc/collections/{c.id}/items/{feature_id}", "rel": "self", "type": GEOJSON},
            {"href": f"{base}/ogc/collections/{c.id}", "rel": "collection", "type": "application/json"},
        ]
    )
    return Response(feature[:-1] + f',"links":{links}}}', media_type=GEOJSON)
