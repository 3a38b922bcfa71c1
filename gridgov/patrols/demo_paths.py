"""Believable walks for the demo's synthetic patrols, in a metric CRS (pure numpy and shapely).

An officer walks out along one bank of the grid's longest river stretch and back along the other, or,
where there is no river worth following, round a loop just inside the grid's outline, at walking speed
with stops and GPS jitter; a few walks are too short, and a few carry what ``flag_track`` should catch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import numpy as np
import shapely

CHINA = timezone(timedelta(hours=8), "CST")
"""China Standard Time: patrols are walked in working hours there."""

RIVER_WALK_RATE = 0.85
"""Share of the patrols of a grid with a river that walk along it."""
MIN_RIVER_M = 250.0
"""A grid's river stretch shorter than this is not walked along."""
DENSE_M = 5.0
"""Spacing of the dense path the fixes are taken from."""
SHORT_RATE = 0.035
"""Share of patrols too short for the grid rule: under 2 km, or under 30 minutes."""
SUSPICIOUS_RATE = 0.012
"""Share of tracks with a GPS glitch or a stuck position, which flag_track catches."""


@dataclass(frozen=True)
class Walk:
    """One walked patrol: what kind of walk, and its fixes in time order (metric x/y, epoch ms)."""

    kind: str  # normal | short_distance | short_time | glitch | stuck
    xy: np.ndarray
    t_ms: np.ndarray
    accuracy_m: np.ndarray
    speed_mps: np.ndarray


def largest_part(geom: shapely.Geometry) -> shapely.Geometry | None:
    parts = shapely.get_parts(geom)
    parts = parts[~shapely.is_empty(parts)]
    if not len(parts):
        return None
    size = shapely.area(parts) if shapely.get_dimensions(parts[0]) == 2 else shapely.length(parts)
    return parts[int(np.argmax(size))]


def walking_ring(grid_metric: shapely.Geometry, inset: float) -> np.ndarray:
    """The loop an officer walks where no river is: the grid's outline ``inset`` metres inside."""
    for distance in (inset, 5.0, 0.0):
        part = largest_part(shapely.buffer(grid_metric, -distance) if distance else grid_metric)
        if part is not None and part.length > 200:
            break
    return shapely.get_coordinates(shapely.get_exterior_ring(part))


def river_line(rivers) -> np.ndarray | None:
    if rivers is None or not len(rivers):
        return None
    merged = largest_part(shapely.line_merge(shapely.union_all(rivers)))
    return shapely.get_coordinates(merged) if merged is not None and merged.length >= MIN_RIVER_M else None


def points_along(coords: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """Points at ``distance`` metres along the polyline ``coords`` (clamped to its ends)."""
    cumulative = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(coords, axis=0).T))])
    return np.column_stack([np.interp(distance, cumulative, coords[:, 0]),
                            np.interp(distance, cumulative, coords[:, 1])])


def polyline_length(coords: np.ndarray) -> float:
    return float(np.hypot(*np.diff(coords, axis=0).T).sum())


def walking_path(river: np.ndarray | None, ring: np.ndarray, rng: np.random.Generator,
                 length: float) -> np.ndarray:
    """Vertices of a path of about ``length`` metres: along the river out and back, or round the loop."""
    if river is None or rng.random() >= RIVER_WALK_RATE:
        return loop(ring, rng.uniform(0.0, polyline_length(ring)), length, rng.choice([-1.0, 1.0]))
    river = river if rng.random() < 0.5 else river[::-1]
    side = rng.choice([-1.0, 1.0]) * rng.uniform(3.0, 8.0)
    out, back = bank(river, side), bank(river, -side)
    out_length, back_length, half = polyline_length(out), polyline_length(back), length / 2
    if half <= min(out_length, back_length):  # out along one bank, back along the other
        f0 = rng.uniform(0.0, 1.0 - half / out_length)
        fractions = np.linspace(f0, f0 + half / out_length, max(int(half / DENSE_M), 2))
        return np.concatenate([points_along(out, fractions * out_length),
                               points_along(back, fractions[::-1] * back_length)])
    # The whole stretch out and back, then on round the loop from the nearest point of it.
    fractions = np.linspace(0.0, 1.0, max(int(out_length / DENSE_M), 2))
    coords = np.concatenate([points_along(out, fractions * out_length),
                             points_along(back, fractions[::-1] * back_length)])
    joined = shapely.line_locate_point(shapely.LineString(ring), shapely.Point(coords[-1]))
    rest = max(length - polyline_length(coords), DENSE_M)
    return np.concatenate([coords, loop(ring, joined, rest, rng.choice([-1.0, 1.0]))])


def bank(river: np.ndarray, distance: float) -> np.ndarray:
    bank = shapely.offset_curve(shapely.LineString(river), distance)
    if isinstance(bank, shapely.LineString) and not bank.is_empty and bank.length > 0:
        return shapely.get_coordinates(bank)
    return river


def loop(ring: np.ndarray, start: float, length: float, direction: float) -> np.ndarray:
    perimeter = polyline_length(ring)
    return points_along(ring, (start + direction * np.arange(0.0, length + DENSE_M, DENSE_M)) % perimeter)


def walk(river: np.ndarray | None, ring: np.ndarray, day: date, county_box: np.ndarray,
         rng: np.random.Generator) -> Walk:
    """The fixes of one patrol: a path along the river or the loop, walked with stops and GPS jitter."""
    roll = rng.random()
    kind = ("short_distance" if roll < SHORT_RATE * 0.6 else "short_time" if roll < SHORT_RATE
            else "glitch" if roll < SHORT_RATE + SUSPICIOUS_RATE / 2 else "stuck" if roll < SHORT_RATE + SUSPICIOUS_RATE
            else "normal")
    if kind == "short_distance":
        length, speed = rng.uniform(800.0, 1700.0), rng.uniform(1.1, 1.4)
    elif kind == "short_time":
        length, speed = rng.uniform(2050.0, 2400.0), rng.uniform(1.45, 1.6)
    else:
        length, speed = rng.uniform(2300.0, 4000.0), rng.uniform(1.1, 1.5)
    path = walking_path(river, ring, rng, length)
    total = min(length, polyline_length(path))
    steps = rng.uniform(25.0, 40.0, int(total / 25.0) + 2)
    along = np.concatenate([[0.0], np.cumsum(steps)])
    along = np.append(along[along < total], total)
    points = points_along(path, along)
    walk_s = np.diff(along) / (speed * rng.uniform(0.85, 1.15, len(along) - 1))
    # Stops to look at things: a fix every 45-90 s at one place (the jitter sets them apart).
    stops = np.zeros(len(points), dtype=np.intp)
    if kind != "short_time" and len(points) > 3:
        pause_s = rng.uniform(3.0, 10.0) * 60
        if kind != "short_distance":
            pause_s = max(pause_s, 32 * 60 - walk_s.sum())
        where = rng.choice(np.arange(1, len(points) - 1), size=min(int(rng.integers(2, 5)), len(points) - 2),
                           replace=False)
        stops[where] = np.maximum(np.round(rng.dirichlet(np.ones(len(where))) * pause_s / 67.5), 1)
    owner = np.repeat(np.arange(len(points)), stops + 1)
    arriving = np.concatenate([[True], owner[1:] != owner[:-1]])
    step_s = np.where(arriving, np.concatenate([[0.0], walk_s])[owner], rng.uniform(45.0, 90.0, len(owner)))
    step_s[0] = 0.0
    sigma = rng.uniform(2.0, 5.0)
    xy = points[owner] + np.clip(rng.normal(0.0, sigma, (len(owner), 2)), -3 * sigma, 3 * sigma)
    start = datetime.combine(day, time(8), CHINA) + timedelta(seconds=int(rng.integers(5 * 60, 8 * 3600)))
    t_ms = int(start.timestamp()) * 1000 + np.round(np.cumsum(step_s) * 1000).astype(np.int64)
    accuracy = np.round(sigma * rng.uniform(1.5, 2.5, len(owner)), 1)
    if rng.random() < 0.8:  # the phone's own speed reading; some phones send none
        moved = np.hypot(*np.diff(xy, axis=0).T) / np.maximum(np.diff(t_ms) / 1000, 1.0)
        speeds = np.round(np.concatenate([[0.0], np.where(arriving[1:], moved, 0.0)]), 2)
    else:
        speeds = np.full(len(owner), np.nan)
    if kind == "glitch":  # one fix thrown a couple of kilometres (within the county): a speed jump there and back
        i = int(rng.integers(len(xy) // 3, 2 * len(xy) // 3))
        angle = rng.uniform(0, 2 * np.pi)
        jump = rng.uniform(1500.0, 2500.0) * np.array([np.cos(angle), np.sin(angle)])
        x0, y0, x1, y1 = county_box
        xy[i] += jump if x0 <= xy[i, 0] + jump[0] <= x1 and y0 <= xy[i, 1] + jump[1] <= y1 else -jump
    return Walk(kind=kind, xy=xy, t_ms=t_ms, accuracy_m=accuracy, speed_mps=speeds)
