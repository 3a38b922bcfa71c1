"""A small, valid, hand-built county (小县) in the import format, for file, validation and import tests.

The county is a 0.04° square around 112.5°E 29.3°N (about 3.9 km x 4.4 km) on a lattice of 0.01°
steps. Every polygon is a lattice rectangle whose ring passes through *every* lattice point on its
boundary, so neighbours and parents share vertices exactly (as a topologically clean county file
does):

    county 430921            x 0..4, y 0..4   (lattice indices: x = 112.48 + 0.01 i, y = 29.28 + 0.01 j)
    town   430921100         x 0..2            town 430921101  x 2..4
    village 430921100201     x 0..2, y 0..2    village 430921100202  x 0..2, y 2..4
    village 430921101201     x 2..4
    grids   ...020101 (V1)  ...020201 / ...020202 (V2, split at y 3)  ...120101 / ...120102 (V3, x 3)
    micro-grids: 7, two grids split in two
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

X0, Y0, STEP = 112.48, 29.28, 0.01
COUNTY = "430921"
TOWNS = ("430921100", "430921101")
VILLAGES = ("430921100201", "430921100202", "430921101201")
GRIDS = ("43092110020101", "43092110020201", "43092110020202", "43092110120101", "43092110120102")


def lattice(i: float, j: float) -> tuple[float, float]:
    """Lon/lat of lattice point (i, j); rounded so equal points are bit-identical."""
    return round(X0 + STEP * i, 6), round(Y0 + STEP * j, 6)


def lattice_rect(i0: int, i1: int, j0: int, j1: int) -> shapely.Polygon:
    """The rectangle [i0, i1] x [j0, j1] with a vertex at every lattice point of its boundary."""
    ring = ([lattice(i, j0) for i in range(i0, i1)] + [lattice(i1, j) for j in range(j0, j1)]
            + [lattice(i, j1) for i in range(i1, i0, -1)] + [lattice(i0, j) for j in range(j1, j0, -1)])
    return shapely.Polygon(ring)


def _layer(rows: list[tuple], columns: tuple[str, ...]) -> gpd.GeoDataFrame:
    frame = pd.DataFrame([r[:-1] for r in rows], columns=list(columns))
    frame["synthetic"] = 1
    return gpd.GeoDataFrame(frame, geometry=[r[-1] for r in rows], crs=4490)


def small_county_layers() -> dict[str, gpd.GeoDataFrame | pd.DataFrame]:
    """All ten layers of the small county, normalised as ``read_county_files`` returns them."""
    unit = ("code", "name", "parent_code")
    resource = ("code", "name", "parent_code", "kind")
    v1, v2, v3 = VILLAGES
    g = GRIDS
    layers = {
        "county": _layer([(COUNTY, "南县", "", lattice_rect(0, 4, 0, 4))], unit),
        "towns": _layer([
            (TOWNS[0], "南洲镇", COUNTY, lattice_rect(0, 2, 0, 4)),
            (TOWNS[1], "武圣宫镇", COUNTY, lattice_rect(2, 4, 0, 4)),
        ], unit),
        "villages": _layer([
            (v1, "东风村", TOWNS[0], lattice_rect(0, 2, 0, 2)),
            (v2, "红旗村", TOWNS[0], lattice_rect(0, 2, 2, 4)),
            (v3, "胜利村", TOWNS[1], lattice_rect(2, 4, 0, 4)),
        ], unit),
        "grids": _layer([
            (g[0], "东风村第一网格", v1, lattice_rect(0, 2, 0, 2)),
            (g[1], "红旗村第一网格", v2, lattice_rect(0, 2, 2, 3)),
            (g[2], "红旗村第二网格", v2, lattice_rect(0, 2, 3, 4)),
            (g[3], "胜利村第一网格", v3, lattice_rect(2, 3, 0, 4)),
            (g[4], "胜利村第二网格", v3, lattice_rect(3, 4, 0, 4)),
        ], unit),
        "micro_grids": _layer([
            (g[0] + "01", "东风一组", g[0], lattice_rect(0, 1, 0, 2)),
            (g[0] + "02", "东风二组", g[0], lattice_rect(1, 2, 0, 2)),
            (g[1] + "01", "红旗一组", g[1], lattice_rect(0, 2, 2, 3)),
            (g[2] + "01", "红旗二组", g[2], lattice_rect(0, 2, 3, 4)),
            (g[3] + "01", "胜利一组", g[3], lattice_rect(2, 3, 0, 2)),
            (g[3] + "02", "胜利二组", g[3], lattice_rect(2, 3, 2, 4)),
            (g[4] + "01", "胜利三组", g[4], lattice_rect(3, 4, 0, 4)),
        ], unit),
        "rivers": _layer([
            (v3 + "R001", "胜利河", v3, "river",
             shapely.LineString([lattice(2.5, 0.5), lattice(3.2, 2.0), lattice(3.5, 3.5)])),
        ], resource),
        "forests": _layer([
            (v1 + "F001", "东风杨树林带", v1, "poplar_belt", shapely.box(*lattice(0.2, 0.2),
                                                                   *lattice(0.8, 0.8))),
        ], resource),
        "farmland": _layer([
            (v2 + "T0001", "红旗水田", v2, "paddy", shapely.box(*lattice(0.5, 2.5), *lattice(1.5, 3.5))),
        ], resource),
        "officers": pd.DataFrame({
            "code": ["W4309210001", "W4309210001", "W4309210002", "W4309210002", "W4309210003"],
            "name": ["张伟", "张伟", "李娜", "李娜", "王芳"],
            "grid_code": list(GRIDS),
        }),
        "chiefs": pd.DataFrame({
            "code": ["ZH" + COUNTY, "ZL" + TOWNS[0], "ZT" + v2],
            "name": ["刘洋", "陈静", "杨磊"],
            "domain": ["river", "forest", "field"],
            "level": ["county", "town", "village"],
            "unit_code": [COUNTY, TOWNS[0], v2],
        }),
    }
    return layers


def write_gpkg(layers, path: Path) -> Path:
    """Write layers as one GeoPackage (the import format) and return its path."""
    from gridgov.grids.export import export_layers

    export_layers(layers, path, overwrite=True)
    return Path(path)
