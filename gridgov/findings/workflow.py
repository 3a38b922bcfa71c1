"""The findings workflow as data: states, the steps between them and who may take each (pure, no database).

"全时段在线分流、在线确认、追踪问效": a finding is dispatched to whoever must act, confirmed by them, and
tracked until it is verified solved. Every step is an event; the state of a finding is where its events
lead (``replay``), and ``step`` is the one place that says whether a step is allowed.

    reported ─dispatch→ dispatched ─accept→ accepted ─start→ in_progress ─resolve→ resolved ─verify→ verified
                          │  ↑ reroute        │ suspend ⇄ resume │                   │ reopen → reopened ─start→ …
                          │  return → returned ─dispatch→ …     (the deadline clock stops while suspended)
    reject (not a problem) → rejected, from reported, dispatched or accepted

Who acts is a *capacity* the caller holds for this finding, worked out by the service from the finding
and the principal: the owner it was dispatched to, a supervisor over it, its reporter, or the system
(routing at report time, escalation). Escalation is an event that changes no state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    REPORTED = "reported"
    DISPATCHED = "dispatched"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    VERIFIED = "verified"  # closed
    REJECTED = "rejected"  # closed: not a problem
    RETURNED = "returned"  # wrong owner: back to dispatch
    REOPENED = "reopened"  # verification failed
    SUSPENDED = "suspended"  # waiting on something outside the owner's control; the clock stops


CLOSED = frozenset({State.VERIFIED, State.REJECTED})
"""States a finding leaves no more: the rest of the workflow is open."""


class Action(StrEnum):
    REPORT = "report"
    DISPATCH = "dispatch"
    REROUTE = "reroute"
    ACCEPT = "accept"
    RETURN = "return"
    START = "start"
    SUSPEND = "suspend"
    RESUME = "resume"
    RESOLVE = "resolve"
    VERIFY = "verify"
    REOPEN = "reopen"
    REJECT = "reject"
    ESCALATE = "escalate"
    RELOCATE = "relocate"  # its micro-grid was retired by a change set; it moved to the one now holding it


class Capacity(StrEnum):
    """In what capacity the caller acts on this finding (worked out by the service, not chosen by them)."""

    OWNER = "owner"  # the person (or unit queue member) it is dispatched to
    SUPERVISOR = "supervisor"  # command centre or administrator over its place
    REPORTER = "reporter"
    SYSTEM = "system"  # routing on report, the escalation scheduler


@dataclass(frozen=True)
class Step:
    """One allowed step: from any of ``sources`` to ``target`` (None: the state stays), by ``by``."""

    action: Action
    sources: frozenset[State]
    target: State | None
    by: frozenset[Capacity]
    needs_reason: bool = False


def _step(action, sources, target, by, *, needs_reason=False) -> Step:
    return Step(action, frozenset(sources), target, frozenset(by), needs_reason)


S, C = State, Capacity
OPEN_STATES = frozenset(State) - CLOSED
STEPS: tuple[Step, ...] = (
    _step(Action.DISPATCH, {S.REPORTED, S.RETURNED}, S.DISPATCHED, {C.SYSTEM, C.SUPERVISOR}),
    _step(Action.REROUTE, {S.DISPATCHED, S.ACCEPTED, S.IN_PROGRESS, S.REOPENED, S.SUSPENDED}, S.DISPATCHED,
          {C.SUPERVISOR}, needs_reason=True),
    _step(Action.ACCEPT, {S.DISPATCHED}, S.ACCEPTED, {C.OWNER}),
    _step(Action.RETURN, {S.DISPATCHED, S.ACCEPTED}, S.RETURNED, {C.OWNER}, needs_reason=True),
    _step(Action.START, {S.ACCEPTED, S.REOPENED}, S.IN_PROGRESS, {C.OWNER}),
    _step(Action.SUSPEND, {S.ACCEPTED, S.IN_PROGRESS, S.REOPENED}, S.SUSPENDED, {C.OWNER, C.SUPERVISOR},
          needs_reason=True),
    _step(Action.RESUME, {S.SUSPENDED}, S.IN_PROGRESS, {C.OWNER, C.SUPERVISOR}),
    _step(Action.RESOLVE, {S.ACCEPTED, S.IN_PROGRESS, S.REOPENED}, S.RESOLVED, {C.OWNER}),
    _step(Action.VERIFY, {S.RESOLVED}, S.VERIFIED, {C.SUPERVISOR, C.REPORTER}),
    _step(Action.REOPEN, {S.RESOLVED}, S.REOPENED, {C.SUPERVISOR, C.REPORTER}, needs_reason=True),
    _step(Action.REJECT, {S.REPORTED, S.DISPATCHED, S.ACCEPTED, S.RETURNED}, S.REJECTED, {C.SUPERVISOR},
          needs_reason=True),
    _step(Action.ESCALATE, OPEN_STATES - {S.RESOLVED, S.SUSPENDED, S.REPORTED}, None, {C.SYSTEM}),
)
STEP_OF: dict[Action, Step] = {s.action: s for s in STEPS}


class StepRefused(Exception):
    """A step the rules do not allow; ``allowed`` lists the actions that are (for the 409's message).
    ``not_yours`` says the step exists from this state but is for someone else (a 403, not a 409)."""

    def __init__(self, message: str, *, allowed: list[str], not_yours: bool = False) -> None:
        super().__init__(message)
        self.allowed = allowed
        self.not_yours = not_yours


class ReasonMissing(Exception):
    """A step that needs a reason was given none."""


def allowed_actions(state: State, capacities: Iterable[Capacity]) -> list[Action]:
    """The actions the caller, in ``capacities``, may take from ``state`` (in the order of ``STEPS``)."""
    held = set(capacities)
    return [s.action for s in STEPS if state in s.sources and s.by & held]


def step(state: State, action: Action, capacities: Iterable[Capacity], *, reason: str | None = None) -> State:
    """The state after ``action`` from ``state``; ``StepRefused`` or ``ReasonMissing`` if not allowed.

    >>> step(State.DISPATCHED, Action.ACCEPT, [Capacity.OWNER])
    <State.ACCEPTED: 'accepted'>
    >>> step(State.VERIFIED, Action.REOPEN, [Capacity.SUPERVISOR], reason="x")
    Traceback (most recent call last):
    ...
    gridgov.findings.workflow.StepRefused: 'reopen' is not allowed from 'verified'; allowed: none
    """
    held = set(capacities)
    rule = STEP_OF.get(action)
    if action == Action.REPORT:
        raise StepRefused("'report' only starts a finding", allowed=[str(a) for a in allowed_actions(state, held)])
    if rule is None or state not in rule.sources:
        options = [str(a) for a in allowed_actions(state, held)]
        raise StepRefused(f"{str(action)!r} is not allowed from {str(state)!r}; allowed: "
                          f"{', '.join(options) or 'none'}", allowed=options)
    if not rule.by & held:
        options = [str(a) for a in allowed_actions(state, held)]
        raise StepRefused(f"{str(action)!r} from {str(state)!r} is for {', '.join(sorted(rule.by))}; you act as "
                          f"{', '.join(sorted(held)) or 'nobody here'}; allowed: {', '.join(options) or 'none'}",
                          allowed=options, not_yours=True)
    if rule.needs_reason and not (reason or "").strip():
        raise ReasonMissing(f"{str(action)!r} needs a reason")
    return state if rule.target is None else rule.target


def replay(actions: Iterable[tuple[Action | str, str | None]]) -> State:
    """The state a finding's events lead to: ``(action, to_state)`` pairs in order, the first a report.

    Events store the state they led to, so replay is reading the last state recorded; it is kept as a
    function so the derivation is one place and checked (an event stream must start with a report).

    >>> replay([("report", "reported"), ("dispatch", "dispatched"), ("escalate", None), ("accept", "accepted")])
    <State.ACCEPTED: 'accepted'>
    """
    state: State | None = None
    for action, to_state in actions:
        if state is None and Action(action) != Action.REPORT:
            raise ValueError("a finding's events start with its report")
        if to_state is not None:
            state = State(to_state)
    if state is None:
        raise ValueError("no events")
    return state
