"""The Nan County demo as stored in the database, on SQLite and PostGIS."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from sqlalchemy import func, select, text

from gridgov.geo.crs import to_metric
from gridgov.grids.locating import locate_points
from gridgov.grids.models import Level
from gridgov.grids.scope import Jurisdiction
from gridgov.grids.service import county_boundary, level_counts, units_frame
from gridgov.people.models import ChiefAssignment, OfficerAssignment
from gridgov.storage.db import get_engine, is_postgis, transaction

COUNTY = "430921"


@pytest.fixture(scope="module")
def demo(demo_db):
    with transaction(get_engine(demo_db)) as session:
        yield session


def test_counts(demo):
    counts = level_counts(session=demo, jurisdiction=Jurisdiction(COUNTY, county_wide=True))
    assert (counts["town"], counts["village"], counts["grid"], counts["micro_grid"]) == (12, 376, 780, 832)
    officers = demo.scalar(select(func.count(func.distinct(OfficerAssignment.officer_code))))
    chiefs = demo.scalar(select(func.count(func.distinct(ChiefAssignment.chief_code))))
    assert (officers, chiefs) == (634, 1167)
    # One person, one grid: every grid has exactly one responsible officer.
    per_grid = demo.execute(
        select(OfficerAssignment.grid_code, func.count()).group_by(OfficerAssignment.grid_code)
    ).all()
    assert len(per_grid) == 780 and {n for _, n in per_grid} == {1}


@pytest.mark.parametrize("level", [Level.TOWN, Level.VILLAGE, Level.GRID, Level.MICRO_GRID])
def test_each_level_tiles_the_county(demo, level):
    units = units_frame(session=demo, county_code=COUNTY, level=level)
    boundary = county_boundary(session=demo, county_code=COUNTY)
    metric = to_metric(np.asarray(units.geometry.values))
    union_area = shapely.area(shapely.union_all(metric))
    county_area = shapely.area(to_metric(boundary))
    assert abs(union_area - county_area) / county_area < 1e-4
    # No overlaps: the areas add up to the union's.
    assert abs(shapely.area(metric).sum() - union_area) / county_area < 1e-6


def test_strict_nesting(demo):
    for child, parent in ((Level.MICRO_GRID, Level.GRID), (Level.GRID, Level.VILLAGE), (Level.VILLAGE, Level.TOWN)):
        children = units_frame(session=demo, county_code=COUNTY, level=child)
        parents = units_frame(session=demo, county_code=COUNTY, level=parent).set_index("code")
        # Every child lies in exactly one unit of the parent level: its own parent.
        inside = shapely.area(
            shapely.intersection(to_metric(np.asarray(children.geometry.values)),
                                 to_metric(np.asarray(parents.geometry[children["parent_code"]].values)))
        )
        assert (inside / shapely.area(to_metric(np.asarray(children.geometry.values))) > 0.9999).all(), child


def test_postgis_agrees_on_the_tiling(demo):
    if not is_postgis(demo):
        pytest.skip("PostGIS-only cross-check")
    union_area, county_area = demo.execute(
        text(
            "SELECT ST_Area(ST_Transform(ST_Union(geom), 4546)), "
            "(SELECT ST_Area(ST_Transform(geom, 4546)) FROM units WHERE level = 'county') "
            "FROM units WHERE level = 'grid'"
        )
    ).one()
    assert abs(union_area - county_area) / county_area < 1e-4
    overlapping = demo.scalar(
        text(
            "SELECT count(*) FROM units a JOIN units b ON a.code < b.code AND a.geom && b.geom "
            "WHERE a.level = 'micro_grid' AND b.level = 'micro_grid' "
            "AND ST_Area(ST_Transform(ST_Intersection(a.geom, b.geom), 4546)) > 1"
        )
    )
    assert overlapping == 0


def test_located_points_agree_with_the_database(demo):
    rng = np.random.default_rng(7)
    boundary = county_boundary(session=demo, county_code=COUNTY)
    x0, y0, x1, y1 = boundary.bounds
    lon, lat = rng.uniform(x0, x1, 2000), rng.uniform(y0, y1, 2000)
    located = locate_points(session=demo, jurisdiction=Jurisdiction(COUNTY, county_wide=True), lon=lon, lat=lat)
    inside = shapely.contains_xy(boundary, lon, lat)
    assert (located["inside"].to_numpy() == inside).all()
    micro = units_frame(session=demo, county_code=COUNTY, level=Level.MICRO_GRID).set_index("code")
    sample = np.flatnonzero(inside)[:200]
    for i in sample:
        assert micro.geometry[located["micro_grid_code"][i]].covers(shapely.Point(lon[i], lat[i]))
