"""Patrol tracks (巡查轨迹): reading GPS fixes, measuring tracks and flagging suspicious ones.

Grid officers' phones send GPS fixes in batches while they patrol, or upload the whole track afterwards
as GPX or GeoJSON. This module turns either into :class:`Fixes`, measures a track in the county's metric
CRS (:func:`track_metrics`, :func:`metric_xy`) and flags what a supervisor should look at
(:func:`flag_track`). It is pure (numpy, shapely, pyproj; no database, no web framework), so it tests in
milliseconds.

Conventions
-----------
* Positions are CGCS2000 (EPSG:4490) lon/lat degrees. GPX and GeoJSON are WGS84 by definition; WGS84 and
  CGCS2000 agree within centimetres, far below the metres of a phone fix, so their coordinates are
  taken as they are.
* Times are ``numpy.datetime64[ms]`` in UTC: the dtype says its unit, and differences come out as
  ``timedelta64`` without an epoch to remember. Times given as text or ``datetime`` must carry a UTC
  offset (``Z`` or ``+08:00``), because a bare ``08:00`` could be UTC or Beijing time, eight hours
  apart. GPX is the exception: its schema defines times as UTC.
* Fix indices, in error messages and in :class:`TrackFlag`, count from 0 in the order the fixes were
  received (for a file: the order they appear in it).
* A track that cannot be stored raises :class:`~gridgov.errors.InvalidDataset` (422),
  :class:`TrackTooLarge` (413) or, for an unknown file type, :class:`~gridgov.errors.InvalidParameter`
  (400). A track that can be stored but looks wrong is not an error: :func:`flag_track` reports it and
  a person decides.
"""

from __future__ import annotations

import json
import numbers
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from pathlib import Path, PurePath
from typing import Any

import numpy as np
import pyogrio
import pyogrio.raw
import shapely
from pyogrio.errors import DataSourceError

from gridgov.errors import GridGovError, InvalidDataset, InvalidParameter
from gridgov.geo.crs import STORAGE_EPSG, transformer

FUTURE_TOLERANCE = np.timedelta64(5, "m")
"""How far past ``now`` a fix may be dated before it counts as a future time (phone clocks drift)."""

REPEATED_RUN_MIN = 5
"""Consecutive fixes, at this many different times, at one identical position look like a stuck location.

Real GPS fixes jitter in the last digits even when the phone lies still; an exactly repeated position
comes from a phone serving its last known location, or from a replayed fix.
"""

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

_GPX_LAYERS = {"track_points": "track point", "route_points": "route point", "waypoints": "waypoint"}
"""GDAL's GPX point layers, in the order tried, with what their features are called in messages."""

_GEOJSON_CRS_NAMES = ("CRS84", "EPSG::4326", "EPSG:4326", "EPSG::4490", "EPSG:4490")
"""Endings of a legacy GeoJSON ``crs`` name that mean lon/lat on WGS84 or CGCS2000."""


class TrackTooLarge(GridGovError):
    """A track with more fixes than one track may hold (HTTP 413 Content Too Large)."""

    status = 413
    code = "track_too_large"


class FlagKind(StrEnum):
    """What looks wrong with a track (可疑轨迹的类型)."""

    OUT_OF_ORDER = "out_of_order"
    SPEED_JUMP = "speed_jump"
    FAR_OUTSIDE_GRID = "far_outside_grid"
    REPEATED_FIXES = "repeated_fixes"
    FUTURE_TIME = "future_time"
    ENDS_BEFORE_START = "ends_before_start"


@dataclass(frozen=True)
class TrackFlag:
    """One suspicion about a track: its kind, the fix it starts at (None for the whole patrol), why."""

    kind: FlagKind
    index: int | None
    message: str


@dataclass(frozen=True)
class TrackMetrics:
    """What a track measures: fixes, seconds from first to last fix, metres walked in time order."""

    fix_count: int
    duration_s: float
    length_m: float


@dataclass(frozen=True, eq=False)
class Fixes:
    """The GPS fixes of one track as parallel, read-only numpy arrays.

    Attributes
    ----------
    lon, lat : numpy.ndarray of float64
        CGCS2000 (EPSG:4490) degrees, finite.
    t : numpy.ndarray of datetime64[ms]
        UTC times, none missing. Integer input is read as epoch milliseconds.
    accuracy_m : numpy.ndarray of float64
        The phone's horizontal accuracy radius in metres, NaN when unknown.
    speed_mps : numpy.ndarray of float64
        The phone's own speed reading in metres per second, NaN when unknown.

    Examples
    --------
    >>> fixes = Fixes.from_rows([
    ...     {"lon": 112.40, "lat": 29.37, "time": "2024-05-01T08:00:00Z"},
    ...     {"lon": 112.40, "lat": 29.38, "time": "2024-05-01T16:01:00+08:00", "accuracy_m": 8.0},
    ... ])
    >>> len(fixes)
    2
    >>> str(fixes.t[1])
    '2024-05-01T08:01:00.000'
    >>> fixes.accuracy_m
    array([nan,  8.])
    """

    lon: np.ndarray
    lat: np.ndarray
    t: np.ndarray
    accuracy_m: np.ndarray
    speed_mps: np.ndarray

    def __post_init__(self) -> None:
        arrays = {
            "lon": np.array(self.lon, dtype=np.float64),
            "lat": np.array(self.lat, dtype=np.float64),
            "t": np.asarray(self.t).astype("datetime64[ms]"),
            "accuracy_m": np.array(self.accuracy_m, dtype=np.float64),
            "speed_mps": np.array(self.speed_mps, dtype=np.float64),
        }
        n = len(arrays["lon"])
        for name, values in arrays.items():
            if values.shape != (n,):
                raise ValueError(f"Fixes.{name} has shape {values.shape}; every array must have shape ({n},)")
        lon, lat, t = arrays["lon"], arrays["lat"], arrays["t"]
        if (bad := np.flatnonzero(~(np.isfinite(lon) & np.isfinite(lat)))).size:
            i = bad[0]
            raise InvalidDataset(f"fix {i} has no valid position (lon {lon[i]}, lat {lat[i]})")
        if (missing := np.flatnonzero(np.isnat(t))).size:
            raise InvalidDataset(f"fix {missing[0]} has no time")
        for name, values in arrays.items():
            values.setflags(write=False)
            object.__setattr__(self, name, values)

    def __len__(self) -> int:
        return len(self.lon)

    @classmethod
    def from_arrays(cls, lon, lat, t, *, accuracy_m=None, speed_mps=None) -> Fixes:
        """Fixes from array-likes; accuracy and speed default to unknown (NaN)."""
        unknown = np.full(np.shape(lon), np.nan)
        return cls(
            lon, lat, t,
            unknown if accuracy_m is None else accuracy_m,
            unknown if speed_mps is None else speed_mps,
        )

    @classmethod
    def from_rows(cls, rows: Iterable[Any]) -> Fixes:
        """Fixes from a batch as the phone sends it: mappings or objects with ``lon``, ``lat``, ``time``.

        ``time`` is an ISO 8601 string with a UTC offset or a timezone-aware ``datetime``; ``accuracy_m``
        and ``speed_mps`` are optional. Objects (pydantic models, SQLAlchemy rows) are read by attribute.
        A missing or malformed value raises :class:`~gridgov.errors.InvalidDataset` naming the fix.
        """
        return _fixes_from_rows(rows, noun="fix")

    def sorted_by_time(self) -> Fixes:
        """The same fixes in time order; fixes with equal times keep the order they were received in."""
        order = np.argsort(self.t, kind="stable")
        return Fixes(self.lon[order], self.lat[order], self.t[order], self.accuracy_m[order], self.speed_mps[order])


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


def metric_xy(fixes: Fixes, metric_epsg: int) -> np.ndarray:
    """The fixes projected to the metric CRS, as an ``(n, 2)`` array of x, y metres in the given order.

    Examples
    --------
    >>> fixes = Fixes.from_arrays([111.0], [0.0], [0])
    >>> metric_xy(fixes, 4546)
    array([[500000.,      0.]])
    """
    x, y = transformer(STORAGE_EPSG, metric_epsg).transform(fixes.lon, fixes.lat)
    return np.column_stack([x, y])


def track_metrics(fixes: Fixes, *, metric_epsg: int) -> TrackMetrics:
    """Measure a track in time order: fix count, duration and length in the metric CRS.

    The fixes are put in time order first, so a batch that arrived out of order measures the path the
    officer walked, not a zigzag between batches.

    Parameters
    ----------
    fixes : Fixes
    metric_epsg : int
        The county's metric CRS (for Nan County EPSG:4546, CGCS2000 Gauss-Krüger CM 111E).

    Returns
    -------
    TrackMetrics
        ``duration_s`` is the last time minus the first, ``length_m`` the sum of straight steps between
        consecutive fixes; both are 0 for fewer than two fixes.

    Examples
    --------
    >>> fixes = Fixes.from_rows([
    ...     {"lon": 112.40, "lat": 29.37, "time": "2024-05-01T08:00:00Z"},
    ...     {"lon": 112.40, "lat": 29.38, "time": "2024-05-01T08:10:00Z"},
    ... ])
    >>> m = track_metrics(fixes, metric_epsg=4546)
    >>> m.fix_count, m.duration_s, round(m.length_m, 1)
    (2, 600.0, 1108.7)
    """
    if len(fixes) < 2:
        return TrackMetrics(fix_count=len(fixes), duration_s=0.0, length_m=0.0)
    ordered = fixes.sorted_by_time()
    steps = np.diff(metric_xy(ordered, metric_epsg), axis=0)
    return TrackMetrics(
        fix_count=len(fixes),
        duration_s=float((ordered.t[-1] - ordered.t[0]) / np.timedelta64(1, "s")),
        length_m=float(np.hypot(steps[:, 0], steps[:, 1]).sum()),
    )


def validate_fixes(
    fixes: Fixes,
    *,
    max_fixes: int,
    county_bbox: tuple[float, float, float, float] | None = None,
    min_fixes: int = 2,
) -> None:
    """Refuse a track that cannot be stored; return None when it can.

    Parameters
    ----------
    fixes : Fixes
    max_fixes : int
        The most fixes one track may hold.
    min_fixes : int
        The fewest: 2 for a whole track, 1 for one live batch of a track still being walked.
    county_bbox : (min_lon, min_lat, max_lon, max_lat), optional
        CGCS2000 degrees every fix must lie within. Pass the county's bounds already padded (say by a
        kilometre, measured in the metric CRS): a fix a few metres over the border is GPS error and
        :func:`flag_track` judges it; a fix in another province is a broken track.

    Raises
    ------
    TrackTooLarge
        More than ``max_fixes`` fixes (HTTP 413).
    InvalidDataset
        Fewer than two fixes, a coordinate out of range, or a fix outside ``county_bbox``.

    Examples
    --------
    >>> fixes = Fixes.from_arrays([112.40], [29.37], [0])
    >>> validate_fixes(fixes, max_fixes=10_000)
    Traceback (most recent call last):
    ...
    gridgov.errors.InvalidDataset: a track needs at least 2 fixes; this one has 1
    """
    n = len(fixes)
    if n > max_fixes:
        raise TrackTooLarge(f"the track has {n:,} fixes; the limit is {max_fixes:,} fixes per track")
    if n < min_fixes:
        raise InvalidDataset(f"a track needs at least {min_fixes} fixes; this one has {n}")
    lon, lat = fixes.lon, fixes.lat
    if (bad := np.flatnonzero((np.abs(lon) > 180) | (np.abs(lat) > 90))).size:
        i = bad[0]
        raise InvalidDataset(
            f"{_count(bad.size)} out of range (lon -180..180, lat -90..90); the first is fix {i} at "
            f"lon {lon[i]}, lat {lat[i]}. Are lon and lat swapped?"
        )
    if county_bbox is not None:
        min_lon, min_lat, max_lon, max_lat = county_bbox
        outside = np.flatnonzero((lon < min_lon) | (lon > max_lon) | (lat < min_lat) | (lat > max_lat))
        if outside.size:
            i = outside[0]
            raise InvalidDataset(
                f"{_count(outside.size)} outside the county (lon {min_lon}..{max_lon}, lat {min_lat}..{max_lat}); "
                f"the first is fix {i} at lon {lon[i]:.6f}, lat {lat[i]:.6f}"
            )


def flag_track(
    fixes: Fixes,
    *,
    grid_metric_geometry: shapely.Geometry,
    metric_epsg: int,
    now: datetime,
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
    max_speed_kmh: float = 120.0,
    max_outside_m: float = 500.0,
) -> list[TrackFlag]:
    """Flag what looks wrong with a patrol's track, for a supervisor to judge.

    Pass the fixes in the order they were RECEIVED (not sorted): that order is what reveals
    ``out_of_order`` times, and every flag's ``index`` and message refer to it. The other checks put
    the fixes in time order themselves.

    * ``out_of_order``: a fix dated earlier than the fix received just before it (one flag each).
    * ``speed_jump``: consecutive fixes in time order further apart than ``max_speed_kmh`` allows, after
      taking off both fixes' accuracy radii when known (GPS jitter between fixes a second apart is not
      a jump); two fixes at different places with the same time always are (one flag each, at the later
      fix).
    * ``far_outside_grid``: fixes more than ``max_outside_m`` from the grid (one flag per stretch of
      consecutive fixes outside, at its first fix).
    * ``repeated_fixes``: :data:`REPEATED_RUN_MIN` or more consecutive fixes at one identical position at
      different times (one flag per stretch), and fixes that copy an earlier fix's position and time
      exactly (one flag for all of them, at the first copy).
    * ``future_time``: fixes dated more than :data:`FUTURE_TOLERANCE` after ``now`` (one flag, at the
      first received).
    * ``ends_before_start``: the patrol's claimed ``ended_at`` is before its ``started_at``.

    Parameters
    ----------
    fixes : Fixes
        In received order.
    grid_metric_geometry : shapely.Geometry
        The officer's grid, in ``metric_epsg``.
    metric_epsg : int
        The county's metric CRS.
    now : datetime
        Timezone-aware; the server's time when the fixes arrived.
    started_at, ended_at : datetime, optional
        Timezone-aware; the start and end the patrol claims.
    max_speed_kmh, max_outside_m : float
        The thresholds of ``speed_jump`` and ``far_outside_grid``.

    Returns
    -------
    list of TrackFlag
        Grouped by kind in the order above; empty for a clean track.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> fixes = Fixes.from_rows([
    ...     {"lon": 112.40, "lat": 29.37, "time": "2024-05-01T08:00:00Z"},
    ...     {"lon": 112.40, "lat": 29.38, "time": "2024-05-01T08:00:10Z"},
    ... ])
    >>> grid = shapely.buffer(shapely.points(metric_xy(fixes, 4546)[0]), 2_000)
    >>> flags = flag_track(fixes, grid_metric_geometry=grid, metric_epsg=4546,
    ...                    now=datetime(2024, 5, 1, 9, tzinfo=timezone.utc))
    >>> [flag.kind.value for flag in flags]
    ['speed_jump']
    >>> flags[0].message
    'fix 1 is 1,109 m from fix 0 and 10 s later: 399 km/h after allowing for GPS accuracy, above the 120 km/h limit'
    """
    order = np.argsort(fixes.t, kind="stable")
    xy = metric_xy(fixes, metric_epsg)[order]
    return [
        *_out_of_order(fixes),
        *_speed_jumps(fixes, xy, order, max_speed_kmh),
        *_far_outside(xy, order, grid_metric_geometry, max_outside_m),
        *_stuck_positions(fixes, order),
        *_duplicates(fixes),
        *_future_times(fixes, now),
        *_ends_before_start(started_at, ended_at),
    ]


def _out_of_order(fixes: Fixes) -> list[TrackFlag]:
    t = fixes.t
    return [
        TrackFlag(
            FlagKind.OUT_OF_ORDER, int(i),
            f"fix {i} is dated {_iso(t[i])}, earlier than fix {i - 1} received before it ({_iso(t[i - 1])})",
        )
        for i in np.flatnonzero(t[1:] < t[:-1]) + 1
    ]


def _speed_jumps(fixes: Fixes, xy: np.ndarray, order: np.ndarray, max_speed_kmh: float) -> list[TrackFlag]:
    """Consecutive fixes (in time order) whose distance, less both accuracy radii, needs too high a speed."""
    seconds = np.diff(fixes.t[order]) / np.timedelta64(1, "s")
    steps = np.diff(xy, axis=0)
    step_m = np.hypot(steps[:, 0], steps[:, 1])
    radius = np.nan_to_num(fixes.accuracy_m[order])
    beyond_m = np.maximum(step_m - radius[1:] - radius[:-1], 0.0)
    # Compared as a product, so two fixes at the same time but different places count without dividing by 0.
    jumps = np.flatnonzero(beyond_m > max_speed_kmh / 3.6 * seconds)
    flags = []
    for k in jumps:
        before, after = order[k], order[k + 1]
        if seconds[k] > 0:
            message = (
                f"fix {after} is {step_m[k]:,.0f} m from fix {before} and {seconds[k]:g} s later: "
                f"{beyond_m[k] / seconds[k] * 3.6:,.0f} km/h after allowing for GPS accuracy, "
                f"above the {max_speed_kmh:g} km/h limit"
            )
        else:
            message = f"fix {after} is {step_m[k]:,.0f} m from fix {before} at the same time, {_iso(fixes.t[after])}"
        flags.append(TrackFlag(FlagKind.SPEED_JUMP, int(after), message))
    return flags


def _far_outside(xy: np.ndarray, order: np.ndarray, grid: shapely.Geometry, max_outside_m: float) -> list[TrackFlag]:
    """One flag per stretch of consecutive fixes (in time order) beyond ``max_outside_m`` from the grid."""
    distance_m = shapely.distance(grid, shapely.points(xy))
    flags = []
    for start, stop in zip(*_runs(distance_m > max_outside_m)):
        first, last = order[start], order[stop - 1]
        farthest = start + np.argmax(distance_m[start:stop])
        if stop - start == 1:
            where = f"fix {first} is {distance_m[start]:,.0f} m"
        else:
            where = (
                f"{stop - start} fixes from fix {first} to fix {last} are up to {distance_m[farthest]:,.0f} m "
                f"(fix {order[farthest]})"
            )
        message = f"{where} outside the grid, beyond the {max_outside_m:g} m allowed"
        flags.append(TrackFlag(FlagKind.FAR_OUTSIDE_GRID, int(first), message))
    return flags


def _stuck_positions(fixes: Fixes, order: np.ndarray) -> list[TrackFlag]:
    """Stretches of consecutive fixes (in time order) at one identical position at enough different times."""
    lon, lat, t = fixes.lon[order], fixes.lat[order], fixes.t[order]
    same_place = (lon[1:] == lon[:-1]) & (lat[1:] == lat[:-1])
    flags = []
    for start, stop in zip(*_runs(same_place)):
        last = stop  # same_place[k] pairs fix k with fix k + 1, so the stretch of fixes ends at ``stop``
        if len(np.unique(t[start:last + 1])) < REPEATED_RUN_MIN:
            continue
        minutes = (t[last] - t[start]) / np.timedelta64(1, "m")
        message = (
            f"{last - start + 1} consecutive fixes from fix {order[start]} to fix {order[last]} report the identical "
            f"position {lon[start]:.6f}, {lat[start]:.6f} over {minutes:.1f} min: the phone may have stopped "
            f"updating its location"
        )
        flags.append(TrackFlag(FlagKind.REPEATED_FIXES, int(order[start]), message))
    return flags


def _duplicates(fixes: Fixes) -> list[TrackFlag]:
    """One flag for all the fixes that repeat an earlier fix's position and time exactly (a replayed batch)."""
    # lexsort is stable: among identical fixes the earliest received comes first, so the rest are copies.
    key = np.lexsort((fixes.lat, fixes.lon, fixes.t))
    lon, lat, t = fixes.lon[key], fixes.lat[key], fixes.t[key]
    copies = np.flatnonzero((t[1:] == t[:-1]) & (lon[1:] == lon[:-1]) & (lat[1:] == lat[:-1])) + 1
    if not copies.size:
        return []
    first = copies[np.argmin(key[copies])]
    repeat = "fix repeats" if copies.size == 1 else "fixes repeat"
    message = (
        f"{copies.size:,} {repeat} an earlier fix exactly (same position and time); the first is "
        f"fix {key[first]}, a copy of fix {key[first - 1]}"
    )
    return [TrackFlag(FlagKind.REPEATED_FIXES, int(key[first]), message)]


def _future_times(fixes: Fixes, now: datetime) -> list[TrackFlag]:
    now_ms = np.datetime64(_epoch_ms(now, "now"), "ms")
    ahead = np.flatnonzero(fixes.t > now_ms + FUTURE_TOLERANCE)
    if not ahead.size:
        return []
    first = ahead[0]
    tolerance_min = FUTURE_TOLERANCE / np.timedelta64(1, "m")
    message = (
        f"{_count(ahead.size)} dated after now ({_iso(now_ms)}) plus {tolerance_min:g} min; "
        f"the first is fix {first} at {_iso(fixes.t[first])}"
    )
    return [TrackFlag(FlagKind.FUTURE_TIME, int(first), message)]


def _ends_before_start(started_at: datetime | None, ended_at: datetime | None) -> list[TrackFlag]:
    if started_at is None or ended_at is None:
        return []
    start = np.datetime64(_epoch_ms(started_at, "started_at"), "ms")
    end = np.datetime64(_epoch_ms(ended_at, "ended_at"), "ms")
    if end >= start:
        return []
    message = f"the patrol claims to end at {_iso(end)}, before it started at {_iso(start)}"
    return [TrackFlag(FlagKind.ENDS_BEFORE_START, None, message)]


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and stop (exclusive) positions of each stretch of True in a boolean array."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def _count(n: int) -> str:
    """``"1 fix is"`` or ``"3 fixes are"``, to start a sentence about some fixes."""
    return "1 fix is" if n == 1 else f"{n:,} fixes are"


def _iso(value: np.datetime64) -> str:
    return f"{np.datetime_as_string(value, unit='s')}Z"


def _epoch_ms(value: Any, where: str, *, naive_is_utc: bool = False) -> int:
    """Milliseconds since 1970 UTC of an ISO 8601 string or aware datetime; ``where`` names it in errors."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InvalidDataset(f"{where} has no time")
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidDataset(f"{where} has time {value!r}, which is not an ISO 8601 date and time") from None
    if not isinstance(value, datetime):
        raise InvalidDataset(f"{where} has time {value!r}; give an ISO 8601 string such as 2024-05-01T08:00:00Z")
    if value.utcoffset() is None:
        if not naive_is_utc:
            raise InvalidDataset(
                f"{where} has time {value.isoformat()} without a UTC offset; add Z (UTC) or +08:00 (Beijing time)"
            )
        value = value.replace(tzinfo=timezone.utc)
    return (value - _EPOCH) // timedelta(milliseconds=1)


def _number(value: Any, *, where: str, name: str, optional: bool = False) -> float:
    """A float from a row's field; a missing optional one is NaN (unknown)."""
    if value is None:
        if optional:
            return np.nan
        raise InvalidDataset(f"{where} has no {name}")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidDataset(f"{where} has {name} {value!r}, which is not a number")
    if not optional and not np.isfinite(value):
        raise InvalidDataset(f"{where} has {name} {value}, which is not a finite number")
    return float(value)


def _field(row: Any, name: str) -> Any:
    return row.get(name) if isinstance(row, Mapping) else getattr(row, name, None)


def _fixes_from_rows(rows: Iterable[Any], *, noun: str, naive_is_utc: bool = False) -> Fixes:
    """Fixes from rows with lon, lat, time and optional accuracy_m, speed_mps; errors say "{noun} {i}"."""
    rows = list(rows)
    n = len(rows)
    lon, lat = np.empty(n), np.empty(n)
    t = np.empty(n, dtype=np.int64)
    accuracy_m, speed_mps = np.empty(n), np.empty(n)
    for i, row in enumerate(rows):
        where = f"{noun} {i}"
        lon[i] = _number(_field(row, "lon"), where=where, name="lon")
        lat[i] = _number(_field(row, "lat"), where=where, name="lat")
        where = f"{noun} {i} ({lon[i]:.6f}, {lat[i]:.6f})"
        t[i] = _epoch_ms(_field(row, "time"), where, naive_is_utc=naive_is_utc)
        accuracy_m[i] = _number(_field(row, "accuracy_m"), where=where, name="accuracy_m", optional=True)
        speed_mps[i] = _number(_field(row, "speed_mps"), where=where, name="speed_mps", optional=True)
    return Fixes(lon, lat, t, accuracy_m, speed_mps)


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
    return _fixes_from_rows(rows, noun=f"{filename}: {noun}", naive_is_utc=True)


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
    return _fixes_from_rows(rows, noun=f"{filename}: feature")


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
    return _fixes_from_rows(rows, noun=f"{filename}: coordinate")


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
