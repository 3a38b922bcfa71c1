"""Possible duplicates: a new finding near an open one of the same category is probably the same problem.

Pure: points in a metric CRS (metres) in, indexes out. Per category, one KD-tree over the open findings
and the batch's own items, and one pairwise query of it against the new items: every pair closer than
the radius at once, then the nearest earlier point per new item, all in NumPy (no loop over items).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree


def nearest_open(
    *,
    new_xy: np.ndarray,
    new_category: np.ndarray,
    open_xy: np.ndarray,
    open_category: np.ndarray,
    radius_of: dict[str, float],
) -> np.ndarray:
    """For each new point, the index of the nearest earlier point of its category within its radius, or -1.

    Earlier points are the open findings (indexes ``0 .. len(open_xy) - 1``) followed by the new points
    before it (index ``len(open_xy) + j`` for new point ``j``), so two reports of the same pile in one
    batch are linked too.

    >>> xy = np.array([[0.0, 0.0], [20.0, 0.0], [500.0, 0.0]])
    >>> nearest_open(new_xy=xy[1:], new_category=np.array(["a", "a"]), open_xy=xy[:1],
    ...              open_category=np.array(["a"]), radius_of={"a": 30.0}).tolist()
    [0, -1]
    """
    n_open = len(open_xy)
    all_xy = np.concatenate([open_xy.reshape(-1, 2), new_xy.reshape(-1, 2)])
    all_category = np.concatenate([open_category.astype(object), new_category.astype(object)])
    new_category = new_category.astype(object)
    result = np.full(len(new_xy), -1, dtype=np.int64)
    for category in np.unique(new_category):
        members = np.flatnonzero(all_category == category)
        news = np.flatnonzero(new_category == category)
        pairs = cKDTree(new_xy.reshape(-1, 2)[news]).sparse_distance_matrix(
            cKDTree(all_xy[members]), radius_of[category], output_type="ndarray")
        item, earlier, distance = news[pairs["i"]], members[pairs["j"]], pairs["v"]
        before = earlier < n_open + item  # only what came before: open findings, then earlier items of the batch
        item, earlier, distance = item[before], earlier[before], distance[before]
        order = np.lexsort((earlier, distance, item))  # per item: nearest first, the lower index on a tie
        item, earlier = item[order], earlier[order]
        first = np.ones(item.size, dtype=bool)
        first[1:] = item[1:] != item[:-1]
        result[item[first]] = earlier[first]
    return result
