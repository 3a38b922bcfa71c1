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

    python geodata/generate_demo.py [--seed N] [--output PATH]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from rich.console import Console
from rich.progress import Progress
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from gridgov.geo.crs import DEFAULT_METRIC_EPSG, STORAGE_EPSG, to_metric, to_storage

HERE = Path(__file__).resolve().parent
BOUNDARY = HERE / "nan_county" / "boundary.geojson"
OUTPUT = HERE / "nan_county" / "nan_county.gpkg"
COUNTY_CODE = "430921"
COUNTY_NAME = "南县"
GRID_SIZE = 1e-7
"""Snap-rounding grid in degrees (about 1 cm): every stored vertex of every layer lies on it."""

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

WATERWAYS = [
    # name, kind, channel width in metres, course through (u, v) in the county's bounding box
    ("藕池河东支", "river", 260, [(0.66, 0.78), (0.70, 0.58), (0.72, 0.42), (0.80, 0.28), (1.02, 0.22)]),
    ("藕池河中支", "river", 180, [(0.28, 1.02), (0.25, 0.80), (0.24, 0.60), (0.22, 0.45), (0.20, 0.30), (0.22, 0.10), (0.20, -0.02)]),
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

SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任"
    "沈姚卢姜崔钟谭陆汪范金石廖贾夏付方邹熊秦邱江尹段雷侯龙史陶黎贺顾毛郝龚邵万严覃戴莫孔向汤文易"
)
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华建国志红兰德云春海林波玉凤小辉飞鹏斌宇浩凯健俊")
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


def load_county(path: Path = BOUNDARY) -> shapely.Geometry:
    """The real county boundary in EPSG:4490 lon/lat, snapped to the storage grid."""
    geom = shapely.union_all(gpd.read_file(path).geometry.values)
    return shapely.set_precision(geom, GRID_SIZE)


def metric_area(geoms) -> np.ndarray:
    """Areas in m² (EPSG:4546) of lon/lat geometries."""
    return shapely.area(to_metric(geoms))


def metric_xy(points) -> np.ndarray:
    """EPSG:4546 coordinates of lon/lat points."""
    return shapely.get_coordinates(to_metric(points))


def polygonal(geoms: np.ndarray) -> np.ndarray:
    """Keep only the polygon parts of each geometry, as MultiPolygons (empty ones stay empty)."""
    parts, index = shapely.get_parts(geoms, return_index=True)
    keep = (shapely.get_type_id(parts) == 3) & ~shapely.is_empty(parts)
    out = np.full(len(geoms), shapely.MultiPolygon(), dtype=object)
    present, dense = np.unique(index[keep], return_inverse=True)
    out[present] = shapely.multipolygons(parts[keep], indices=dense)
    return out


def lineal(geoms: np.ndarray) -> np.ndarray:
    """Keep only the line parts of each geometry, merged, as MultiLineStrings."""
    parts, index = shapely.get_parts(geoms, return_index=True)
    keep = (shapely.get_type_id(parts) == 1) & ~shapely.is_empty(parts)
    out = np.full(len(geoms), shapely.MultiLineString(), dtype=object)
    present, dense = np.unique(index[keep], return_inverse=True)
    merged = shapely.line_merge(shapely.multilinestrings(parts[keep], indices=dense))
    parts2, index2 = shapely.get_parts(merged, return_index=True)
    out[present] = shapely.multilinestrings(parts2, indices=index2)
    return out


def sample_points(poly, n: int, rng: np.random.Generator, density=None) -> np.ndarray:
    """``n`` random points inside ``poly``, optionally thinned by a density in [0, 1]."""
    xmin, ymin, xmax, ymax = poly.bounds
    shapely.prepare(poly)
    chunks, total = [], 0
    while total < n:
        m = max(4 * n, 256)
        x, y = rng.uniform(xmin, xmax, m), rng.uniform(ymin, ymax, m)
        keep = shapely.contains_xy(poly, x, y)
        if density is not None:
            keep &= rng.uniform(0, 1, m) < density(x, y)
        chunks.append(np.column_stack([x[keep], y[keep]]))
        total += int(keep.sum())
    return np.concatenate(chunks)[:n]


def kmeans(points: np.ndarray, k: int, rng: np.random.Generator, iterations: int = 30) -> np.ndarray:
    """Lloyd's k-means; the centres are finally moved onto their nearest sample (inside the parent)."""
    centres = points[rng.choice(len(points), k, replace=False)]
    for _ in range(iterations):
        _, label = cKDTree(centres).query(points)
        counts = np.bincount(label, minlength=k)
        sums = np.column_stack([np.bincount(label, points[:, d], minlength=k) for d in range(2)])
        moved = counts > 0
        centres[moved] = sums[moved] / counts[moved, None]
    _, nearest = cKDTree(points).query(centres)
    return points[np.unique(nearest)]


class Warp:
    """A smooth displacement field (sum of plane waves) that bends straight Voronoi edges.

    The gradient stays below ~0.6, so the field is a diffeomorphism and warped cells stay valid.
    """

    def __init__(self, rng: np.random.Generator, wavelength: float, waves: int = 4):
        self.wavelength = wavelength
        self.amplitude = 0.05 * wavelength
        angle = rng.uniform(0, 2 * np.pi, waves)
        self.k = (2 * np.pi / (wavelength * rng.uniform(0.8, 1.3, waves)))[:, None] * np.column_stack(
            [np.cos(angle), np.sin(angle)]
        )
        self.phase = rng.uniform(0, 2 * np.pi, (2, waves))
        self.amp = self.amplitude / waves

    def __call__(self, xy: np.ndarray) -> np.ndarray:
        arg = xy @ self.k.T
        dx = self.amp * np.sin(arg + self.phase[0]).sum(axis=1)
        dy = self.amp * np.sin(arg + self.phase[1]).sum(axis=1)
        return xy + np.column_stack([dx, dy])

    def cells(self, seeds: np.ndarray, around) -> np.ndarray:
        """Warped Voronoi cells of ``seeds``, covering ``around`` even after warping."""
        extent = shapely.buffer(shapely.envelope(around), 3 * self.amplitude)
        cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=extent))
        cells = shapely.segmentize(cells, self.wavelength / 12)
        return shapely.transform(cells, self)


def _cells_for(parent, k: int, rng, warp: Warp, density) -> np.ndarray:
    """Warped Voronoi cells splitting ``parent`` into ``k`` balanced, (nearly) connected pieces."""
    best, best_score = None, -np.inf
    for _ in range(12):
        points = sample_points(parent, max(40 * k, 300), rng, density)
        seeds = kmeans(points, k, rng)
        if len(seeds) < k:
            continue
        cells = warp.cells(seeds, parent)
        inside = shapely.intersection(cells, parent)
        area = shapely.area(inside)
        parts, index = shapely.get_parts(inside, return_index=True)
        largest = np.zeros(len(cells))
        np.maximum.at(largest, index, shapely.area(parts))
        score = min(area.min() / (parent.area / k), (largest / np.maximum(area, 1e-9)).min())
        if score > best_score:
            best, best_score = cells, score
        if area.min() > 0.3 * parent.area / k and (largest >= 0.9 * area).all():
            break
    return best


def _locate(points: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    """Index of the polygon containing each point (the nearest one for points on an edge)."""
    tree = shapely.STRtree(polygons)
    where = np.full(len(points), -1)
    pi, gi = tree.query(points, predicate="within")
    where[pi] = gi
    missing = np.flatnonzero(where < 0)
    if len(missing):
        pi, gi = tree.query_nearest(points[missing], all_matches=False)
        where[missing[pi]] = gi
    return where


def shared_length(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Length in metres of boundary shared by pairs of lon/lat polygons of one coverage."""
    return shapely.length(to_metric(shapely.intersection(shapely.boundary(a), shapely.boundary(b))))


def partition(parents: np.ndarray, counts: np.ndarray, rng, wavelength: float, density=None):
    """Split every parent into ``counts[i]`` children so that the children form one valid coverage.

    ``parents`` are lon/lat (EPSG:4490); the cells are placed in EPSG:4546 (``wavelength`` and
    ``density`` are metric), projected to lon/lat and noded with the parents there, so the result is
    exact in the stored coordinates. Returns the children (Polygon or MultiPolygon, ordered by
    parent) and their parent indices.
    """
    warp = Warp(rng, wavelength)
    cut_lines, cells, cell_parent, cell_local = [], [], [], []
    for i, (parent, k) in enumerate(zip(parents, counts)):
        if k == 1:
            continue
        parent_cells = to_storage(_cells_for(to_metric(parent), int(k), rng, warp, density))
        cells.append(parent_cells)
        cell_parent.append(np.full(len(parent_cells), i))
        cell_local.append(np.arange(len(parent_cells)))
        cut_lines.append(shapely.intersection(shapely.boundary(parent_cells), parent))
    linework = shapely.union_all(np.concatenate([shapely.boundary(parents), *cut_lines]), grid_size=GRID_SIZE)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(linework)))
    reps = shapely.point_on_surface(faces)
    face_parent = _locate(reps, parents)
    face_child = np.zeros(len(faces), dtype=int)
    if cells:
        cells, cell_parent, cell_local = map(np.concatenate, (cells, cell_parent, cell_local))
        split = counts[face_parent] > 1
        tree = shapely.STRtree(cells)
        fi, ci = tree.query(reps, predicate="within")
        same = cell_parent[ci] == face_parent[fi]
        face_cell = np.full(len(faces), -1)
        face_cell[fi[same]] = ci[same]
        for f in np.flatnonzero(split & (face_cell < 0)):
            candidates = np.flatnonzero(cell_parent == face_parent[f])
            face_cell[f] = candidates[np.argmin(shapely.distance(cells[candidates], reps[f]))]
        face_child[split] = cell_local[face_cell[split]]
    keys, inverse = np.unique(np.column_stack([face_parent, face_child]), axis=0, return_inverse=True)
    order = np.argsort(inverse.ravel(), kind="stable")
    groups = np.split(order, np.cumsum(np.bincount(inverse.ravel()))[:-1])
    children = np.array([shapely.coverage_union_all(faces[g]) for g in groups], dtype=object)
    child_parent = keys[:, 0]
    if not np.array_equal(np.bincount(child_parent, minlength=len(parents)), counts):
        raise RuntimeError("a parent lost a child while partitioning; try another seed")
    return _merge_fragments(children, child_parent), child_parent


def _merge_fragments(children: np.ndarray, child_parent: np.ndarray) -> np.ndarray:
    """Give every detached fragment of a child to the sibling it shares most boundary with."""
    children = children.copy()
    for c in np.flatnonzero(shapely.get_num_geometries(children) > 1):
        parts = shapely.get_parts(children[c])
        parts = parts[np.argsort(-metric_area(parts), kind="stable")]
        keep = [parts[0]]
        siblings = np.flatnonzero((child_parent == child_parent[c]) & (np.arange(len(children)) != c))
        for part in parts[1:]:
            shared = shared_length(np.full(len(siblings), part), children[siblings]) if len(siblings) else []
            if len(siblings) and shared.max() > 0:
                j = siblings[np.argmax(shared)]
                children[j] = shapely.coverage_union_all([children[j], part])
            else:
                keep.append(part)
        children[c] = keep[0] if len(keep) == 1 else shapely.coverage_union_all(keep)
    return children


def allocate(weights: np.ndarray, total: int, minimum: int = 1) -> np.ndarray:
    """Integer counts, each >= ``minimum``, summing to ``total``, by largest weight per unit."""
    counts = np.full(len(weights), minimum)
    for _ in range(total - counts.sum()):
        counts[np.argmax(weights / counts)] += 1
    return counts


def adjacency(polys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (i < j) of polygons sharing an edge, with the shared length."""
    i, j = shapely.STRtree(polys).query(polys, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    length = shared_length(polys[i], polys[j])
    edge = length > 0
    return i[edge], j[edge], length[edge]


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


def reading_order(geoms: np.ndarray, group: np.ndarray, band: float) -> np.ndarray:
    """Indices sorted by group, then north-to-south bands (``band`` metres), then west-to-east."""
    xy = metric_xy(shapely.point_on_surface(geoms))
    return np.lexsort((xy[:, 0], -np.floor(xy[:, 1] / band), group))


def serial_within(group: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... restarting at every change of ``group`` (which must be sorted)."""
    starts = np.r_[0, np.flatnonzero(np.diff(group)) + 1]
    return np.arange(len(group)) - np.repeat(starts, np.diff(np.r_[starts, len(group)]))


def unique_names(rng, n: int, first: list[str], second: list[str], suffix: str = "") -> list[str]:
    """``n`` distinct names drawn from first x second characters."""
    pool = np.array([a + b + suffix for a in first for b in second if a != b])
    return list(pool[rng.choice(len(pool), n, replace=False)])


def person_names(rng, n: int) -> list[str]:
    """``n`` distinct synthetic Chinese personal names (surname + one or two given characters)."""
    one = [s + g for s in SURNAMES for g in GIVEN]
    two = [s + g + h for s in SURNAMES for g in GIVEN for h in GIVEN[::3] if g != h]
    pool = np.array(one + two)
    weights = np.r_[np.full(len(one), 1.0 / len(one)), np.full(len(two), 3.0 / len(two))]
    return list(pool[rng.choice(len(pool), n, replace=False, p=weights / weights.sum())])


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


def build_officers(grid_df: pd.DataFrame, grid_village: np.ndarray, spec: Spec, rng) -> pd.DataFrame:
    """One row per grid; ``grids - officers`` officers hold two neighbouring grids of one village."""
    pairs_needed = spec.grids - spec.officers
    geoms = grid_df["geometry"].to_numpy()
    i, j, _ = adjacency(geoms)
    same_village = grid_village[i] == grid_village[j]
    chosen, used = [], np.zeros(len(geoms), dtype=bool)
    for pool in (np.flatnonzero(same_village), np.flatnonzero(~same_village)):
        for e in pool[rng.permutation(len(pool))]:
            if len(chosen) == pairs_needed:
                break
            if not used[i[e]] and not used[j[e]]:
                used[i[e]] = used[j[e]] = True
                chosen.append((i[e], j[e]))
    if len(chosen) != pairs_needed:
        raise RuntimeError(f"found only {len(chosen)} neighbouring grid pairs, need {pairs_needed}")
    partner = np.full(len(geoms), -1)
    for a, b in chosen:
        partner[a], partner[b] = b, a
    officer_of = np.full(len(geoms), -1)
    serial = 0
    for g in range(len(geoms)):
        if officer_of[g] < 0:
            officer_of[g] = serial
            if partner[g] >= 0:
                officer_of[partner[g]] = serial
            serial += 1
    names = np.array(person_names(rng, serial))
    return pd.DataFrame(
        {
            "code": [f"W{COUNTY_CODE}{k + 1:04d}" for k in officer_of],
            "name": names[officer_of],
            "grid_code": grid_df["code"].to_numpy(),
            "synthetic": 1,
        }
    )


def build_chiefs(units: dict[str, pd.DataFrame], rng) -> pd.DataFrame:
    """A river, forest and field chief (河长, 林长, 田长) for the county, every town and village."""
    levels = [
        ("county", [COUNTY_CODE]),
        ("town", list(units["towns"]["code"])),
        ("village", list(units["villages"]["code"])),
    ]
    rows = [
        (f"Z{letter}{code}", domain, level, code)
        for domain, letter in (("river", "H"), ("forest", "L"), ("field", "T"))
        for level, codes in levels
        for code in codes
    ]
    df = pd.DataFrame(rows, columns=["code", "domain", "level", "unit_code"])
    df.insert(1, "name", person_names(rng, len(df)))
    df["synthetic"] = 1
    return df


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
