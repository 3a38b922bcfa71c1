"""Contiguity of micro-grids and of the atoms the balancing proposal regroups (:mod:`gridgov.planning.balance`).

A proposed grid must be contiguous: its atoms are connected by shared edges (rook contiguity from
:mod:`libpysal.weights`; touching at a corner is not walkable, so it does not count). This module finds the
edges, tests whether a set of units is one piece, and enumerates every connected set of units — the candidate
grids of the regrouping model.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from libpysal.weights import Rook
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from gridgov.errors import InvalidParameter

MAX_CANDIDATES = 50_000
"""Connected atom sets enumerated per village at most; a bigger village is refused, not guessed at."""


def rook_edges(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``i < j`` of polygons sharing an edge (rook contiguity, :class:`libpysal.weights.Rook`).

    The polygons must form a clean coverage (neighbours share their vertices, as the import checks ensure);
    neighbours whose common edge is drawn with different vertices are not seen as neighbours.

    Examples
    --------
    >>> boxes = np.array([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), shapely.box(2, 1, 3, 2)])
    >>> [pair.tolist() for pair in rook_edges(boxes)]
    [[0], [1]]
    """
    if len(geoms) < 2:
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
    w = Rook.from_dataframe(gpd.GeoDataFrame(geometry=list(geoms)), use_index=False, silence_warnings=True)
    i, j = w.to_adjlist(remove_symmetric=False, drop_islands=True)[["focal", "neighbor"]].to_numpy(dtype=np.intp).T
    keep = i < j
    return i[keep], j[keep]


def connected(members: np.ndarray, i: np.ndarray, j: np.ndarray) -> bool:
    """Whether the units ``members`` form one piece over the edges ``i``-``j``.

    Examples
    --------
    >>> connected(np.array([0, 1, 2]), np.array([0, 1]), np.array([1, 2])), connected(np.array([0, 2]),
    ...     np.array([0, 1]), np.array([1, 2]))
    (True, False)
    """
    if len(members) <= 1:
        return True
    position = {int(m): k for k, m in enumerate(members)}
    inside = [(position[a], position[b]) for a, b in zip(i.tolist(), j.tolist()) if a in position and b in position]
    rows, cols = (np.array(x, dtype=np.intp) for x in zip(*inside)) if inside else (np.empty(0, np.intp),) * 2
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(members), len(members)))
    return connected_components(graph, directed=False)[0] == 1


def connected_sets(n: int, i: np.ndarray, j: np.ndarray, limit: int = MAX_CANDIDATES) -> list[tuple[int, ...]]:
    """Every connected set of the ``n`` units over the edges ``i``-``j``, each once, sorted, smallest first.

    Grown from each unit as the set's lowest member by adding neighbours above it, so each set is reached from
    exactly one start; ``limit`` caps the count (a village that large needs a different model).

    Examples
    --------
    >>> connected_sets(3, np.array([0, 1]), np.array([1, 2]))
    [(0,), (1,), (2,), (0, 1), (1, 2), (0, 1, 2)]
    """
    neighbours: list[set[int]] = [set() for _ in range(n)]
    for a, b in zip(i.tolist(), j.tolist()):
        neighbours[a].add(b)
        neighbours[b].add(a)
    found: set[frozenset[int]] = set()
    for start in range(n):
        frontier = [frozenset([start])]
        while frontier:
            grown = []
            for members in frontier:
                if members in found:
                    continue
                found.add(members)
                if len(found) > limit:
                    raise InvalidParameter(f"More than {limit} connected micro-grid sets in one village; "
                                           "balance it in parts or raise the limit.")
                reach = set().union(*(neighbours[m] for m in members)) - members
                grown.extend(members | {b} for b in reach if b > start)
            frontier = grown
    return sorted((tuple(sorted(s)) for s in found), key=lambda s: (len(s), s))


def contiguous(geoms: np.ndarray) -> bool:
    """Whether polygons (EPSG:4490) are one piece through shared stretches of boundary (corners do not count)."""
    if len(geoms) <= 1:
        return True
    rows, cols = np.nonzero(np.triu(shapely.relate_pattern(geoms[:, None], geoms[None, :], "****1****"), 1))
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(geoms), len(geoms)))
    return connected_components(graph, directed=False)[0] == 1


__all__ = ["MAX_CANDIDATES", "connected", "connected_sets", "contiguous", "rook_edges"]
