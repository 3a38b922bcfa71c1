"""Random work on real findings (SQLite and PostGIS): random steps by random people through the service.
Whatever is tried, a finding only ever moves as the rules allow, its row mirrors its last event, and the
KPIs computed from the database equal a plain recount of its events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from gridgov.errors import GridGovError
from gridgov.findings import steps
from gridgov.findings.kpi_service import kpi_table
from gridgov.findings.models import Finding, FindingEvent
from gridgov.findings.schemas import FindingIn
from gridgov.findings.service import submit_findings
from gridgov.findings.workflow import CLOSED, STEP_OF, Action, State
from gridgov.people.auth import resolve_principal
from gridgov.people.models import User
from gridgov.storage.db import get_engine, transaction
from tests.factories_geo import COUNTY, VILLAGES, lattice
from tests.findings.test_findings_api import copy_of, template  # noqa: F401 (the fixture)

PEOPLE = ("admin", "supervisor", "zt" + VILLAGES[1], "w4309210002", "zh" + COUNTY)
ACTIONS = [a for a in Action if a not in (Action.REPORT, Action.ESCALATE)]
START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # a Monday, 09:00 in Nan County


def principal(session, username):
    user = session.scalars(select(User).where(User.username == username)).one()
    return resolve_principal(session=session, user=user, on=START.date())


attempts = st.lists(st.tuples(st.integers(0, 2), st.sampled_from(ACTIONS), st.sampled_from(PEOPLE),
                              st.sampled_from([None, "现场核实"])), min_size=1, max_size=25)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(attempts)
def test_random_steps_by_random_people_keep_to_the_rules_and_the_kpis_recount(template, tmp_path_factory,  # noqa: F811
                                                                                 tries):
    url = copy_of(template, tmp_path_factory.mktemp("walk"))
    engine = get_engine(url)
    with transaction(engine) as session:
        reporter = principal(session, "admin")
        items = [FindingIn(id=uuid.uuid4(), category_code=category, lon=point[0], lat=point[1],
                           observed_at=START - timedelta(hours=1))
                 for category, point in (("field_abandonment", lattice(0.5, 2.5)),
                                         ("river_garbage", lattice(0.5, 0.5)),
                                         ("field_straw_burning", lattice(0.6, 2.6)))]
        ids = [f.id for f in submit_findings(session=session, principal=reporter, items=items, now=START).findings]
    moment = START
    for index, action, username, reason in tries:
        moment += timedelta(minutes=37)
        try:
            with transaction(engine) as session:
                steps.take_step(session=session, principal=principal(session, username), finding_id=ids[index],
                                request=steps.StepIn(action=action, reason=reason, owner_level="village"),
                                now=moment)
        except GridGovError:
            pass  # refused, and (asserted below) nothing of it was stored
    with transaction(engine) as session:
        events = session.scalars(select(FindingEvent).where(FindingEvent.county_code == COUNTY)
                                 .order_by(FindingEvent.finding_id, FindingEvent.seq)).all()
        findings = {f.id: f for f in session.scalars(select(Finding).where(Finding.county_code == COUNTY))}
        table = kpi_table(session=session, principal=principal(session, "admin"), since=START - timedelta(days=1),
                          until=moment + timedelta(days=1), group_by="county", now=moment)
    by_finding: dict[str, list[FindingEvent]] = {}
    for event in events:
        by_finding.setdefault(event.finding_id, []).append(event)
    for finding_id, stream in by_finding.items():
        assert [e.seq for e in stream] == list(range(1, len(stream) + 1))
        assert stream[0].action == "report"
        state = None
        for event in stream[1:]:
            rule = STEP_OF[Action(event.action)]
            assert State(event.from_state) in rule.sources, (event.action, event.from_state)
            assert state is None or state not in CLOSED
            assert event.capacity in rule.by
            state = State(event.to_state) if event.to_state else State(event.from_state)
        assert findings[finding_id].status == state.value and findings[finding_id].version == len(stream)
    # The KPIs from the database, against a recount by hand from the same events.
    row = table.iloc[0]
    closed = sum(1 for stream in by_finding.values() if any(e.action in ("verify", "reject") for e in stream))
    assert row["registered"] == len(ids) == len(by_finding)
    assert row["closed"] == closed
    assert row["completion_rate"] == closed / len(ids)
    assert row["verified"] == sum(1 for s in by_finding.values() if any(e.action == "verify" for e in s))
    assert row["reopened"] == sum(1 for s in by_finding.values() if any(e.action == "reopen" for e in s))
    assert row["resolved_ever"] == sum(1 for s in by_finding.values() if any(e.action == "resolve" for e in s))
    engine.dispose()
