"""Splitting micro-grids for the balancing proposal (:mod:`gridgov.planning.balance`): the halving line, the
ground the pieces are measured against, and the atoms (micro-grids and pieces) the splits edit.

Whole micro-grids bound what regrouping can reach (no grid goes under its heaviest micro-grid), so the
proposal halves the heaviest atoms between its regrouping rounds (see Splitting in
:mod:`gridgov.planning.balance`).

A halving line is straight, perpendicular to the atom's longest axis (of its minimum rotated rectangle, in the
metric CRS), and moved along that axis by bisection until the two sides carry equal workload — each side's hours
measured from its own share of the river, forest and farmland clipped in the metric CRS (findings, having no
place, go by area). Every line is checked by applying :class:`gridgov.planning.edits.Split` to the coverage of
micro-grids, with its rules (no slivers, no gaps or overlaps, nesting, codes by the scheme); a refused line is
tried along the other axis, and an atom neither line can halve stays whole. A split whose pieces all end in one
proposed grid is dropped (:meth:`Atoms.undo_unused`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridgov.errors import InvalidParameter
from gridgov.geo.crs import DEFAULT_METRIC_EPSG, STORAGE_EPSG, to_metric, transformer
from gridgov.planning.edits import Coverage, EditRefused, Split
from gridgov.planning.hours import HourRates
from gridgov.planning.topology import Rules
from gridgov.planning.workload import GROUND_PARTS, ground_parts


@dataclass
class Ground:
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


class Atoms:
    """The atoms being regrouped (micro-grids and pieces), their parts, and the coverage the splits edit."""

    def __init__(self, micro: gpd.GeoDataFrame, parts: pd.DataFrame, ground: Ground, rules: Rules,
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


__all__ = ["Atoms", "Ground", "halving_line"]
