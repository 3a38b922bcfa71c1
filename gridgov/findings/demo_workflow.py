"""The demo's findings taken along the workflow, as their owners and the command centre would have.

Each finding was reported and dispatched by ``submit_findings`` at the moment it arrived. From there a
path of steps leads towards the outcome the demo drew for it (``OUTCOMES`` of the demo), as far as
today allows, each step checked by the workflow's own rules (``workflow.step``) and timed in working hours against
the county's deadlines: most are accepted and resolved in time, some late, some still open and overdue
today. Overdue steps climb the ladder as the scheduler would have made them (one escalation per rung
and interval). The events are stored in bulk and the findings' standing follows them, so the demo's
KPIs are computed from events like any county's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from gridgov.audit.service import record_many
from gridgov.findings import routing
from gridgov.findings.intake import SYSTEM, iso
from gridgov.findings.models import Finding, FindingEvent
from gridgov.findings.workflow import CLOSED, Action, Capacity, State, step
from gridgov.findings.worktime import WorkCalendar
from gridgov.people.principal import Principal
from gridgov.storage import bulk

SUPERVISOR = "supervisor"  # the demo's county command centre account (gridgov.people.demo)
PATHS: dict[str, tuple[Action, ...]] = {
    "reported": (),  # dispatched on arrival: nobody has taken it up yet
    "dispatched": (),
    "accepted": (Action.ACCEPT,),
    "in_progress": (Action.ACCEPT, Action.START),
    "resolved": (Action.ACCEPT, Action.START, Action.RESOLVE),
    "verified": (Action.ACCEPT, Action.START, Action.RESOLVE, Action.VERIFY),
    "rejected": (Action.REJECT,),
}
REOPENED_PATH = (Action.ACCEPT, Action.START, Action.RESOLVE, Action.REOPEN, Action.START, Action.RESOLVE,
                 Action.VERIFY)
NOTES = {Action.REJECT: "经核实不属于问题 / not a problem on inspection",
         Action.REOPEN: "复核未通过：现场仍有问题 / still there on inspection",
         Action.RESOLVE: "已处理完毕 / dealt with"}


@dataclass
class _Walk:
    """One finding's simulated history: its events and its standing after them."""

    finding: Finding
    events: list[dict] = field(default_factory=list)
    state: State = State.DISPATCHED
    accept_due: datetime | None = None
    resolve_due: datetime | None = None
    escalated_to: str | None = None
    closed_at: datetime | None = None


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def advance(*, session: Session, principal: Principal, findings: Iterable[Finding], targets: dict[str, str],
            now: datetime, rng: np.random.Generator, calendar: WorkCalendar | None = None) -> dict[str, int]:
    """Walk each finding towards ``targets[finding.id]`` (a status) without passing ``now``; store the
    events and standing, audited as one record per finding walked. Returns counts per final status."""
    calendar = calendar or WorkCalendar.from_settings()
    table = routing.deadline_table(session, principal.county_code)
    chiefs = routing.chiefs_in_office(session, principal.county_code, now.date())
    walks = [_walk(f, targets[f.id], now, rng, calendar, table, chiefs) for f in findings]
    walks = [w for w in walks if w.events]
    bulk.insert_rows(session, FindingEvent.__table__, [e for w in walks for e in w.events])
    rows = [{"b_county": w.finding.county_code, "b_id": w.finding.id, "status": w.state.value,
             "version": w.events[-1]["seq"], "accept_due": w.accept_due, "resolve_due": w.resolve_due,
             "escalated_to": w.escalated_to, "closed_at": w.closed_at} for w in walks]
    if rows:
        session.connection().execute(
            update(Finding.__table__).where(Finding.__table__.c.county_code == bindparam("b_county"),
                                            Finding.__table__.c.id == bindparam("b_id")), rows)
    record_many(session=session, principal=principal, action="seed_demo_workflow", object_type="finding",
                changes=[(w.finding.id, w.finding.grid_code, None,
                          {"status": w.state.value, "events": len(w.events), "synthetic": True}) for w in walks])
    counts: dict[str, int] = {}
    for w in walks:
        counts[w.state.value] = counts.get(w.state.value, 0) + 1
    return counts


def _walk(finding: Finding, target: str, now: datetime, rng: np.random.Generator, calendar: WorkCalendar,
          table, chiefs) -> _Walk:
    rules = routing.deadlines_for(table, category=finding.category_code, severity=finding.severity)
    walk = _Walk(finding=finding, accept_due=_utc(finding.accept_due))
    path = PATHS[target] if not (target == "verified" and rng.random() < 0.08) else REOPENED_PATH
    at = _utc(finding.received_at)
    seq = finding.version
    owner = f"{finding.owner_person}".lower() if finding.owner_person else SUPERVISOR
    for action in path:
        at = _next_moment(action, at, walk, rules, rng, calendar)
        if at > now:
            break
        seq = _escalations(walk, until=at, seq=seq, rules=rules, calendar=calendar, chiefs=chiefs)
        actor, capacity = ((SUPERVISOR, Capacity.SUPERVISOR) if action in (Action.VERIFY, Action.REOPEN,
                                                                            Action.REJECT) else (owner, Capacity.OWNER))
        before = walk.state
        walk.state = step(before, action, [capacity], reason=NOTES.get(action))
        seq += 1
        data = {}
        if action in (Action.ACCEPT, Action.REOPEN):
            walk.resolve_due = calendar.add_working_days(at, rules.resolve_days)
            data["resolve_due"] = iso(walk.resolve_due)
        if walk.state in CLOSED:
            walk.closed_at = at
        walk.events.append({"county_code": finding.county_code, "finding_id": finding.id, "seq": seq, "at": at,
                            "actor": actor, "capacity": capacity.value, "action": action.value,
                            "from_state": before.value, "to_state": walk.state.value, "note": NOTES.get(action),
                            "owner_level": None, "owner_unit": None, "owner_person": None, "photos": None,
                            "data": data or None})
    _escalations(walk, until=now, seq=seq, rules=rules, calendar=calendar, chiefs=chiefs)
    return walk


def _next_moment(action: Action, at: datetime, walk: _Walk, rules, rng: np.random.Generator,
                 calendar: WorkCalendar) -> datetime:
    """When the next step happens: mostly within its deadline, sometimes late (working hours)."""
    if action == Action.ACCEPT:
        hours = rules.accept_hours * (rng.uniform(1.05, 1.8) if rng.random() < 0.08 else rng.uniform(0.05, 0.9))
    elif action == Action.RESOLVE:
        budget = rules.resolve_days * 7.0  # working hours of the default working day
        hours = budget * (rng.uniform(1.02, 1.3) if rng.random() < 0.08 else rng.uniform(0.1, 0.9))
    elif action in (Action.VERIFY, Action.REOPEN):
        hours = rng.uniform(1.0, 14.0)
    elif action == Action.REJECT:
        hours = rng.uniform(0.2, 6.0)
    else:  # start: soon after accepting
        hours = rng.uniform(0.1, 2.0)
    return calendar.add_working_hours(at + timedelta(seconds=1), hours)


def _escalations(walk: _Walk, *, until: datetime, seq: int, rules, calendar: WorkCalendar, chiefs) -> int:
    """Escalation events for a step overdue before ``until``, as the scheduler would have made them."""
    finding = walk.finding
    if walk.state == State.DISPATCHED:
        due, overdue = walk.accept_due, "accept"
    elif walk.state in (State.ACCEPTED, State.IN_PROGRESS, State.REOPENED):
        due, overdue = walk.resolve_due, "resolve"
    else:
        return seq
    units = {"village": finding.village_code, "town": finding.town_code, "county": finding.county_code}
    while due is not None:
        current = walk.escalated_to or finding.owner_level
        rung = routing.next_rung(current) if current else None
        if rung is None:
            break
        taken = 0 if walk.escalated_to is None else (routing.LADDER.index(walk.escalated_to)
                                                     - routing.LADDER.index(finding.owner_level))
        when = calendar.add_working_hours(due, rules.escalate_hours * taken) if taken else due
        if when >= until:
            break
        seq += 1
        walk.escalated_to = rung
        walk.events.append({"county_code": finding.county_code, "finding_id": finding.id, "seq": seq,
                            "at": when, "actor": SYSTEM, "capacity": Capacity.SYSTEM.value,
                            "action": Action.ESCALATE.value, "from_state": walk.state.value, "to_state": None,
                            "note": None, "owner_level": rung, "owner_unit": units[rung],
                            "owner_person": chiefs.get((units[rung], finding.domain)), "photos": None,
                            "data": {"overdue": overdue, "due": iso(due)}})
    return seq
