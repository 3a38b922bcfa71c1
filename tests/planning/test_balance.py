"""The balancing proposal on a small lattice of micro-grids with uneven workload (pure, no database)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridgov.errors import InvalidGeometry, InvalidParameter
from gridgov.patrols.checklists import DEFAULT_RULES
from gridgov.planning.balance import GRID_RULE, connected_sets, propose_balance, rook_edges

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
    area = np.array([3.0, 1.0, 0.5, 1.0, 0.5, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    river = np.array([2.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.5, 0.0])
    return pd.DataFrame({"area_km2": area, "river_km": river}, index=micro["code"])


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
    proposal = propose_balance(micro, officers, parts=parts)
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
    proposal = propose_balance(micro, officers, parts=parts)
    assert proposal.spread_after.max_mean < proposal.spread_before.max_mean
    assert proposal.spread_after.cv < proposal.spread_before.cv
    assert proposal.floor_max_mean <= proposal.spread_after.max_mean + 1e-9
    assert proposal.after["index"].mean() == pytest.approx(1.0)


def test_heavy_micro_grid_is_alone_and_listed_for_a_split(micro, officers, parts):
    proposal = propose_balance(micro, officers, parts=parts, target_max_mean=1.25)
    heavy = proposal.grids[proposal.grids["micro_grids"].map(lambda codes: "m00" in codes)]
    assert heavy["micro_grids"].tolist() == [("m00",)]
    assert proposal.to_split == ["m00"]


def test_deterministic(micro, officers, parts):
    first = propose_balance(micro, officers, parts=parts)
    second = propose_balance(micro.sample(frac=1.0, random_state=3), officers.iloc[::-1], parts=parts)
    pd.testing.assert_frame_equal(first.micro_grids.sort_index(), second.micro_grids.sort_index())
    pd.testing.assert_frame_equal(first.after, second.after)


def test_officers_stay_home_when_moves_are_forbidden(micro, officers, parts):
    proposal = propose_balance(micro, officers, parts=parts, move_penalty=float("inf"))
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
