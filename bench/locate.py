"""Benchmark: locating random points in micro-grids, GridGov's Locator beside its baselines.

Draws seeded uniform random points in the micro-grids' bounding box and, in one run, measures
points per second for

* ``gridgov``: :class:`gridgov.geo.locate.Locator` (build and query reported separately; the
  pts/s figure is the query alone, the index being built once per county version),
* ``sjoin``:   ``geopandas.sjoin(points, micro_grids, predicate="within")``,
* ``strtree``: ``shapely.STRtree(micro_grids).query(points, predicate="intersects")``,
* ``postgis``: with ``--postgis-url``, ``INSERT INTO result SELECT ... JOIN ... ST_Contains``
  over temp tables loaded by COPY, with GiST indexes on both (only the join is timed).

The baselines get the point geometries (and GeoDataFrame) ready-made, untimed; GridGov starts
from the bare lon/lat arrays. Every method must give the same micro-grid for every point (points
exactly on a boundary, where the predicates legitimately differ, are counted apart); any other
mismatch is reported and the program exits with status 1. The last line is machine-readable:

    locate: gridgov=<pts/s> sjoin=<pts/s> strtree=<pts/s> [postgis=<pts/s>] ratio_vs_sjoin=<x>

Run: ``python bench/locate.py [--points N] [--seed S] [--gpkg FILE | --synthetic N]
[--postgis-url URL]``.
"""

from __future__ import annotations

import argparse
import io
import sys
import tracemalloc
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from timing import best_of  # noqa: E402  (bench/timing.py, next to this script)

from gridgov.geo.locate import MIXED, Locator, lowest_per_point  # noqa: E402

DEFAULT_GPKG = Path(__file__).resolve().parents[1] / "geodata" / "nan_county" / "nan_county.gpkg"


def load_gpkg(path: Path) -> gpd.GeoDataFrame:
    """Micro-grids of a county GeoPackage with their grid, village and town codes."""
    micro = gpd.read_file(path, layer="micro_grids")
    grids = gpd.read_file(path, layer="grids", ignore_geometry=True)
    villages = gpd.read_file(path, layer="villages", ignore_geometry=True)
    grid_parent = grids.set_index("code")["parent_code"]
    village_parent = villages.set_index("code")["parent_code"]
    micro["grid_code"] = micro["parent_code"]
    micro["village_code"] = micro["grid_code"].map(grid_parent)
    micro["town_code"] = micro["village_code"].map(village_parent)
    return micro[["code", "grid_code", "village_code", "town_code", "geometry"]]


def synthetic_county(n: int, seed: int) -> gpd.GeoDataFrame:
    """A Voronoi tiling of ``n`` micro-grids over a concave, ragged county near 112.5E 29.4N."""
    rng = np.random.default_rng(seed)
    angle = np.linspace(0, 2 * np.pi, 2000, endpoint=False)
    radius = 0.22 * (1 + 0.25 * np.sin(3 * angle) + 0.02 * rng.standard_normal(angle.size))
    ring = np.column_stack([112.5 + radius * np.cos(angle) / np.cos(np.radians(29.4)),
                            29.4 + radius * np.sin(angle)])
    county = shapely.make_valid(shapely.Polygon(ring))
    x0, y0, x1, y1 = county.bounds
    seeds = []
    while len(seeds) < n:
        cand = shapely.points(rng.uniform(x0, x1, n), rng.uniform(y0, y1, n))
        seeds.extend(cand[shapely.contains(county, cand)])
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds[:n])))
    cells = shapely.intersection(cells, county)
    cells = cells[~shapely.is_empty(cells)]
    i = np.arange(len(cells))
    town = np.char.add("430921", np.char.zfill((100 + i // 80).astype(str), 3))
    village = np.char.add(town, (201 + (i // 8) % 10).astype(str))
    grid = np.char.add(village, np.char.zfill((1 + (i // 2) % 4).astype(str), 2))
    code = np.char.add(grid, np.char.zfill((1 + i % 2).astype(str), 2))
    return gpd.GeoDataFrame({"code": code, "grid_code": grid, "village_code": village,
                             "town_code": town}, geometry=cells, crs="EPSG:4490")


def run_sjoin(micro: gpd.GeoDataFrame, points: gpd.GeoDataFrame) -> np.ndarray:
    joined = gpd.sjoin(points, micro[["geometry"]], predicate="within", how="inner")
    return lowest_per_point(joined.index.to_numpy(), joined["index_right"].to_numpy(), len(points))


def run_strtree(polys: np.ndarray, points: np.ndarray) -> np.ndarray:
    point_idx, poly_idx = shapely.STRtree(polys).query(points, predicate="intersects")
    return lowest_per_point(point_idx, poly_idx, len(points))


def run_postgis(url: str, polys: np.ndarray, x: np.ndarray, y: np.ndarray,
                repeat: int) -> tuple[float, np.ndarray]:
    """Time ST_Contains joins over temp tables: (best join seconds, lowest poly per point)."""
    import psycopg

    url = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TEMP TABLE bench_points (id integer, x float8, y float8)")
        conn.execute("CREATE TEMP TABLE bench_polys (id integer, ewkb text)")
        buf = io.StringIO()
        np.savetxt(buf, np.column_stack([np.arange(len(x)), x, y]), fmt=["%d", "%.17g", "%.17g"],
                   delimiter="\t")
        with conn.cursor().copy("COPY bench_points FROM STDIN") as copy:
            copy.write(buf.getvalue())
        hexes = shapely.to_wkb(shapely.set_srid(polys, 4490), hex=True, include_srid=True)
        with conn.cursor().copy("COPY bench_polys FROM STDIN") as copy:
            copy.write("".join(f"{i}\t{h}\n" for i, h in enumerate(hexes)))
        conn.execute("CREATE TEMP TABLE points AS SELECT id, "
                     "ST_SetSRID(ST_MakePoint(x, y), 4490)::geometry(Point, 4490) AS geom "
                     "FROM bench_points")
        conn.execute("CREATE TEMP TABLE polys AS SELECT id, "
                     "ST_GeomFromEWKB(decode(ewkb, 'hex'))::geometry(Geometry, 4490) AS geom "
                     "FROM bench_polys")
        conn.execute("CREATE INDEX ON points USING gist (geom)")
        conn.execute("CREATE INDEX ON polys USING gist (geom)")
        conn.execute("ANALYZE points")
        conn.execute("ANALYZE polys")
        conn.execute("CREATE TEMP TABLE result (point_id integer, poly_id integer)")

        plan = "\n".join(row[0] for row in conn.execute(
            "EXPLAIN SELECT p.id, g.id FROM points p JOIN polys g ON ST_Contains(g.geom, p.geom)"))
        print(f"postgis plan uses a GiST index scan: {'Index' in plan}")

        def join():
            conn.execute("TRUNCATE result")
            conn.execute("INSERT INTO result SELECT p.id, g.id FROM points p "
                         "JOIN polys g ON ST_Contains(g.geom, p.geom)")

        seconds, _ = best_of(repeat, join)
        rows = np.array(conn.execute("SELECT point_id, poly_id FROM result").fetchall(),
                        dtype=np.intp).reshape(-1, 2)
    return seconds, lowest_per_point(rows[:, 0], rows[:, 1], len(x))


def compare(name: str, got: np.ndarray, ref: np.ndarray, points: np.ndarray,
            boundaries) -> int:
    """Print disagreements with the reference; return how many are not on a boundary."""
    differ = np.flatnonzero(got != ref)
    if differ.size == 0:
        return 0
    on_edge = shapely.intersects(boundaries, points[differ])
    real = differ[~on_edge]
    print(f"  {name}: {differ.size} point(s) differ from gridgov, {on_edge.sum()} on a boundary "
          f"(predicates differ there by definition), {real.size} real mismatch(es)")
    for i in real[:10]:
        print(f"    point {i} ({shapely.get_x(points[i]):.12f}, {shapely.get_y(points[i]):.12f}): "
              f"gridgov={ref[i]} {name}={got[i]}")
    return int(real.size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000, help="random points (1,000,000)")
    parser.add_argument("--seed", type=int, default=20240501, help="random seed")
    parser.add_argument("--gpkg", type=Path, default=DEFAULT_GPKG,
                        help="county GeoPackage with micro_grids, grids, villages layers")
    parser.add_argument("--synthetic", type=int, metavar="N",
                        help="use a synthetic Voronoi county of N micro-grids instead of --gpkg")
    parser.add_argument("--postgis-url", help="PostGIS URL (postgresql[+psycopg]://...) to compare")
    parser.add_argument("--cell-size-m", type=float, default=20.0, help="Locator cell size (20 m)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per method, best kept")
    args = parser.parse_args(argv)

    if args.synthetic:
        micro = synthetic_county(args.synthetic, args.seed)
        source = f"synthetic Voronoi county, seed {args.seed}"
    elif args.gpkg.exists():
        micro = load_gpkg(args.gpkg)
        source = str(args.gpkg)
    else:
        parser.error(f"{args.gpkg} does not exist; pass --gpkg FILE or --synthetic N")
    micro = micro.reset_index(drop=True)
    polys = np.asarray(micro.geometry.array, dtype=object)
    n_vertices = int(shapely.get_num_coordinates(polys).sum())
    print(f"micro-grids: {len(micro)} from {source}, {n_vertices} vertices")

    rng = np.random.default_rng(args.seed)
    x0, y0, x1, y1 = micro.total_bounds
    x = rng.uniform(x0, x1, args.points)
    y = rng.uniform(y0, y1, args.points)
    points = shapely.points(x, y)
    points_gdf = gpd.GeoDataFrame(geometry=points, crs=micro.crs)
    print(f"points: {args.points} uniform in the bounding box, seed {args.seed}, "
          f"best of {args.repeat} run(s)")

    build_s, locator = best_of(1, lambda: Locator(micro, cell_size_m=args.cell_size_m))
    tracemalloc.start()
    Locator(micro, cell_size_m=args.cell_size_m)
    build_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    query_s, ours = best_of(args.repeat, lambda: locator.locate_indices(x, y))
    cells = locator.cells
    mixed_share = float(np.mean(locator.cell_values(x, y) == MIXED))
    frame_s, _ = best_of(args.repeat, lambda: locator.locate(x, y))

    sjoin_s, by_sjoin = best_of(args.repeat, lambda: run_sjoin(micro, points_gdf))
    strtree_s, by_strtree = best_of(args.repeat, lambda: run_strtree(polys, points))
    results = {"sjoin": by_sjoin, "strtree": by_strtree}
    timings = {"sjoin": sjoin_s, "strtree": strtree_s}
    if args.postgis_url:
        timings["postgis"], results["postgis"] = run_postgis(args.postgis_url, polys, x, y,
                                                             args.repeat)

    n = args.points
    rate = {"gridgov": n / query_s} | {k: n / s for k, s in timings.items()}
    print()
    print(f"{'method':<28}{'seconds':>10}{'points/s':>14}{'vs sjoin':>10}")
    rows = [("gridgov Locator query", query_s), ("gridgov Locator.locate()", frame_s)]
    rows += [(name, s) for name, s in timings.items()]
    for name, s in rows:
        print(f"{name:<28}{s:>10.3f}{n / s:>14,.0f}{sjoin_s / s:>9.1f}x")
    print(f"{'gridgov build (once)':<28}{build_s:>10.3f}")
    print(f"gridgov build + one query: {n / (build_s + query_s):,.0f} points/s "
          f"({sjoin_s / (build_s + query_s):.1f}x sjoin)")
    print(f"cell index: {cells.shape[1]} x {cells.shape[0]} cells of "
          f"{locator.cell_size_m[0]:.1f} x {locator.cell_size_m[1]:.1f} m, "
          f"{locator.nbytes / 2**20:.1f} MiB, build peak {build_peak / 2**20:.0f} MiB (numpy); "
          f"{mixed_share:.2%} of the points needed the exact test")
    inside = ours >= 0
    print(f"inside: {inside.sum()} points, outside: {(~inside).sum()}")

    boundaries = shapely.union_all(shapely.boundary(polys))
    shapely.prepare(boundaries)
    bad = sum(compare(name, got, ours, points, boundaries) for name, got in results.items())
    print("answers: " + ("all methods agree" if bad == 0 else f"{bad} real mismatch(es)"))

    tail = " ".join(f"{k}={v:.0f}" for k, v in rate.items())
    print(f"locate: {tail} ratio_vs_sjoin={rate['gridgov'] / rate['sjoin']:.2f}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
