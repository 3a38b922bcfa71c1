"""The workflow's rules (pure): every documented step, refusals that list what is allowed, and random walks
by random capacities that never reach a state the rules forbid."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridgov.findings.workflow import (
    CLOSED,
    STEPS,
    Action,
    Capacity,
    ReasonMissing,
    State,
    StepRefused,
    allowed_actions,
    replay,
    step,
)

S, A, C = State, Action, Capacity

# The rules as the issue states them, written out once more by hand: (from, action) -> to, by whom.
EXPECTED = {
    (S.REPORTED, A.DISPATCH): (S.DISPATCHED, {C.SYSTEM, C.SUPERVISOR}),
    (S.RETURNED, A.DISPATCH): (S.DISPATCHED, {C.SYSTEM, C.SUPERVISOR}),
    (S.DISPATCHED, A.ACCEPT): (S.ACCEPTED, {C.OWNER}),
    (S.DISPATCHED, A.RETURN): (S.RETURNED, {C.OWNER}),
    (S.ACCEPTED, A.START): (S.IN_PROGRESS, {C.OWNER}),
    (S.IN_PROGRESS, A.RESOLVE): (S.RESOLVED, {C.OWNER}),
    (S.RESOLVED, A.VERIFY): (S.VERIFIED, {C.SUPERVISOR, C.REPORTER}),
    (S.RESOLVED, A.REOPEN): (S.REOPENED, {C.SUPERVISOR, C.REPORTER}),
    (S.REOPENED, A.START): (S.IN_PROGRESS, {C.OWNER}),
    (S.IN_PROGRESS, A.SUSPEND): (S.SUSPENDED, {C.OWNER, C.SUPERVISOR}),
    (S.SUSPENDED, A.RESUME): (S.IN_PROGRESS, {C.OWNER, C.SUPERVISOR}),
    (S.DISPATCHED, A.REJECT): (S.REJECTED, {C.SUPERVISOR}),
}


@pytest.mark.parametrize(("source", "action"), list(EXPECTED))
def test_each_documented_step_goes_where_the_issue_says_and_only_for_its_takers(source, action):
    target, takers = EXPECTED[(source, action)]
    for capacity in C:
        if capacity in takers:
            assert step(source, action, [capacity], reason="because") == target
        else:
            with pytest.raises(StepRefused):
                step(source, action, [capacity], reason="because")


def test_a_refusal_lists_the_steps_allowed_from_the_state():
    with pytest.raises(StepRefused) as refused:
        step(S.DISPATCHED, A.VERIFY, [C.OWNER])
    assert refused.value.allowed == ["accept", "return"]
    assert "allowed: accept, return" in str(refused.value)


@pytest.mark.parametrize("action", [A.RETURN, A.SUSPEND, A.REOPEN, A.REJECT, A.REROUTE])
def test_steps_that_need_a_reason_refuse_without_one(action):
    rule = next(s for s in STEPS if s.action == action)
    source, capacity = sorted(rule.sources)[0], sorted(rule.by)[0]
    for reason in (None, "", "   "):
        with pytest.raises(ReasonMissing):
            step(source, action, [capacity], reason=reason)


def test_nothing_leaves_a_closed_state_and_escalation_changes_no_state():
    for state in CLOSED:
        assert allowed_actions(state, list(C)) == []
    assert step(S.DISPATCHED, A.ESCALATE, [C.SYSTEM]) == S.DISPATCHED


walks = st.lists(st.tuples(st.sampled_from(list(A)), st.sets(st.sampled_from(list(C)), max_size=3),
                           st.sampled_from([None, "", "理由"])), max_size=40)


@settings(max_examples=400, deadline=None)
@given(walks)
def test_random_steps_by_random_capacities_never_reach_a_forbidden_state(attempts):
    """Whatever is tried in whatever capacity, each accepted step is one the table allows, a closed finding
    never moves again, and replaying the accepted events gives the state reached."""
    state = S.REPORTED
    accepted = [("report", S.REPORTED.value)]
    for action, capacities, reason in attempts:
        try:
            after = step(state, action, capacities, reason=reason)
        except (StepRefused, ReasonMissing):
            continue
        rule = next(s for s in STEPS if s.action == action)
        assert state in rule.sources and rule.by & capacities
        assert state not in CLOSED
        assert after == (rule.target or state)
        if rule.needs_reason:
            assert reason and reason.strip()
        state = after
        accepted.append((action.value, None if rule.target is None else after.value))
    assert replay(accepted) == state
