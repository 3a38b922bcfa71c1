"""The balancing proposal on a small lattice of micro-grids with uneven workload (pure, no database)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridgov.errors import InvalidGeometry, InvalidParameter
from gridgov.geo.crs import to_metric
from gridgov.patrols.checklists import DEFAULT_RULES
from gridgov.planning.balance import divisible_bound, propose_balance
from gridgov.planning.contiguity import connected_sets, rook_edges
from gridgov.planning.edits import Coverage, Split
from gridgov.planning.hours import DEFAULT_RATES, GRID_RULE, HourRates
from gridgov.planning.topology import check
from gridgov.planning.workload import ground_parts

CELL = 0.01


def cell(col: int, row: int) -> shapely.Polygon:
    """One lattice cell near 112.5E 29.3N, corners rounded so neighbours share their vertices exactly."""
    x0, y0 = 112.5 + col * CELL, 29.3 + row * CELL
    return shapely.box(*np.round([x0, y0, x0 + CELL, y0 + CELL], 6))


def lattice(cols: int = 4, rows: int = 3) -> gpd.GeoDataFrame:
    """``cols`` x ``rows`` micro-grids, each its own grid today; village A the left half, B the right half."""
    records = []
    for col in range(cols):
        for row in range(rows):
            village = "A" if col < cols // 2 else "B"
            records.append({"code": f"m{col}{row}", "grid_code": f"g{col}{row}", "village_code": village,
                            "geometry": cell(col, row)})
    return gpd.GeoDataFrame(records, crs=4490)


@pytest.fixture
def micro() -> gpd.GeoDataFrame:
    return lattice()


@pytest.fixture
def officers(micro) -> pd.DataFrame:
    """Two officers a column: one holds the two bottom grids (the heavy one among them), one the top grid."""
    rows = []
    for code in micro["grid_code"]:
        col, row = int(code[1]), int(code[2])
        rows.append({"code": f"W{col}{row // 2}", "grid_code": code})
    return pd.DataFrame(rows)


@pytest.fixture
def parts(micro) -> pd.DataFrame:
    """Uneven ground: one heavy micro-grid in village A, light ones around it."""
    farmland = np.array([3.0, 1.0, 0.5, 1.0, 0.5, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    river = np.array([2.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.5, 0.0])
    return pd.DataFrame({"farmland_km2": farmland, "river_km": river}, index=micro["code"])


def hours_of(parts: pd.DataFrame, rates: HourRates = DEFAULT_RATES) -> np.ndarray:
    return rates.atom_hours(parts)


def test_rook_contiguity_ignores_corners():
    boxes = np.array([cell(0, 0), cell(1, 0), cell(1, 1), cell(2, 2)])
    i, j = rook_edges(boxes)
    assert sorted(zip(i.tolist(), j.tolist())) == [(0, 1), (1, 2)]


def test_connected_sets_of_a_square_are_thirteen():
    sets = connected_sets(4, np.array([0, 1, 2, 0]), np.array([1, 2, 3, 3]))
    assert len(sets) == 13
    assert (0, 2) not in sets


def test_grid_rule_is_the_county_default():
    level, days, patrols, minutes, km = next(rule for rule in DEFAULT_RULES if rule[0] == "grid")
    assert GRID_RULE == (days, patrols, minutes, km)


def test_one_officer_one_contiguous_grid_nested_in_its_village(micro, officers, parts):
    proposal = propose_balance(micro, officers, parts=parts, split_rounds=0)
    grids = proposal.grids
    assert len(grids) == officers["code"].nunique()
    assert sorted(grids["officer"]) == sorted(officers["code"].unique())
    assert proposal.contiguous
    assert all(shapely.get_type_id(geom) == 3 for geom in grids.geometry)
    covered = [code for codes in grids["micro_grids"] for code in codes]
    assert sorted(covered) == sorted(micro["code"])
    village = micro.set_index("code")["village_code"]
    for key, row in grids.iterrows():
        assert {village[c] for c in row["micro_grids"]} == {row["village"]}, key
        assert (proposal.micro_grids.loc[list(row["micro_grids"]), "grid"] == key).all()
    union = shapely.union_all(np.asarray(grids.geometry.values))
    assert union.area == pytest.approx(shapely.union_all(micro.geometry.values).area)
    assert (proposal.after["grids"] == 1).all()


def test_spread_goes_down(micro, officers, parts):
    proposal = propose_balance(micro, officers, parts=parts, split_rounds=0)
    assert proposal.spread_after.max_mean < proposal.spread_before.max_mean
    assert proposal.spread_after.cv < proposal.spread_before.cv
    assert proposal.floor_max_mean <= proposal.spread_after.max_mean + 1e-9
    assert proposal.after["index"].mean() == pytest.approx(1.0)
    total = hours_of(parts).sum() + len(proposal.after) * DEFAULT_RATES.grid_hours
    assert proposal.after["hours"].sum() == pytest.approx(total + proposal.after["travel_hours"].sum())


def test_heavy_micro_grid_is_alone_and_listed_for_a_split(micro, officers, parts):
    proposal = propose_balance(micro, officers, parts=parts, target_max_mean=1.25, split_rounds=0)
    heavy = proposal.grids[proposal.grids["micro_grids"].map(lambda codes: "m00" in codes)]
    assert heavy["micro_grids"].tolist() == [("m00",)]
    assert proposal.to_split == ["m00"]
    assert proposal.splits.empty


def test_deterministic(micro, officers, parts):
    first = propose_balance(micro, officers, parts=parts)
    second = propose_balance(micro.sample(frac=1.0, random_state=3), officers.iloc[::-1], parts=parts)
    pd.testing.assert_frame_equal(first.micro_grids.sort_index(), second.micro_grids.sort_index())
    pd.testing.assert_frame_equal(first.after, second.after)
    pd.testing.assert_frame_equal(first.splits, second.splits)


def test_officers_stay_home_when_moves_are_forbidden(micro, officers, parts):
    proposal = propose_balance(micro, officers, parts=parts, move_penalty=float("inf"), split_rounds=0)
    assert proposal.moved == []
    assert proposal.grids.groupby("village").size().to_dict() == {"A": 4, "B": 4}


def test_ground_parts_from_resources(micro, officers):
    river = gpd.GeoDataFrame({"resource": ["river"]}, crs=4490,
                             geometry=[shapely.LineString([(112.5, 29.305), (112.52, 29.305)])])
    proposal = propose_balance(micro, officers, resources=river)
    assert proposal.before["river_km"].sum() == pytest.approx(proposal.after["river_km"].sum())
    assert proposal.after["river_km"].sum() > 1.5
    assert proposal.contiguous


def test_more_officers_than_micro_grids(micro):
    crowd = pd.DataFrame({"code": [f"W{n}" for n in range(13)], "grid_code": list(micro["grid_code"]) + ["g00"]})
    with pytest.raises(InvalidParameter, match="13 officers but only 12 micro-grids"):
        propose_balance(micro, crowd, parts=pd.DataFrame({"area_km2": 1.0}, index=micro["code"]))


def test_micro_grid_in_two_pieces(micro, officers):
    broken = micro.copy()
    broken.loc[0, "geometry"] = shapely.MultiPolygon([cell(0, 0), cell(5, 5)])
    with pytest.raises(InvalidGeometry, match=r"\['m00'\] are not one piece"):
        propose_balance(broken, officers)


def test_village_in_more_pieces_than_officers_can_hold():
    micro = lattice(cols=6, rows=1)
    micro["village_code"] = ["A", "B", "A", "B", "A", "B"]
    officers = pd.DataFrame({"code": ["W1", "W1", "W1", "W2", "W2", "W2"],
                             "grid_code": ["g00", "g20", "g40", "g10", "g30", "g50"]})
    with pytest.raises(InvalidParameter, match="6 separate pieces") as caught:
        propose_balance(micro, officers, parts=pd.DataFrame({"area_km2": 1.0}, index=micro["code"]))
    assert {"village": "A", "pieces": 3} in caught.value.details


def test_officer_across_villages_needs_a_home(micro, officers):
    spread = officers.copy()
    spread.loc[spread["grid_code"] == "g20", "code"] = "W00"
    spread = spread[spread["code"] != "W20"]
    with pytest.raises(InvalidParameter, match="several villages"):
        propose_balance(micro, spread, parts=pd.DataFrame({"area_km2": 1.0}, index=micro["code"]))


def test_unknown_grid_and_missing_columns(micro, officers):
    with pytest.raises(InvalidParameter, match="no micro-grid"):
        propose_balance(micro, pd.DataFrame({"code": ["W9"], "grid_code": ["nowhere"]}))
    with pytest.raises(InvalidParameter, match="village_code"):
        propose_balance(micro.drop(columns="village_code"), officers)


# --- hours per month -------------------------------------------------------------------------------------------

def test_hours_on_known_geometry():
    """One micro-grid, a river across it and farmland on its left half: hours by hand from metric measures."""
    box = cell(0, 0)
    micro = gpd.GeoDataFrame({"code": ["m"], "grid_code": ["g"], "village_code": ["A"]}, geometry=[box], crs=4490)
    x0, y0, x1, y1 = box.bounds
    river = shapely.LineString([(x0 - 0.001, (y0 + y1) / 2), (x1 + 0.001, (y0 + y1) / 2)])
    farmland = shapely.box(x0, y0, (x0 + x1) / 2, y1)
    resources = gpd.GeoDataFrame({"resource": ["river", "farmland"]}, geometry=[river, farmland], crs=4490)
    proposal = propose_balance(micro, pd.DataFrame({"code": ["W"], "grid_code": ["g"]}), resources=resources)

    river_km = shapely.length(to_metric(np.array([shapely.intersection(river, box)]))[0]) / 1e3
    farm_km2 = shapely.area(to_metric(np.array([farmland]))[0]) / 1e6
    patrols = 30 / 7  # weekly patrols in a 30-day month
    expected = patrols * (0.5 + river_km / 4.0 + farm_km2 / (0.2 * 4.0))  # 30 min a patrol, 4 km/h, 200 m sweep
    row = proposal.after.loc["W"]
    assert row["rule_hours"] == pytest.approx(patrols * 0.5)
    assert row["river_hours"] == pytest.approx(patrols * river_km / 4.0)
    assert row["area_hours"] == pytest.approx(patrols * farm_km2 / 0.8, rel=1e-5)
    assert row["hours"] == pytest.approx(expected, rel=1e-5)
    assert 0.95 < river_km < 1.0 and 0.5 < farm_km2 < 0.6  # a 0.01 degree cell at 29.3N: 0.97 km by 1.11 km
    assert row["travel_hours"] == 0.0


def test_hour_rates_are_configurable_and_count_findings():
    parts = pd.DataFrame({"river_km": [4.0], "forest_km2": [0.2], "farmland_km2": [0.2], "findings_30d": [3]})
    default = DEFAULT_RATES.ground_hours(parts).iloc[0]
    assert default["river_hours"] == pytest.approx(30 / 7)  # 4 km at 4 km/h, weekly
    assert default["area_hours"] == pytest.approx(30 / 7 * 0.4 / 0.8)
    assert default["findings_hours"] == pytest.approx(3.0)
    slow = HourRates(walking_kmh=2.0, sweep_width_m=100.0, finding_hours=2.0).ground_hours(parts).iloc[0]
    assert slow["river_hours"] == pytest.approx(2 * default["river_hours"])
    assert slow["area_hours"] == pytest.approx(4 * default["area_hours"])
    assert slow["findings_hours"] == pytest.approx(6.0)
    assert DEFAULT_RATES.travel_hours(15.0) == pytest.approx(30 / 7 * 1.0)  # 30 km round trip at 30 km/h


def test_divisible_bound_counts_light_villages():
    villages = np.array(["light", "heavy", "heavy"])
    assert divisible_bound(np.array([1.0, 5.0, 4.0]), villages, {"light": 1, "heavy": 1}, 4, 0.0) == pytest.approx(1.2)


# --- splits -----------------------------------------------------------------------------------------------------

@pytest.fixture
def ground(micro) -> gpd.GeoDataFrame:
    """Farmland over the lower-left triangle of m00 (its workload is off-centre) and a river near its bottom;
    a small field in every other micro-grid."""
    geoms, kinds = [], []
    for code, box in zip(micro["code"], micro.geometry):
        x0, y0, x1, y1 = box.bounds
        if code == "m00":
            geoms += [shapely.Polygon([(x0, y0), (x1, y0), (x0, y1)]),
                      shapely.LineString([(x0 - 0.001, y0 + 0.002), (x1 + 0.001, y0 + 0.003)])]
            kinds += ["farmland", "river"]
        else:
            geoms.append(shapely.box(x0 + 0.002, y0 + 0.002, x0 + 0.005, y0 + 0.005))
            kinds.append("farmland")
    return gpd.GeoDataFrame({"resource": kinds}, geometry=geoms, crs=4490)


def coverage_of(micro: gpd.GeoDataFrame) -> Coverage:
    return Coverage("micro_grids", {c: (g, geom) for c, g, geom in zip(micro["code"], micro["grid_code"],
                                                                         micro.geometry)},
                    dict(zip(micro["grid_code"], micro.geometry)))


def test_heavy_micro_grid_is_halved_by_a_checked_split(micro, officers, ground):
    whole = propose_balance(micro, officers, resources=ground, split_rounds=0)
    assert whole.spread_after.max_mean > 1.25
    proposal = propose_balance(micro, officers, resources=ground)
    assert proposal.spread_after.max_mean <= 1.25 < whole.spread_after.max_mean
    assert "m00" in proposal.splits["code"].tolist()
    split = proposal.splits.set_index("code").loc["m00"]
    a, b = split["pieces"]
    assert split["pieces_hours"][0] == pytest.approx(split["pieces_hours"][1], rel=0.01)

    # the planner's edit: the same line, applied to the map, passes the edit checks and halves the workload
    after = Split("m00", shapely.from_wkt(split["line"])).apply(coverage_of(micro))
    assert sorted(set(after.units) - set(micro["code"])) == sorted([a, b])  # codes under its grid, as proposed
    assert check(after) == []
    pieces = after.to_frame().set_index("code").loc[[a, b]].reset_index()
    hours = hours_of(ground_parts(pieces, ground))
    assert hours[0] == pytest.approx(hours[1], rel=0.01)
    heavy = hours_of(ground_parts(micro[micro["code"] == "m00"], ground))[0]
    assert hours.sum() == pytest.approx(heavy, rel=1e-6)
    # not a line through the centre: the farmland triangle pulls it towards the corner
    centre = shapely.centroid(micro.geometry[micro["code"] == "m00"].iloc[0])
    assert shapely.distance(shapely.from_wkt(split["line"]), centre) > 1e-4

    # pieces stay in village A, in different contiguous grids, one officer each
    atoms = proposal.micro_grids
    assert atoms.loc[[a, b], "micro_grid"].tolist() == ["m00", "m00"]
    assert set(atoms.loc[[a, b], "village"]) == {"A"}
    assert atoms.loc[a, "grid"] != atoms.loc[b, "grid"]
    assert proposal.contiguous
    assert sorted(atoms["micro_grid"].unique()) == sorted(micro["code"])
    assert len(proposal.grids) == officers["code"].nunique() == proposal.grids["officer"].nunique()
    union = shapely.union_all(np.asarray(proposal.grids.geometry.values))
    assert union.area == pytest.approx(shapely.union_all(micro.geometry.values).area)


def test_splits_are_deterministic(micro, officers, ground):
    first = propose_balance(micro, officers, resources=ground)
    second = propose_balance(micro.sample(frac=1.0, random_state=5), officers.iloc[::-1],
                             resources=ground.iloc[::-1])
    assert not first.splits.empty
    pd.testing.assert_frame_equal(first.splits, second.splits)
    pd.testing.assert_frame_equal(first.micro_grids, second.micro_grids)


def test_no_split_when_the_rounds_are_off(micro, officers, ground):
    proposal = propose_balance(micro, officers, resources=ground, split_rounds=0)
    assert proposal.splits.empty
    assert proposal.to_split == ["m00"]
