"""Taking findings through the workflow: the report and its automatic dispatch, each later step, the
timeline, and the lists of work waiting on someone.

The rules are ``gridgov.findings.workflow``; this module works out in which capacity the caller acts,
applies a step as one event plus the finding's new standing (in the caller's transaction, with its
notifications and audit record), and keeps deadlines in working time (``gridgov.findings.worktime``).

A step names the version it was taken on (the finding's latest event number, from the timeline or the
inbox): if the finding moved on meanwhile, the step is stale and answers 409 instead of acting on a
state its taker never saw. Without a version, the database still lets only one of two simultaneous
steps through: both ask for the same next event number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.orm import Session

from gridgov.audit.service import record
from gridgov.errors import Conflict, Forbidden, GridGovError, NotFound
from gridgov.findings import flows, routing
from gridgov.findings.intake import iso
from gridgov.findings.models import Finding, FindingEvent, FindingPhoto
from gridgov.findings.service import get_finding, visible
from gridgov.findings.workflow import (
    CLOSED,
    STEP_OF,
    Action,
    Capacity,
    ReasonMissing,
    State,
    StepRefused,
    allowed_actions,
    step,
)
from gridgov.findings.worktime import WorkCalendar
from gridgov.people.models import Role
from gridgov.people.principal import Principal
from gridgov.storage.db import insert_new


class IllegalStep(Conflict):
    """409: the step is not allowed from the finding's state (or not in the caller's capacity)."""

    code = "illegal_transition"


class NotYourStep(Forbidden):
    """403: the step exists from this state, but is for someone else (the owner, a supervisor, …)."""

    code = "not_your_step"


class BadOwner(GridGovError):
    """422: the person named to own a finding answers for nothing over its place."""

    status = 422
    code = "invalid_owner"


class StaleStep(Conflict):
    """409: the finding moved on since the version the step was taken on."""

    code = "stale_transition"


class NeedsReason(GridGovError):
    status = 422
    code = "reason_required"


@dataclass(frozen=True)
class StepIn:
    """A step as a caller asks for it."""

    action: Action
    note: str | None = None
    reason: str | None = None
    photos: Sequence[str] = field(default_factory=tuple)
    version: int | None = None
    owner_person: str | None = None  # dispatch or reroute to this person (else routed by the rules)
    owner_level: str | None = None


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _units(finding) -> dict[str, str]:
    return {"village": finding.village_code, "town": finding.town_code, "county": finding.county_code}


def capacities(principal: Principal, finding: Finding, *, last_resolver: str | None = None) -> set[Capacity]:
    """The capacities ``principal`` holds for ``finding`` (they must already see it).

    The owner is the person it waits on. A supervisor or administrator acts over every finding in their
    jurisdiction. The reporter may verify or reopen what they reported — but nobody verifies their own
    resolution: whoever resolved it holds no verifying capacity for it.
    """
    held: set[Capacity] = set()
    if principal.person_code is not None and principal.person_code == finding.owner_person:
        held.add(Capacity.OWNER)
    if principal.has(Role.SUPERVISOR, Role.ADMIN) and principal.jurisdiction.sees_unit(finding.micro_grid_code):
        held.add(Capacity.SUPERVISOR)
    if principal.username == finding.reporter:
        held.add(Capacity.REPORTER)
    if last_resolver is not None and last_resolver == principal.username:
        held -= {Capacity.SUPERVISOR, Capacity.REPORTER}
    return held


# --- later steps ---------------------------------------------------------------------------------------

def _last_resolver(session: Session, finding: Finding) -> str | None:
    return session.scalar(
        select(FindingEvent.actor).where(FindingEvent.county_code == finding.county_code,
                                         FindingEvent.finding_id == finding.id,
                                         FindingEvent.action == Action.RESOLVE.value)
        .order_by(FindingEvent.seq.desc()).limit(1))


def _check_photos(session: Session, finding: Finding, photos: Sequence[str]) -> list[str]:
    """The photos named must already be attached to the finding (POST /findings/{id}/photos)."""
    if not photos:
        return []
    have = set(session.scalars(select(FindingPhoto.sha256).where(
        FindingPhoto.county_code == finding.county_code, FindingPhoto.finding_id == finding.id,
        FindingPhoto.sha256.in_(list(photos)))))
    missing = [p for p in photos if p not in have]
    if missing:
        raise NotFound(f"Finding {finding.id} has no photo {missing[0]}; upload it first "
                       f"(POST /api/v1/findings/{finding.id}/photos).")
    return list(dict.fromkeys(photos))


def take_step(*, session: Session, principal: Principal, finding_id: str, request: StepIn,
              now: datetime | None = None, calendar: WorkCalendar | None = None) -> tuple[Finding, FindingEvent]:
    """Apply one step to a finding the caller sees: 404 if they do not, 409 if the rules or the version
    refuse it (the message lists what is allowed now), 422 if a needed reason is missing."""
    now = now or datetime.now(UTC)
    calendar = calendar or WorkCalendar.from_settings()
    finding = get_finding(session=session, principal=principal, finding_id=finding_id)
    if request.version is not None and request.version != finding.version:
        raise StaleStep(f"Finding {finding_id} is at version {finding.version} ({finding.status}), not "
                        f"{request.version}: it moved on; reload it and decide again.")
    held = capacities(principal, finding, last_resolver=_last_resolver(session, finding))
    state = State(finding.status)
    try:
        target = step(state, request.action, held, reason=request.reason)
    except StepRefused as refused:
        if refused.not_yours:
            raise NotYourStep(f"{refused} (finding {finding_id} is {state.value}).",
                              details=[{"allowed": refused.allowed, "state": state.value}]) from None
        raise IllegalStep(f"{refused} (finding {finding_id} is {state.value}).",
                          details=[{"allowed": refused.allowed, "state": state.value}]) from None
    except ReasonMissing as missing:
        raise NeedsReason(f"{missing}: say why in 'reason'.") from None
    photos = _check_photos(session, finding, request.photos)
    changes, data, owner = _consequences(session, finding, request, target, now, calendar)
    event = {"county_code": finding.county_code, "finding_id": finding.id, "seq": finding.version + 1, "at": now,
             "actor": principal.username, "capacity": _acting_capacity(request.action, held).value,
             "action": request.action.value, "from_state": state.value, "to_state": target.value,
             "note": request.note or request.reason, "owner_level": owner and owner.level,
             "owner_unit": owner and owner.unit, "owner_person": owner and owner.person, "photos": photos or None,
             "data": data or None}
    if not insert_new(session, FindingEvent, [event]):
        raise StaleStep(f"Finding {finding_id} moved on while this step was taken; reload it and decide again.")
    moved = session.execute(
        update(Finding).where(Finding.county_code == finding.county_code, Finding.id == finding.id,
                              Finding.version == finding.version)
        .values(status=target.value, version=finding.version + 1, **changes)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        raise StaleStep(f"Finding {finding_id} moved on while this step was taken; reload it and decide again.")
    session.refresh(finding)
    flows.after_step(session=session, finding=finding, action=request.action, actor=principal.username, now=now)
    record(session=session, principal=principal, action=request.action.value, object_type="finding",
           object_id=finding.id, unit_code=finding.grid_code, before={"status": state.value},
           after={"status": target.value, "version": finding.version, **{k: v for k, v in data.items()}})
    stored = session.get(FindingEvent, (finding.county_code, finding.id, event["seq"]))
    return finding, stored


def _acting_capacity(action: Action, held: set[Capacity]) -> Capacity:
    """The capacity the event records: the first the step's rule accepts, in the order owner, supervisor,
    reporter."""
    for capacity in (Capacity.OWNER, Capacity.SUPERVISOR, Capacity.REPORTER, Capacity.SYSTEM):
        if capacity in held and capacity in STEP_OF[action].by:
            return capacity
    raise AssertionError("step() accepted a capacity the caller does not hold")


def _consequences(session: Session, finding: Finding, request: StepIn, target: State, now: datetime,
                  calendar: WorkCalendar) -> tuple[dict, dict, routing.Owner | None]:
    """What the step changes besides the state: owner, deadlines, the suspended clock, the closing time."""
    rules = routing.deadlines_for(routing.deadline_table(session, finding.county_code),
                                  category=finding.category_code, severity=finding.severity)
    action = request.action
    changes: dict = {}
    data: dict = {}
    owner = None
    if action in (Action.DISPATCH, Action.REROUTE):
        owner = _chosen_owner(session, finding, request, now)
        accept_due = calendar.add_working_hours(now, rules.accept_hours)
        changes.update(owner_level=owner.level, owner_unit=owner.unit, owner_person=owner.person,
                       accept_due=accept_due, resolve_due=None, resolve_left_s=None)
        data.update(accept_due=iso(accept_due), fallback=owner.fallback)
    elif action == Action.ACCEPT or action == Action.REOPEN:
        resolve_due = calendar.add_working_days(now, rules.resolve_days)
        changes.update(resolve_due=resolve_due)
        data.update(resolve_due=iso(resolve_due))
    elif action == Action.RETURN:
        changes.update(owner_person=None, accept_due=None, resolve_due=None)
    elif action == Action.SUSPEND:
        due = _utc(finding.resolve_due) or _utc(finding.accept_due)
        left = max(calendar.working_seconds_between(now, due), 0.0) if due and due > now else 0.0
        changes.update(resolve_left_s=left, resolve_due=None)
        data.update(working_seconds_left=left)
    elif action == Action.RESUME:
        left = finding.resolve_left_s or 0.0
        resolve_due = calendar.add_working_seconds(now, left)
        changes.update(resolve_due=resolve_due, resolve_left_s=None)
        data.update(resolve_due=iso(resolve_due))
    if target in CLOSED:
        changes.update(closed_at=now)
    return changes, data, owner


def _chosen_owner(session: Session, finding: Finding, request: StepIn, now: datetime) -> routing.Owner:
    """The person named by a supervisor (who must hold a chief post of the finding's domain over its place,
    or be its grid's officer), else the owner the routing rules give."""
    chiefs = routing.chiefs_in_office(session, finding.county_code, now.date())
    officers = routing.grid_officers(session, finding.county_code, now.date())
    units = _units(finding)
    if request.owner_person is None:
        level = request.owner_level or routing.routed_level(routing.routes(session, finding.county_code),
                                                            domain=finding.domain, category=finding.category_code,
                                                            severity=finding.severity)
        if level not in routing.LADDER:
            raise BadOwner(f"owner_level must be one of {', '.join(routing.LADDER)}, not {level!r}.")
        return routing.owner_for(level=level, domain=finding.domain, units=units, chiefs=chiefs,
                                 grid_officer=officers.get(finding.grid_code))
    for level in routing.LADDER:
        if chiefs.get((units[level], finding.domain)) == request.owner_person:
            return routing.Owner(level=level, unit=units[level], person=request.owner_person)
    if officers.get(finding.grid_code) == request.owner_person:
        return routing.Owner(level="village", unit=units["village"], person=request.owner_person)
    raise BadOwner(f"{request.owner_person} answers for no {finding.domain} post over finding {finding.id}'s "
                      f"place and is not its grid's officer; name one of its chiefs, or leave owner_person out "
                      f"to route it by the county's rules.")


# --- reading -------------------------------------------------------------------------------------------

def timeline(*, session: Session, principal: Principal, finding_id: str) -> tuple[Finding, list[FindingEvent]]:
    """A finding (that the caller sees) and every event of it, in order."""
    finding = get_finding(session=session, principal=principal, finding_id=finding_id)
    events = session.scalars(select(FindingEvent).where(
        FindingEvent.county_code == finding.county_code, FindingEvent.finding_id == finding.id)
        .order_by(FindingEvent.seq)).all()
    return finding, list(events)


def next_actions(*, session: Session, principal: Principal, finding: Finding) -> list[str]:
    """The actions the caller may take on ``finding`` now (for the pages' buttons)."""
    held = capacities(principal, finding, last_resolver=_last_resolver(session, finding))
    return [a.value for a in allowed_actions(State(finding.status), held)]


OPEN_VALUES = [s.value for s in State if s not in CLOSED]


def due_expression():
    return case((Finding.status == State.DISPATCHED.value, Finding.accept_due), else_=Finding.resolve_due)


def inbox(*, session: Session, principal: Principal, limit: int = 100, offset: int = 0) -> tuple[int, list[Finding]]:
    """Findings waiting on the caller — dispatched to them, or resolved and theirs to verify as reporter
    — earliest deadline first (those without one last)."""
    waiting_on_me = and_(Finding.owner_person == principal.person_code,
                         Finding.status.in_([s.value for s in (State.DISPATCHED, State.ACCEPTED, State.IN_PROGRESS,
                                                               State.REOPENED, State.SUSPENDED)]))
    to_verify = and_(Finding.reporter == principal.username, Finding.status == State.RESOLVED.value)
    conditions = [to_verify]
    if principal.person_code is not None:
        conditions.append(waiting_on_me)
    where = and_(visible(principal), or_(*conditions))
    due = due_expression()
    total = session.scalar(select(func.count()).select_from(Finding).where(where))
    rows = session.scalars(select(Finding).where(where).order_by(due.is_(None), due, Finding.id)
                           .limit(limit).offset(offset)).all()
    return total, list(rows)


def overdue(*, session: Session, principal: Principal, now: datetime | None = None, limit: int = 100,
            offset: int = 0) -> tuple[int, list[Finding]]:
    """Open findings of the caller's jurisdiction past their current deadline, most overdue first
    (supervisors' and chiefs' list for chasing: 追踪问效)."""
    now = now or datetime.now(UTC)
    due = due_expression()
    where = and_(visible(principal), Finding.status.in_(OPEN_VALUES), Finding.status != State.SUSPENDED.value,
                 Finding.status != State.RESOLVED.value, due < now)
    total = session.scalar(select(func.count()).select_from(Finding).where(where))
    rows = session.scalars(select(Finding).where(where).order_by(due, Finding.id).limit(limit).offset(offset)).all()
    return total, list(rows)
