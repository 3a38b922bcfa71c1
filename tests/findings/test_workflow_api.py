"""The findings workflow through the API (SQLite and PostGIS): routing on report, each step by the right
person, refusals with the right status, stale steps, deadlines in working time, inbox and overdue lists,
escalation up the ladder, and the notifications each step owes."""

from __future__ import annotations

import io
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from gridgov.findings.escalation import tick
from gridgov.findings.models import Finding, FindingEvent
from gridgov.findings.worktime import WorkCalendar
from gridgov.main import create_app
from gridgov.notifications.models import Notification
from gridgov.storage.db import get_engine, transaction
from tests.conftest import bearer
from tests.databases import app_url
from tests.factories_geo import COUNTY, TOWNS, VILLAGES, lattice
from tests.findings.test_findings_api import copy_of, template  # noqa: F401 (the fixture)

V1, V2, V3 = VILLAGES
FIELD_CHIEF, RIVER_CHIEF = "zt" + V2, "zh" + COUNTY  # usernames: village field chief of V2, county river chief
CALENDAR = WorkCalendar.from_settings()


@pytest.fixture
def county(template, tmp_path) -> str:  # noqa: F811
    return copy_of(template, tmp_path)


def client(county: str, username: str) -> TestClient:
    return TestClient(create_app(app_url(county)), headers=bearer(county, username))


def report(api: TestClient, point, category: str, severity: str = "medium") -> dict:
    body = {"id": str(uuid.uuid4()), "category_code": category, "severity": severity, "lon": point[0],
            "lat": point[1], "observed_at": datetime.now(UTC).isoformat()}
    response = api.post("/api/v1/findings", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def take(api: TestClient, finding: dict | str, action: str, **fields):
    finding_id = finding if isinstance(finding, str) else finding["id"]
    return api.post(f"/api/v1/findings/{finding_id}/steps", json={"action": action, **fields})


def notifications(url: str, finding_id: str) -> list[tuple[str, str]]:
    with transaction(get_engine(url)) as session:
        return [(n.kind, n.recipient) for n in session.scalars(
            select(Notification).where(Notification.subject_id == finding_id).order_by(Notification.created_at,
                                                                                      Notification.kind))]


IN_V2 = lattice(0.5, 2.5)  # field, village V2 (town T0): a village field chief answers
IN_V1 = lattice(0.5, 0.5)  # village V1 (town T0): no village or town river chief, the county's does
IN_V3 = lattice(2.5, 0.5)  # village V3 (town T1): no forest chief anywhere up the ladder


# --- routing on report -------------------------------------------------------------------------------------

def test_a_report_is_dispatched_at_once_to_the_chief_the_rules_and_the_place_give(county):
    with client(county, "admin") as api:
        field = report(api, IN_V2, "field_abandonment")
        river = report(api, IN_V1, "river_garbage")
        forest = report(api, IN_V3, "forest_pests")
    assert (field["status"], field["owner_level"], field["owner_person"]) == ("dispatched", "village", "ZT" + V2)
    assert (river["owner_level"], river["owner_person"]) == ("county", "ZH" + COUNTY)  # up the ladder
    # 属地兜底: no forest chief over V3 at any level, so the grid's officer answers for it.
    assert (forest["owner_level"], forest["owner_unit"], forest["owner_person"]) == ("village", V3, "W4309210002")
    assert field["version"] == 2
    received = datetime.fromisoformat(field["received_at"])
    assert datetime.fromisoformat(field["accept_due"]) == CALENDAR.add_working_hours(received, 8.0)
    assert notifications(county, field["id"]) == [("dispatched", "ZT" + V2)]


# --- the steps ----------------------------------------------------------------------------------------------

def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (40, 120, 60)).save(out, "JPEG")
    return out.getvalue()


def test_the_whole_way_from_report_to_verified_by_the_right_people(county):
    with client(county, "admin") as admin, client(county, FIELD_CHIEF) as chief, \
            client(county, "supervisor") as supervisor:
        finding = report(admin, IN_V2, "field_abandonment")
        assert take(chief, finding, "accept").status_code == 201
        assert take(chief, finding, "start").status_code == 201
        photo = chief.post(f"/api/v1/findings/{finding['id']}/photos", content=jpeg(),
                           headers={"Content-Type": "image/jpeg"})
        assert photo.status_code == 201, photo.text
        resolved = take(chief, finding, "resolve", note="已复耕", photos=[photo.json()["sha256"]])
        assert resolved.status_code == 201, resolved.text
        assert resolved.json()["finding"]["status"] == "resolved"
        assert notifications(county, finding["id"])[-1] == ("resolved", "admin")  # the reporter may verify
        verified = take(supervisor, finding, "verify", version=resolved.json()["finding"]["version"])
        assert verified.status_code == 201, verified.text
        timeline = admin.get(f"/api/v1/findings/{finding['id']}/timeline").json()
    assert [(e["action"], e["to_state"]) for e in timeline["events"]] == [
        ("report", "reported"), ("dispatch", "dispatched"), ("accept", "accepted"), ("start", "in_progress"),
        ("resolve", "resolved"), ("verify", "verified")]
    assert [e["seq"] for e in timeline["events"]] == [1, 2, 3, 4, 5, 6]
    assert timeline["events"][4]["photos"] == [photo.json()["sha256"]]
    assert timeline["events"][5]["actor"] == "supervisor"
    assert timeline["finding"]["status"] == "verified" and timeline["finding"]["closed_at"] is not None
    assert timeline["allowed"] == []


def test_an_illegal_step_is_409_listing_what_is_allowed_and_changes_nothing(county):
    with client(county, "admin") as admin, client(county, FIELD_CHIEF) as chief:
        finding = report(admin, IN_V2, "field_abandonment")
        refused = take(chief, finding, "resolve")
        again = admin.get(f"/api/v1/findings/{finding['id']}/timeline").json()
    assert refused.status_code == 409
    assert refused.json()["code"] == "illegal_transition"
    assert refused.json()["details"] == [{"allowed": ["accept", "return"], "state": "dispatched"}]
    assert len(again["events"]) == 2 and again["finding"]["version"] == 2


def test_the_wrong_person_is_403_and_outside_the_jurisdiction_is_404(county):
    with client(county, "admin") as admin, client(county, RIVER_CHIEF) as river_chief, \
            client(county, "w4309210003") as officer_elsewhere:
        finding = report(admin, IN_V2, "field_abandonment")
        assert take(admin, finding, "accept").status_code == 403  # a supervisor, not its owner
        assert take(admin, finding, "accept").json()["code"] == "not_your_step"
        assert take(river_chief, finding, "accept").status_code == 404  # a river chief does not see fields
        assert take(officer_elsewhere, finding, "accept").status_code == 404


def test_a_reason_is_required_to_return_and_to_reject(county):
    with client(county, "admin") as admin, client(county, FIELD_CHIEF) as chief:
        finding = report(admin, IN_V2, "field_abandonment")
        missing = take(chief, finding, "return")
        assert missing.status_code == 422 and missing.json()["code"] == "reason_required"
        returned = take(chief, finding, "return", reason="这块地归邻村管")
        assert returned.status_code == 201 and returned.json()["finding"]["owner_person"] is None
        assert take(admin, finding, "reject").status_code == 422
        redispatched = take(admin, finding, "dispatch", owner_level="village")
        assert redispatched.json()["finding"]["status"] == "dispatched"


def test_a_stale_step_is_409_and_of_two_simultaneous_steps_one_wins(county):
    with client(county, "admin") as admin, client(county, FIELD_CHIEF) as chief:
        finding = report(admin, IN_V2, "field_abandonment")
        stale = take(chief, finding, "accept", version=1)
        assert stale.status_code == 409 and stale.json()["code"] == "stale_transition"
    clients = [client(county, FIELD_CHIEF) for _ in range(4)]
    gate = threading.Barrier(len(clients), timeout=30)

    def accept(c):
        with c:
            gate.wait()
            return take(c, finding, "accept").status_code

    with ThreadPoolExecutor(len(clients)) as pool:
        codes = sorted(pool.map(accept, clients))
    assert codes.count(201) == 1 and set(codes) <= {201, 409}
    with transaction(get_engine(county)) as session:
        accepts = session.scalar(select(func.count()).select_from(FindingEvent).where(
            FindingEvent.finding_id == finding["id"], FindingEvent.action == "accept"))
    assert accepts == 1


def test_rerouting_needs_a_reason_and_a_person_who_answers_for_the_place(county):
    with client(county, "admin") as admin:
        finding = report(admin, IN_V2, "field_abandonment")
        assert take(admin, finding, "reroute", owner_person="W4309210001").status_code == 422  # no reason
        nobody = take(admin, finding, "reroute", owner_person="ZH" + COUNTY, reason="转县级")
        assert nobody.status_code == 422 and nobody.json()["code"] == "invalid_owner"  # a river chief
        moved = take(admin, finding, "reroute", owner_person="W4309210001", reason="网格员先处理")
    assert moved.status_code == 201, moved.text
    assert moved.json()["finding"]["owner_person"] == "W4309210001"
    assert notifications(county, finding["id"])[-1] == ("dispatched", "W4309210001")


def test_suspended_time_does_not_count_towards_the_deadline(county):
    with client(county, "admin") as admin, client(county, FIELD_CHIEF) as chief:
        finding = report(admin, IN_V2, "field_abandonment")
        accepted = take(chief, finding, "accept").json()["finding"]
        suspended = take(chief, finding, "suspend", reason="等待土地确权").json()
        resumed = take(chief, finding, "resume").json()
    left = suspended["events"][-1]["data"]["working_seconds_left"]
    due_before = datetime.fromisoformat(accepted["resolve_due"])
    suspended_at = datetime.fromisoformat(suspended["events"][-1]["at"])
    resumed_at = datetime.fromisoformat(resumed["events"][-1]["at"])
    assert left == pytest.approx(CALENDAR.working_seconds_between(suspended_at, due_before), abs=1e-3)
    assert datetime.fromisoformat(resumed["finding"]["resolve_due"]) == CALENDAR.add_working_seconds(resumed_at, left)


# --- my work -------------------------------------------------------------------------------------------------

def test_the_inbox_holds_what_waits_on_me_earliest_deadline_first_and_the_overdue_list_what_is_late(county):
    with client(county, "admin") as admin, client(county, FIELD_CHIEF) as chief:
        slow = report(admin, IN_V2, "field_abandonment", severity="low")  # 16 working hours to accept
        serious = report(admin, IN_V2, "field_abandonment", severity="high")  # routed above the village
        urgent = report(admin, IN_V2, "field_straw_burning")  # 1 working hour
        mine = chief.get("/api/v1/inbox").json()
        with transaction(get_engine(county)) as session:  # make one overdue, as time would
            session.get(Finding, (COUNTY, slow["id"])).accept_due = datetime.now(UTC) - timedelta(hours=1)
            from tests.audit_guard import log_setup
            log_setup(session, county_code=COUNTY, object_type="finding", object_id=slow["id"])
        late = admin.get("/api/v1/overdue").json()
    assert [f["id"] for f in mine["items"]] == [urgent["id"], slow["id"]]
    assert serious["owner_person"] != "ZT" + V2
    assert [f["id"] for f in late["items"]] == [slow["id"]]


# --- escalation ----------------------------------------------------------------------------------------------

def test_an_unaccepted_finding_climbs_village_town_county_once_per_step_however_often_tick_runs(county):
    with client(county, "admin") as admin:
        finding = report(admin, IN_V2, "field_abandonment")
    due = datetime.fromisoformat(finding["accept_due"])
    engine = get_engine(county)

    def run(at: datetime) -> int:
        with transaction(engine) as session:
            return len(tick(session=session, now=at))

    before_due = due - timedelta(minutes=1)
    first = due + timedelta(minutes=1)
    second = CALENDAR.add_working_hours(due, 8.0) + timedelta(minutes=1)  # one escalation interval later
    assert run(before_due) == 0
    assert [run(first), run(first), run(first)] == [1, 0, 0]
    with ThreadPoolExecutor(4) as pool:  # concurrent runs: still one escalation per rung
        assert sorted(pool.map(run, [second] * 4)) == [0, 0, 0, 1]
    assert run(second + timedelta(days=30)) == 0  # the county is the top of the ladder
    with transaction(engine) as session:
        rungs = session.scalars(select(FindingEvent.owner_level).where(
            FindingEvent.finding_id == finding["id"], FindingEvent.action == "escalate")
            .order_by(FindingEvent.seq)).all()
        escalated_to = session.get(Finding, (COUNTY, finding["id"])).escalated_to
    assert rungs == ["town", "county"] and escalated_to == "county"
    escalations = [n for n in notifications(county, finding["id"]) if n[0] == "escalated"]
    assert escalations == [("escalated", TOWNS[0]), ("escalated", COUNTY)]  # no field chief up there: the queue


# --- the county's rules ---------------------------------------------------------------------------------------

def test_a_rule_for_a_category_the_county_lacks_or_of_another_domain_is_refused(county):
    with client(county, "admin") as admin:
        unknown = admin.put("/api/v1/routing-rules/river/river_no_such/*", json={"level": "town"})
        crossed = admin.put("/api/v1/routing-rules/river/forest_pests/*", json={"level": "town"})
        no_deadline = admin.put("/api/v1/deadline-rules/river_no_such/high",
                                json={"accept_hours": 2, "resolve_days": 1, "escalate_hours": 2})
        moved = admin.put("/api/v1/routing-rules/field/field_abandonment/medium", json={"level": "town"})
        rules = admin.get("/api/v1/routing-rules").json()
        finding = report(admin, IN_V2, "field_abandonment")
    assert [r.status_code for r in (unknown, crossed, no_deadline)] == [400, 400, 400]
    assert "no finding category 'river_no_such'" in unknown.json()["description"]
    assert "of the forest domain" in crossed.json()["description"]
    assert moved.status_code == 200
    assert {"domain": "field", "category_code": "field_abandonment", "severity": "medium", "level": "town"} in rules
    # Routed to the town by the new rule: no field chief there or above, so the grid's officer answers for it
    # (without the rule the village field chief would have it).
    assert (finding["owner_level"], finding["owner_person"]) == ("village", "W4309210001")
