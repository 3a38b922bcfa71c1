"""Planning edits on real geometries: every edit's happy path, every refusal, and random edit sequences.

The coverage is one village near 112.4°E 29.3°N with two grids of six micro-grids each, cut from a lattice
of ~1 km cells whose inner points are nudged by up to ~200 m (so no edge is axis-aligned and every split
point is a real floating-point intersection). Neighbours and parents share their vertices exactly.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gridgov.planning.edits import (
    CodesExhausted,
    Coverage,
    DifferentParents,
    EditRefused,
    InvalidResult,
    LineDoesNotCross,
    Merge,
    MoveBoundary,
    NotAdjacent,
    Reparent,
    Sliver,
    Split,
    UnknownUnit,
    WouldLeaveGap,
    WouldOverlap,
    shares_edge,
)
from gridgov.planning.topology import Rules, area_m2, check
from tests.factories_geo import GRIDS as SMALL_GRIDS
from tests.factories_geo import small_county_layers

X0, Y0, STEP = 112.40, 29.30, 0.01
VILLAGE = "430921100201"
LEFT, RIGHT = VILLAGE + "01", VILLAGE + "02"
AREA_RTOL = 1e-9
"""Relative tolerance on the total area. The edits keep every stored coordinate and compute new ones to
~1e-14°, so in exact terms the area is kept to ~1e-13; what is left is the measuring: straight lon/lat edges
are densified to ~20 m before projection, and pieces are densified differently from the unit they came from,
which moves the projected area by ~1e-11 relative (2e-11 the worst over 2,400 random edits). Without densifying
it would be ~1e-6; 1e-9 leaves a margin of 50 and still catches a lost square metre in a 12 km² village."""

SAME_AREA_M2 = 1e-3
"""Two polygons are the same ground when their symmetric difference measures under this (a 1 mm x 1 m strip).
Not zero: a split point lies ~1e-14° (~1e-9 m) off the edge it was cut from, and measuring such a
needle-thin difference after projecting picks up pyproj's ~1e-9 m noise along a kilometre of edge
(~1e-4 m² seen)."""


def node(i: int, j: int) -> tuple[float, float]:
    """Lattice point (i, j); the inner ones nudged by up to 0.002° (~200 m), the same for every polygon."""
    dx = 0.002 * math.sin(7 * i + 3 * j) if 0 < i < 4 else 0.0
    dy = 0.002 * math.cos(5 * i - 11 * j) if 0 < j < 3 else 0.0
    return round(X0 + STEP * i + dx, 7), round(Y0 + STEP * j + dy, 7)


def cell(i: int, j: int) -> shapely.Polygon:
    return shapely.Polygon([node(i, j), node(i + 1, j), node(i + 1, j + 1), node(i, j + 1)])


def outline(i0: int, i1: int, j0: int, j1: int) -> shapely.Polygon:
    """The block of cells [i0, i1) x [j0, j1), through every lattice point on its boundary."""
    ring = ([node(i, j0) for i in range(i0, i1)] + [node(i1, j) for j in range(j0, j1)]
            + [node(i, j1) for i in range(i1, i0, -1)] + [node(i0, j) for j in range(j1, j0, -1)])
    return shapely.Polygon(ring)


def micro(grid: str, i: int, j: int) -> str:
    """The code of the micro-grid at cell (i, j): its grid's code + 01..06, column by column."""
    return grid + f"{(i % 2) * 3 + j + 1:02d}"


@pytest.fixture
def village() -> Coverage:
    units = {micro(LEFT if i < 2 else RIGHT, i, j): (LEFT if i < 2 else RIGHT, cell(i, j))
             for i in range(4) for j in range(3)}
    return Coverage("micro_grids", units, {LEFT: outline(0, 2, 0, 3), RIGHT: outline(2, 4, 0, 3)})


def total_area(coverage: Coverage) -> float:
    return float(area_m2(coverage.geoms, coverage.metric_epsg).sum())


def assert_sound(coverage: Coverage, area: float) -> None:
    """No gaps, no overlaps, nesting kept, shared edges shared exactly, the total area kept."""
    assert check(coverage) == []
    assert shapely.coverage_is_valid(coverage.geoms)
    for parent, children in coverage.children.items():
        outer = coverage.parents[parent]
        geoms = np.array([coverage.units[c].geometry for c in children], dtype=object)
        assert shapely.covers(outer, geoms).all()
        difference = shapely.symmetric_difference(outer, shapely.union_all(geoms))
        assert area_m2([difference])[0] < SAME_AREA_M2
    assert total_area(coverage) == pytest.approx(area, rel=AREA_RTOL)


def across(geom, fraction: float, angle_deg: float, *, length: float = 3.0) -> shapely.LineString:
    """A straight line through the geometry's bounds at ``fraction`` (-1..1) off centre, at an angle."""
    xmin, ymin, xmax, ymax = geom.bounds
    cx, cy, half = (xmin + xmax) / 2, (ymin + ymax) / 2, max(xmax - xmin, ymax - ymin) / 2
    dx, dy = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    cx, cy = cx - dy * fraction * half, cy + dx * fraction * half
    return shapely.LineString([(cx - dx * half * length, cy - dy * half * length),
                               (cx + dx * half * length, cy + dy * half * length)])


def test_the_village_is_clean_to_begin_with(village):
    assert_sound(village, total_area(village))
    assert len(village.units) == 12 and village.used_codes == frozenset(village.units)


# Split


def test_a_split_retires_the_code_and_shares_its_new_points_with_the_neighbours(village):
    code = micro(LEFT, 0, 1)
    result = Split(code, across(village.units[code].geometry, 0.0, 90)).outcome(village)
    assert result.retired == (code,)
    assert result.created == (LEFT + "07", LEFT + "08")
    assert result.successors == {code: result.created}
    assert code not in result.coverage.units and code in result.coverage.used_codes
    # the line cuts the edges shared with the micro-grids south and north of it, not the grid's outline
    assert set(result.renoded) == {micro(LEFT, 0, 0), micro(LEFT, 0, 2)}
    assert result.renoded_parents == ()
    points = shapely.get_coordinates(result.new_vertices)
    assert len(points) == 2
    for point in map(tuple, points):
        holders = [c for c, u in result.coverage.units.items()
                   if point in set(map(tuple, shapely.get_coordinates(u.geometry)))]
        assert len(holders) == 3  # both pieces and the neighbour across the cut edge
    assert_sound(result.coverage, total_area(village))


def test_a_split_across_the_grid_border_gives_the_point_to_the_other_grid_and_both_parents(village):
    code = micro(LEFT, 1, 1)  # east edge is the border with the right grid
    line = across(village.units[code].geometry, 0.1, 10)
    result = Split(code, line).outcome(village)
    assert micro(RIGHT, 2, 1) in result.renoded
    assert set(result.renoded_parents) == {LEFT, RIGHT}
    assert_sound(result.coverage, total_area(village))


def test_a_line_ending_just_inside_is_extended_and_an_end_near_a_vertex_is_snapped(village):
    code = micro(LEFT, 0, 0)
    geom = village.units[code].geometry
    sw, ne = node(0, 0), node(1, 1)
    # from ~0.3 m outside the south-west corner to ~0.5 m short of the north-east one
    start = (sw[0] - 2e-6, sw[1] - 2e-6)
    end = (ne[0] - 3e-6, ne[1] - 3e-6)
    result = Split(code, shapely.LineString([start, end])).outcome(village)
    pieces = [result.coverage.units[c].geometry for c in result.created]
    for piece in pieces:
        assert {sw, ne} <= set(map(tuple, shapely.get_coordinates(piece)))
    assert result.renoded == () and result.renoded_parents == ()  # the cut runs corner to corner
    assert shapely.equals(shapely.union_all(pieces), geom)
    assert_sound(result.coverage, total_area(village))


def test_a_line_crossing_an_edge_millimetres_from_a_vertex_cuts_through_the_vertex(village):
    code = micro(LEFT, 0, 1)  # cell (0, 1): its north-east corner node(1, 2) is shared with three neighbours
    west = shapely.line_interpolate_point(shapely.LineString([node(0, 1), node(0, 2)]), 0.5, normalized=True)
    ne = node(1, 2)
    aim = np.array([ne[0], ne[1] - 1e-8])  # 1 mm south of the corner
    start = np.array([west.x - 1e-4, west.y])
    end = aim + (aim - start) * 0.2  # on past the east edge
    result = Split(code, shapely.LineString([start, end])).outcome(village)
    for piece in (result.coverage.units[c].geometry for c in result.created):
        assert ne in set(map(tuple, shapely.get_coordinates(piece)))  # the corner itself, no needle beside it
    assert_sound(result.coverage, total_area(village))


def test_a_split_of_a_grid_under_its_village(tmp_path):
    layers = small_county_layers()
    grids = Coverage.from_frames("grids", layers["grids"], layers["villages"])
    code = SMALL_GRIDS[0]
    result = Split(code, across(grids.units[code].geometry, 0.2, 30)).outcome(grids)
    assert result.created == (code[:12] + "02", code[:12] + "03")
    assert_sound(result.coverage, total_area(grids))


def test_a_line_that_does_not_cross_is_refused_naming_the_unit(village):
    code = micro(LEFT, 0, 1)
    geom = village.units[code].geometry
    c = geom.centroid
    inside = shapely.LineString([(c.x - 0.001, c.y), (c.x + 0.001, c.y)])
    with pytest.raises(LineDoesNotCross, match=rf"^{code}: the line ends [0-9.]+ m inside it") as refused:
        Split(code, inside).apply(village)
    assert refused.value.status == 422 and refused.value.unit_code == code
    elsewhere = shapely.LineString([(X0 - 0.01, Y0 - 0.01), (X0 - 0.01, Y0 + 0.05)])
    with pytest.raises(LineDoesNotCross, match=f"^{code}: the line does not cut it in two"):
        Split(code, elsewhere).apply(village)
    with pytest.raises(LineDoesNotCross, match="valid LineString"):
        Split(code, shapely.Point(c)).apply(village)


def test_a_split_leaving_a_sliver_is_refused(village):
    code = micro(RIGHT, 3, 0)
    geom = village.units[code].geometry
    sw = node(4, 0)  # the south-east corner: clip it off by ~20 m
    corner = shapely.LineString([(sw[0] - 0.0003, sw[1] - 0.0001), (sw[0] + 0.0001, sw[1] + 0.0003)])
    assert len(shapely.get_parts(shapely.intersection(geom, corner))) == 1
    with pytest.raises(Sliver, match=rf"^{code}: a piece would be a sliver: [0-9.]+ m², below the minimum"):
        Split(code, corner).apply(village)
    thin = across(geom, -0.97, 90)  # ~20 m west of its straight east edge
    with pytest.raises(Sliver, match="too thin"):
        Split(code, thin).apply(village, Rules(min_area_m2=1.0, min_compactness=0.1))


def test_unknown_units_are_404s(village):
    with pytest.raises(UnknownUnit, match="^4309211002019999: no micro-grid has this code") as refused:
        Split("4309211002019999", across(village.parents[LEFT], 0, 0)).apply(village)
    assert refused.value.status == 404 and refused.value.to_dict()["code"] == "unknown_unit"


def test_running_out_of_codes_is_refused(village):
    used = village.used_codes | {f"{LEFT}{i:02d}" for i in range(1, 100)}
    full = Coverage("micro_grids", village.units, village.parents, used)
    code = micro(LEFT, 0, 0)
    with pytest.raises(CodesExhausted, match=f"^{LEFT}: all 99 codes under it have been used") as refused:
        Split(code, across(full.units[code].geometry, 0, 90)).apply(full)
    assert refused.value.status == 409


# Merge


def test_merge_of_two_neighbours_gives_one_unit_with_a_new_code(village):
    a, b = micro(LEFT, 0, 0), micro(LEFT, 0, 1)
    result = Merge((a, b)).outcome(village)
    assert result.retired == (a, b) and result.created == (LEFT + "07",)
    merged = result.coverage.units[LEFT + "07"].geometry
    assert shapely.equals(merged, shapely.union(village.units[a].geometry, village.units[b].geometry))
    assert_sound(result.coverage, total_area(village))


def test_merge_refusals_name_the_unit(village):
    a = micro(LEFT, 0, 0)
    diagonal = micro(LEFT, 1, 1)  # meets a at one corner only
    assert not shares_edge(village.units[a].geometry, village.units[diagonal].geometry)
    with pytest.raises(NotAdjacent, match=f"^{diagonal}: it shares no stretch of boundary with {a}"):
        Merge((a, diagonal)).apply(village)
    across_border = micro(RIGHT, 2, 0)
    with pytest.raises(DifferentParents, match=f"^{across_border}: its parent is {RIGHT}"):
        Merge((micro(LEFT, 1, 0), across_border)).apply(village)
    with pytest.raises(InvalidResult, match="at least two"):
        Merge((a, a)).apply(village)
    # three in a row are fine: the middle one joins the others
    row = (micro(LEFT, 0, 0), micro(LEFT, 0, 2), micro(LEFT, 0, 1))
    assert len(Merge(row).apply(village).units) == 10


# Boundary moves


def test_a_boundary_move_keeps_the_codes_and_the_outline(village):
    a, b = micro(LEFT, 0, 0), micro(LEFT, 1, 0)
    shared = shapely.line_merge(shapely.intersection(village.units[a].geometry.boundary,
                                                     village.units[b].geometry.boundary))
    (x0, y0), (x1, y1) = shapely.get_coordinates(shared)[[0, -1]]
    bend = shapely.LineString([(x0, y0), ((x0 + x1) / 2 + 0.002, (y0 + y1) / 2), (x1, y1)])  # ~200 m east
    result = MoveBoundary(a, b, bend).outcome(village)
    assert result.reshaped == (a, b) and result.retired == () and result.created == ()
    new_a, new_b = (result.coverage.units[c].geometry for c in (a, b))
    assert area_m2([new_a])[0] > area_m2([village.units[a].geometry])[0]
    assert shapely.equals(shapely.union(new_a, new_b),
                          shapely.union(village.units[a].geometry, village.units[b].geometry))
    assert_sound(result.coverage, total_area(village))
    # the reverse direction of the line is the same boundary
    again = MoveBoundary(a, b, shapely.LineString(bend.coords[::-1])).apply(village)
    assert shapely.equals(again.units[a].geometry, new_a)


def test_boundary_move_refusals(village):
    a, b = micro(LEFT, 0, 0), micro(LEFT, 1, 0)
    shared = shapely.line_merge(shapely.intersection(village.units[a].geometry.boundary,
                                                     village.units[b].geometry.boundary))
    (x0, y0), (x1, y1) = shapely.get_coordinates(shared)[[0, -1]]
    short = shapely.LineString([(x0, y0), ((x0 + x1) / 2, (y0 + y1) / 2)])
    with pytest.raises(LineDoesNotCross, match=f"^{a}: the new boundary must start and end at the ends"):
        MoveBoundary(a, b, short).apply(village)
    wide = shapely.LineString([(x0, y0), ((x0 + x1) / 2 + 0.02, (y0 + y1) / 2), (x1, y1)])  # into the next column
    with pytest.raises(WouldOverlap, match=f"^{a}: the new boundary leaves"):
        MoveBoundary(a, b, wide).apply(village)
    with pytest.raises(NotAdjacent):
        MoveBoundary(a, micro(LEFT, 1, 2), short).apply(village)
    with pytest.raises(DifferentParents):
        MoveBoundary(micro(LEFT, 1, 0), micro(RIGHT, 2, 0), short).apply(village)
    c = village.units[b].geometry.centroid
    hugging = shapely.LineString([(x0, y0)] + [(c.x + 0.97 * (x - c.x), c.y + 0.97 * (y - c.y))
                                               for x, y in (node(2, 0), node(2, 1))] + [(x1, y1)])
    with pytest.raises(Sliver, match=f"^{a}: {a} or {b} would be a sliver: too thin"):
        MoveBoundary(a, b, hugging).apply(village, Rules(min_compactness=0.2))


# Re-parenting


def test_reparent_moves_the_area_between_grids_and_issues_a_code_under_the_new_one(village):
    code = micro(LEFT, 1, 1)
    result = Reparent(code, RIGHT).outcome(village)
    assert result.retired == (code,) and result.created == (RIGHT + "07",)
    assert set(result.reshaped_parents) == {LEFT, RIGHT}
    moved = village.units[code].geometry
    assert area_m2([result.coverage.parents[RIGHT]])[0] == pytest.approx(
        area_m2([village.parents[RIGHT]])[0] + area_m2([moved])[0], rel=AREA_RTOL)
    assert_sound(result.coverage, total_area(village))
    assert area_m2(list(result.coverage.parents.values())).sum() == pytest.approx(
        area_m2(list(village.parents.values())).sum(), rel=AREA_RTOL)


def test_reparent_refusals(village):
    with pytest.raises(NotAdjacent, match=f"^{micro(LEFT, 0, 1)}: it shares no stretch of boundary with grid"):
        Reparent(micro(LEFT, 0, 1), RIGHT).apply(village)
    with pytest.raises(InvalidResult, match="already belongs"):
        Reparent(micro(LEFT, 1, 1), LEFT).apply(village)
    with pytest.raises(UnknownUnit):
        Reparent(micro(LEFT, 1, 1), VILLAGE + "09").apply(village)
    layers = small_county_layers()
    small = Coverage.from_frames("micro_grids", layers["micro_grids"], layers["grids"])
    with pytest.raises(DifferentParents, match="in another village"):  # grid 1 lies in the next village
        Reparent(SMALL_GRIDS[0] + "01", SMALL_GRIDS[1]).apply(small)
    with pytest.raises(InvalidResult, match="it is all of grid"):  # the only micro-grid of its grid
        Reparent(SMALL_GRIDS[4] + "01", SMALL_GRIDS[3]).apply(small)
    grids = Coverage.from_frames("grids", layers["grids"], layers["villages"])
    with pytest.raises(InvalidResult, match="only micro-grids"):
        Reparent(SMALL_GRIDS[1], layers["villages"]["code"][0]).apply(grids)


# Gaps and overlaps


def test_check_reports_gaps_overlaps_and_unshared_edges(village):
    units = dict(village.units)
    shrunk = micro(LEFT, 0, 0)
    units[shrunk] = (LEFT, shapely.buffer(units[shrunk].geometry, -0.0002, join_style="mitre"))
    grown = micro(RIGHT, 3, 2)
    units[grown] = (RIGHT, shapely.buffer(units[grown].geometry, 0.0002, join_style="mitre"))
    broken = Coverage("micro_grids", units, village.parents)
    kinds = {(d.kind, d.code) for d in check(broken)}
    assert ("gap", LEFT) in kinds
    assert {("overlap", f"{grown}/{micro(RIGHT, 2, 2)}"), ("overlap", f"{micro(RIGHT, 2, 2)}/{grown}")} & kinds
    assert ("not_inside_parent", grown) in kinds
    assert ("unshared_edge", shrunk) not in kinds  # a gap alone leaves its edges unmatched, not invalid
    assert ("unshared_edge", grown) in kinds


def test_an_edit_that_would_keep_a_gap_or_an_overlap_is_refused(village):
    units = dict(village.units)
    hole = micro(LEFT, 0, 0)
    units[hole] = (LEFT, shapely.buffer(units[hole].geometry, -0.0002, join_style="mitre"))
    gappy = Coverage("micro_grids", units, village.parents)
    code = micro(LEFT, 0, 1)
    with pytest.raises(WouldLeaveGap, match=rf"^{code}: a gap of [0-9.]+ m² in grid {LEFT}") as refused:
        Split(code, across(gappy.units[code].geometry, 0, 0)).apply(gappy)
    assert refused.value.details and refused.value.details[0]["kind"] == "gap"

    units = dict(village.units)
    bulge = micro(RIGHT, 2, 1)
    units[bulge] = (RIGHT, shapely.buffer(units[bulge].geometry, 0.0002, join_style="mitre"))
    overlapping = Coverage("micro_grids", units, {**village.parents, RIGHT: shapely.buffer(
        village.parents[RIGHT], 0.0003, join_style="mitre")})
    code = micro(LEFT, 1, 1)
    with pytest.raises(WouldOverlap, match=f"^{code}: "):
        Split(code, across(overlapping.units[code].geometry, 0, 90)).apply(overlapping)


# Round trips and codes


def test_split_then_merge_gives_back_the_original_under_a_new_code(village):
    code = micro(RIGHT, 2, 1)
    original = village.units[code].geometry
    split = Split(code, across(original, 0.3, 62)).outcome(village)
    merged = Merge(split.created).outcome(split.coverage)
    [new] = merged.created
    assert new not in {code, *split.created}
    geom = merged.coverage.units[new].geometry
    assert area_m2([geom])[0] == pytest.approx(area_m2([original])[0], rel=AREA_RTOL)
    assert area_m2([shapely.symmetric_difference(geom, original)])[0] < SAME_AREA_M2
    assert_sound(merged.coverage, total_area(village))
    assert merged.coverage.used_codes >= {code, *split.created, new}


# Random sequences


edits = st.lists(st.tuples(st.sampled_from(["split", "merge"]), st.integers(0, 10_000),
                           st.floats(-0.8, 0.8), st.floats(0, 180)), min_size=1, max_size=6)


def neighbours(coverage: Coverage) -> list[tuple[str, str]]:
    codes = sorted(coverage.units)
    return [(a, b) for a in codes for b in codes if a < b and coverage.units[a].parent == coverage.units[b].parent
            and shares_edge(coverage.units[a].geometry, coverage.units[b].geometry)]


def random_edit(coverage: Coverage, kind: str, pick: int, fraction: float, angle: float):
    """A split at a random offset and angle, or a merge, boundary move or re-parenting of a random pick."""
    codes = sorted(coverage.units)
    code = codes[pick % len(codes)]
    if kind == "split":
        return Split(code, across(coverage.units[code].geometry, fraction, angle))
    if kind == "reparent":
        return Reparent(code, RIGHT if coverage.units[code].parent == LEFT else LEFT)
    pairs = neighbours(coverage)
    a, b = pairs[pick % len(pairs)]
    if kind == "merge":
        return Merge((a, b))
    shared = shapely.line_merge(shapely.intersection(coverage.units[a].geometry.boundary,
                                                     coverage.units[b].geometry.boundary))
    ends = shapely.get_coordinates(shared)[[0, -1]]
    middle = shapely.line_interpolate_point(shared, 0.5, normalized=True)
    bend = (middle.x + 0.002 * fraction * math.cos(math.radians(angle)),
            middle.y + 0.002 * fraction * math.sin(math.radians(angle)))
    return MoveBoundary(a, b, shapely.LineString([ends[0], bend, ends[1]]))


def run(steps) -> None:
    """Apply the edits the core accepts, checking the whole village after each one."""
    units = {micro(LEFT if i < 2 else RIGHT, i, j): (LEFT if i < 2 else RIGHT, cell(i, j))
             for i in range(4) for j in range(3)}
    coverage = Coverage("micro_grids", units, {LEFT: outline(0, 2, 0, 3), RIGHT: outline(2, 4, 0, 3)})
    area = total_area(coverage)
    ever = set(coverage.units)
    applied = 0
    for step in steps:
        try:
            outcome = random_edit(coverage, *step).outcome(coverage)
        except EditRefused:
            continue
        assert not set(outcome.created) & ever  # a code is never issued twice
        ever |= set(outcome.created)
        coverage = outcome.coverage
        assert_sound(coverage, area)
        applied += 1
    assume(applied > 0)


@settings(deadline=None, max_examples=40)
@given(edits)
def test_any_valid_splits_and_merges_keep_area_coverage_and_nesting(steps):
    run(steps)


@settings(deadline=None, max_examples=40)
@given(st.lists(st.tuples(st.sampled_from(["split", "merge", "move", "reparent"]), st.integers(0, 10_000),
                          st.floats(-1, 1), st.floats(0, 360)), min_size=1, max_size=6))
def test_any_valid_mix_of_all_four_edits_keeps_area_coverage_and_nesting(steps):
    run(steps)
