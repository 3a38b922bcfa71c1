"""Benchmark: a workload balancing proposal for the whole demo county, beside today's map and the obvious fix.

Reads Nan County from ``geodata/nan_county/nan_county.gpkg`` (micro-grids, grids, villages, rivers, forests,
farmland, and the ``officers`` layer: one row per grid held, 634 officers over 780 grids, 146 of them holding
two grids of one village) and runs :func:`gridgov.planning.balance.propose_balance` once, timed from the
layers in memory to the proposal (workload parts, contiguity, the CBC model, the assignment, the checks).

The workload is the **ground** only: area, river length, forest and farmland area per micro-grid, and the
grid rule's patrol time with travel from the home village. The GeoPackage holds no findings, and seeding the
demo history takes a database and half a minute, so findings are left out: their weight is simply absent from
the index (``with_index`` drops parts nobody has). Pass findings per micro-grid through ``parts=`` to include
them.

Three rows, each the officers' workload index (1.0 the average officer):

* ``today``: the map and assignments as they are;
* ``merge``: the obvious fix for *one person, one grid*, each officer's grids merged into one (the baseline);
* ``proposal``: the balancing proposal.

It prints the run time, the spread (max/mean, coefficient of variation), the contiguity of every proposed
grid, how many officers move village, and the floor that whole micro-grids put under max/mean; it runs the
proposal twice and checks the two are identical. It exits with status 1 when a target is missed or the runs
differ. The last line is machine-readable:

    balance: seconds=<s> before_max_mean=<x> after_max_mean=<x> before_cv=<x> after_cv=<x> contiguous=<bool>
    target_seconds=30 target_max_mean=1.25

Run: ``python bench/balance.py [--gpkg FILE] [--move-penalty X] [--seed S]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gridgov.planning.balance import (  # noqa: E402
    BALANCE_WEIGHTS,
    MOVE_PENALTY,
    Spread,
    patrol_hours,
    propose_balance,
)
from gridgov.planning.workload import with_index  # noqa: E402

DEFAULT_GPKG = Path(__file__).resolve().parents[1] / "geodata" / "nan_county" / "nan_county.gpkg"
TARGET_SECONDS = 30.0
TARGET_MAX_MEAN = 1.25
RESOURCE_LAYERS = {"rivers": "river", "forests": "forest", "farmland": "farmland"}


def load(path: Path) -> tuple[gpd.GeoDataFrame, pd.DataFrame, gpd.GeoDataFrame]:
    """Micro-grids with their grid and village, officers (one row per grid held), resources with a kind."""
    micro = gpd.read_file(path, layer="micro_grids")
    grids = gpd.read_file(path, layer="grids", ignore_geometry=True)
    micro["grid_code"] = micro["parent_code"]
    micro["village_code"] = micro["grid_code"].map(grids.set_index("code")["parent_code"])
    officers = gpd.read_file(path, layer="officers", ignore_geometry=True)[["code", "grid_code"]]
    resources = pd.concat([gpd.read_file(path, layer=layer)[["geometry"]].assign(resource=kind)
                           for layer, kind in RESOURCE_LAYERS.items()], ignore_index=True)
    return micro[["code", "grid_code", "village_code", "geometry"]], officers, gpd.GeoDataFrame(resources, crs=4490)


def merged(before: pd.DataFrame) -> Spread:
    """The spread if every officer's grids were merged into one: same ground, one weekly patrol each."""
    one = before.drop(columns="index").assign(grids=1)
    one["patrol_hours"] = patrol_hours(one["grids"].to_numpy(), one["travel_km"].to_numpy())
    return Spread.of(with_index(one, BALANCE_WEIGHTS)["index"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gpkg", type=Path, default=DEFAULT_GPKG, help="county GeoPackage")
    parser.add_argument("--move-penalty", type=float, default=MOVE_PENALTY,
                        help=f"model cost of an officer leaving their home village ({MOVE_PENALTY}; inf: never)")
    parser.add_argument("--seed", type=int, default=20261127, help="solver seed")
    args = parser.parse_args(argv)
    if not args.gpkg.exists():
        parser.error(f"{args.gpkg} does not exist; pass --gpkg FILE")

    micro, officers, resources = load(args.gpkg)
    print(f"county: {len(micro)} micro-grids in {micro['grid_code'].nunique()} grids in "
          f"{micro['village_code'].nunique()} villages; {officers['code'].nunique()} officers "
          f"({(officers['code'].value_counts() > 1).sum()} hold two grids); "
          f"{len(resources)} resources from {args.gpkg}")
    print("workload: ground parts (area, river, forest, farmland) and the grid rule's patrol time with travel; "
          "no findings (the GeoPackage has none)")

    t0 = time.perf_counter()
    proposal = propose_balance(micro, officers, resources=resources, move_penalty=args.move_penalty,
                               seed=args.seed, target_max_mean=TARGET_MAX_MEAN)
    seconds = time.perf_counter() - t0
    again = propose_balance(micro, officers, resources=resources, move_penalty=args.move_penalty, seed=args.seed,
                            target_max_mean=TARGET_MAX_MEAN)
    same = again.micro_grids.equals(proposal.micro_grids)

    before, after, base = proposal.spread_before, proposal.spread_after, merged(proposal.before)
    print()
    print(f"{'officers workload':<34}{'max/mean':>10}{'CV':>8}{'grids':>7}")
    print(f"{'today (780 grids)':<34}{before.max_mean:>10.3f}{before.cv:>8.3f}{proposal.before['grids'].sum():>7}")
    print(f"{'merge each officer grids (base)':<34}{base.max_mean:>10.3f}{base.cv:>8.3f}{len(proposal.before):>7}")
    print(f"{'proposal':<34}{after.max_mean:>10.3f}{after.cv:>8.3f}{len(proposal.grids):>7}")
    print(f"target{'':<28}{TARGET_MAX_MEAN:>10.3f}")
    print()
    grids = proposal.grids
    sizes = grids["micro_grids"].map(len).value_counts().sort_index()
    print(f"proposal: {len(grids)} grids for {len(proposal.after)} officers, one each; micro-grids per grid "
          + ", ".join(f"{n}: {c}" for n, c in sizes.items()) + f"; {grids['keeps'].notna().sum()} are today's grids")
    print(f"contiguous: {int(grids['contiguous'].sum())} of {len(grids)} grids one piece (rook: shared edges); "
          f"nesting: every grid in one village ({grids['village'].nunique()} villages)")
    print(f"officers seated outside their home village: {len(proposal.moved)}"
          + (f" (travel {grids['travel_km'].sum():.1f} km one way in all, at most {grids['travel_km'].max():.1f})"
             if proposal.moved else ""))
    print(f"solver: CBC {proposal.solver_status}; run time {seconds:.2f} s (target {TARGET_SECONDS:.0f} s); "
          f"second run identical: {same}")
    print(f"floor: whole micro-grids cannot go under max/mean {proposal.floor_max_mean:.3f}; "
          f"{len(proposal.to_split)} micro-grid(s) weigh more than {TARGET_MAX_MEAN} alone and would need a split")
    heaviest = proposal.after.sort_values("index", ascending=False).head(3)
    print("heaviest officers after: " + "; ".join(
        f"{code} {row['index']:.2f} (river {row['river_km']:.1f} km, area {row['area_km2']:.2f} km2, "
        f"forest {row['forest_km2']:.3f} km2)" for code, row in heaviest.iterrows()))
    means = proposal.after[["area_km2", "river_km", "forest_km2", "farmland_km2", "patrol_hours"]].mean()
    print("average officer after: " + ", ".join(f"{k} {v:.3f}" for k, v in means.items()))

    ok = seconds < TARGET_SECONDS and after.max_mean <= TARGET_MAX_MEAN and proposal.contiguous
    print(f"balance: seconds={seconds:.2f} before_max_mean={before.max_mean:.3f} after_max_mean={after.max_mean:.3f} "
          f"before_cv={before.cv:.3f} after_cv={after.cv:.3f} contiguous={proposal.contiguous} "
          f"target_seconds={TARGET_SECONDS:.0f} target_max_mean={TARGET_MAX_MEAN}")
    return 0 if ok and same else 1


if __name__ == "__main__":
    sys.exit(main())
