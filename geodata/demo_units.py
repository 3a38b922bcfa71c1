"""The administrative units of the demo county: towns, villages, grids and micro-grids.

Also home to the county's fixed facts (codes, town names, seat) and ``Spec``, the size of the county
to generate, because the other generator modules read them and must not import the entry point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from demo_shapes import adjacency, allocate, kmeans, metric_area, metric_xy, partition, reading_order, serial_within
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from gridgov.geo.crs import to_metric

COUNTY_CODE = "430921"
COUNTY_NAME = "南县"

TOWNS = [
    # name, statistical 3-digit code, rough lon/lat used only to place the name
    ("南洲镇", "100", 112.40, 29.37),
    ("茅草街镇", "101", 112.33, 29.10),
    ("厂窖镇", "102", 112.60, 29.13),
    ("三仙湖镇", "103", 112.57, 29.33),
    ("华阁镇", "104", 112.48, 29.46),
    ("武圣宫镇", "105", 112.30, 29.30),
    ("浪拔湖镇", "106", 112.42, 29.22),
    ("麻河口镇", "107", 112.24, 29.38),
    ("明山头镇", "108", 112.34, 29.48),
    ("青树嘴镇", "109", 112.70, 29.24),
    ("中鱼口乡", "200", 112.50, 29.27),
    ("乌嘴乡", "201", 112.24, 29.16),
]
COUNTY_SEAT = (112.40, 29.37)

VILLAGE_FIRST = list("新东西南北中和太长永丰兴福安乐红光明胜利民合德荷莲花湖洲港堤垸塘桥沙青白金玉富")
VILLAGE_SECOND = list("华星阳丰兴福安乐民生成胜利和平光明湖洲港堤垸塘桥坪岭口咀湾河林山园宫台")


@dataclass(frozen=True)
class Spec:
    """How big a county to generate; the defaults are the demo county."""

    seed: int = 430921
    villages: int = 376
    grids: int = 780
    micro_grids: int = 832
    officers: int = 634
    parcel_size: tuple[float, float] = (1000.0, 620.0)
    woodland_patches: int = 90


SMALL = Spec(villages=30, grids=70, micro_grids=76, officers=60, parcel_size=(2000.0, 1500.0), woodland_patches=10)
"""A reduced county for fast tests of the generator itself."""


def group_towns(villages: np.ndarray, n_towns: int, rng) -> np.ndarray:
    """Cluster villages into ``n_towns`` connected towns; returns the town index of each village."""
    centroids = metric_xy(shapely.centroid(villages))
    _, town = cKDTree(kmeans(centroids, n_towns, rng, iterations=50)).query(centroids)
    i, j, length = adjacency(villages)
    n = len(villages)
    for _ in range(50):
        same = town[i] == town[j]
        graph = coo_matrix((np.ones(same.sum()), (i[same], j[same])), shape=(n, n))
        _, component = connected_components(graph, directed=False)
        moved = False
        for t in range(n_towns):
            members = np.flatnonzero(town == t)
            comps, sizes = np.unique(component[members], return_counts=True)
            for comp in comps[np.argsort(-sizes, kind="stable")][1:]:
                stray = members[component[members] == comp]
                border = np.isin(i, stray) ^ np.isin(j, stray)
                other = np.where(np.isin(i[border], stray), town[j[border]], town[i[border]])
                other_len = length[border][other != t]
                if len(other_len):
                    town[stray] = other[other != t][np.argmax(other_len)]
                    moved = True
        if not moved:
            return town
    raise RuntimeError("could not make every town connected")


def unique_names(rng, n: int, first: list[str], second: list[str], suffix: str = "") -> list[str]:
    """``n`` distinct names drawn from first x second characters."""
    pool = np.array([a + b + suffix for a in first for b in second if a != b])
    return list(pool[rng.choice(len(pool), n, replace=False)])


def build_units(county, spec: Spec, rng, progress) -> dict[str, pd.DataFrame]:
    """Towns, villages, grids and micro-grids as DataFrames with metric geometries."""
    seat = shapely.get_coordinates(to_metric(shapely.Point(COUNTY_SEAT)))[0]

    def density(x, y):
        return 0.3 + 0.7 * np.exp(-((x - seat[0]) ** 2 + (y - seat[1]) ** 2) / (2 * 4000.0**2))

    step = progress.add_task("villages", total=4)
    villages, _ = partition(np.array([county]), np.array([spec.villages]), rng, 3000.0, density)
    progress.advance(step)

    town_of = group_towns(villages, len(TOWNS), rng)
    towns = np.array([shapely.coverage_union_all(villages[town_of == t]) for t in range(len(TOWNS))])
    town_xy = metric_xy(shapely.centroid(towns))
    anchors = shapely.get_coordinates(to_metric(shapely.points([(t[2], t[3]) for t in TOWNS])))
    cost = np.linalg.norm(town_xy[:, None, :] - anchors[None, :, :], axis=2)
    _, town_name_index = linear_sum_assignment(cost)
    town_df = pd.DataFrame(
        {
            "code": [COUNTY_CODE + TOWNS[k][1] for k in town_name_index],
            "name": [TOWNS[k][0] for k in town_name_index],
            "parent_code": COUNTY_CODE,
            "geometry": towns,
        }
    )
    town_df = town_df.sort_values("code", kind="stable").reset_index(drop=True)
    town_row = {code: r for r, code in enumerate(town_df["code"])}
    village_town = np.array([town_row[COUNTY_CODE + TOWNS[town_name_index[t]][1]] for t in town_of])
    progress.advance(step)

    order = reading_order(villages, village_town, 2500.0)
    villages, village_town = villages[order], village_town[order]
    village_df = pd.DataFrame(
        {
            "code": [town_df["code"][t] + f"{201 + s:03d}" for t, s in zip(village_town, serial_within(village_town))],
            "name": unique_names(rng, len(villages), VILLAGE_FIRST, VILLAGE_SECOND, "村"),
            "parent_code": town_df["code"].to_numpy()[village_town],
            "geometry": villages,
        }
    )

    grid_weights = metric_area(villages) * rng.uniform(0.75, 1.3, len(villages))
    grids, grid_village = partition(villages, allocate(grid_weights, spec.grids), rng, 1200.0)
    progress.advance(step)
    grid_df = _numbered(grids, grid_village, village_df, "网格", 700.0)

    grid_geoms = grid_df["geometry"].to_numpy()
    micro_weights = metric_area(grid_geoms) * rng.lognormal(0.0, 0.6, len(grid_geoms))
    micro, micro_grid = partition(grid_geoms, allocate(micro_weights, spec.micro_grids), rng, 600.0)
    progress.advance(step)
    micro_df = _numbered(micro, micro_grid, grid_df, "微网格", 400.0)
    grid_df = _rebuilt(grid_df, micro_df)
    village_df = _rebuilt(village_df, grid_df)
    town_df = _rebuilt(town_df, village_df)
    return {"towns": town_df, "villages": village_df, "grids": grid_df, "micro_grids": micro_df}


def _rebuilt(parent_df: pd.DataFrame, child_df: pd.DataFrame) -> pd.DataFrame:
    """``parent_df`` with every geometry replaced by the exact union of its children.

    Snap-rounding a level can add a vertex (by a fraction of a grid cell) to a parent edge at a new
    T-junction; rebuilding bottom-up makes every unit the same point set as its children.
    """
    groups = child_df.groupby("parent_code", sort=False)["geometry"]
    members = {code: geoms.to_numpy() for code, geoms in groups}
    geoms = [shapely.coverage_union_all(members[code]) for code in parent_df["code"]]
    return parent_df.assign(geometry=np.array(geoms, dtype=object))


def _numbered(children, child_parent, parent_df: pd.DataFrame, label: str, band: float) -> pd.DataFrame:
    """Children coded parent + 2 digits from 01 in reading order, named "<parent>第N<label>"."""
    order = reading_order(children, child_parent, band)
    children, child_parent = children[order], child_parent[order]
    serial = serial_within(child_parent)
    parent_codes = parent_df["code"].to_numpy()[child_parent]
    parent_names = parent_df["name"].to_numpy()[child_parent]
    return pd.DataFrame(
        {
            "code": [c + f"{s + 1:02d}" for c, s in zip(parent_codes, serial)],
            "name": [n + f"第{s + 1}{label}" for n, s in zip(parent_names, serial)],
            "parent_code": parent_codes,
            "geometry": children,
        }
    )
