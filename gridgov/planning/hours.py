"""The workload in hours per month: the measure the balancing proposal (:mod:`gridgov.planning.balance`)
evens out, and the pieces of split micro-grids are halved by.

Balancing needs a measure where "twice the work" means twice the time, so the proposal counts **hours per
month** (:class:`HourRates`, every constant a documented, overridable field), per grid:

``rule_hours``
    the county's grid patrol rule (:data:`GRID_RULE`: weekly, at least 30 minutes and 2 km): 30/7 patrols a
    month, each the longer of its minutes and its km at walking pace — 2.14 h. A fixed cost per grid held.
``river_hours``
    walking every river reach of the grid once per patrol: river km ÷ 4 km/h × 30/7. One pass suffices: a
    river counts as patrolled within ``river_coverage_m`` (50 m) of the track, and a bank path is that close.
``area_hours``
    sweeping the forest and farmland once per patrol: km² ÷ (sweep width × 4 km/h) × 30/7. The sweep width
    is 200 m, twice ``area_coverage_m`` (100 m, :class:`gridgov.config.Settings`): ground counts as covered
    within 100 m of the track, so lanes 200 m apart cover all of it — the width the patrol coverage KPI
    rewards. (A 100 m lane spacing would double the sweeping hours; see ``sweep_width_m``.)
``findings_hours``
    one hour per finding (``findings_30d``, the findings registered in the last 30 days, scaled to the
    window): going back, photographing, registering and following it up. Absent when the caller has none.
``travel_hours``
    the round trip from the officer's home village to the grid's village, once per patrol, at 30 km/h
    (straight-line km between the villages' outlines; 0 at home).

The parts are added, not overlapped: the rule's minimum is the cost of doing a patrol at all (getting to the
grid, the round, the check-in), and walking the river or sweeping the fields comes on top. Grid area outside
forest and farmland (villages, roads, water) adds no hours: the rule's round covers it. The parts of
:mod:`gridgov.planning.workload` (area, river, forest, farmland, findings) are still reported, and so is its
relative **index** (:func:`~gridgov.planning.workload.with_index` with
:data:`~gridgov.planning.balance.BALANCE_WEIGHTS`, 1.0 the average officer), as a second measure: it is what the
planner view shows, but it divides every part by its own mean and weighs the parts equally, so 3 km of river
scores seven times an average grid's river although it is under an hour a week of walking. The proposal balances
the hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from gridgov.config import Settings


class GridRule(NamedTuple):
    """The county's grid patrol rule: ``min_patrols`` per ``period_days``, each at least so long and so far."""

    period_days: int = 7
    min_patrols: int = 1
    min_minutes: float = 30.0
    min_km: float = 2.0


GRID_RULE = GridRule()
"""The default grid rule of :data:`gridgov.patrols.checklists.DEFAULT_RULES` (weekly, 30 minutes, 2 km)."""
WINDOW_DAYS = 30
"""The days over which hours are counted: a month."""
WALKING_KMH = 4.0
"""Walking pace on patrol: a steady walk on field paths and river banks, looking around (a brisk road walk is 5)."""
TRAVEL_KMH = 30.0
"""Pace from the home village to a grid elsewhere: an electric scooter or bus on county roads."""
AREA_COVERAGE_M = float(Settings.model_fields["area_coverage_m"].default)
"""Forest or farmland counts as covered within this distance of a track (the patrol coverage KPI's 100 m)."""
SWEEP_WIDTH_M = 2 * AREA_COVERAGE_M
"""Lane spacing that covers all of a forest or field: a track covers ``AREA_COVERAGE_M`` on each side."""
FINDING_HOURS = 1.0
"""Hours per finding: back to the spot, photographs, registering it in the app, following up the fix."""


@dataclass(frozen=True)
class HourRates:
    """The constants turning a grid's ground into hours per month (see the module docstring for each part).

    Examples
    --------
    >>> rates = HourRates()
    >>> round(rates.patrols, 3), round(rates.grid_hours, 3), round(float(rates.travel_hours(15.0)), 3)
    (4.286, 2.143, 4.286)
    >>> rates.ground_hours(pd.DataFrame({"river_km": [2.0], "farmland_km2": [0.4]})).round(3).to_dict("records")
    [{'river_hours': 2.143, 'area_hours': 2.143, 'findings_hours': 0.0}]
    """

    walking_kmh: float = WALKING_KMH
    sweep_width_m: float = SWEEP_WIDTH_M
    travel_kmh: float = TRAVEL_KMH
    finding_hours: float = FINDING_HOURS
    window_days: int = WINDOW_DAYS
    rule: GridRule = GRID_RULE

    @property
    def patrols(self) -> float:
        """Patrols the rule asks for in the window."""
        return self.window_days / self.rule.period_days * self.rule.min_patrols

    @property
    def grid_hours(self) -> float:
        """The rule's time for one grid in the window, travel apart."""
        return self.patrols * max(self.rule.min_minutes / 60, self.rule.min_km / self.walking_kmh)

    def travel_hours(self, km) -> np.ndarray:
        """Round trips of ``km`` one way, once per patrol."""
        return self.patrols * 2 * np.asarray(km, dtype=float) / self.travel_kmh

    def ground_hours(self, parts: pd.DataFrame) -> pd.DataFrame:
        """River, forest-and-farmland and findings hours of each row of additive parts."""
        def col(name: str) -> np.ndarray:
            return parts[name].to_numpy(dtype=float) if name in parts else np.zeros(len(parts))

        sweep_km2_per_hour = self.sweep_width_m / 1e3 * self.walking_kmh
        return pd.DataFrame({
            "river_hours": self.patrols * col("river_km") / self.walking_kmh,
            "area_hours": self.patrols * (col("forest_km2") + col("farmland_km2")) / sweep_km2_per_hour,
            "findings_hours": self.finding_hours * col("findings_30d") * self.window_days / 30,
        }, index=parts.index)

    def atom_hours(self, parts: pd.DataFrame) -> np.ndarray:
        """The additive hours of each row: what it adds to any grid holding it."""
        return self.ground_hours(parts).sum(axis=1).to_numpy()


DEFAULT_RATES = HourRates()


def patrol_hours(grids_held: np.ndarray, travel_km: np.ndarray, *, rule: GridRule = GRID_RULE,
                 window_days: int = WINDOW_DAYS, walking_kmh: float = WALKING_KMH,
                 travel_kmh: float = TRAVEL_KMH) -> np.ndarray:
    """Hours the grid rule needs in the window: each patrol's minimum time plus the round trip from home.

    Examples
    --------
    >>> patrol_hours(np.array([1, 2, 1]), np.array([0.0, 0.0, 15.0])).round(2).tolist()
    [2.14, 4.29, 6.43]
    """
    rates = HourRates(walking_kmh=walking_kmh, travel_kmh=travel_kmh, window_days=window_days, rule=rule)
    return np.asarray(grids_held, dtype=float) * rates.grid_hours + rates.travel_hours(travel_km)


__all__ = ["AREA_COVERAGE_M", "DEFAULT_RATES", "FINDING_HOURS", "GRID_RULE", "SWEEP_WIDTH_M", "TRAVEL_KMH",
           "WALKING_KMH", "WINDOW_DAYS", "GridRule", "HourRates", "patrol_hours"]
