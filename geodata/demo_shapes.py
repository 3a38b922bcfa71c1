"""The spatial toolkit of the demo generator: the county outline, measuring, sampling and partitioning.

Kept apart from what is generated (units, resources, people) because every layer leans on the same
few primitives: metric measures of lon/lat geometries, keeping one dimension of an overlay, and
``partition``, which splits parents into children that stay an exact coverage in the stored
coordinates. Nothing here knows about towns, rivers or officers.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from scipy.spatial import cKDTree

from gridgov.geo.crs import to_metric, to_storage

BOUNDARY = Path(__file__).resolve().parent / "nan_county" / "boundary.geojson"
GRID_SIZE = 1e-7
"""Snap-rounding grid in degrees (about 1 cm): every stored vertex of every layer lies on it."""


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


def reading_order(geoms: np.ndarray, group: np.ndarray, band: float) -> np.ndarray:
    """Indices sorted by group, then north-to-south bands (``band`` metres), then west-to-east."""
    xy = metric_xy(shapely.point_on_surface(geoms))
    return np.lexsort((xy[:, 0], -np.floor(xy[:, 1] / band), group))


def serial_within(group: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... restarting at every change of ``group`` (which must be sorted)."""
    starts = np.r_[0, np.flatnonzero(np.diff(group)) + 1]
    return np.arange(len(group)) - np.repeat(starts, np.diff(np.r_[starts, len(group)]))
