"""Timing shared by the benchmarks (each script puts this folder on ``sys.path`` when run)."""

from __future__ import annotations

import time


def best_of(repeat: int, fn):
    """(best wall time in seconds, result of the last call) over ``repeat`` calls of ``fn``."""
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result
