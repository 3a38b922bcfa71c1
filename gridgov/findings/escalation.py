"""Escalation (追踪问效): an overdue step climbs the ladder village → town → county, one rung per escalation
interval, each rung an event and a notification to the chief of the finding's domain at that level.

``tick`` is what the scheduler inside the app runs every ``GRIDGOV_SCHEDULER_SECONDS`` and what
``gridgov tick`` runs from cron. It is safe to run as often and as concurrently as anyone likes: an
escalation is an event with the finding's next event number, and a unique index allows one escalation
per finding and level, so a second run (or a simultaneous one) finds the rung taken and does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from gridgov.audit.service import record_many
from gridgov.findings import flows, routing
from gridgov.findings.intake import SYSTEM, iso
from gridgov.findings.models import Finding, FindingEvent
from gridgov.findings.workflow import Action, Capacity, State
from gridgov.findings.worktime import WorkCalendar
from gridgov.grids.scope import Jurisdiction
from gridgov.people.models import Role
from gridgov.people.principal import Principal
from gridgov.storage.db import insert_new

WORKING_STATES = (State.ACCEPTED.value, State.IN_PROGRESS.value, State.REOPENED.value)


@dataclass(frozen=True)
class Escalated:
    finding_id: str
    county_code: str
    level: str
    overdue: str  # "accept" or "resolve"


def scheduler_principal(county_code: str) -> Principal:
    """The scheduler as the actor of the audit records of its escalations."""
    return Principal(county_code=county_code, username=SYSTEM, roles=frozenset({Role.ADMIN}),
                     jurisdiction=Jurisdiction(county_code=county_code, county_wide=True), via="system")


def _rungs_taken(owner_level: str | None, escalated_to: str | None) -> int:
    if owner_level is None or escalated_to is None:
        return 0
    return max(routing.LADDER.index(escalated_to) - routing.LADDER.index(owner_level), 0)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def tick(*, session: Session, now: datetime | None = None, calendar: WorkCalendar | None = None) -> list[Escalated]:
    """Escalate every finding whose current step is overdue by one more escalation interval (all counties
    the session sees: the scheduler runs as the owner). Returns what was escalated by this call."""
    now = now or datetime.now(UTC)
    calendar = calendar or WorkCalendar.from_settings()
    overdue = session.scalars(select(Finding).where(
        or_(and_(Finding.status == State.DISPATCHED.value, Finding.accept_due < now),
            and_(Finding.status.in_(WORKING_STATES), Finding.resolve_due < now)),
        # Findings already at the top of the ladder have nowhere to climb: not read every round.
        func.coalesce(Finding.escalated_to, Finding.owner_level) != routing.LADDER[-1],
    ).order_by(Finding.county_code, Finding.id)).all()
    done: list[Escalated] = []
    for finding in overdue:
        escalated = _escalate(session, finding, now, calendar)
        if escalated is not None:
            done.append(escalated)
    for county in sorted({e.county_code for e in done}):
        record_many(session=session, principal=scheduler_principal(county), action="escalate", object_type="finding",
                    changes=[(e.finding_id, None, None, {"level": e.level, "overdue": e.overdue})
                             for e in done if e.county_code == county])
    return done


def _escalate(session: Session, finding: Finding, now: datetime, calendar: WorkCalendar) -> Escalated | None:
    current = finding.escalated_to or finding.owner_level
    rung = routing.next_rung(current) if current else None
    if rung is None:
        return None  # at the top of the ladder: the county knows already
    accepting = finding.status == State.DISPATCHED.value
    due = _utc(finding.accept_due if accepting else finding.resolve_due)
    rules = routing.deadlines_for(routing.deadline_table(session, finding.county_code),
                                  category=finding.category_code, severity=finding.severity)
    taken = _rungs_taken(finding.owner_level, finding.escalated_to)
    if taken and calendar.add_working_hours(due, rules.escalate_hours * taken) > now:
        return None  # escalated already; the next rung waits one more interval
    units = {"village": finding.village_code, "town": finding.town_code, "county": finding.county_code}
    chief = routing.chiefs_in_office(session, finding.county_code, now.date()).get((units[rung], finding.domain))
    step = "accept" if accepting else "resolve"
    event = {"county_code": finding.county_code, "finding_id": finding.id, "seq": finding.version + 1, "at": now,
             "actor": SYSTEM, "capacity": Capacity.SYSTEM.value, "action": Action.ESCALATE.value,
             "from_state": finding.status, "to_state": None, "note": None, "owner_level": rung,
             "owner_unit": units[rung], "owner_person": chief, "photos": None,
             "data": {"overdue": step, "due": iso(due)}}
    if not insert_new(session, FindingEvent, [event]):
        return None  # another run took this rung, or the finding moved on meanwhile
    session.execute(update(Finding).where(Finding.county_code == finding.county_code, Finding.id == finding.id,
                                          Finding.version == finding.version)
                    .values(version=finding.version + 1, escalated_to=rung)
                    .execution_options(synchronize_session=False))
    flows.store(session=session, notices=[flows.notice(
        county_code=finding.county_code, kind="escalated", finding=finding, recipient=chief or units[rung], now=now,
        extra={"level": rung, "overdue": step, "due": iso(due), "owner_person": finding.owner_person})])
    return Escalated(finding_id=finding.id, county_code=finding.county_code, level=rung, overdue=step)
