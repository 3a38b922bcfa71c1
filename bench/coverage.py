"""Benchmark: patrol coverage of one grid's rivers, forests and farmland, GridGov beside the exact method.

Takes one grid of the county GeoPackage (by default the one with the most river length among those
holding forests and farmland too), clips the river reaches, forest patches and farmland parcels to
it, projects everything to the metric CRS (EPSG:4546) and walks a seeded patrol inside the grid: a
correlated random walk of ``--fixes`` fixes about ``--step`` metres apart, turning back at the grid's
edge. Then, in one run, it measures

* ``gridgov``:  :func:`gridgov.geo.coverage.coverage` (one call for the three domains),
* ``baseline``: :func:`gridgov.geo.coverage.line_share_exact` and ``area_share_exact`` (buffer the
  track by 50 m and by 100 m with ``quad_segs=16``, intersect, sum lengths and areas),

each domain timed apart (best of ``--repeat`` runs). Called once per domain, the exact functions
buffer the track three times, though the forest and farmland calls could share their 100 m
buffer; the baseline for all three is therefore their sum less one 100 m buffer, timed alone. The
baseline's shares are the reference; a difference of one percentage point or more in any domain is
reported and the program exits with status 1. The last line is machine-readable:

    coverage: gridgov_ms=<ms> baseline_ms=<ms> speedup=<x> max_abs_diff_pp=<pp>

Run: ``python bench/coverage.py [--gpkg FILE] [--grid CODE] [--fixes N] [--step M] [--seed S]
[--repeat R]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from timing import best_of  # noqa: E402  (bench/timing.py, next to this script)

from gridgov.geo.coverage import (  # noqa: E402
    EXACT_QUAD_SEGS,
    area_share_exact,
    area_share_within,
    coverage,
    line_share_exact,
    line_share_within,
)
from gridgov.geo.crs import to_metric  # noqa: E402

DEFAULT_GPKG = Path(__file__).resolve().parents[1] / "geodata" / "nan_county" / "nan_county.gpkg"
LAYERS = ("rivers", "forests", "farmland")
RIVER_DISTANCE = 50.0
AREA_DISTANCE = 100.0


def load_layers(path: Path) -> tuple[gpd.GeoDataFrame, dict[str, np.ndarray]]:
    """The grids (codes and storage geometry) and every resource layer's metric geometries."""
    grids = gpd.read_file(path, layer="grids")[["code", "geometry"]]
    layers = {name: to_metric(np.asarray(gpd.read_file(path, layer=name).geometry.array, dtype=object))
              for name in LAYERS}
    return grids, layers


def clip(geoms: np.ndarray, grid) -> np.ndarray:
    """The resources clipped to the grid, empties dropped."""
    clipped = shapely.intersection(geoms[shapely.intersects(geoms, grid)], grid)
    return clipped[~shapely.is_empty(clipped)]


def pick_grid(grids: np.ndarray, layers: dict[str, np.ndarray]) -> int:
    """The grid with the most river length among those holding forests and farmland too."""
    def per_grid(name: str, measure) -> np.ndarray:
        resource, grid = shapely.STRtree(layers[name]).query(grids, predicate="intersects")[::-1]
        amount = measure(shapely.intersection(layers[name][resource], grids[grid]))
        return np.bincount(grid, weights=amount, minlength=len(grids))

    river = per_grid("rivers", shapely.length)
    usable = (per_grid("forests", shapely.area) > 0) & (per_grid("farmland", shapely.area) > 0)
    return int(np.argmax(np.where(usable, river, -1.0)))


def patrol(grid, fixes: int, step: float, rng: np.random.Generator) -> np.ndarray:
    """A correlated random walk inside the grid, turning back whenever a step would leave it."""
    shapely.prepare(grid)
    start = shapely.point_on_surface(grid)
    xy = np.empty((fixes, 2))
    xy[0] = start.x, start.y
    heading, n = rng.uniform(0, 2 * np.pi), 1
    while n < fixes:
        heading += rng.normal(0, 0.2)
        length = max(rng.normal(step, step / 6), 0.0)
        candidate = xy[n - 1] + length * np.array([np.cos(heading), np.sin(heading)])
        if shapely.contains_xy(grid, *candidate):
            xy[n] = candidate
            n += 1
        else:
            heading += np.pi + rng.normal(0, 0.5)
    return xy


def _ms_best_of(repeat: int, fn):
    seconds, result = best_of(repeat, fn)
    return seconds * 1e3, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gpkg", type=Path, default=DEFAULT_GPKG,
                        help="county GeoPackage with grids, rivers, forests, farmland layers")
    parser.add_argument("--grid", help="grid code (default: the most river length with forests and farmland)")
    parser.add_argument("--fixes", type=int, default=5000, help="track fixes (5,000)")
    parser.add_argument("--step", type=float, default=3.0, help="mean metres between fixes (3)")
    parser.add_argument("--seed", type=int, default=20240501, help="random seed")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per method, best kept")
    args = parser.parse_args(argv)
    if not args.gpkg.exists():
        parser.error(f"{args.gpkg} does not exist; pass --gpkg FILE")

    grids, layers = load_layers(args.gpkg)
    metric_grids = to_metric(np.asarray(grids.geometry.array, dtype=object))
    if args.grid:
        match = np.flatnonzero(grids["code"].to_numpy() == args.grid)
        if match.size == 0:
            parser.error(f"no grid {args.grid} in {args.gpkg}")
        index = int(match[0])
    else:
        index = pick_grid(metric_grids, layers)
    grid = metric_grids[index]
    resources = {name: clip(geoms, grid) for name, geoms in layers.items()}
    rivers, forests, farmland = (resources[name] for name in LAYERS)
    print(f"grid {grids['code'].iloc[index]} from {args.gpkg}: {shapely.area(grid) / 1e6:.2f} km2; "
          f"rivers {len(rivers)} reach(es) {shapely.length(rivers).sum():,.0f} m; "
          f"forests {len(forests)} patch(es) {shapely.area(forests).sum() / 1e6:.3f} km2; "
          f"farmland {len(farmland)} parcel(s) {shapely.area(farmland).sum() / 1e6:.3f} km2")

    track = patrol(grid, args.fixes, args.step, np.random.default_rng(args.seed))
    walked = np.hypot(*np.diff(track, axis=0).T).sum()
    print(f"track: {len(track)} fixes, {walked / 1000:.1f} km walked inside the grid, seed {args.seed}; "
          f"best of {args.repeat} run(s)")

    domains = {
        "river": (lambda: line_share_within(track, lines=rivers, distance=RIVER_DISTANCE),
                  lambda: line_share_exact(track, lines=rivers, distance=RIVER_DISTANCE), len(rivers)),
        "forest": (lambda: area_share_within(track, polygons=forests, distance=AREA_DISTANCE),
                   lambda: area_share_exact(track, polygons=forests, distance=AREA_DISTANCE), len(forests)),
        "farmland": (lambda: area_share_within(track, polygons=farmland, distance=AREA_DISTANCE),
                     lambda: area_share_exact(track, polygons=farmland, distance=AREA_DISTANCE), len(farmland)),
    }
    ours_ms, ours = _ms_best_of(args.repeat, lambda: coverage(
        track, rivers=rivers, forests=forests, farmland=farmland,
        river_distance=RIVER_DISTANCE, area_distance=AREA_DISTANCE))

    print()
    print(f"{'domain':<10}{'items':>6}{'gridgov ms':>12}{'baseline ms':>13}{'speedup':>9}"
          f"{'gridgov':>10}{'exact':>10}{'diff pp':>9}")
    worst, exact_total_ms = 0.0, 0.0
    for name, (fast, exact, items) in domains.items():
        fast_ms, _ = _ms_best_of(args.repeat, fast)
        exact_ms, reference = _ms_best_of(args.repeat, exact)
        exact_total_ms += exact_ms
        share = getattr(ours, name)
        diff = 0.0 if reference is None else abs(share - reference) * 100
        worst = max(worst, diff)
        shown = [f"{s:>10.4f}" if s is not None else f"{'n/a':>10}" for s in (share, reference)]
        print(f"{name:<10}{items:>6}{fast_ms:>12.2f}{exact_ms:>13.2f}{exact_ms / fast_ms:>8.1f}x"
              f"{shown[0]}{shown[1]}{diff:>9.3f}")
    shared_ms, _ = _ms_best_of(args.repeat, lambda: shapely.buffer(shapely.linestrings(track), AREA_DISTANCE,
                                                               quad_segs=EXACT_QUAD_SEGS))
    base_ms = exact_total_ms - shared_ms
    print(f"{'all three':<16}{ours_ms:>12.2f}{base_ms:>13.2f}{base_ms / ours_ms:>8.1f}x")
    print(f"all three: gridgov is one coverage() call; the baseline is the three exact calls ({exact_total_ms:.2f} ms) "
          f"less the {AREA_DISTANCE:.0f} m buffer two of them could share ({shared_ms:.2f} ms)")
    if worst >= 1.0:
        print(f"answers: a share differs from the exact one by {worst:.3f} percentage points (limit 1)")

    print(f"coverage: gridgov_ms={ours_ms:.2f} baseline_ms={base_ms:.2f} speedup={base_ms / ours_ms:.1f}x "
          f"max_abs_diff_pp={worst:.3f}")
    return 1 if worst >= 1.0 else 0


if __name__ == "__main__":
    sys.exit(main())
