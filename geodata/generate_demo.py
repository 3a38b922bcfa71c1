"""Generate the synthetic demo county, Nan County (南县, Yiyang, Hunan), as ``nan_county.gpkg``.

Only the outer boundary is real (``boundary.geojson``, see ATTRIBUTION.md); towns, villages, grids,
micro-grids, rivers, forests, farmland, officers and chiefs are generated, seeded and marked
``synthetic = 1``. The layers, fields and codes follow ``docs/data-format.md``.

Every polygon level is an exact partition of its parent level *in the stored coordinates*
(EPSG:4490 lon/lat), where GridGov's validator and the database see straight edges. Seeds, cut
lines, buffers and patches are placed in the metric CRS (EPSG:4546): villages are a warped,
density-weighted centroidal Voronoi partition of the county; towns are connected groups of villages;
grids and micro-grids are balanced (k-means) Voronoi partitions of their parents. The cut lines are
then projected to lon/lat, snap-rounded together with the parents' boundaries on a 1e-7 degree
(~1 cm) grid (``union_all(grid_size=...)``) and polygonised; children are re-assembled from the faces
with ``coverage_union_all``. Finally every level is rebuilt bottom-up as the union of its children
(snap-rounding may nudge a parent edge by a fraction of a grid cell at a new T-junction), so
neighbours share identical edges, each unit is exactly the union of its children, the county layer
is exactly the outline the towns tile, and ``shapely.coverage_is_valid`` holds at every level.
Resources are clipped to their village in lon/lat as the last step. Areas and lengths are always
measured in EPSG:4546.

This file assembles and writes the layers; the work lives beside it in ``demo_shapes`` (outline,
measures, ``partition``), ``demo_units``, ``demo_resources`` and ``demo_people``.

    python geodata/generate_demo.py [--seed N] [--output PATH]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from rich.console import Console
from rich.progress import Progress

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    # The demo_* modules sit beside this script and are imported as top-level modules, so they load
    # the same way whether this file runs as a script, is imported, or is loaded by path (the tests).
    sys.path.insert(0, str(HERE))

from demo_people import build_chiefs, build_officers  # noqa: E402
from demo_resources import build_resources  # noqa: E402
from demo_shapes import lineal, load_county, polygonal  # noqa: E402
from demo_units import COUNTY_CODE, COUNTY_NAME, SMALL, Spec, build_units  # noqa: E402

from gridgov.geo.crs import DEFAULT_METRIC_EPSG, STORAGE_EPSG, to_metric  # noqa: E402

__all__ = ["SMALL", "Spec", "generate", "main", "write_gpkg"]

OUTPUT = HERE / "nan_county" / "nan_county.gpkg"


def generate(spec: Spec = Spec(), *, county=None, quiet: bool = False) -> dict[str, pd.DataFrame]:
    """Every layer of the demo county, geometries in EPSG:4490, keyed by layer name."""
    rng = np.random.default_rng(spec.seed)
    county = load_county() if county is None else county
    with Progress(console=Console(stderr=True, quiet=quiet), transient=True) as progress:
        units = build_units(county, spec, rng, progress)
        county = shapely.coverage_union_all(units["towns"]["geometry"].to_numpy())
        village_df = units["villages"]
        grid_village = village_df.set_index("code").index.get_indexer(units["grids"]["parent_code"])
        officers = build_officers(units["grids"], grid_village, spec, rng)
        resources = build_resources(to_metric(county), village_df, units["towns"], spec, rng, progress)
        chiefs = build_chiefs(units, rng)
    county_df = pd.DataFrame(
        {"code": [COUNTY_CODE], "name": [COUNTY_NAME], "parent_code": [None], "geometry": [county]}
    )
    spatial = {"county": county_df, **units, **resources}
    layers = {name: _as_layer(df) for name, df in spatial.items()}
    layers["officers"] = officers
    layers["chiefs"] = chiefs
    return layers


def _as_layer(df: pd.DataFrame) -> gpd.GeoDataFrame:
    """A lon/lat layer as stored: Multi* geometries, every one valid and non-empty."""
    geoms = df["geometry"].to_numpy()
    stored = lineal(geoms) if (shapely.get_dimensions(geoms) == 1).all() else polygonal(geoms)
    if not shapely.is_valid(stored).all() or shapely.is_empty(stored).any():
        raise RuntimeError("a generated geometry is invalid or empty in lon/lat")
    out = df.drop(columns="geometry").assign(synthetic=1)
    return gpd.GeoDataFrame(out, geometry=stored, crs=f"EPSG:{STORAGE_EPSG}")


def write_gpkg(layers: dict[str, pd.DataFrame], path: Path) -> None:
    """Write all layers into one GeoPackage, replacing the file; the timestamp is fixed."""
    path.unlink(missing_ok=True)
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2024-01-01T00:00:00.000Z"})
    for name, df in layers.items():
        pyogrio.write_dataframe(df, path, layer=name, driver="GPKG", append=path.exists())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=Spec.seed)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    layers = generate(replace(Spec(), seed=args.seed))
    write_gpkg(layers, args.output)
    console = Console()
    for name, df in layers.items():
        console.print(f"{name:12s} {len(df):6d} rows")
    console.print(f"officers     {layers['officers']['code'].nunique():6d} people")
    farmland = to_metric(layers["farmland"].geometry.values)
    county = to_metric(layers["county"].geometry.values)
    share = shapely.area(farmland).sum() / shapely.area(county).sum()
    console.print(f"farmland share {share:.1%}; metric CRS EPSG:{DEFAULT_METRIC_EPSG}")
    size = args.output.stat().st_size / 1e6
    console.print(f"wrote {args.output} ({size:.1f} MB) in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
