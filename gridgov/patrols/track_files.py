"""Reading patrol tracks uploaded as files: GPX (through GDAL) and GeoJSON, into :class:`Fixes`.

Pure like :mod:`gridgov.patrols.tracks`: bytes in, fixes out, and an error that names the file and the
point when a file cannot be read.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any

import numpy as np
import pyogrio
import pyogrio.raw
import shapely
from pyogrio.errors import DataSourceError

from gridgov.errors import InvalidDataset, InvalidParameter
from gridgov.patrols.tracks import Fixes

_GPX_LAYERS = {"track_points": "track point", "route_points": "route point", "waypoints": "waypoint"}
"""GDAL's GPX point layers, in the order tried, with what their features are called in messages."""

_GEOJSON_CRS_NAMES = ("CRS84", "EPSG::4326", "EPSG:4326", "EPSG::4490", "EPSG:4490")
"""Endings of a legacy GeoJSON ``crs`` name that mean lon/lat on WGS84 or CGCS2000."""


def read_track_file(path_or_bytes: str | os.PathLike[str] | bytes, *, filename: str) -> Fixes:
    """Read the fixes of an uploaded GPX or GeoJSON track, in the order they appear in the file.

    GPX is read with GDAL: the ``track_points`` layer (every ``<trkpt>`` of every track and segment),
    or when there are none the ``route_points`` (``<rtept>``), or else the ``waypoints`` (``<wpt>``).
    Each point needs a ``<time>``; GDAL hands over a time it cannot parse as missing, so both read
    "has no time". GPX 1.0 ``<speed>`` is kept; accuracy is unknown, since ``<hdop>`` is not in metres.

    GeoJSON (RFC 7946) is either a FeatureCollection of Point features, each with a ``time`` property
    and optional ``accuracy_m`` and ``speed_mps`` properties, or one LineString feature (bare or as the
    only feature of a collection) whose ``properties.coordinateProperties.times`` or
    ``properties.times`` lists one time per coordinate.

    Both formats are WGS84, used as CGCS2000 (the two differ by centimetres).

    Parameters
    ----------
    path_or_bytes : str, os.PathLike or bytes
        A file path, or the bytes of an upload.
    filename : str
        The file's name: its extension (``.gpx``, ``.geojson`` or ``.json``) picks the format, and
        messages name it.

    Returns
    -------
    Fixes

    Raises
    ------
    InvalidParameter
        The extension is not one of the above.
    InvalidDataset
        The file is not GPX or GeoJSON, holds no points, holds other geometries, or a point has no
        time, an unreadable time or no coordinates; the message names the file and the point.

    Examples
    --------
    >>> gpx = b'''<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>
    ...   <trkpt lat="29.37" lon="112.40"><time>2024-05-01T08:00:00Z</time></trkpt>
    ...   <trkpt lat="29.38" lon="112.40"><time>2024-05-01T08:05:00Z</time></trkpt>
    ... </trkseg></trk></gpx>'''
    >>> read_track_file(gpx, filename="patrol.gpx").lat
    array([29.37, 29.38])
    """
    reader = _READERS.get(PurePath(filename).suffix.lower())
    if reader is None:
        raise InvalidParameter(f"{filename}: unsupported track file type; upload a .gpx or .geojson file")
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else Path(path_or_bytes).read_bytes()
    return reader(data, filename)


def _read_gpx(data: bytes, filename: str) -> Fixes:
    try:
        layers = set(pyogrio.list_layers(data)[:, 0])
        if "track_points" not in layers:
            raise InvalidDataset(f"{filename} is not a GPX file: it holds no GPX track, route or waypoint layers")
        for layer, noun in _GPX_LAYERS.items():
            meta, _fids, wkb, columns = pyogrio.raw.read(data, layer=layer, datetime_as_string=True)
            if len(wkb):
                break
        else:
            raise InvalidDataset(f"{filename} holds no track points (<trkpt>), route points or waypoints")
    except DataSourceError as exc:
        # GDAL names the upload by its temporary /vsimem/ path, which means nothing to the person uploading.
        detail = re.sub(r"'?/vsimem/[^\s']*'?\s*", "", str(exc).split(";")[0]).strip()
        raise InvalidDataset(f"{filename} is not a readable GPX file: {detail}") from None
    # Times were read as text (datetime_as_string) because GDAL's datetime64 conversion drops the UTC offset.
    fields = dict(zip(meta["fields"], columns))
    points = shapely.from_wkb(wkb)
    speeds = fields.get("speed", np.full(len(points), np.nan))  # only GPX 1.0 has <speed>
    rows = (
        {"lon": lon, "lat": lat, "time": time, "speed_mps": speed}
        for lon, lat, time, speed in zip(shapely.get_x(points), shapely.get_y(points), fields["time"], speeds)
    )
    return Fixes.from_rows(rows, noun=f"{filename}: {noun}", naive_is_utc=True)


def _read_geojson(data: bytes, filename: str) -> Fixes:
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise InvalidDataset(f"{filename} is not UTF-8 text, so not GeoJSON") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise InvalidDataset(f"{filename} is not valid JSON: {exc.msg} at {where}") from None
    if not isinstance(doc, dict) or doc.get("type") not in ("FeatureCollection", "Feature"):
        kind = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
        raise InvalidDataset(f"{filename} must be a GeoJSON FeatureCollection or Feature, not {kind}")
    _check_geojson_crs(doc, filename)
    features = doc.get("features") if doc["type"] == "FeatureCollection" else [doc]
    if not isinstance(features, list) or not features:
        raise InvalidDataset(f"{filename} holds no features")
    types = []
    for i, feature in enumerate(features):
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        if not isinstance(geometry, dict):
            raise InvalidDataset(f"{filename}: feature {i} has no geometry")
        types.append(geometry.get("type"))
    if len(features) == 1 and types[0] == "LineString":
        return _geojson_line(features[0], filename)
    for i, kind in enumerate(types):
        if kind != "Point":
            raise InvalidDataset(
                f"{filename}: feature {i} is a {kind}; a track is Point features with a time each, "
                f"or one LineString feature with a time per coordinate"
            )
    rows = []
    for i, feature in enumerate(features):
        lon, lat = _position(feature["geometry"].get("coordinates"), f"{filename}: feature {i}")
        properties = _mapping(feature.get("properties"))
        rows.append({"lon": lon, "lat": lat, **{k: properties.get(k) for k in ("time", "accuracy_m", "speed_mps")}})
    return Fixes.from_rows(rows, noun=f"{filename}: feature")


def _geojson_line(feature: dict, filename: str) -> Fixes:
    coordinates = feature["geometry"].get("coordinates")
    properties = _mapping(feature.get("properties"))
    times = _mapping(properties.get("coordinateProperties")).get("times", properties.get("times"))
    if not isinstance(coordinates, list) or not isinstance(times, list):
        raise InvalidDataset(
            f"{filename}: the LineString needs a list of coordinates and a list of times in "
            f"properties.coordinateProperties.times or properties.times"
        )
    if len(times) != len(coordinates):
        raise InvalidDataset(f"{filename}: the LineString has {len(coordinates)} coordinates but {len(times)} times")
    rows = []
    for i, (position, time) in enumerate(zip(coordinates, times)):
        lon, lat = _position(position, f"{filename}: coordinate {i}")
        rows.append({"lon": lon, "lat": lat, "time": time})
    return Fixes.from_rows(rows, noun=f"{filename}: coordinate")


def _position(coordinates: Any, where: str) -> tuple[Any, Any]:
    """The lon and lat of a GeoJSON position ``[lon, lat]`` or ``[lon, lat, height]``."""
    if not isinstance(coordinates, list) or len(coordinates) not in (2, 3):
        raise InvalidDataset(f"{where} has coordinates {coordinates!r}; expected [lon, lat]")
    return coordinates[0], coordinates[1]


def _mapping(value: Any) -> Mapping:
    """A GeoJSON member that should be an object, or an empty one when it is missing or malformed."""
    return value if isinstance(value, dict) else {}


def _check_geojson_crs(doc: dict, filename: str) -> None:
    """Refuse a legacy ``crs`` member naming anything but lon/lat degrees (e.g. a Gauss-Krüger export)."""
    crs = doc.get("crs")
    if crs is None:
        return
    name = str(_mapping(_mapping(crs).get("properties")).get("name", crs))
    if not name.endswith(_GEOJSON_CRS_NAMES):
        raise InvalidDataset(f"{filename} is in {name}; export the track in WGS84 lon/lat (EPSG:4326)")


_READERS = {".gpx": _read_gpx, ".geojson": _read_geojson, ".json": _read_geojson}
"""Track file readers by lower-case file extension."""
