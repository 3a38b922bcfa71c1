"""The duplicate search equals a plain pairwise reading of its rule, on random points with ties."""

from __future__ import annotations

import numpy as np
import pytest

from gridgov.findings.duplicates import nearest_open


def by_the_rule(new_xy, new_category, open_xy, open_category, radius_of) -> list[int]:
    """For each new point, the nearest earlier point of its category within its radius (lowest index on a
    tie), earlier meaning the open findings and then the batch's items before it; -1 if none."""
    all_xy = np.concatenate([open_xy, new_xy])
    all_category = list(open_category) + list(new_category)
    answer = []
    for j, (point, category) in enumerate(zip(new_xy, new_category, strict=True)):
        best, best_distance = -1, np.inf
        for k in range(len(open_xy) + j):
            distance = float(np.hypot(*(all_xy[k] - point)))
            if all_category[k] == category and distance <= radius_of[category] and distance < best_distance:
                best, best_distance = k, distance
        answer.append(best)
    return answer


@pytest.mark.parametrize("seed", range(12))
def test_the_nearest_earlier_point_of_the_same_category_within_its_radius(seed):
    rng = np.random.default_rng(seed)
    n_open, n_new = int(rng.integers(0, 60)), int(rng.integers(1, 80))
    # On a 10 m lattice, so that equal distances (ties) and identical points happen often.
    open_xy = rng.integers(0, 12, (n_open, 2)).astype(float) * 10
    new_xy = rng.integers(0, 12, (n_new, 2)).astype(float) * 10
    categories = np.array(["river_garbage", "forest_fire_hazard", "field_abandonment"], dtype=object)
    open_category, new_category = rng.choice(categories, n_open), rng.choice(categories, n_new)
    radius_of = {"river_garbage": 30.0, "forest_fire_hazard": 0.0, "field_abandonment": 25.0}
    found = nearest_open(new_xy=new_xy, new_category=new_category, open_xy=open_xy,
                         open_category=open_category, radius_of=radius_of)
    assert found.tolist() == by_the_rule(new_xy, new_category, open_xy, open_category, radius_of)
