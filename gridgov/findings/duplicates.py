"""Possible duplicates: a new finding near an open one of the same category is probably the same problem.

Pure: points in a metric CRS (metres) in, indexes out. One KD-tree per category over the open findings
and the batch's own earlier items, so ten thousand new findings cost one tree query each, not a scan.
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
    result = np.full(len(new_xy), -1, dtype=np.int64)
    for category in np.unique(new_category.astype(object)):
        members = np.flatnonzero(all_category == category)
        tree = cKDTree(all_xy[members])
        radius = radius_of[category]
        for j in np.flatnonzero(new_category.astype(object) == category):
            me = n_open + j
            hits = members[tree.query_ball_point(all_xy[me], radius)]
            hits = hits[hits < me]  # only what came before: open findings, then earlier items of the batch
            if hits.size:
                distances = np.hypot(*(all_xy[hits] - all_xy[me]).T)
                result[j] = hits[np.argmin(distances)]
    return result
