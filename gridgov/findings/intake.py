"""A finding's first two events: its report, and its dispatch by the system to whoever the county's rules
say must act (分流), with the deadline for accepting it — at once, in the report's own transaction."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from gridgov.findings import flows, routing
from gridgov.findings.models import FindingEvent
from gridgov.findings.workflow import Action, Capacity, State
from gridgov.findings.worktime import WorkCalendar
from gridgov.people.principal import Principal
from gridgov.storage import bulk

SYSTEM = "system"


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def dispatch_new(*, session: Session, principal: Principal, rows: list[dict], now: datetime,
                 calendar: WorkCalendar | None = None) -> tuple[list[dict], list[dict]]:
    """Route the new findings ``rows`` (dicts about to be inserted) and set their standing: each gets its
    report event and a dispatch by the system to its owner, with the acceptance deadline; the rows are
    changed in place. Returns (event rows, notifications) to store with them."""
    if not rows:
        return [], []
    calendar = calendar or WorkCalendar.from_settings()
    county = principal.county_code
    routes = routing.routes(session, county)
    table = routing.deadline_table(session, county)
    chiefs = routing.chiefs_in_office(session, county, now.date())
    officers = routing.grid_officers(session, county, now.date())
    due_after: dict[float, datetime] = {}  # one batch shares its moment: few distinct deadlines to count
    events, notices = [], []
    for row in rows:
        level = routing.routed_level(routes, domain=row["domain"], category=row["category_code"],
                                     severity=row["severity"])
        rules = routing.deadlines_for(table, category=row["category_code"], severity=row["severity"])
        owner = routing.owner_for(level=level, domain=row["domain"], units=_units_of(row, county), chiefs=chiefs,
                                  grid_officer=officers.get(row["grid_code"]))
        if rules.accept_hours not in due_after:
            due_after[rules.accept_hours] = calendar.add_working_hours(now, rules.accept_hours)
        accept_due = due_after[rules.accept_hours]
        row.update(status=State.DISPATCHED.value, version=2, owner_level=owner.level, owner_unit=owner.unit,
                   owner_person=owner.person, accept_due=accept_due, resolve_due=None, resolve_left_s=None,
                   escalated_to=None, closed_at=None)
        base = {"county_code": county, "finding_id": row["id"], "at": now, "note": None, "photos": None}
        events.append({**base, "seq": 1, "actor": principal.username, "capacity": Capacity.REPORTER.value,
                       "action": Action.REPORT.value, "from_state": None, "to_state": State.REPORTED.value,
                       "owner_level": None, "owner_unit": None, "owner_person": None, "data": None})
        events.append({**base, "seq": 2, "actor": SYSTEM, "capacity": Capacity.SYSTEM.value,
                       "action": Action.DISPATCH.value, "from_state": State.REPORTED.value,
                       "to_state": State.DISPATCHED.value, "owner_level": owner.level, "owner_unit": owner.unit,
                       "owner_person": owner.person,
                       "data": {"accept_due": iso(accept_due), "routed_level": level, "fallback": owner.fallback}})
        notices.append(flows.notice(county_code=county, kind="dispatched", finding=row, recipient=owner.person
                                    or owner.unit, now=now, extra={"accept_due": iso(accept_due)}))
    return events, notices


def _units_of(row: dict, county: str) -> dict[str, str]:
    return {"village": row["village_code"], "town": row["town_code"], "county": county}


def store_first_events(*, session: Session, events: list[dict], notices: list[dict]) -> None:
    """Store the events and notifications of newly reported findings (bulk, COPY when many)."""
    bulk.insert_rows(session, FindingEvent.__table__, events)
    flows.store(session=session, notices=notices)


