"""A workload balancing proposal (工作量均衡): regroup micro-grids into one grid per officer, splitting the
heaviest micro-grids where whole ones cannot be balanced, then seat the officers.

Pure: GeoDataFrames and DataFrames in, a :class:`Proposal` out; no session. The planning service turns the
proposal into a draft change set (the proposed splits, merges, re-parented micro-grids, reassignments) for the
planner to edit, accept or reject.

What a proposal changes
-----------------------
*One person, one grid* with ``K`` officers means ``K`` grids, so the proposal redraws the grids: every grid
becomes a group of *atoms* — whole micro-grids, or the pieces of a micro-grid the proposal splits — that

* lies in one village (nesting kept: micro-grid ⊂ grid ⊂ village, the villages are administrative and
  untouched; a piece stays in its micro-grid's village),
* is contiguous: its atoms are connected by shared edges (rook contiguity from :mod:`libpysal.weights`;
  touching at a corner is not walkable, so it does not count),

and exactly one officer holds each grid. Among all such regroupings it takes the one with the least heaviest
grid and then the least spread of workload (the sum of squared deviations from the mean), less a penalty for
every officer who would have to work outside their home village.

The workload: hours per month
-----------------------------
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
relative **index** (:func:`~gridgov.planning.workload.with_index` with :data:`BALANCE_WEIGHTS`, 1.0 the
average officer), as a second measure: it is what the planner view shows, but it divides every part by its
own mean and weighs the parts equally, so 3 km of river scores seven times an average grid's river although
it is under an hour a week of walking. The proposal balances the hours.

Splitting
---------
Whole micro-grids bound what regrouping can reach: no grid goes under its heaviest micro-grid, and in a
village of two micro-grids and one officer the grid is both. So the proposal works in rounds: regroup; if the
heaviest grid is above ``target_max_mean`` × the mean, halve the heaviest atom of every grid above it — and of
the heaviest grid of every village holding more grids than :func:`divisible_bound`'s allocation gives it (its
atoms are too coarse to merge, which keeps an officer there whom a heavier village needs) — and regroup again
with the pieces as atoms (``split_rounds`` at most, and no further once a round stops lowering
the heaviest grid, or once it is within ``SPLIT_SLACK`` of :func:`divisible_bound`, the least any cutting could
reach while grids stay in their villages). A halving line is straight, perpendicular
to the atom's longest axis (of its minimum rotated rectangle, in the metric CRS), and moved along that axis by
bisection until the two sides carry equal workload — each side's hours measured from its own share of the
river, forest and farmland clipped in the metric CRS (findings, having no place, go by area). Every line is
checked by applying :class:`gridgov.planning.edits.Split` to the coverage of micro-grids, with its rules (no
slivers, no gaps or overlaps, nesting, codes by the scheme); a refused line is tried along the other axis, and
an atom neither line can halve stays whole. A split whose pieces all end in one proposed grid is dropped. The
proposal lists the splits it keeps (``Proposal.splits``: the code split, the line as WKT in EPSG:4490, the
pieces' codes and hours) in the order the planner applies them as edits.

Two solvers, no hand-written heuristic:

1. **Regrouping** is a set-partitioning model solved exactly by CBC through PuLP: the candidate grids are
   every connected set of atoms inside a village (enumerated from the contiguity graph; villages have a
   handful of atoms), each priced by its squared deviation from the mean workload; the model picks
   candidates covering every atom once, ``K`` of them in all, and counts the officers leaving their
   village. spopt's regionalisation heuristics (AZP, SKATER, region k-means) minimise how *different* the
   units of a region are, not how *equal* the regions' sums are, and max-p fixes a floor rather than the
   number of regions, so they do not state this problem; the exact model does, and it is deterministic.
   The model is solved twice: first for the least possible heaviest grid, then, among the groupings keeping
   to it, for the least squared deviation. From the second round on, candidates heavier than the last
   round's heaviest grid are left out (the last round's grouping is still among the candidates).
2. **Seating** the officers is an assignment problem solved by :func:`scipy.optimize.linear_sum_assignment`:
   least travel hours from each officer's home village (the village of the grids they hold now), each weighted
   by ``1 + load`` of the grid so that whoever travels takes a lighter grid, a large cost for any seating whose
   travel would lift the grid above the target (so a grid already above it takes nobody from elsewhere if it
   can be helped), and ties going to the officer who already walks most of it.
"""

from __future__ import annotations

import heapq
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import pulp
import shapely
from libpysal.weights import Rook
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from gridgov.config import Settings
from gridgov.errors import InvalidGeometry, InvalidParameter
from gridgov.geo.crs import DEFAULT_METRIC_EPSG, STORAGE_EPSG, to_metric, transformer
from gridgov.planning.edits import Coverage, EditRefused, Split
from gridgov.planning.topology import DEFAULT_RULES, Rules
from gridgov.planning.workload import GROUND_PARTS, WEIGHTS, ground_parts, with_index


class GridRule(NamedTuple):
    """The county's grid patrol rule: ``min_patrols`` per ``period_days``, each at least so long and so far."""

    period_days: int = 7
    min_patrols: int = 1
    min_minutes: float = 30.0
    min_km: float = 2.0


GRID_RULE = GridRule()
"""The default grid rule of :data:`gridgov.patrols.checklists.DEFAULT_RULES` (weekly, 30 minutes, 2 km)."""
BALANCE_WEIGHTS = {**WEIGHTS, "patrol_hours": 1.0}
"""The workload index's weights plus the patrol time the rule needs (travel included), weighed like a ground part."""
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
MOVE_PENALTY = 0.25
"""Cost of one officer working outside their home village, in the model's units (squared load deviation)."""
MAX_CANDIDATES = 50_000
"""Connected atom sets enumerated per village at most; a bigger village is refused, not guessed at."""
SPLIT_SLACK = 0.005
"""Splits stop aiming lower than :func:`divisible_bound` × (1 + this): closer, halving only adds edits. On the demo
county 0.02 stops after one round of splits at 1.378 × mean; 0.005 goes on to 1.364 with about twice the splits."""
STALL = 1e-3
"""A round lowering the heaviest grid by less than this (× mean) ends the rounds: more halving does not help."""
SPLIT_ROUNDS = 4
"""Regroup-and-halve rounds at most (see Splitting in the module docstring)."""
OVER_TARGET_COST = 1e3
"""Seating cost per hour a grid would go above the target because of its officer's travel."""


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


@dataclass(frozen=True)
class Spread:
    """The spread of the officers' workload: max/mean and coefficient of variation (std/mean)."""

    max_mean: float
    cv: float
    max: float
    mean: float

    @classmethod
    def of(cls, values: pd.Series | np.ndarray) -> Spread:
        values = np.asarray(values, dtype=float)
        mean = float(values.mean())
        return cls(max_mean=float(values.max() / mean), cv=float(values.std() / mean), max=float(values.max()),
                   mean=mean)


@dataclass(frozen=True)
class Proposal:
    """A balancing proposal.

    ``micro_grids``: atom code (a micro-grid, or a piece of a split one) → ``micro_grid`` (the micro-grid it is
    or was cut from), ``grid`` (proposed grid key), ``village``, ``officer``, ``hours`` (its additive hours).
    ``grids``: one row per proposed grid, indexed by key (``P0001``…): ``village``, ``officer``, ``micro_grids``
    (tuple of atom codes), ``keeps`` (the current grid code it keeps, when it is exactly a current grid),
    ``contiguous``, ``travel_km``, the workload parts, ``hours`` and ``index``; geometry in EPSG:4490.
    ``before``, ``after``: per officer: ``grids`` held, parts, ``travel_km``, ``patrol_hours``, the hours parts,
    ``hours`` and ``index``. ``spread_*``: of the hours; ``index_spread_*``: of the old relative index.
    ``splits``: one row per split edit, in order: ``code``, ``line`` (WKT, EPSG:4490), ``pieces`` (new codes),
    ``pieces_hours``, ``round``; they are edits in sequence (a later one may cut a piece of an earlier one), and
    the pieces' codes are the ones :class:`~gridgov.planning.edits.Split` gave them against ``used_codes``.
    ``floor_max_mean``: the heaviest atom held alone, over the mean officer's hours after.
    ``to_split``: micro-grids heavier alone than the target, before any split;
    ``bound_max_mean``: :func:`divisible_bound`, the least max/mean of hours any proposal keeping grids in their
    villages can reach however it cuts (travel apart); ``unsplittable``: atoms the proposal wanted to halve
    but no valid line could. ``moved``: officers seated
    outside their home village.
    """

    micro_grids: pd.DataFrame
    grids: gpd.GeoDataFrame
    before: pd.DataFrame
    after: pd.DataFrame
    spread_before: Spread
    spread_after: Spread
    index_spread_before: Spread
    index_spread_after: Spread
    floor_max_mean: float
    bound_max_mean: float
    to_split: list[str]
    splits: pd.DataFrame
    unsplittable: list[str]
    moved: list[str]
    solver_status: str
    rounds: list[float] = field(default_factory=list)

    @property
    def contiguous(self) -> bool:
        """Whether every proposed grid is one piece."""
        return bool(self.grids["contiguous"].all())


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


def _validate(micro: gpd.GeoDataFrame, officers: pd.DataFrame) -> None:
    missing = {"code", "grid_code", "village_code"} - set(micro.columns)
    if missing:
        raise InvalidParameter(f"The micro-grids lack the column(s) {sorted(missing)}.")
    if "code" not in officers or "grid_code" not in officers:
        raise InvalidParameter("The officers need the columns code and grid_code (one row per grid held).")
    if micro["code"].duplicated().any():
        raise InvalidParameter(f"Micro-grid code(s) repeated: {sorted(micro['code'][micro['code'].duplicated()])}.")
    parts = shapely.get_num_geometries(np.asarray(micro.geometry.values))
    if (parts != 1).any():
        bad = micro["code"].to_numpy()[parts != 1].tolist()
        raise InvalidGeometry(f"Micro-grid(s) {bad} are not one piece (or empty); a grid built from them could not "
                              "be contiguous. Fix or split them first.")
    unknown = sorted(set(officers["grid_code"]) - set(micro["grid_code"]))
    if unknown:
        raise InvalidParameter(f"Officer(s) hold grid(s) with no micro-grid: {unknown}.")
    homes = officers.groupby("code")["grid_code"].apply(
        lambda grids: micro.loc[micro["grid_code"].isin(grids), "village_code"].nunique())
    if (homes > 1).any():
        raise InvalidParameter(f"Officer(s) {sorted(homes.index[homes > 1])} hold grids in several villages; "
                               "give them a home_village.")


def _home_villages(micro: gpd.GeoDataFrame, officers: pd.DataFrame) -> pd.Series:
    """Officer code → home village: ``home_village`` when given, else the village of the grids they hold."""
    if "home_village" in officers:
        return officers.groupby("code", sort=True)["home_village"].first()
    village_of = micro.drop_duplicates("grid_code").set_index("grid_code")["village_code"]
    return officers.assign(v=officers["grid_code"].map(village_of)).groupby("code", sort=True)["v"].first()


def _candidates(villages: np.ndarray, i: np.ndarray, j: np.ndarray) -> tuple[list[tuple[int, ...]], list[str]]:
    """Every connected set of micro-grids inside one village (edges ``i``-``j``), and its village."""
    same = villages[i] == villages[j]
    i, j = i[same], j[same]
    candidates: list[tuple[int, ...]] = []
    village_of: list[str] = []
    for village in pd.unique(villages):
        members = np.flatnonzero(villages == village)
        local = {int(m): n for n, m in enumerate(members)}
        inside = np.isin(i, members) & np.isin(j, members)
        li = np.array([local[a] for a in i[inside].tolist()], dtype=np.intp)
        lj = np.array([local[b] for b in j[inside].tolist()], dtype=np.intp)
        for group in connected_sets(len(members), li, lj):
            candidates.append(tuple(int(members[g]) for g in group))
            village_of.append(village)
    return candidates, village_of


def _solve(candidates: list[tuple[int, ...]], village_of: list[str], n_micro: int, k: int, cost: list[float] | None,
           officers_in: pd.Series, move_penalty: float, seed: int, time_limit: float | None,
           loads: np.ndarray | None = None) -> tuple[list[int], float, str]:
    """One CBC solve of the partition: least ``cost`` (or, with ``loads``, least heaviest load) over ``k`` picks."""
    model = pulp.LpProblem("balance", pulp.LpMinimize)
    x = [model.add_variable(f"x{n}", cat="Binary") for n in range(len(candidates))]
    covering: list[list[int]] = [[] for _ in range(n_micro)]
    by_village: dict[str, list[int]] = {}
    for n, (c, v) in enumerate(zip(candidates, village_of)):
        for m in c:
            covering[m].append(n)
        by_village.setdefault(v, []).append(n)
    stay = np.isinf(move_penalty)
    leave = {v: model.add_variable(f"leave{n}", lowBound=0) for n, v in enumerate(by_village)}
    if loads is not None:
        heaviest = model.add_variable("heaviest", lowBound=0)
        model += heaviest
        for n in range(len(x)):
            model += heaviest >= float(loads[n]) * x[n]
    else:
        model += pulp.lpSum(cost[n] * x[n] for n in range(len(x))) + (
            0 if stay else move_penalty * pulp.lpSum(leave.values()))
    for m, cover in enumerate(covering):
        model += pulp.lpSum(x[n] for n in cover) == 1, f"cover{m}"
    model += pulp.lpSum(x) == k, "one_grid_per_officer"
    for number, (v, ns) in enumerate(by_village.items()):
        picked = pulp.lpSum(x[n] for n in ns)
        if stay:
            model += picked == int(officers_in.get(v, 0)), f"stay{number}"
        else:
            model += leave[v] >= int(officers_in.get(v, 0)) - picked
    with warnings.catch_warnings():  # PuLP 3 bundles CBC as PULP_CBC_CMD and warns it will move in PuLP 4
        warnings.simplefilter("ignore", DeprecationWarning)
        solver = pulp.PULP_CBC_CMD(msg=False, threads=1, timeLimit=time_limit,
                                   options=[f"randomSeed {seed}", f"randomCbcSeed {seed}"])
    model.solve(solver)
    status = pulp.LpStatus[model.status]
    if status != "Optimal" and not (status == "Not Solved" and model.sol_status == pulp.LpSolutionIntegerFeasible):
        raise InvalidParameter(f"No regrouping found ({status}): every village needs at least one grid per separate "
                               "piece of its ground and at most one per micro-grid"
                               + (", and with officers kept at home, as many grids as officers." if stay else "."))
    chosen = [n for n in range(len(x)) if (x[n].value() or 0) > 0.5]
    return chosen, float(pulp.value(model.objective) or 0.0), status


def _village_distance_km(metric: np.ndarray, villages: np.ndarray, pairs: list[tuple[str, str]]) -> dict:
    """Straight-line km between the outlines of village pairs (0 when touching)."""
    if not pairs:
        return {}
    names = sorted({v for pair in pairs for v in pair})
    outline = {v: shapely.union_all(metric[villages == v]) for v in names}
    a = np.array([outline[p] for p, _ in pairs])
    b = np.array([outline[q] for _, q in pairs])
    return dict(zip(pairs, (shapely.distance(a, b) / 1e3).tolist()))


@dataclass
class _Ground:
    """What the pieces of atoms are measured against: the resources (``resource``: river, forest, farmland;
    EPSG:4490), or none, when every part of an atom is shared among its pieces by area."""

    rates: HourRates
    metric_epsg: int
    resources: gpd.GeoDataFrame | None = None

    def __post_init__(self) -> None:
        if self.resources is not None and len(self.resources):
            self.resources = self.resources.reset_index(drop=True)
            self.tree = shapely.STRtree(np.asarray(self.resources.geometry.values))
            self.kinds = self.resources["resource"].to_numpy()
            self.metric = to_metric(np.asarray(self.resources.geometry.values), self.metric_epsg)
        else:
            self.resources = None

    @property
    def measured(self) -> bool:
        return self.resources is not None

    def _near(self, polygon: shapely.Geometry) -> np.ndarray:
        return np.sort(self.tree.query(polygon, predicate="intersects"))

    def density(self, polygon: shapely.Geometry, polygon_m: shapely.Geometry, other_hours: float):
        """A function: metric half-plane → the atom's hours inside it (its rivers and forest/farmland clipped
        to it in the metric CRS, and ``other_hours`` shared by area)."""
        area = shapely.area(polygon_m)
        walk, sweep = self.rates.walking_kmh, self.rates.sweep_width_m / 1e3 * self.rates.walking_kmh
        patrols = self.rates.patrols
        rivers = areas = np.empty(0, dtype=object)
        if self.measured:
            near = self._near(polygon)
            clipped = shapely.intersection(self.metric[near], polygon_m)
            kinds = self.kinds[near]
            rivers = clipped[(kinds == "river") & ~shapely.is_empty(clipped)]
            areas = clipped[np.isin(kinds, ["forest", "farmland"]) & ~shapely.is_empty(clipped)]

        def hours(half: shapely.Geometry) -> float:
            total = other_hours * shapely.area(shapely.intersection(polygon_m, half)) / area
            if len(rivers):
                total += patrols * shapely.length(shapely.intersection(rivers, half)).sum() / 1e3 / walk
            if len(areas):
                total += patrols * shapely.area(shapely.intersection(areas, half)).sum() / 1e6 / sweep
            return float(total)

        return hours

    def piece_parts(self, pieces: list[str], geoms: list, polygon: shapely.Geometry) -> pd.DataFrame:
        """Ground parts of the pieces of ``polygon``, measured like every micro-grid's."""
        frame = gpd.GeoDataFrame({"code": pieces}, geometry=geoms, crs=STORAGE_EPSG)
        return ground_parts(frame, self.resources.iloc[self._near(polygon)], self.metric_epsg)


def halving_line(polygon: shapely.Geometry, hours_in, *, across: bool = False, metric_epsg: int = DEFAULT_METRIC_EPSG,
                 tolerance_m: float = 0.01) -> tuple[shapely.LineString, float]:
    """A straight line (EPSG:4490) cutting ``polygon`` (EPSG:4490) into two sides of equal hours.

    Perpendicular to the longest axis of the polygon's minimum rotated rectangle in the metric CRS (with
    ``across``, to the other axis), moved along that axis by bisection until ``hours_in(half-plane)`` (metric)
    is half of the polygon's; the line runs 10 m past the polygon on both sides. Returns the line and the
    share of the hours on the low side (0.5 but for the bisection's tolerance).

    Examples
    --------
    >>> square = shapely.box(112.50, 29.30, 112.52, 29.31)
    >>> metric = to_metric(np.array([square]))[0]
    >>> line, share = halving_line(square, lambda half: shapely.area(shapely.intersection(metric, half)))
    >>> round(float(share), 3), round(line.centroid.x, 4)
    (0.5, 112.51)
    """
    polygon_m = to_metric(np.array([polygon], dtype=object), metric_epsg)[0]
    corners = shapely.get_coordinates(shapely.minimum_rotated_rectangle(polygon_m))[:4]
    sides = np.diff(np.vstack([corners, corners[:1]]), axis=0)
    lengths = np.hypot(*sides.T)
    u = sides[int(np.argmax(lengths))] / lengths.max()
    if u[0] < 0 or (u[0] == 0 and u[1] < 0):  # one direction for the same axis, whatever the ring's start
        u = -u
    if across:
        u = np.array([-u[1], u[0]])
    v = np.array([-u[1], u[0]])
    centre = np.asarray(shapely.get_coordinates(shapely.centroid(polygon_m))[0])
    offsets = shapely.get_coordinates(polygon_m) - centre
    along, aside = offsets @ u, offsets @ v
    low, high = float(along.min()), float(along.max())
    reach = float(np.abs(aside).max()) + 10.0

    def half(t: float) -> shapely.Geometry:
        corners = [(low - 10.0, -reach), (t, -reach), (t, reach), (low - 10.0, reach)]
        return shapely.Polygon([tuple(centre + a * u + b * v) for a, b in corners])

    total = hours_in(half(high + 10.0))
    if total <= 0:
        raise InvalidParameter("an atom without workload cannot be halved by workload")
    lo, hi = low, high
    while hi - lo > tolerance_m:
        mid = (lo + hi) / 2
        if hours_in(half(mid)) < total / 2:
            lo = mid
        else:
            hi = mid
    t = (lo + hi) / 2
    ends = np.array([centre + t * u - reach * v, centre + t * u + reach * v])
    lon, lat = transformer(metric_epsg, STORAGE_EPSG).transform(ends[:, 0], ends[:, 1])
    return shapely.LineString(np.column_stack([lon, lat])), hours_in(half(t)) / total


class _Atoms:
    """The atoms being regrouped (micro-grids and pieces), their parts, and the coverage the splits edit."""

    def __init__(self, micro: gpd.GeoDataFrame, parts: pd.DataFrame, ground: _Ground, rules: Rules,
                 used_codes: Iterable[str], metric_epsg: int) -> None:
        self.ground, self.rules, self.metric_epsg = ground, rules, metric_epsg
        self.codes: list[str] = micro["code"].tolist()
        self.origin = dict(zip(self.codes, self.codes))
        self.village_of_grid = dict(zip(micro["grid_code"], micro["village_code"]))
        self.parts = parts.copy()
        self.original = dict(zip(self.codes, micro.geometry))
        self.micro = micro
        self.used_codes = frozenset(used_codes)
        self._coverage: Coverage | None = None
        self.splits: list[dict] = []
        self.retired: dict[str, tuple[shapely.Geometry, pd.Series]] = {}
        self.undone: dict[str, shapely.Geometry] = {}

    @property
    def coverage(self) -> Coverage:
        if self._coverage is None:
            grids = self.micro.dissolve("grid_code", sort=True)
            self._coverage = Coverage("micro_grids", {c: (g, geom) for c, g, geom in zip(
                self.micro["code"], self.micro["grid_code"], self.micro.geometry)},
                dict(zip(grids.index, grids.geometry)), self.used_codes, self.metric_epsg)
        return self._coverage

    def geometry(self, codes: Iterable[str]) -> np.ndarray:
        """The atoms' polygons (EPSG:4490), with the vertices the splits inserted."""
        if self._coverage is None:
            by_code = dict(zip(self.micro["code"], self.micro.geometry))
            return np.array([by_code[c] for c in codes], dtype=object)
        return np.array([self._coverage.units[c].geometry for c in codes], dtype=object)

    def frame(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sorted atom codes, their villages, their metric polygons."""
        codes = np.array(sorted(self.codes), dtype=object)
        if self._coverage is None:
            grid_of = dict(zip(self.micro["code"], self.micro["grid_code"]))
        else:
            grid_of = {c: self._coverage.units[c].parent for c in codes}
        villages = np.array([self.village_of_grid[grid_of[c]] for c in codes], dtype=object)
        return codes, villages, to_metric(self.geometry(codes), self.metric_epsg)

    def halve(self, code: str, round_: int) -> bool:
        """Split the atom into two of equal hours with a checked :class:`Split`; False when no line passes."""
        polygon = self.coverage.units[code].geometry
        polygon_m = to_metric(np.array([polygon], dtype=object), self.metric_epsg)[0]
        part = self.parts.loc[[code]]
        hours = self.ground.rates.ground_hours(part).iloc[0]
        other = float(hours.sum() - (hours["river_hours"] + hours["area_hours"] if self.ground.measured else 0.0))
        hours_in = self.ground.density(polygon, polygon_m, other)
        for across in (False, True):
            try:
                line, _ = halving_line(polygon, hours_in, across=across, metric_epsg=self.metric_epsg)
                outcome = Split(code, line).outcome(self.coverage, self.rules)
            except (EditRefused, InvalidParameter):
                continue
            self._coverage = outcome.coverage
            self.retired[code] = (polygon, part.iloc[0])
            pieces = list(outcome.created)
            self._piece_parts(code, pieces, part, polygon)
            self.codes = [c for c in self.codes if c != code] + pieces
            for piece in pieces:
                self.origin[piece] = self.origin[code]
            self.splits.append({"code": code, "line": line.wkt, "pieces": tuple(pieces),
                                "pieces_hours": tuple(round(float(h), 3) for h in
                                                      self.ground.rates.atom_hours(self.parts.loc[pieces])),
                                "round": round_})
            return True
        return False

    def _piece_parts(self, code: str, pieces: list[str], part: pd.DataFrame, polygon: shapely.Geometry) -> None:
        """The pieces' parts: ground parts measured on each piece, the rest (findings) shared by area."""
        geoms = [self._coverage.units[p].geometry for p in pieces]
        share = shapely.area(to_metric(np.array(geoms, dtype=object), self.metric_epsg))
        share = share / share.sum()
        rows = pd.DataFrame(np.outer(share, part.to_numpy(dtype=float)[0]), index=pieces, columns=part.columns)
        if self.ground.measured:
            measured = self.ground.piece_parts(pieces, geoms, polygon)
            for column in [c for c in GROUND_PARTS if c in rows.columns or c in measured.columns]:
                rows[column] = measured[column].to_numpy()
        self.parts = pd.concat([self.parts.drop(index=code), rows]).fillna(0.0)

    def undo_unused(self, group_of: dict[str, int]) -> dict[str, int]:
        """Drop the splits whose pieces all ended in one group, latest first; the atoms' groups after.

        An atom whose split is dropped takes back its parts, and as polygon the union of its pieces, which
        carries the vertices later splits of its neighbours inserted (so its edges still match theirs)."""
        kept = []
        for split in reversed(self.splits):
            groups = {group_of.get(p) for p in split["pieces"]}
            if len(groups) == 1 and None not in groups:
                (group,) = groups
                for p in split["pieces"]:
                    del group_of[p]
                group_of[split["code"]] = group
                self.undone[split["code"]] = shapely.union_all(
                    [self.undone[p] if p in self.undone else self.coverage.units[p].geometry
                     for p in split["pieces"]])
            else:
                kept.append(split)
        self.splits = kept[::-1]
        return group_of



def _regroup(hours: np.ndarray, grid_hours: float, villages: np.ndarray, i: np.ndarray, j: np.ndarray,
             officers_in: pd.Series, k: int, current: set[frozenset[int]], move_penalty: float, seed: int,
             time_limit: float | None, cap: float | None = None) -> tuple[list[tuple[int, ...]], np.ndarray, str]:
    """``k`` connected within-village groups: first the least possible heaviest group, then, among groupings
    that keep to it, the least squared deviation from the mean plus the penalty for officers leaving home.
    Loads are hours over the mean (``grid_hours`` per grid added); ``cap`` leaves heavier candidates out."""
    candidates, village_of = _candidates(villages, i, j)
    mean = (hours.sum() + k * grid_hours) / k
    loads = np.array([hours[list(c)].sum() + grid_hours for c in candidates]) / mean
    if cap is not None:
        keep = np.flatnonzero(loads <= cap + 1e-9)
        candidates, village_of, loads = [candidates[n] for n in keep], [village_of[n] for n in keep], loads[keep]
    first, _, _ = _solve(candidates, village_of, len(hours), k, None, officers_in, move_penalty, seed, time_limit,
                         loads=loads)
    keep = np.flatnonzero(loads <= loads[first].max() + 1e-9)
    kept = [candidates[n] for n in keep]
    cost = [(loads[n] - 1.0) ** 2 - (1e-6 if frozenset(candidates[n]) in current else 0.0) for n in keep]
    chosen, _, status = _solve(kept, [village_of[n] for n in keep], len(hours), k, cost, officers_in, move_penalty,
                               seed, time_limit)
    groups = sorted((kept[n] for n in chosen), key=lambda g: g[0])
    return groups, np.array([loads[keep[n]] for n in chosen])[np.argsort([kept[n][0] for n in chosen])], status


def _seat(groups: list[tuple[int, ...]], group_village: list[str], group_hours: np.ndarray, homes: pd.Series,
          held_now: dict[str, set[int]], metric: np.ndarray, villages: np.ndarray, rates: HourRates,
          limit_hours: float) -> tuple[list[str], np.ndarray]:
    """Officer per group by least travel hours from the home village, weighted by the group's load (whoever
    travels takes a lighter grid), a large cost per hour travel would lift a grid above ``limit_hours``, then
    most atoms already walked."""
    officers = homes.index.to_numpy()
    home = homes.to_numpy()
    target = np.array(group_village)
    pairs = sorted({(h, t) for h in set(home) for t in set(target) if h != t
                    and (home == h).sum() > (target == h).sum() and (target == t).sum() > (home == t).sum()})
    distance = _village_distance_km(metric, villages, pairs)
    travel = np.full((len(officers), len(groups)), 1e6)
    for (h, t), km in distance.items():
        travel[np.ix_(home == h, target == t)] = km
    travel[home[:, None] == target[None, :]] = 0.0
    walked = coo_matrix((np.ones(sum(len(held_now[o]) for o in officers)),
                         ([r for r, o in enumerate(officers) for _ in held_now[o]],
                          [m for o in officers for m in sorted(held_now[o])])), shape=(len(officers), len(metric)))
    member = coo_matrix((np.concatenate([np.full(len(g), 1 / len(g)) for g in groups]),
                         (np.concatenate(groups), np.repeat(np.arange(len(groups)), [len(g) for g in groups]))),
                        shape=(len(metric), len(groups)))
    overlap = (walked.tocsr() @ member.tocsc()).toarray()
    travel_h = rates.travel_hours(travel)
    mean = group_hours.mean()
    over = np.maximum(0.0, group_hours[None, :] + travel_h - limit_hours)
    cost = travel_h * (1.0 + group_hours[None, :] / mean) + OVER_TARGET_COST * over - 1e-3 * overlap
    rows, cols = linear_sum_assignment(cost)
    seated = np.empty(len(groups), dtype=object)
    seated[cols] = officers[rows]
    return seated.tolist(), travel[rows, cols][np.argsort(cols)]


def _per_officer(parts: pd.DataFrame, holder: pd.Series, held: pd.Series, travel: pd.Series,
                 weights: dict[str, float], rates: HourRates) -> pd.DataFrame:
    """Per officer: grids held, summed parts, travel, the rule's patrol hours, the hours parts and ``hours``,
    and the relative index over the officers."""
    sums = parts.groupby(holder.reindex(parts.index).to_numpy()).sum()
    sums.index.name = "officer_code"
    sums.insert(0, "grids", held.reindex(sums.index).astype(int))
    sums["travel_km"] = travel.reindex(sums.index).fillna(0.0)
    sums["patrol_hours"] = sums["grids"].to_numpy() * rates.grid_hours + rates.travel_hours(sums["travel_km"])
    sums["rule_hours"] = sums["grids"].to_numpy() * rates.grid_hours
    sums["travel_hours"] = rates.travel_hours(sums["travel_km"].to_numpy())
    sums = sums.join(rates.ground_hours(sums))
    sums["hours"] = sums[["rule_hours", "travel_hours", "river_hours", "area_hours", "findings_hours"]].sum(axis=1)
    return with_index(sums, {p: w for p, w in weights.items() if p in parts or p == "patrol_hours"})


def divisible_bound(hours: np.ndarray, villages: np.ndarray, pieces: dict[str, int], k: int,
                    grid_hours: float) -> float:
    """The least heaviest-officer max/mean any proposal can reach, however finely the ground is cut.

    Grids stay in their village and every separate piece of a village needs a grid of its own, so a village
    with ``n`` officers gives each at least ``hours / n + grid_hours``; the officers are handed out one at a
    time to the village whose officers are then heaviest (greedy, exact for this min-max). Light villages
    that still need their own officer keep the bound above 1.

    Examples
    --------
    >>> divisible_bound(np.array([1.0, 9.0]), np.array(["a", "b"]), {"a": 1, "b": 1}, 4, 0.0)  # a: 1, b: 3 x 3
    1.2
    >>> divisible_bound(np.array([5.0, 5.0]), np.array(["a", "b"]), {"a": 1, "b": 1}, 4, 0.0)
    1.0
    """
    totals = pd.Series(hours, dtype=float).groupby(villages).sum()
    officers = pd.Series(pieces).reindex(totals.index).fillna(1).astype(int)
    spare = k - int(officers.sum())
    heap = [(-(totals[v] / officers[v] + grid_hours), v) for v in totals.index]
    heapq.heapify(heap)
    for _ in range(max(spare, 0)):
        _, v = heapq.heappop(heap)
        officers[v] += 1
        heapq.heappush(heap, (-(totals[v] / officers[v] + grid_hours), v))
    mean = (totals.sum() + k * grid_hours) / k
    return float(-heap[0][0] / mean)


def _bound_officers(hours: np.ndarray, villages: np.ndarray, pieces: dict[str, int], k: int,
                    grid_hours: float) -> pd.Series:
    """Village → officers in :func:`divisible_bound`'s allocation."""
    totals = pd.Series(hours, dtype=float).groupby(villages).sum()
    officers = pd.Series(pieces).reindex(totals.index).fillna(1).astype(int)
    heap = [(-(totals[v] / officers[v] + grid_hours), v) for v in totals.index]
    heapq.heapify(heap)
    for _ in range(max(k - int(officers.sum()), 0)):
        _, v = heapq.heappop(heap)
        officers[v] += 1
        heapq.heappush(heap, (-(totals[v] / officers[v] + grid_hours), v))
    return officers


def _contiguous(geoms: np.ndarray) -> bool:
    """Whether polygons (EPSG:4490) are one piece through shared stretches of boundary (corners do not count)."""
    if len(geoms) <= 1:
        return True
    rows, cols = np.nonzero(np.triu(shapely.relate_pattern(geoms[:, None], geoms[None, :], "****1****"), 1))
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(geoms), len(geoms)))
    return connected_components(graph, directed=False)[0] == 1


def propose_balance(micro_grids: gpd.GeoDataFrame, officers: pd.DataFrame, *,
                    resources: gpd.GeoDataFrame | None = None, parts: pd.DataFrame | None = None,
                    weights: dict[str, float] = BALANCE_WEIGHTS, rates: HourRates = DEFAULT_RATES,
                    move_penalty: float = MOVE_PENALTY, target_max_mean: float = 1.25,
                    split_rounds: int = SPLIT_ROUNDS, rules: Rules = DEFAULT_RULES, used_codes: Iterable[str] = (),
                    seed: int = 20261127, time_limit: float | None = 60.0,
                    metric_epsg: int = DEFAULT_METRIC_EPSG) -> Proposal:
    """A proposal giving each officer one contiguous grid in one village, workload hours balanced.

    Parameters
    ----------
    micro_grids : GeoDataFrame (EPSG:4490) with ``code``, ``grid_code``, ``village_code``; single polygons
        forming a clean coverage (the grids are taken as the union of their micro-grids)
    officers : DataFrame with ``code`` and ``grid_code``, one row per grid held now; ``home_village`` optional
    resources : rivers, forests, farmland (``resource`` column) for :func:`~gridgov.planning.workload.ground_parts`
        and for measuring the pieces of split micro-grids
    parts : additive workload parts per micro-grid, indexed by code (e.g. ground parts and ``findings_30d``);
        computed from ``resources`` when omitted. Without ``resources`` a split shares them by area.
    weights : weights of the relative index (reported, not balanced)
    rates : the constants of the hours measure
    move_penalty : model cost of an officer working outside their home village (``inf``: never)
    target_max_mean : the heaviest grid's hours over the mean the proposal aims at; atoms of grids above it
        are halved, round after round, while ``split_rounds`` last (0: never split)
    rules, used_codes : the edit rules splits are checked with, and every micro-grid code ever issued (new
        pieces get codes never used)

    Examples
    --------
    >>> boxes = [shapely.box(*np.round([112.50 + 0.01 * c, 29.3, 112.51 + 0.01 * c, 29.31], 2)) for c in range(3)]
    >>> micro = gpd.GeoDataFrame({"code": ["m1", "m2", "m3"], "grid_code": ["g1", "g2", "g3"],
    ...                           "village_code": "v"}, geometry=boxes, crs=4490)
    >>> loads = pd.DataFrame({"farmland_km2": [2.0, 1.0, 1.0]}, index=["m1", "m2", "m3"])
    >>> officers = pd.DataFrame({"code": ["A", "A", "B"], "grid_code": ["g1", "g2", "g3"]})
    >>> p = propose_balance(micro, officers, parts=loads, split_rounds=0)
    >>> p.grids[["officer", "micro_grids"]].to_dict("records")
    [{'officer': 'A', 'micro_grids': ('m1',)}, {'officer': 'B', 'micro_grids': ('m2', 'm3')}]
    >>> round(p.spread_before.max_mean, 2), round(p.spread_after.max_mean, 2), p.contiguous
    (1.46, 1.0, True)
    """
    _validate(micro_grids, officers)
    micro = micro_grids.sort_values("code").reset_index(drop=True)
    codes0 = micro["code"].to_numpy()
    homes = _home_villages(micro, officers)
    k = len(homes)
    metric0 = to_metric(np.asarray(micro.geometry.values), metric_epsg)
    villages0 = micro["village_code"].to_numpy()
    i0, j0 = rook_edges(metric0)
    same = villages0[i0] == villages0[j0]
    pieces = _village_pieces(len(micro), i0[same], j0[same], villages0)
    if k < sum(pieces.values()):
        raise InvalidParameter(
            f"{k} officers cannot hold every village's ground in contiguous grids: the villages fall into "
            f"{sum(pieces.values())} separate pieces, each needing a grid of its own.",
            details=[{"village": v, "pieces": n} for v, n in pieces.items() if n > 1])
    if k > len(micro):
        raise InvalidParameter(f"{k} officers but only {len(micro)} micro-grids: one grid each cannot be drawn "
                               "without splitting micro-grids.")
    if parts is None:
        parts = ground_parts(micro, resources if resources is not None else
                             gpd.GeoDataFrame({"resource": []}, geometry=[], crs=4490), metric_epsg)
    parts = parts.reindex(codes0).fillna(0.0)
    grid_now = dict(zip(micro["code"], micro["grid_code"]))
    holder_now = officers.drop_duplicates("grid_code").set_index("grid_code")["code"]
    atoms = _Atoms(micro, parts, _Ground(rates, metric_epsg, resources), rules, used_codes, metric_epsg)
    mean_hours = (rates.atom_hours(parts).sum() + k * rates.grid_hours) / k
    alone0 = (rates.atom_hours(parts) + rates.grid_hours) / mean_hours
    to_split = sorted(codes0[alone0 > target_max_mean + 1e-9].tolist())
    bound = divisible_bound(rates.atom_hours(parts), villages0, pieces, k, rates.grid_hours)
    aim = max(target_max_mean, bound * (1 + SPLIT_SLACK))
    ideal = _bound_officers(rates.atom_hours(parts), villages0, pieces, k, rates.grid_hours)

    rounds, unsplittable, cap, cannot = [], [], None, set()
    for round_ in range(split_rounds + 1):
        codes, villages, metric = atoms.frame()
        i, j = (i0, j0) if round_ == 0 else rook_edges(metric)
        hours = rates.atom_hours(atoms.parts.reindex(codes))
        origin = np.array([atoms.origin[c] for c in codes], dtype=object)
        current = {frozenset(np.flatnonzero(np.isin(origin, [m for m in codes0 if grid_now[m] == g])).tolist())
                   for g in sorted(set(grid_now.values()))}
        try:
            groups, loads, status = _regroup(hours, rates.grid_hours, villages, i, j, homes.value_counts(), k,
                                             current, move_penalty, seed, time_limit, cap)
        except InvalidParameter:
            if cap is None:
                raise
            groups, loads, status = _regroup(hours, rates.grid_hours, villages, i, j, homes.value_counts(), k,
                                             current, move_penalty, seed, time_limit)
        rounds.append(float(loads.max()))
        stalled = len(rounds) > 1 and rounds[-1] > rounds[-2] - STALL
        if loads.max() <= aim + 1e-9 or round_ == split_rounds or stalled:
            break
        halved = 0
        over = list(np.flatnonzero(loads > aim + 1e-9))
        group_village = pd.Series([villages[g[0]] for g in groups])
        crowded = group_village.value_counts() > ideal.reindex(group_village.value_counts().index).fillna(1)
        for v in sorted(crowded.index[crowded]):
            in_v = group_village.index[group_village == v]
            over.append(int(in_v[np.argmax(loads[in_v])]))
        for g in sorted(set(over)):
            members = [m for m in groups[g] if codes[m] not in cannot and hours[m] > 0]
            if not members:
                continue
            heaviest = codes[max(members, key=lambda m: (hours[m], codes[m]))]
            if atoms.halve(heaviest, round_ + 1):
                halved += 1
            else:
                cannot.add(heaviest)
                unsplittable.append(heaviest)
        if not halved:
            break
        cap = float(loads.max())

    group_of = {codes[m]: n for n, g in enumerate(groups) for m in g}
    group_of = atoms.undo_unused(group_of)
    final = np.array(sorted(group_of), dtype=object)
    live = [c for c in final if c not in atoms.retired]  # the rest: atoms whose split was dropped
    geometry = dict(zip(live, atoms.geometry(live)))
    geoms_final = np.array([geometry[c] if c in geometry else atoms.undone[c] for c in final], dtype=object)
    parts_final = pd.DataFrame([atoms.parts.loc[c] if c in geometry else atoms.retired[c][1] for c in final],
                               index=pd.Index(final, name="code"), columns=atoms.parts.columns)
    villages_f = np.array([atoms.village_of_grid[grid_now[atoms.origin.get(c, c)]] for c in final], dtype=object)
    members = [np.flatnonzero(np.array([group_of[c] for c in final]) == n) for n in range(len(groups))]
    group_village = [villages_f[m[0]] for m in members]
    hours_f = rates.atom_hours(parts_final)
    group_hours = np.array([hours_f[m].sum() + rates.grid_hours for m in members])
    metric_f = to_metric(geoms_final, metric_epsg)
    index_of = {c: n for n, c in enumerate(final)}
    held_now = {o: {index_of[c] for c in final if grid_now[atoms.origin.get(c, c)] in set(grids)}
                for o, grids in officers.groupby("code")["grid_code"]}
    seated, travel = _seat([tuple(m.tolist()) for m in members], group_village, group_hours, homes, held_now,
                           metric_f, villages_f, rates, target_max_mean * group_hours.mean())

    keys = [f"P{n + 1:04d}" for n in range(len(members))]
    grid_of = np.empty(len(final), dtype=object)
    for key, m in zip(keys, members):
        grid_of[m] = key
    officer_of = pd.Series(dict(zip(keys, seated)))[grid_of].to_numpy()
    codes_by_set = {frozenset(m for m in codes0 if grid_now[m] == g): g for g in sorted(set(grid_now.values()))}
    geoms = np.array([shapely.union_all(geoms_final[m]) for m in members])
    grid_parts = parts_final.groupby(grid_of).sum().reindex(keys)
    grids = gpd.GeoDataFrame({
        "village": group_village, "officer": seated,
        "micro_grids": [tuple(final[m]) for m in members],
        "keeps": [codes_by_set.get(frozenset(final[m])) for m in members],
        "contiguous": [_contiguous(geoms_final[m]) and shapely.get_num_geometries(geom) == 1
                       for m, geom in zip(members, geoms)],
        "travel_km": travel,
    }, geometry=geoms, crs=micro.crs, index=pd.Index(keys, name="key")).join(grid_parts)

    micro_out = pd.DataFrame({"micro_grid": [atoms.origin.get(c, c) for c in final], "grid": grid_of,
                              "village": villages_f, "officer": officer_of, "hours": hours_f},
                             index=pd.Index(final, name="code"))
    holder_before = pd.Series(micro["grid_code"].map(holder_now).to_numpy(), index=codes0)
    before = _per_officer(parts, holder_before, officers.groupby("code")["grid_code"].nunique(),
                          pd.Series(dtype=float), weights, rates)
    after = _per_officer(parts_final, pd.Series(officer_of, index=final), pd.Series(1, index=homes.index),
                         pd.Series(travel, index=seated), weights, rates)
    grids["hours"] = after["hours"].reindex(seated).to_numpy()
    grids["index"] = after["index"].reindex(seated).to_numpy()
    mean_after = after["hours"].mean()
    splits = pd.DataFrame(atoms.splits, columns=["code", "line", "pieces", "pieces_hours", "round"])
    return Proposal(
        micro_grids=micro_out, grids=grids, before=before, after=after,
        spread_before=Spread.of(before["hours"]), spread_after=Spread.of(after["hours"]),
        index_spread_before=Spread.of(before["index"]), index_spread_after=Spread.of(after["index"]),
        floor_max_mean=float((hours_f.max() + rates.grid_hours) / mean_after), bound_max_mean=bound,
        to_split=to_split,
        splits=splits, unsplittable=sorted(set(unsplittable)),
        moved=sorted(o for o, g in zip(seated, group_village) if homes[o] != g), solver_status=status,
        rounds=rounds)


def _village_pieces(n: int, i: np.ndarray, j: np.ndarray, villages: np.ndarray) -> dict[str, int]:
    """Village → how many separate pieces its micro-grids form (edges already within villages)."""
    graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
    labels = connected_components(graph, directed=False)[1]
    return pd.Series(labels).groupby(villages).nunique().to_dict()


__all__ = ["BALANCE_WEIGHTS", "DEFAULT_RATES", "GRID_RULE", "GridRule", "HourRates", "Proposal", "Spread",
           "connected", "connected_sets", "divisible_bound", "halving_line", "patrol_hours",
           "propose_balance", "rook_edges"]
