"""GET /api/v1/audit (SQLite and PostGIS): roles, scoping, paging, filters and refused parameters."""

from __future__ import annotations

from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from gridgov.audit.schemas import MAX_LIMIT
from gridgov.audit.service import record
from gridgov.main import create_app
from gridgov.people.auth import current_principal, wall_in
from gridgov.people.models import Role
from gridgov.storage.db import get_engine, transaction
from gridgov.storage.session import SessionDep
from tests.audit.principals import COUNTY_ADMIN, OFFICER, TOWN_SUPERVISOR, TOWN_UNITS, principal
from tests.databases import app_url
from tests.factories_geo import GRIDS, TOWNS, VILLAGES

UNITS = [GRIDS[0], GRIDS[3], None, VILLAGES[0], TOWNS[1]]
COUNTY_SUPERVISOR = principal("zhao.supervisor", Role.SUPERVISOR)


@pytest.fixture(scope="module")
def seeded(county_db) -> list[str]:
    """Ids of five committed records about units, oldest first."""
    with transaction(get_engine(county_db)) as session:
        return [
            record(session=session, principal=COUNTY_ADMIN, action="edit", object_type="unit", object_id=str(n),
                   unit_code=unit, after={"n": n}).id
            for n, unit in enumerate(UNITS)
        ]


@pytest.fixture
def get_as(county_db, seeded):
    """``get_as(principal, query)``: the response to GET /api/v1/audit?query signed in as ``principal``."""
    app = create_app(app_url(county_db))
    with TestClient(app) as client:
        def get(who, query=""):
            def as_who(session: SessionDep):
                return wall_in(session, who)

            app.dependency_overrides[current_principal] = as_who
            return client.get(f"/api/v1/audit?{query}")
        yield get


def test_an_officer_is_refused(get_as):
    assert get_as(OFFICER).status_code == 403


def test_a_town_supervisor_reads_their_town_newest_first(get_as, seeded):
    response = get_as(TOWN_SUPERVISOR, "object_type=unit")
    assert response.status_code == 200, response.text
    body = response.json()
    expected = [i for i, unit in zip(seeded, UNITS, strict=True) if unit in TOWN_UNITS][::-1]
    assert [item["id"] for item in body["items"]] == expected and expected
    assert body["next"] is None


def test_items_carry_the_whole_record(get_as, seeded):
    [item] = get_as(COUNTY_ADMIN, "object_type=unit&object_id=1").json()["items"]
    assert item["id"] == seeded[1]
    assert {k: item[k] for k in ("actor", "via", "action", "unit_code", "before", "after")} == {
        "actor": "zhang.admin", "via": "api", "action": "edit", "unit_code": GRIDS[3], "before": None,
        "after": {"n": 1},
    }
    assert datetime.fromisoformat(item["at"].replace("Z", "+00:00")).utcoffset().total_seconds() == 0


def test_pages_follow_next_to_the_oldest_record(get_as, seeded):
    ids, query = [], "object_type=unit&limit=2"
    for _ in range(5):
        body = get_as(COUNTY_SUPERVISOR, query).json()
        ids += [item["id"] for item in body["items"]]
        if body["next"] is None:
            break
        assert body["next"] == body["items"][-1]["id"]
        query = f"object_type=unit&limit=2&before_id={body['next']}"
    assert ids == seeded[::-1]


def test_filters_are_query_parameters(get_as, seeded):
    def ids(query):
        return [item["id"] for item in get_as(COUNTY_ADMIN, query).json()["items"]]

    assert ids("object_type=unit&actor=zhang.admin&action=edit") == seeded[::-1]
    assert ids("object_type=unit&actor=someone.else") == []
    assert ids("object_type=unit&until=2000-01-01T00:00:00Z") == []
    assert ids("object_type=unit&since=2000-01-01") == seeded[::-1]


def test_a_limit_above_the_maximum_is_clamped(county_db, get_as):
    with transaction(get_engine(county_db)) as session:
        for n in range(MAX_LIMIT + 1):
            record(session=session, principal=COUNTY_ADMIN, action="bulk", object_type="bulk", object_id=str(n))
    body = get_as(COUNTY_ADMIN, f"object_type=bulk&limit={MAX_LIMIT * 10}").json()
    assert len(body["items"]) == MAX_LIMIT and body["next"] == body["items"][-1]["id"]
    rest = get_as(COUNTY_ADMIN, f"object_type=bulk&limit={MAX_LIMIT}&before_id={body['next']}").json()
    assert [item["object_id"] for item in rest["items"]] == ["0"] and rest["next"] is None


@pytest.mark.parametrize("query", [
    "since=yesterday", "until=2024-13-01", "limit=0", "limit=-5", "limit=many", "before_id=xyz",
    "before_id=" + "G" * 32, "actor=" + "a" * 65,
])
def test_bad_parameters_answer_422(get_as, query):
    response = get_as(COUNTY_ADMIN, query)
    assert response.status_code == 422, response.text
