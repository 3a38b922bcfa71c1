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
* is contiguous: its atoms are connected by shared edges (rook contiguity, :mod:`gridgov.planning.contiguity`;
  touching at a corner is not walkable, so it does not count),

and exactly one officer holds each grid. Among all such regroupings it takes the one with the least heaviest
grid and then the least spread of workload (the sum of squared deviations from the mean), less a penalty for
every officer who would have to work outside their home village.

The workload: hours per month
-----------------------------
The proposal balances **hours per month** per grid (:mod:`gridgov.planning.hours`: the grid rule's patrols,
walking the rivers, sweeping forest and farmland, findings, travel from home). The parts of
:mod:`gridgov.planning.workload` are still reported, and so is its relative **index**
(:func:`~gridgov.planning.workload.with_index` with :data:`BALANCE_WEIGHTS`) as a second measure.

Splitting
---------
Whole micro-grids bound what regrouping can reach: no grid goes under its heaviest micro-grid, and in a village
of two micro-grids and one officer the grid is both. So the proposal works in rounds: regroup; if the heaviest
grid is above ``target_max_mean`` × the mean, halve the heaviest atom of every grid above it — and of the
heaviest grid of every village holding more grids than :func:`divisible_bound`'s allocation gives it (its atoms
are too coarse to merge, which keeps an officer there whom a heavier village needs) — and regroup again with the
pieces as atoms (``split_rounds`` at most, and no further once a round stops lowering the heaviest grid, or once
it is within ``SPLIT_SLACK`` of :func:`divisible_bound`, the least any cutting could reach while grids stay in
their villages). Each atom is halved by a straight line into two sides of equal hours, every line checked as a
:class:`gridgov.planning.edits.Split` of the coverage (:mod:`gridgov.planning.splitting`); an atom no line can
halve stays whole. A split whose pieces all end in one proposed grid is dropped. The proposal lists the splits it
keeps (``Proposal.splits``: the code split, the line as WKT in EPSG:4490, the pieces' codes and hours) in the
order the planner applies them as edits.

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

import geopandas as gpd
import numpy as np
import pandas as pd
import pulp
import shapely
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from gridgov.errors import InvalidGeometry, InvalidParameter
from gridgov.geo.crs import DEFAULT_METRIC_EPSG, to_metric
from gridgov.planning.contiguity import connected_sets, contiguous, rook_edges
from gridgov.planning.hours import DEFAULT_RATES, HourRates
from gridgov.planning.splitting import Atoms, Ground
from gridgov.planning.topology import DEFAULT_RULES, Rules
from gridgov.planning.workload import WEIGHTS, ground_parts, with_index

BALANCE_WEIGHTS = {**WEIGHTS, "patrol_hours": 1.0}
"""The workload index's weights plus the patrol time the rule needs (travel included), weighed like a ground part."""
MOVE_PENALTY = 0.25
"""Cost of one officer working outside their home village, in the model's units (squared load deviation)."""
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
    if "home_village" in officers:
        return
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
    atoms = Atoms(micro, parts, Ground(rates, metric_epsg, resources), rules, used_codes, metric_epsg)
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
        "contiguous": [contiguous(geoms_final[m]) and shapely.get_num_geometries(geom) == 1
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


__all__ = ["BALANCE_WEIGHTS", "MOVE_PENALTY", "OVER_TARGET_COST", "SPLIT_ROUNDS", "SPLIT_SLACK", "STALL", "Proposal",
           "Spread", "divisible_bound", "propose_balance"]
