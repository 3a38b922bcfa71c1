"""The resource layers of the demo county: river reaches, forest patches and farmland parcels.

Resources are shaped in the metric CRS, projected to lon/lat and clipped to their village as the last
step, so this module only needs the finished villages and towns and the shared spatial toolkit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from demo_shapes import GRID_SIZE, lineal, metric_area, polygonal, reading_order, sample_points, serial_within
from demo_units import COUNTY_SEAT, Spec

from gridgov.geo.crs import to_metric, to_storage

WATERWAYS = [
    # name, kind, channel width in metres, course through (u, v) in the county's bounding box
    ("藕池河东支", "river", 260, [(0.66, 0.78), (0.70, 0.58), (0.72, 0.42), (0.80, 0.28), (1.02, 0.22)]),
    ("藕池河中支", "river", 180,
     [(0.28, 1.02), (0.25, 0.80), (0.24, 0.60), (0.22, 0.45), (0.20, 0.30), (0.22, 0.10), (0.20, -0.02)]),
    ("藕池河西支", "river", 200, [(0.17, 1.02), (0.15, 0.80), (0.12, 0.60), (0.10, 0.40), (0.08, 0.20), (0.10, -0.02)]),
    ("沱江", "river", 120, [(0.22, 0.66), (0.34, 0.66), (0.45, 0.55), (0.58, 0.50), (0.71, 0.50)]),
    ("草尾河", "river", 220, [(-0.02, 0.26), (0.15, 0.16), (0.25, 0.10), (0.35, 0.00)]),
    ("松澧洪道", "river", 320, [(0.10, 0.64), (0.07, 0.45), (0.05, 0.30), (-0.02, 0.22)]),
    ("南茅运河", "canal", 30, [(0.34, 0.66), (0.30, 0.45), (0.26, 0.25), (0.24, 0.02)]),
    ("东干渠", "canal", 16, [(0.40, 0.45), (0.55, 0.40), (0.72, 0.36)]),
    ("中干渠", "canal", 16, [(0.40, 0.60), (0.48, 0.48), (0.52, 0.36)]),
    ("西干渠", "canal", 16, [(0.05, 0.50), (0.15, 0.42), (0.22, 0.35)]),
    ("北干渠", "canal", 12, [(0.16, 0.85), (0.22, 0.78), (0.30, 0.74)]),
    ("南干渠", "canal", 12, [(0.60, 0.22), (0.75, 0.20), (0.92, 0.27)]),
]
LEVEE = 20.0
"""Metres of embankment between a river's water and its poplar belt."""
POPLAR_BELT = 40.0
"""Width in metres of the poplar belt (护堤林) on each bank."""


def waterway_courses(county, rng) -> np.ndarray:
    """Generated courses of the rivers (meandering) and canals (straight), clipped to the county."""
    xmin, ymin, xmax, ymax = county.bounds
    courses = []
    for _, kind, _, uv in WATERWAYS:
        uv = np.asarray(uv, dtype=float)
        control = np.column_stack([xmin + uv[:, 0] * (xmax - xmin), ymin + uv[:, 1] * (ymax - ymin)])
        line = shapely.segmentize(shapely.linestrings(control), 100.0)
        xy = shapely.get_coordinates(line)
        if kind == "river":
            window = np.ones(25) / 25
            padded = np.pad(xy, ((12, 12), (0, 0)), mode="edge")
            xy = np.column_stack([np.convolve(padded[:, d], window, mode="valid") for d in range(2)])
            s = np.r_[0, np.cumsum(np.hypot(*np.diff(xy, axis=0).T))]
            tangent = np.gradient(xy, axis=0)
            normal = np.column_stack([-tangent[:, 1], tangent[:, 0]]) / np.hypot(*tangent.T)[:, None]
            wavelengths = rng.uniform(2500, 6000, 3)
            offset = sum(
                rng.uniform(80, 220) * np.sin(2 * np.pi * s / lam + rng.uniform(0, 2 * np.pi)) for lam in wavelengths
            )
            xy = xy + normal * offset[:, None]
        courses.append(shapely.linestrings(xy))
    return lineal(shapely.intersection(np.array(courses), county))


def blobs(centres: np.ndarray, a: np.ndarray, b: np.ndarray, rng, vertices: int = 12) -> np.ndarray:
    """Irregular elliptical patches (semi-axes ``a``, ``b`` in metres) at ``centres``, any heading."""
    n = len(centres)
    theta = np.linspace(0, 2 * np.pi, vertices, endpoint=False)
    radius = rng.uniform(0.8, 1.2, (n, vertices))
    heading = rng.uniform(0, np.pi, n)[:, None]
    ex, ey = a[:, None] * np.cos(theta) * radius, b[:, None] * np.sin(theta) * radius
    x = centres[:, :1] + ex * np.cos(heading) - ey * np.sin(heading)
    y = centres[:, 1:] + ex * np.sin(heading) + ey * np.cos(heading)
    ring = np.stack([x, y], axis=2)
    return shapely.polygons(np.concatenate([ring, ring[:, :1]], axis=1))


def _per_village(features: np.ndarray, villages: np.ndarray, min_size: float):
    """(feature index, village index, clipped geometry) for every feature x village overlap.

    ``features`` and ``villages`` are lon/lat; the clip is snap-rounded on the storage grid, so each
    piece is valid and lies in its village as stored. Pieces shorter (lines) or smaller (polygons)
    than ``min_size`` metres / square metres (measured in EPSG:4546) are dropped.
    """
    fi, vi = shapely.STRtree(villages).query(features, predicate="intersects")
    clipped = shapely.intersection(features[fi], villages[vi], grid_size=GRID_SIZE)
    dim = shapely.get_dimensions(features[fi])
    clipped = np.where(dim == 1, lineal(clipped), polygonal(clipped))
    metric = to_metric(clipped)
    size = np.where(dim == 1, shapely.length(metric), shapely.area(metric))
    keep = size >= min_size
    return fi[keep], vi[keep], clipped[keep]


def _resource_frame(fi, vi, geoms, village_df, letter: str, digits: int, names, kinds) -> pd.DataFrame:
    """Resources clipped exactly to their village in lon/lat, coded village + letter + serial.

    The clip is the last step and runs in full precision, so each piece keeps its village's stored
    edges (a snap-rounded overlay could bend a long village edge by a fraction of a grid cell).
    Empty or degenerate pieces are dropped before numbering, so serials run from 1 without gaps.
    """
    keep_parts = lineal if letter == "R" else polygonal
    geoms = keep_parts(shapely.intersection(keep_parts(geoms), village_df["geometry"].to_numpy()[vi]))
    metric = to_metric(geoms)
    size = shapely.length(metric) if letter == "R" else shapely.area(metric)
    ok = ~shapely.is_empty(geoms) & (size > 0)
    fi, vi, geoms = np.asarray(fi)[ok], np.asarray(vi)[ok], geoms[ok]
    names, kinds = np.asarray(names)[ok], np.asarray(kinds)[ok]
    order = reading_order(geoms, vi, 400.0) if letter == "T" else np.lexsort((fi, vi))
    vi, geoms, names, kinds = vi[order], geoms[order], np.asarray(names)[order], np.asarray(kinds)[order]
    codes = village_df["code"].to_numpy()[vi]
    return pd.DataFrame(
        {
            "code": [c + letter + f"{s + 1:0{digits}d}" for c, s in zip(codes, serial_within(vi))],
            "name": names,
            "parent_code": codes,
            "kind": kinds,
            "geometry": geoms,
        }
    )


def build_resources(county, village_df: pd.DataFrame, town_df: pd.DataFrame, spec: Spec, rng, progress):
    """River reaches, forest patches and farmland parcels, each clipped to (and coded by) its village.

    The features are shaped in EPSG:4546 (``county`` is metric), densified, projected to lon/lat
    and clipped to the lon/lat villages as the last step.
    """
    step = progress.add_task("resources", total=4)
    villages = village_df["geometry"].to_numpy()
    villages_m = to_metric(villages)
    village_names = village_df["name"].to_numpy()
    courses = waterway_courses(county, rng)
    names = np.array([w[0] for w in WATERWAYS])
    kinds = np.array([w[1] for w in WATERWAYS])
    widths = np.array([w[2] for w in WATERWAYS], dtype=float)
    fi, vi, reaches = _per_village(_stored(courses), villages, 20.0)
    reach_names = [names[f] + village_names[v] + "段" for f, v in zip(fi, vi)]
    rivers = _resource_frame(fi, vi, reaches, village_df, "R", 3, reach_names, kinds[fi])
    progress.advance(step)

    water = shapely.buffer(courses, widths / 2 + np.where(kinds == "river", LEVEE, 5.0), quad_segs=2)
    all_water = shapely.union_all(water)
    is_river = kinds == "river"
    banks = shapely.buffer(courses[is_river], widths[is_river] / 2 + LEVEE + POPLAR_BELT, quad_segs=2)
    belts = shapely.difference(banks, all_water)
    for b in range(1, len(belts)):
        belts[b] = shapely.difference(belts[b], shapely.union_all(belts[:b]))
    all_belts = shapely.union_all(belts)
    seat = shapely.get_coordinates(to_metric(shapely.Point(COUNTY_SEAT)))
    settlement_centres = np.concatenate([sample_points(v, 3, rng) for v in villages_m])
    n = len(settlement_centres)
    pond_centres = np.concatenate([sample_points(v, 2, rng) for v in villages_m])
    m = len(pond_centres)
    settlements = np.r_[
        blobs(settlement_centres, rng.uniform(250, 600, n), rng.uniform(50, 110, n), rng),
        blobs(pond_centres, rng.uniform(150, 350, m), rng.uniform(100, 220, m), rng),
        blobs(seat, np.array([2600.0]), np.array([1900.0]), rng),
    ]
    all_settlements = shapely.union_all(settlements)
    open_land = shapely.difference(county, shapely.union_all([all_water, all_belts, all_settlements]))
    woods_at = sample_points(open_land, spec.woodland_patches, rng)
    woods = blobs(woods_at, rng.uniform(80, 220, len(woods_at)), rng.uniform(50, 120, len(woods_at)), rng)
    woods = shapely.get_parts(shapely.difference(shapely.union_all(woods), shapely.union_all([all_water, all_belts])))
    progress.advance(step)

    belt_f, belt_v, belt_geoms = _per_village(_stored(belts), villages, 500.0)
    wood_f, wood_v, wood_geoms = _per_village(_stored(woods), villages, 500.0)
    forest_names = [names[is_river][f] + village_names[v] + "护堤杨树林" for f, v in zip(belt_f, belt_v)]
    forest_names += [village_names[v] + "林地" for v in wood_v]
    forests = _resource_frame(
        np.r_[belt_f, len(belts) + wood_f], np.r_[belt_v, wood_v], np.r_[belt_geoms, wood_geoms], village_df,
        "F", 3, forest_names, ["poplar_belt"] * len(belt_f) + ["woodland"] * len(wood_f),
    )
    progress.advance(step)

    taken = shapely.union_all([all_water, all_belts, all_settlements, shapely.union_all(woods)])
    land = polygonal(shapely.difference(villages, _stored(taken), grid_size=GRID_SIZE))
    town_of_village = town_df.set_index("code").index.get_indexer(village_df["parent_code"])
    blocks, block_town = [], []
    for t, town in enumerate(town_df["geometry"]):
        blocks.append(_stored(_field_blocks(to_metric(town), spec.parcel_size, rng)))
        block_town.append(np.full(len(blocks[-1]), t))
    blocks, block_town = np.concatenate(blocks), np.concatenate(block_town)
    bi, vi = shapely.STRtree(land).query(blocks, predicate="intersects")
    same = block_town[bi] == town_of_village[vi]
    pieces = polygonal(shapely.intersection(blocks[bi[same]], land[vi[same]], grid_size=GRID_SIZE))
    parts, index = shapely.get_parts(pieces, return_index=True)
    keep = metric_area(parts) >= 2000.0
    parcels, parcel_village = parts[keep], vi[same][index[keep]]
    near_river = shapely.distance(to_metric(shapely.centroid(parcels)), shapely.union_all(courses[is_river])) < 500.0
    dry = rng.uniform(0, 1, len(parcels)) < np.where(near_river, 0.55, 0.15)
    farmland = _resource_frame(
        np.zeros(len(parcels), dtype=int), parcel_village, polygonal(parcels), village_df, "T", 4,
        village_names[parcel_village], np.where(dry, "dry", "paddy"),
    )
    farmland["name"] = [f"{n}{int(c[-4:])}号田块" for n, c in zip(farmland["name"], farmland["code"])]
    progress.advance(step)
    return {"rivers": rivers, "forests": forests, "farmland": farmland}


def _stored(geoms, spacing: float = 250.0):
    """Metric geometries densified (``spacing`` metres), projected to lon/lat, made valid and snapped there."""
    scalar = isinstance(geoms, shapely.Geometry)
    stored = to_storage(shapely.segmentize(np.atleast_1d(np.asarray(geoms, dtype=object)), spacing))
    lines = shapely.get_dimensions(stored) == 1
    stored = shapely.set_precision(np.where(lines, stored, polygonal(shapely.make_valid(stored))), GRID_SIZE)
    return stored[0] if scalar else stored


def _field_blocks(town, size: tuple[float, float], rng) -> np.ndarray:
    """A grid of rectangular field blocks over ``town``, turned to the town's own field heading."""
    angle = rng.uniform(-0.35, 0.35)
    cx, cy = shapely.get_coordinates(shapely.centroid(town))[0]
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    local = shapely.transform(town, lambda xy: (xy - [cx, cy]) @ rot)
    xmin, ymin, xmax, ymax = local.bounds
    w, h = size[0] * rng.uniform(0.85, 1.15), size[1] * rng.uniform(0.85, 1.15)
    x0 = np.arange(xmin - rng.uniform(0, w), xmax, w)
    y0 = np.arange(ymin - rng.uniform(0, h), ymax, h)
    gx, gy = np.meshgrid(x0, y0)
    boxes = shapely.box(gx.ravel(), gy.ravel(), gx.ravel() + w, gy.ravel() + h)
    return shapely.transform(boxes, lambda xy: xy @ rot.T + [cx, cy])
