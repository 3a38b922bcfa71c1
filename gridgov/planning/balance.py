"""A workload balancing proposal (工作量均衡): regroup micro-grids into one grid per officer, then seat the officers.

Pure: GeoDataFrames and DataFrames in, a :class:`Proposal` out; no session. The planning service turns the
proposal into a draft change set (merges, re-parented micro-grids, reassignments) for the planner to edit,
accept or reject.

What a proposal changes
-----------------------
*One person, one grid* with ``K`` officers means ``K`` grids, so the proposal redraws the grids: every grid
becomes a group of whole micro-grids (the smallest units; they are never cut) that

* lies in one village (nesting kept: micro-grid ⊂ grid ⊂ village, the villages are administrative and
  untouched),
* is contiguous: its micro-grids are connected by shared edges (rook contiguity from :mod:`libpysal.weights`;
  touching at a corner is not walkable, so it does not count),

and exactly one officer holds each grid. Among all such regroupings it takes the one with the least spread
of workload (the sum of squared deviations from the mean, i.e. the coefficient of variation), less a penalty
for every officer who would have to work outside their home village.

Two solvers, no hand-written heuristic:

1. **Regrouping** is a set-partitioning model solved exactly by CBC through PuLP: the candidate grids are
   every connected set of micro-grids inside a village (enumerated from the contiguity graph; villages have a
   handful of micro-grids), each priced by its squared deviation from the mean workload; the model picks
   candidates covering every micro-grid once, ``K`` of them in all, and counts the officers leaving their
   village. spopt's regionalisation heuristics (AZP, SKATER, region k-means) minimise how *different* the
   units of a region are, not how *equal* the regions' sums are, and max-p fixes a floor rather than the
   number of regions, so they do not state this problem; the exact model does, and it is deterministic.
   The model is solved twice: first for the least possible heaviest grid, then, among the groupings keeping
   to it, for the least squared deviation.
2. **Seating** the officers is an assignment problem solved by :func:`scipy.optimize.linear_sum_assignment`:
   least travel from each officer's home village (the village of the grids they hold now), each km weighted
   by ``1 + load`` of the grid so that whoever travels takes a lighter grid, ties going to the officer who
   already walks most of the grid's micro-grids.

The workload
------------
Per micro-grid, the additive parts of :mod:`gridgov.planning.workload` (area, river length, forest and
farmland area, and findings when the caller has them), summed over a grid's micro-grids. Per grid, the
patrol time the county's grid rule needs (``patrol_hours``: the rule's patrols in the window, each the longer
of its minimum minutes and its minimum kilometres at walking pace, plus the round trip from the officer's
home village at ``travel_kmh``). An officer's workload is the sum over what they hold, and the index is
:func:`~gridgov.planning.workload.with_index` over the officers with :data:`BALANCE_WEIGHTS`, so 1.0 is the
average officer and max/mean is the largest index.

Micro-grids are the atoms: no regrouping brings an officer below the heaviest micro-grid they hold, so
``Proposal.floor_max_mean`` (the heaviest micro-grid held alone) bounds what a proposal can reach; past it,
the remedy is splitting that micro-grid (an edit), which the proposal lists in ``Proposal.to_split``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
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

from gridgov.errors import InvalidGeometry, InvalidParameter
from gridgov.geo.crs import DEFAULT_METRIC_EPSG, to_metric
from gridgov.planning.workload import WEIGHTS, ground_parts, with_index


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
"""The days over which patrol time and travel are counted."""
WALKING_KMH = 4.0
TRAVEL_KMH = 30.0
MOVE_PENALTY = 0.25
"""Cost of one officer working outside their home village, in the model's units (squared index deviation)."""
MAX_CANDIDATES = 50_000
"""Connected micro-grid sets enumerated per village at most; a bigger village is refused, not guessed at."""


@dataclass(frozen=True)
class Spread:
    """The spread of the officers' workload index: max/mean and coefficient of variation (std/mean)."""

    max_mean: float
    cv: float
    max: float
    mean: float

    @classmethod
    def of(cls, index: pd.Series | np.ndarray) -> Spread:
        values = np.asarray(index, dtype=float)
        mean = float(values.mean())
        return cls(max_mean=float(values.max() / mean), cv=float(values.std() / mean), max=float(values.max()),
                   mean=mean)


@dataclass(frozen=True)
class Proposal:
    """A balancing proposal.

    ``micro_grids``: micro-grid code → ``grid`` (proposed grid key), ``village``, ``officer``.
    ``grids``: one row per proposed grid, indexed by key (``P0001``…): ``village``, ``officer``, ``micro_grids``
    (tuple of codes), ``keeps`` (the current grid code it keeps, when it is exactly a current grid),
    ``contiguous``, the workload parts and ``index``; geometry in EPSG:4490.
    ``before``, ``after``: per officer: ``grids`` held, parts, ``travel_km``, ``patrol_hours``, ``index``.
    ``moved``: officers seated outside their home village. ``to_split``: micro-grids heavier alone than the
    ``target`` max/mean.
    """

    micro_grids: pd.DataFrame
    grids: gpd.GeoDataFrame
    before: pd.DataFrame
    after: pd.DataFrame
    spread_before: Spread
    spread_after: Spread
    floor_max_mean: float
    to_split: list[str]
    moved: list[str]
    solver_status: str

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
    patrols = window_days / rule.period_days * rule.min_patrols
    per_patrol = max(rule.min_minutes / 60, rule.min_km / walking_kmh)
    held = np.asarray(grids_held, dtype=float)
    return patrols * (held * per_patrol + 2 * np.asarray(travel_km, dtype=float) / travel_kmh)


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


def _micro_load(parts: pd.DataFrame, k: int, weights: dict[str, float]) -> np.ndarray:
    """Each micro-grid's additive share of an officer's index, 1.0 being an average officer's ground and findings."""
    additive = {p: w for p, w in weights.items() if p in parts and parts[p].sum() > 0}
    if not additive:
        return np.zeros(len(parts))
    return with_index(parts, additive)["index"].to_numpy() * len(parts) / k


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


def _regroup(load: np.ndarray, villages: np.ndarray, i: np.ndarray, j: np.ndarray, officers_in: pd.Series,
             k: int, current: set[frozenset[int]], move_penalty: float, seed: int,
             time_limit: float | None) -> tuple[list[tuple[int, ...]], str]:
    """``k`` connected within-village groups: first the least possible heaviest group, then, among groupings
    that keep to it, the least squared deviation from the mean plus the penalty for officers leaving home."""
    candidates, village_of = _candidates(villages, i, j)
    loads = np.array([load[list(c)].sum() for c in candidates]) / (load.sum() / k)
    first, _, _ = _solve(candidates, village_of, len(load), k, None, officers_in, move_penalty, seed, time_limit,
                         loads=loads)
    keep = np.flatnonzero(loads <= loads[first].max() + 1e-9)
    kept = [candidates[n] for n in keep]
    cost = [(loads[n] - 1.0) ** 2 - (1e-6 if frozenset(candidates[n]) in current else 0.0) for n in keep]
    chosen, _, status = _solve(kept, [village_of[n] for n in keep], len(load), k, cost, officers_in, move_penalty,
                               seed, time_limit)
    return [kept[n] for n in chosen], status


def _village_distance_km(metric: np.ndarray, villages: np.ndarray, pairs: list[tuple[str, str]]) -> dict:
    """Straight-line km between the outlines of village pairs (0 when touching)."""
    if not pairs:
        return {}
    names = sorted({v for pair in pairs for v in pair})
    outline = {v: shapely.union_all(metric[villages == v]) for v in names}
    a = np.array([outline[p] for p, _ in pairs])
    b = np.array([outline[q] for _, q in pairs])
    return dict(zip(pairs, (shapely.distance(a, b) / 1e3).tolist()))


def _seat(groups: list[tuple[int, ...]], group_village: list[str], group_load: np.ndarray, homes: pd.Series,
          held_now: dict[str, set[int]], metric: np.ndarray, villages: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Officer per group by least travel from the home village, weighted by the group's load (whoever travels
    takes a lighter grid), then most micro-grids already walked."""
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
    rows, cols = linear_sum_assignment(travel * (1.0 + group_load[None, :]) - 1e-3 * overlap)
    seated = np.empty(len(groups), dtype=object)
    seated[cols] = officers[rows]
    return seated.tolist(), travel[rows, cols][np.argsort(cols)]


def _per_officer(parts: pd.DataFrame, holder: pd.Series, held: pd.Series, travel: pd.Series,
                 weights: dict[str, float], rule: GridRule) -> pd.DataFrame:
    """Per officer: grids held, summed parts, travel and the rule's patrol hours, and the index over officers."""
    sums = parts.groupby(holder.reindex(parts.index).to_numpy()).sum()
    sums.index.name = "officer_code"
    sums.insert(0, "grids", held.reindex(sums.index).astype(int))
    sums["travel_km"] = travel.reindex(sums.index).fillna(0.0)
    sums["patrol_hours"] = patrol_hours(sums["grids"].to_numpy(), sums["travel_km"].to_numpy(), rule=rule)
    return with_index(sums, weights)


def propose_balance(micro_grids: gpd.GeoDataFrame, officers: pd.DataFrame, *,
                    resources: gpd.GeoDataFrame | None = None, parts: pd.DataFrame | None = None,
                    weights: dict[str, float] = BALANCE_WEIGHTS, rule: GridRule = GRID_RULE,
                    move_penalty: float = MOVE_PENALTY, target_max_mean: float = 1.25, seed: int = 20261127,
                    time_limit: float | None = 60.0, metric_epsg: int = DEFAULT_METRIC_EPSG) -> Proposal:
    """A proposal giving each officer one contiguous grid of whole micro-grids in one village, spread reduced.

    Parameters
    ----------
    micro_grids : GeoDataFrame (EPSG:4490) with ``code``, ``grid_code``, ``village_code``; single polygons
    officers : DataFrame with ``code`` and ``grid_code``, one row per grid held now; ``home_village`` optional
    resources : rivers, forests, farmland (``resource`` column) for :func:`~gridgov.planning.workload.ground_parts`
    parts : additive workload parts per micro-grid, indexed by code (e.g. ground parts and findings counts);
        computed from ``resources`` when omitted
    weights : index weights; parts absent or zero everywhere are left out
    move_penalty : model cost of an officer working outside their home village (``inf``: never)
    target_max_mean : micro-grids heavier than this alone are listed in ``to_split``

    Examples
    --------
    >>> boxes = [shapely.box(*np.round([112.50 + 0.01 * c, 29.3, 112.51 + 0.01 * c, 29.31], 2)) for c in range(3)]
    >>> micro = gpd.GeoDataFrame({"code": ["m1", "m2", "m3"], "grid_code": ["g1", "g2", "g3"],
    ...                           "village_code": "v"}, geometry=boxes, crs=4490)
    >>> loads = pd.DataFrame({"area_km2": [2.0, 1.0, 1.0]}, index=["m1", "m2", "m3"])
    >>> officers = pd.DataFrame({"code": ["A", "A", "B"], "grid_code": ["g1", "g2", "g3"]})
    >>> p = propose_balance(micro, officers, parts=loads)
    >>> p.grids[["officer", "micro_grids"]].to_dict("records")
    [{'officer': 'A', 'micro_grids': ('m1',)}, {'officer': 'B', 'micro_grids': ('m2', 'm3')}]
    >>> round(p.spread_before.max_mean, 2), round(p.spread_after.max_mean, 2), p.contiguous
    (1.42, 1.0, True)
    """
    _validate(micro_grids, officers)
    micro = micro_grids.sort_values("code").reset_index(drop=True)
    codes = micro["code"].to_numpy()
    villages = micro["village_code"].to_numpy()
    homes = _home_villages(micro, officers)
    k = len(homes)
    if k > len(micro):
        raise InvalidParameter(f"{k} officers but only {len(micro)} micro-grids: one grid each cannot be drawn "
                               "without splitting micro-grids.")
    metric = to_metric(np.asarray(micro.geometry.values), metric_epsg)
    i, j = rook_edges(metric)
    same = villages[i] == villages[j]
    pieces = _village_pieces(len(micro), i[same], j[same], villages)
    if k < sum(pieces.values()):
        raise InvalidParameter(
            f"{k} officers cannot hold every village's ground in contiguous grids: the villages fall into "
            f"{sum(pieces.values())} separate pieces, each needing a grid of its own.",
            details=[{"village": v, "pieces": n} for v, n in pieces.items() if n > 1])
    if parts is None:
        parts = ground_parts(micro, resources if resources is not None else
                             gpd.GeoDataFrame({"resource": []}, geometry=[], crs=4490), metric_epsg)
    parts = parts.reindex(codes).fillna(0.0)

    held_now = {o: set(np.flatnonzero(np.isin(micro["grid_code"], grids)).tolist())
                for o, grids in officers.groupby("code")["grid_code"]}
    current = {frozenset(np.flatnonzero(micro["grid_code"].to_numpy() == g).tolist()) for g in micro["grid_code"]}
    load = _micro_load(parts, k, weights)
    groups, status = _regroup(load, villages, i, j, homes.value_counts(), k, current, move_penalty, seed, time_limit)
    groups.sort(key=lambda g: codes[g[0]])
    group_village = [villages[g[0]] for g in groups]
    group_load = np.array([load[list(g)].sum() for g in groups]) / (load.sum() / k)
    seated, travel = _seat(groups, group_village, group_load, homes, held_now, metric, villages)

    keys = [f"P{n + 1:04d}" for n in range(len(groups))]
    grid_of = np.empty(len(micro), dtype=object)
    for key, g in zip(keys, groups):
        grid_of[list(g)] = key
    officer_of_micro = pd.Series(dict(zip(keys, seated)))[grid_of].to_numpy()
    codes_by_set = {frozenset(np.flatnonzero(micro["grid_code"].to_numpy() == g).tolist()): g
                    for g in pd.unique(micro["grid_code"])}
    geoms = np.array([shapely.union_all(np.asarray(micro.geometry.values)[list(g)]) for g in groups])
    grid_parts = parts.groupby(grid_of).sum().reindex(keys)
    grids = gpd.GeoDataFrame({
        "village": group_village, "officer": seated,
        "micro_grids": [tuple(codes[list(g)]) for g in groups],
        "keeps": [codes_by_set.get(frozenset(g)) for g in groups],
        "contiguous": [connected(np.array(g), i, j) and shapely.get_num_geometries(geom) == 1
                       for g, geom in zip(groups, geoms)],
        "travel_km": travel,
    }, geometry=geoms, crs=micro.crs, index=pd.Index(keys, name="key")).join(grid_parts)

    micro_out = pd.DataFrame({"grid": grid_of, "village": villages, "officer": officer_of_micro},
                             index=pd.Index(codes, name="code"))
    holder_before = pd.Series(micro["grid_code"].map(officers.set_index("grid_code")["code"]).to_numpy(), index=codes)
    before = _per_officer(parts, holder_before, officers.groupby("code")["grid_code"].nunique(),
                          pd.Series(dtype=float), weights, rule)
    after = _per_officer(parts, pd.Series(officer_of_micro, index=codes), pd.Series(1, index=homes.index),
                         pd.Series(travel, index=seated), weights, rule)
    grids["index"] = after["index"].reindex(seated).to_numpy()
    floor = _floor(parts, after, weights, rule)
    return Proposal(
        micro_grids=micro_out, grids=grids, before=before, after=after,
        spread_before=Spread.of(before["index"]), spread_after=Spread.of(after["index"]),
        floor_max_mean=float(floor.max()), to_split=sorted(floor.index[floor > target_max_mean]),
        moved=sorted(o for o, g in zip(seated, group_village) if homes[o] != g), solver_status=status)


def _village_pieces(n: int, i: np.ndarray, j: np.ndarray, villages: np.ndarray) -> dict[str, int]:
    """Village → how many separate pieces its micro-grids form (edges already within villages)."""
    graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
    labels = connected_components(graph, directed=False)[1]
    return pd.Series(labels).groupby(villages).nunique().to_dict()


def _floor(parts: pd.DataFrame, after: pd.DataFrame, weights: dict[str, float], rule: GridRule) -> pd.Series:
    """Each micro-grid's index held alone at home, on the proposal's officer means: what no regrouping goes under."""
    alone = parts.copy()
    alone["grids"] = 1
    alone["travel_km"] = 0.0
    alone["patrol_hours"] = patrol_hours(np.ones(len(alone)), np.zeros(len(alone)), rule=rule)
    weighed = {p: w for p, w in weights.items() if p in after and after[p].mean() > 0}
    means = after[list(weighed)].mean()
    w = pd.Series(weighed)
    return (alone[list(weighed)] / means).mul(w).sum(axis=1) / w.sum() / after["index"].mean()


__all__ = ["BALANCE_WEIGHTS", "GRID_RULE", "GridRule", "Proposal", "Spread", "connected",
           "connected_sets", "patrol_hours", "propose_balance", "rook_edges"]
