"""The workload of a grid (工作量): what its officer has to look after, as separate parts and one index.

Pure: takes GeoDataFrames and DataFrames, returns DataFrames; no session. It lives in ``planning/`` because
the planning issue's balancing (均衡) reduces the spread of exactly this measure; the planner page only
shows it.

The parts of a grid, all measured in the county's metric CRS (never in degrees):

``area_km2``
    the grid's area: the ground the officer walks;
``river_km``
    length of river reaches inside the grid;
``forest_km2``, ``farmland_km2``
    forest and farmland area inside the grid (a patch crossing a border counts on each side for its part);
``open_findings``
    findings (问题) open at the end of the day asked about: registered, not yet verified or rejected;
``findings_30d``
    findings registered in the 30 days up to that day;
``patrol_km_30d``
    kilometres patrolled (巡查) in those 30 days.

The **index** weighs each part against the average grid of the grids compared (the caller's area), so
1.0 is an average grid and 2.0 twice the work::

    index = Σ_p w_p · part_p / mean(part_p)  /  Σ_p w_p      over the parts in WEIGHTS with a mean above 0

The ground (area, river, forest, farmland: weight 1 each) and the trouble (open and recent findings:
weight 2 each) count for half each. Patrol kilometres are shown but left out of the index: they are work
done, not work needed, and counting them would make a neglected grid look light. A part nobody in the area
has (no river at all) is left out rather than divided by zero.

An officer's workload is the sum over the grids they answer for, index included (two average grids: 2.0).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridgov.geo.crs import DEFAULT_METRIC_EPSG, to_metric

GROUND_PARTS = ("area_km2", "river_km", "forest_km2", "farmland_km2")
ACTIVITY_PARTS = ("open_findings", "findings_30d", "patrol_km_30d")
PARTS = GROUND_PARTS + ACTIVITY_PARTS
WEIGHTS = {"area_km2": 1.0, "river_km": 1.0, "forest_km2": 1.0, "farmland_km2": 1.0,
           "open_findings": 2.0, "findings_30d": 2.0}
"""Weights of the parts in the index; parts not listed (patrol km) are shown, not weighed."""
WINDOW_DAYS = 30
"""The days of recent activity counted (``findings_30d``, ``patrol_km_30d``)."""

_POLYGON_PART = {"forest": "forest_km2", "farmland": "farmland_km2"}


def ground_parts(grids: gpd.GeoDataFrame, resources: gpd.GeoDataFrame,
                 metric_epsg: int = DEFAULT_METRIC_EPSG) -> pd.DataFrame:
    """Area, river length, forest and farmland area of each grid, measured in the metric CRS.

    Parameters
    ----------
    grids : GeoDataFrame with a ``code`` column, polygons in EPSG:4490
    resources : GeoDataFrame with a ``resource`` column (``river``, ``forest`` or ``farmland``), EPSG:4490
    metric_epsg : the county's metric CRS

    Returns
    -------
    DataFrame indexed by grid code with the columns of GROUND_PARTS (km and km²), in the grids' order

    Examples
    --------
    >>> grid = gpd.GeoDataFrame({"code": ["g"]}, geometry=[shapely.box(112.5, 29.3, 112.51, 29.31)], crs=4490)
    >>> river = gpd.GeoDataFrame({"resource": ["river"]},
    ...                          geometry=[shapely.LineString([(112.49, 29.305), (112.52, 29.305)])], crs=4490)
    >>> ground_parts(grid, river).round(2).to_dict("records")
    [{'area_km2': 1.08, 'river_km': 0.97, 'forest_km2': 0.0, 'farmland_km2': 0.0}]
    """
    grid_geoms = to_metric(np.asarray(grids.geometry.values), metric_epsg)
    parts = pd.DataFrame(0.0, index=pd.Index(grids["code"], name="code"), columns=list(GROUND_PARTS))
    parts["area_km2"] = shapely.area(grid_geoms) / 1e6
    if len(resources) and len(grids):
        resource_geoms = to_metric(np.asarray(resources.geometry.values), metric_epsg)
        resource_at, grid_at = shapely.STRtree(grid_geoms).query(resource_geoms, predicate="intersects")
        pieces = shapely.intersection(resource_geoms[resource_at], grid_geoms[grid_at])
        kinds = resources["resource"].to_numpy()[resource_at]
        measured = pd.DataFrame({
            "code": grids["code"].to_numpy()[grid_at],
            "part": np.where(kinds == "river", "river_km", pd.Series(kinds).map(_POLYGON_PART).to_numpy()),
            "value": np.where(kinds == "river", shapely.length(pieces) / 1e3, shapely.area(pieces) / 1e6),
        }).dropna(subset=["part"])
        sums = measured.pivot_table(index="code", columns="part", values="value", aggfunc="sum")
        parts.update(sums.reindex(index=parts.index, columns=["river_km", *_POLYGON_PART.values()]))
    return parts.fillna(0.0)


def with_index(parts: pd.DataFrame, weights: dict[str, float] = WEIGHTS) -> pd.DataFrame:
    """``parts`` with an ``index`` column: the weighted mean of each part relative to its mean here.

    Examples
    --------
    >>> parts = pd.DataFrame({"area_km2": [1.0, 3.0], "river_km": [0.0, 0.0], "open_findings": [0, 4]},
    ...                      index=["a", "b"])
    >>> with_index(parts, {"area_km2": 1.0, "river_km": 1.0, "open_findings": 1.0})["index"].tolist()
    [0.25, 1.75]
    """
    weighed = [part for part in weights if part in parts and parts[part].mean() > 0]
    out = parts.copy()
    if not weighed:
        out["index"] = 0.0
        return out
    ratios = parts[weighed] / parts[weighed].mean()
    w = pd.Series({part: weights[part] for part in weighed})
    out["index"] = ratios.mul(w).sum(axis=1) / w.sum()
    return out


def officer_workload(grid_workload: pd.DataFrame, officer_of: pd.Series) -> pd.DataFrame:
    """Each officer's workload: the sum of their grids' parts and indexes, and how many grids they hold.

    Parameters
    ----------
    grid_workload : DataFrame indexed by grid code (parts and ``index``)
    officer_of : Series grid code → officer code; grids without an officer are absent or NaN

    Returns
    -------
    DataFrame indexed by officer code: ``grids`` (count) and the summed columns, heaviest first

    Examples
    --------
    >>> grids = pd.DataFrame({"area_km2": [1.0, 2.0, 4.0], "index": [0.5, 1.0, 1.5]}, index=["a", "b", "c"])
    >>> officer_workload(grids, pd.Series({"a": "W1", "b": "W1", "c": None})).to_dict("index")
    {'W1': {'grids': 2, 'area_km2': 3.0, 'index': 1.5}}
    """
    held = officer_of.reindex(grid_workload.index).dropna()
    rows = grid_workload.loc[held.index]
    sums = rows.groupby(held.to_numpy()).sum()
    sums.insert(0, "grids", held.value_counts().reindex(sums.index).astype(int))
    sums.index.name = "officer_code"
    return sums.sort_values(["index", "grids"], ascending=False, kind="stable")
