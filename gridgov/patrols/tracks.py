"""Patrol tracks (巡查轨迹): GPS fixes, measuring tracks and flagging suspicious ones.

Grid officers' phones send GPS fixes in batches while they patrol, or upload the whole track afterwards
as GPX or GeoJSON (read by :mod:`gridgov.patrols.track_files`). This module holds fixes as
:class:`Fixes`, measures a track in the county's metric CRS (:func:`track_metrics`, :func:`metric_xy`)
and flags what a supervisor should look at (:func:`flag_track`). It is pure (numpy, shapely, pyproj; no
database, no web framework), so it tests in milliseconds.

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

import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

import numpy as np
import shapely

from gridgov.errors import GridGovError, InvalidDataset
from gridgov.geo.crs import STORAGE_EPSG, transformer

FUTURE_TOLERANCE = np.timedelta64(5, "m")
"""How far past ``now`` a fix may be dated before it counts as a future time (phone clocks drift)."""

REPEATED_RUN_MIN = 5
"""Consecutive fixes, at this many different times, at one identical position look like a stuck location.

Real GPS fixes jitter in the last digits even when the phone lies still; an exactly repeated position
comes from a phone serving its last known location, or from a replayed fix.
"""

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

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
    def from_rows(cls, rows: Iterable[Any], *, noun: str = "fix", naive_is_utc: bool = False) -> Fixes:
        """Fixes from a batch as the phone sends it: mappings or objects with ``lon``, ``lat``, ``time``.

        ``time`` is an ISO 8601 string with a UTC offset or a timezone-aware ``datetime``; ``accuracy_m``
        and ``speed_mps`` are optional. Objects (pydantic models, SQLAlchemy rows) are read by attribute.
        A missing or malformed value raises :class:`~gridgov.errors.InvalidDataset` naming the fix
        (``noun`` is what messages call one: a file reader passes "patrol.gpx: track point"). Times
        without an offset are refused, unless ``naive_is_utc`` (GPX defines its times as UTC).
        """
        return _fixes_from_rows(rows, noun=noun, naive_is_utc=naive_is_utc)

    def sorted_by_time(self) -> Fixes:
        """The same fixes in time order; fixes with equal times keep the order they were received in."""
        order = np.argsort(self.t, kind="stable")
        return Fixes(self.lon[order], self.lat[order], self.t[order], self.accuracy_m[order], self.speed_mps[order])


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
