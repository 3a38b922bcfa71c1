"""The draft's map over every level (pure): grid edits re-nest their micro-grids, new points reach the
levels above, and a revert (the :class:`Restore` built from a draft's diff) gives the map back exactly.

Random sequences of splits and merges of grids and micro-grids on the small county (tests/factories_geo.py).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridgov.planning.edits import EditRefused, Merge, Split, Unit, shares_edge
from gridgov.planning.plan import EDITED, LEVELS, PlanMap, Regroup, Restore, apply_edit, diff
from gridgov.planning.topology import area_m2, check
from tests.factories_geo import GRIDS, VILLAGES, lattice, small_county_layers
from tests.planning.test_edits import AREA_RTOL, SAME_AREA_M2, across

LAYER = {"county": "county", "town": "towns", "village": "villages", "grid": "grids", "micro_grid": "micro_grids"}


def small_county() -> PlanMap:
    layers = small_county_layers()
    units = {level: {str(code): Unit(None if level == "county" else str(parent), geom)
                     for code, parent, geom in zip(layers[LAYER[level]]["code"], layers[LAYER[level]]["parent_code"],
                                                   layers[LAYER[level]].geometry)} for level in LEVELS}
    return PlanMap(units, {})


def areas(plan: PlanMap) -> dict[str, float]:
    return {level: float(area_m2([u.geometry for u in plan.units[level].values()]).sum()) for level in LEVELS}


def assert_sound(plan: PlanMap, start: dict[str, float]) -> None:
    """Both edited levels clean (no gap, overlap, sliver, unshared edge; nested), every level's area kept,
    and every grid exactly covered by its micro-grids."""
    for level in EDITED:
        assert check(plan.coverage(level)) == [], level
    assert areas(plan) == pytest.approx(start, rel=AREA_RTOL)
    micro = plan.coverage("micro_grid")
    for grid, children in micro.children.items():
        union = shapely.union_all([micro.units[c].geometry for c in children])
        assert area_m2([shapely.symmetric_difference(union, micro.parents[grid])])[0] < SAME_AREA_M2, grid


def restore_of(before: PlanMap, after: PlanMap) -> Restore:
    """What a revert of ``before → after`` puts back: retired units as they were, new ones removed."""
    changes = diff(before, after)
    return Restore({level: {**{c: before.units[level][c] for c in (*ch.retired, *ch.reshaped)},
                            **dict.fromkeys(ch.created)} for level, ch in changes.items()})


def assert_same_map(a: PlanMap, b: PlanMap) -> None:
    for level in LEVELS:
        assert set(a.units[level]) == set(b.units[level]), level
        for code, unit in a.units[level].items():
            assert unit.parent == b.units[level][code].parent
            assert shapely.equals_exact(unit.geometry, b.units[level][code].geometry, 0.0), code


def test_a_grid_split_re_nests_its_micro_grids_and_a_revert_restores_every_coordinate():
    start = small_county()
    grid = GRIDS[3]  # x 2..3, y 0..4, micro-grids 01 (y 0..2) and 02 (y 2..4)
    line = across(start.units["grid"][grid].geometry, -0.2, 0)  # a horizontal cut at y 1.6
    after = apply_edit(start, Split(grid, line))
    changes = diff(start, after)
    assert changes["grid"].retired == (grid,) and len(changes["grid"].created) == 2
    assert set(changes["micro_grid"].retired) == {grid + "01", grid + "02"}
    # The lower micro-grid is cut by the new grid boundary; the upper one moves whole under the new grid.
    assert len(changes["micro_grid"].created) == 3
    assert {after.units["micro_grid"][c].parent for c in changes["micro_grid"].created} == set(changes["grid"].created)
    assert changes["county"].reshaped == ()  # the cut ends on the grid's sides, inside the county
    assert_sound(after, areas(start))
    assert_same_map(apply_edit(after, restore_of(start, after)), start)


edits = st.lists(st.tuples(st.sampled_from(["split", "merge"]), st.sampled_from(EDITED), st.integers(0, 1000),
                           st.floats(-0.7, 0.7), st.floats(0, 180)), min_size=1, max_size=5)


def random_edit(plan: PlanMap, kind: str, level: str, pick: int, fraction: float, angle: float):
    units = plan.units[level]
    codes = sorted(units)
    if kind == "split":
        code = codes[pick % len(codes)]
        return Split(code, across(units[code].geometry, fraction, angle))
    pairs = [(a, b) for a in codes for b in codes if a < b and units[a].parent == units[b].parent
             and shares_edge(units[a].geometry, units[b].geometry)]
    return Merge(pairs[pick % len(pairs)]) if pairs else None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits)
def test_any_sequence_of_splits_and_merges_keeps_the_county_sound_and_reverts_exactly(steps):
    start = small_county()
    area = areas(start)
    plan, ever = start, {lv: set(start.units[lv]) for lv in EDITED}
    for kind, level, pick, fraction, angle in steps:
        edit = random_edit(plan, kind, level, pick, fraction, math.degrees(math.radians(angle)))
        if edit is None:
            continue
        try:
            result = apply_edit(plan, edit)
        except EditRefused:
            continue  # a refused edit changes nothing: the map it was refused on stays as it was
        changes = diff(plan, result)
        for lv in EDITED:
            assert not set(changes[lv].created) & ever[lv], "a code was issued twice"
            ever[lv] |= set(changes[lv].created)
        plan = result
        assert_sound(plan, area)
    assert_same_map(apply_edit(plan, restore_of(start, plan)), start)


def test_points_computed_on_the_county_border_reach_the_towns_and_the_county():
    start = small_county()
    micro = GRIDS[0] + "01"  # x 0..1, y 0..2: its west side is the county's border
    after = apply_edit(start, Split(micro, shapely.LineString([(112.47, 29.2905), (112.4925, 29.2905)])))
    changes = diff(start, after)
    west = (112.48, 29.2905)
    for level, code in (("county", "430921"), ("town", "430921100"), ("village", "430921100201")):
        assert code in changes[level].reshaped, level
        assert west in {tuple(p) for p in shapely.get_coordinates(after.units[level][code].geometry)}
        assert shapely.equals(after.units[level][code].geometry, start.units[level][code].geometry)
    assert np.isclose(areas(after)["county"], areas(start)["county"], rtol=AREA_RTOL)


def test_a_regroup_redraws_a_village_s_grids_from_its_micro_grids():
    start = small_county()
    g3, g4 = GRIDS[3], GRIDS[4]  # village 3: g3 = micro-grids 01 (south) and 02 (north), g4 = micro-grid 01
    after = apply_edit(start, Regroup(VILLAGES[2], ((g3 + "01",), (g3 + "02", g4 + "01"))))
    changes = diff(start, after)
    assert changes["grid"].retired == (g3, g4)
    assert changes["grid"].created == (VILLAGES[2] + "03", VILLAGES[2] + "04")
    assert after.units["grid"][VILLAGES[2] + "03"].geometry.equals(start.units["micro_grid"][g3 + "01"].geometry)
    assert {after.units["micro_grid"][c].parent for c in changes["micro_grid"].created} == set(changes["grid"].created)
    assert_sound(after, areas(start))
    assert_same_map(apply_edit(after, restore_of(start, after)), start)
    # A group that is exactly a grid's micro-grids keeps the grid, code and all.
    same = apply_edit(start, Regroup(VILLAGES[2], ((g3 + "01", g3 + "02"), (g4 + "01",))))
    assert not any(diff(start, same)[level] for level in LEVELS)


@pytest.mark.parametrize(("groups", "words"), [
    (((GRIDS[3] + "01",), (GRIDS[3] + "02",)), GRIDS[4] + "01 is in no group"),
    (((GRIDS[3] + "01", GRIDS[3] + "02"), (GRIDS[3] + "02", GRIDS[4] + "01")), "is in two groups"),
    (((GRIDS[3] + "01", GRIDS[0] + "01"), (GRIDS[3] + "02", GRIDS[4] + "01")), "is no micro-grid of it"),
])
def test_a_regroup_must_hold_each_micro_grid_once(groups, words):
    with pytest.raises(EditRefused, match=f"^{VILLAGES[2]}: the groups must hold each of its micro-grids once: "
                                          f".*{words}"):
        apply_edit(small_county(), Regroup(VILLAGES[2], groups))


def test_a_regroup_group_must_hang_together():
    # Cut g4's micro-grid (x 3..4) at y = 2; g3's southern micro-grid (x 2..3, y 0..2) touches the northern
    # piece at one point only, so the two cannot make one grid.
    start = small_county()
    cut = apply_edit(start, Split(GRIDS[4] + "01", shapely.LineString([lattice(2.9, 2), lattice(4.1, 2)])))
    south, north = sorted((c for c in cut.units["micro_grid"] if c.startswith(GRIDS[4])),
                          key=lambda c: cut.units["micro_grid"][c].geometry.centroid.y)
    with pytest.raises(EditRefused, match="does not hang together"):
        apply_edit(cut, Regroup(VILLAGES[2], ((GRIDS[3] + "01", north), (GRIDS[3] + "02", south))))
