"""Colour classes for the supervisor map: counts per grid cut into a few classes with mapclassify.

Pure: numbers in, class breaks and one class per value out. Grids with no findings form a class of their
own (class 0, drawn pale), so a county where most grids are quiet does not spend a colour on nothing; the
positive counts are cut by Fisher–Jenks natural breaks (``mapclassify.FisherJenks``), which puts the
breaks where the counts jump. When there are no more distinct positive counts than classes, each count
is its own class (``mapclassify.UserDefined``): Fisher–Jenks refuses to make more classes than values.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import mapclassify
import numpy as np

DEFAULT_CLASSES = 5
"""Classes including the zero class: five shades stay distinguishable on a small screen."""


@dataclass(frozen=True)
class Classes:
    """Upper bounds of the classes (``breaks[0]`` is 0: the zero class), each value's class index, and
    how the positive counts were cut (``fisher_jenks`` or ``distinct``)."""

    breaks: list[float]
    index: list[int]
    method: str


def classify(values, k: int = DEFAULT_CLASSES) -> Classes:
    """Cut non-negative counts into at most ``k`` classes: zero alone, the rest by natural breaks.

    Parameters
    ----------
    values : sequence of non-negative numbers (one per grid)
    k : number of classes including the zero class (at least 2)

    Returns
    -------
    Classes with ``breaks`` (ascending upper bounds, the first 0) and ``index`` (class of each value,
    0 … len(breaks) - 1), in the order of ``values``.

    Examples
    --------
    >>> c = classify([0, 0, 1, 2, 2, 3])
    >>> c.breaks, c.index
    ([0.0, 1.0, 2.0, 3.0], [0, 0, 1, 2, 2, 3])
    >>> classify([0, 0]).breaks
    [0.0]
    """
    if k < 2:
        raise ValueError(f"k must be at least 2 (the zero class and one more), not {k}")
    y = np.asarray(values, dtype=float)
    if y.size and (np.isnan(y).any() or y.min() < 0):
        raise ValueError("counts must be non-negative numbers")
    positive = np.unique(y[y > 0])
    method = "fisher_jenks" if positive.size > k - 1 else "distinct"
    if method == "fisher_jenks":
        with warnings.catch_warnings():  # "Numba not installed": the pure Python path is fast enough here
            warnings.simplefilter("ignore")
            upper = mapclassify.FisherJenks(y[y > 0], k=k - 1).bins
    else:
        upper = positive
    bins = np.concatenate([[0.0], upper]).astype(float)
    index = mapclassify.UserDefined(y, bins=bins.tolist()).yb if y.size else np.zeros(0, dtype=int)
    return Classes(breaks=[float(b) for b in bins], index=[int(i) for i in index], method=method)
