"""The planner view: the workload measure on real geometries, and /planner with its data scoped and guarded."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from gridgov.audit.service import record
from gridgov.findings.models import Finding
from gridgov.findings.workflow import CLOSED
from gridgov.main import create_app
from gridgov.people.demo import DEMO_PASSWORD
from gridgov.people.models import OfficerAssignment
from gridgov.people.principal import cli_principal
from gridgov.planning.workload import GROUND_PARTS, WEIGHTS, ground_parts, officer_workload, with_index
from gridgov.storage.db import get_engine, transaction
from tests.conftest import DEMO_TODAY, bearer, import_dataset, seed_users
from tests.databases import app_url, new_database
from tests.factories_geo import GRIDS, TOWNS, small_county_layers

METRIC = 4546


@pytest.fixture(scope="module")
def layers():
    return small_county_layers()


@pytest.fixture(scope="module")
def ground(layers) -> pd.DataFrame:
    resources = pd.concat([layers[name].assign(resource=kind)
                           for name, kind in (("rivers", "river"), ("forests", "forest"), ("farmland", "farmland"))])
    return ground_parts(layers["grids"][["code", "geometry"]], gpd.GeoDataFrame(resources, crs=4490), METRIC)


def _metric(layer: gpd.GeoDataFrame) -> gpd.GeoSeries:
    return layer.geometry.to_crs(METRIC)


def test_grid_areas_are_metric_and_add_up_to_the_county(layers, ground):
    expected = _metric(layers["grids"]).area.to_numpy() / 1e6
    assert ground.index.tolist() == list(GRIDS)
    assert ground["area_km2"].to_numpy() == pytest.approx(expected, rel=1e-9)
    assert ground["area_km2"].sum() == pytest.approx(_metric(layers["county"]).area.sum() / 1e6, rel=1e-9)
    assert 3.5 < ground["area_km2"].iloc[0] < 5  # a 0.02° square at 29.3°N is about 1.94 km x 2.22 km


def test_a_river_crossing_a_grid_border_counts_on_each_side_for_its_part(layers, ground):
    river = layers["rivers"].geometry.iloc[0]
    total = _metric(layers["rivers"]).length.sum() / 1e3
    west, east = GRIDS[3], GRIDS[4]  # village 3 is split at lattice x = 3; the river crosses it
    west_part = shapely.intersection(river, layers["grids"].set_index("code").geometry[west])
    # Cut here in degrees, there in metres: the border, straight in one, bends by centimetres in the other.
    assert ground.loc[west, "river_km"] == pytest.approx(
        gpd.GeoSeries([west_part], crs=4490).to_crs(METRIC).length.iloc[0] / 1e3, abs=1e-3)
    assert 0 < ground.loc[east, "river_km"] < total
    assert ground["river_km"].sum() == pytest.approx(total, rel=1e-6)
    assert ground.loc[list(GRIDS[:3]), "river_km"].eq(0).all()


def test_forest_and_farmland_area_fall_where_they_lie(layers, ground):
    forest = _metric(layers["forests"]).area.iloc[0] / 1e6
    farmland = _metric(layers["farmland"]).area.iloc[0] / 1e6
    assert ground["forest_km2"].tolist() == pytest.approx([forest, 0, 0, 0, 0], rel=1e-6)
    # The paddy spans lattice y 2.5..3.5, and village 2 is split into two grids at y = 3.
    assert ground.loc[GRIDS[1], "farmland_km2"] == pytest.approx(farmland / 2, rel=1e-3)
    assert ground["farmland_km2"].sum() == pytest.approx(farmland, rel=1e-6)


def test_the_index_averages_one_and_skips_parts_nobody_has(ground):
    parts = ground.assign(open_findings=[4, 0, 1, 0, 0], findings_30d=0)
    indexed = with_index(parts)
    assert indexed["index"].mean() == pytest.approx(1.0)
    # findings_30d is zero everywhere: left out, not divided by zero, and the rest still weigh as documented.
    weighed = [p for p in WEIGHTS if p != "findings_30d"]
    ratios = parts[weighed] / parts[weighed].mean()
    weights = pd.Series({p: WEIGHTS[p] for p in weighed})
    assert indexed["index"].tolist() == pytest.approx((ratios * weights).sum(axis=1) / weights.sum())
    assert indexed["index"].idxmax() == GRIDS[0]  # most open findings and the forest


def test_an_officer_carries_the_sum_of_their_grids(ground):
    indexed = with_index(ground)
    officers = officer_workload(indexed, pd.Series({GRIDS[0]: "W1", GRIDS[1]: "W1", GRIDS[2]: "W2"}))
    assert officers.index.tolist() == ["W1", "W2"]
    assert officers.loc["W1", "grids"] == 2
    assert officers.loc["W1", "index"] == pytest.approx(indexed["index"].iloc[:2].sum())
    assert officers.loc["W2", list(GROUND_PARTS)].tolist() == pytest.approx(ground.loc[GRIDS[2]].tolist())


VACANT_GRID = GRIDS[4]  # W4309210003's only grid
LATER = date.today() + timedelta(days=10)


@pytest.fixture(scope="module")
def county(backend, small_county_gpkg, tmp_path_factory) -> str:
    """The small county where W4309210003 stops answering for their grid ten days from now, leaving it
    vacant (a state the assignment service refuses to create: as an imported roster can have it)."""
    url = new_database(backend, tmp_path_factory.mktemp("planner"), "planner")
    import_dataset(url, small_county_gpkg)
    seed_users(url)
    with transaction(get_engine(url)) as session:
        session.execute(update(OfficerAssignment).where(OfficerAssignment.grid_code == VACANT_GRID)
                        .values(valid_to=LATER))
        record(session=session, principal=cli_principal(session=session), action="close",
               object_type="officer_assignment", object_id=VACANT_GRID, unit_code=VACANT_GRID,
               after={"valid_to": LATER.isoformat()})
    return url


def _api(url: str, username: str | None) -> TestClient:
    return TestClient(create_app(app_url(url)), headers=bearer(url, username) if username else {})


def _browser(url: str, username: str) -> TestClient:
    client = TestClient(create_app(app_url(url)), base_url="https://testserver")
    signed_in = client.post("/sign-in", data={"username": username, "password": DEMO_PASSWORD},
                            follow_redirects=False)
    assert signed_in.status_code == 303, signed_in.text
    return client


def test_a_planner_sees_every_grid_with_officer_and_workload(county):
    data = _api(county, "planner").get("/planner/grids.json").json()
    assert sorted(data["grids"]) == sorted(GRIDS)
    first = data["grids"][GRIDS[0]]
    assert first["officer"]["code"] == "W4309210001" and first["officer"]["name"]
    assert (first["village"], first["town"]) == (GRIDS[0][:12], TOWNS[0])
    assert first["workload"]["forest_km2"] > 0 and first["workload"]["river_km"] == 0
    assert data["vacant"] == []
    [w1] = [o for o in data["officers"] if o["code"] == "W4309210001"]
    assert w1["grids"] == [GRIDS[0], GRIDS[1]]
    assert w1["workload"]["index"] == pytest.approx(sum(data["grids"][g]["workload"]["index"] for g in w1["grids"]),
                                                    abs=0.011)


def test_vacant_grids_are_those_without_an_officer_on_the_day(county):
    client = _api(county, "planner")
    data = client.get(f"/planner/grids.json?on={LATER}").json()
    uncovered = client.get(f"/api/v1/assignments/uncovered?on={LATER}").json()
    assert data["vacant"] == uncovered["grid_codes"] == [VACANT_GRID]
    assert data["grids"][VACANT_GRID]["officer"] is None
    assert "W4309210003" not in {o["code"] for o in data["officers"]}
    assert data["on"] == LATER.isoformat()


def test_a_town_supervisor_sees_only_the_grids_of_their_town(county):
    data = _api(county, "town.supervisor").get(f"/planner/grids.json?on={LATER}").json()
    assert sorted(data["grids"]) == [g for g in GRIDS if g.startswith(TOWNS[0])]
    assert data["vacant"] == []  # the vacant grid lies in the other town
    assert {o["code"] for o in data["officers"]} == {"W4309210001", "W4309210002"}


@pytest.mark.parametrize("username", ["w4309210001", "zl430921100"])
def test_officers_and_chiefs_are_refused(county, username):
    response = _api(county, username).get("/planner/grids.json")
    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    page = _browser(county, username).get("/planner")
    assert page.status_code == 403
    landing = "/field" if username.startswith("w") else "/map"
    assert f'href="{landing}"' in page.text and "planner.js" not in page.text


def test_anonymous_callers_are_sent_to_sign_in(county):
    anonymous = _api(county, None)
    assert anonymous.get("/planner/grids.json").status_code == 401
    page = anonymous.get("/planner", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/sign-in"


def test_the_page_loads_its_script_for_a_planner(county):
    page = _browser(county, "planner").get("/planner")
    assert page.status_code == 200
    assert '<script src="/static/planner/planner.js"></script>' in page.text
    assert 'id="i18n"' in page.text


def test_findings_on_the_demo_county_agree_with_the_workflow_and_the_kpis(demo_db):
    client = _api(demo_db, "planner")
    data = client.get(f"/planner/grids.json?on={DEMO_TODAY}").json()
    assert len(data["grids"]) == 780
    with transaction(get_engine(demo_db)) as session:
        still_open = session.scalar(select(func.count()).select_from(Finding)
                                    .where(Finding.status.not_in([s.value for s in CLOSED])))
    assert still_open > 0
    assert sum(g["workload"]["open_findings"] for g in data["grids"].values()) == still_open
    since = datetime.combine(DEMO_TODAY - timedelta(days=29), datetime.min.time(), tzinfo=UTC) - timedelta(hours=8)
    until = since + timedelta(days=30)
    [kpis] = client.get("/api/v1/kpis", params={"since": since.isoformat(), "until": until.isoformat(),
                                                "group_by": "county"}).json()["rows"]
    assert sum(g["workload"]["findings_30d"] for g in data["grids"].values()) == kpis["registered"] > 0
    assert sum(g["workload"]["patrol_km_30d"] for g in data["grids"].values()) > 0
    assert sum(o["workload"]["index"] for o in data["officers"]) == pytest.approx(780, rel=0.01)
