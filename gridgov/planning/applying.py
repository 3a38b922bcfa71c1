"""Applying a change set (变更生效): now, or on its effective date by the scheduler.

Applying is all or nothing in one transaction: the draft is replayed on today's map, written as new versions
of the unit registry, the open findings of retired micro-grids move with a ``relocate`` event, officers are
handed over, and one audit record says what happened. A draft dated in the future is checked the same way
and **scheduled**; the scheduler (``gridgov tick`` or the in-app clock) applies it on its day, as the system
acting for whoever scheduled it. If the map changed meanwhile so that it no longer applies, it goes back to
draft with the reason, and nothing of it is applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gridgov.config import county_today, get_settings
from gridgov.errors import Conflict, GridGovError, PreconditionFailed
from gridgov.grids.scope import Jurisdiction
from gridgov.people.models import Role
from gridgov.people.principal import Principal
from gridgov.planning import flows, history
from gridgov.planning.consequences import consequences
from gridgov.planning.models import ChangeSet, ChangeSetStatus
from gridgov.planning.plan import LEVELS
from gridgov.planning.service import audit, bump, check_effective, for_write, inside_scope, replay, stale_bases
from gridgov.storage import memo, walls


def apply(*, session: Session, principal: Principal, change_set_id: str, if_match: str | None) -> ChangeSet:
    """Apply the draft all or nothing, or schedule it when it takes effect later."""
    change_set = for_write(session, principal, change_set_id, if_match, "apply a change set")
    today = county_today()
    check_effective(change_set.effective_on, today)
    _check(session, principal, change_set)
    if change_set.effective_on > today:
        change_set.status = ChangeSetStatus.SCHEDULED.value
        change_set.result = {**(change_set.result or {}), "scheduled_by": principal.username}
        bump(change_set)
        audit(session, principal, "schedule", change_set, after={"effective_on": change_set.effective_on})
        return change_set
    return _apply(session, principal, change_set)


def _check(session: Session, principal: Principal, change_set: ChangeSet) -> None:
    """What must hold to apply, checked again on the day for a scheduled change set."""
    verdict = change_set.review or {}
    if verdict.get("approve") is False:
        raise Conflict(f"Change set {change_set.id} was rejected by {verdict['reviewer']}: {verdict['note']}")
    if get_settings().planning_review_required and not verdict.get("approve"):
        raise Conflict(f"Change set {change_set.id} needs another planner's approval before it applies.")
    if not change_set.edits and not change_set.reassignments:
        raise Conflict(f"Change set {change_set.id} has nothing to apply.")
    stale = stale_bases(session, change_set, lock=True)
    if stale:
        raise PreconditionFailed(f"{stale[0]}: changed by another change set since this draft's edit was drawn on "
                                 "it; nothing was applied. Remove that edit and draw it again on the current map.",
                                 details=[{"code": c} for c in stale])
    step = replay(session=session, change_set=change_set)
    inside_scope(change_set, principal, step)
    # A reassignment may name a grid an edit created and a later removal of that edit took away again.
    gone = sorted(r["grid_code"] for r in change_set.reassignments if r["grid_code"] not in step.after.units["grid"])
    if gone:
        raise Conflict(f"{gone[0]}: the change set reassigns this grid, but it is not on the draft's map (an edit "
                       "that created it was removed); nothing was applied.", details=[{"code": c} for c in gone])


def _apply(session: Session, principal: Principal, change_set: ChangeSet) -> ChangeSet:
    step = replay(session=session, change_set=change_set)
    moving = consequences(session=session, change_set=change_set, step=step)
    # The service has checked the planner's jurisdiction; neighbours outside it that only gain a shared vertex,
    # and the new units themselves, must be writable and readable for the rest of this transaction.
    walls.for_jurisdiction(session, county_code=principal.county_code, username=principal.username,
                           county_wide=True)
    written = history.write_change(session=session, county_code=change_set.county_code, before=step.before,
                                   after=step.after, changes=step.changes, effective_on=change_set.effective_on,
                                   change_set_id=change_set.id)
    now = datetime.now(UTC)
    flows.relocate(session=session, county_code=change_set.county_code, moves=moving["findings"],
                   change_set_id=change_set.id, actor=principal.username, now=now)
    flows.hand_over(session=session, county_code=change_set.county_code, rows=moving["officers"],
                    effective_on=change_set.effective_on)
    flows.announce(session=session, county_code=change_set.county_code, change_set_id=change_set.id,
                   title=change_set.title, effective_on=change_set.effective_on, officers=moving["officers"],
                   chiefs=moving["chiefs"], retired=moving["retired"], created=moving["created"], now=now)
    change_set.status = ChangeSetStatus.APPLIED.value
    change_set.applied_at, change_set.applied_by = now, principal.username
    change_set.result = {
        **(change_set.result or {}),  # a balancing proposal's figures stay with it
        "levels": {lv: {"retired": list(step.changes[lv].retired), "created": list(step.changes[lv].created),
                        "reshaped": list(step.changes[lv].reshaped)} for lv in LEVELS if step.changes[lv]},
        "versions": dict(written.versions), "findings": moving["findings"], "officers": moving["officers"],
    }
    if change_set.reverts:
        reverted = session.get(ChangeSet, (change_set.county_code, change_set.reverts))
        reverted.status = ChangeSetStatus.REVERTED.value
    bump(change_set)
    audit(session, principal, "apply", change_set, after=change_set.result)
    memo.changes(session)
    return change_set


@dataclass(frozen=True)
class DueReport:
    applied: list[str]
    back_to_draft: dict[str, str]


def apply_due(*, session: Session, today: date | None = None) -> DueReport:
    """Apply every scheduled change set whose day has come; one that no longer applies goes back to draft.

    Runs as the tables' owner (the scheduler serves every county). Each change set is applied in a savepoint,
    so one that fails leaves nothing behind and the others still apply.
    """
    today = today or county_today()
    due = session.scalars(select(ChangeSet).where(ChangeSet.status == ChangeSetStatus.SCHEDULED.value,
                                                  ChangeSet.effective_on <= today)
                          .order_by(ChangeSet.effective_on, ChangeSet.created_at).with_for_update()).all()
    applied, failed = [], {}
    for change_set in due:
        scheduled_by = (change_set.result or {}).get("scheduled_by", change_set.author)
        system = Principal(county_code=change_set.county_code, roles=frozenset({Role.ADMIN}), via="system",
                           username=f"system for {scheduled_by}"[:64],
                           jurisdiction=Jurisdiction(change_set.county_code, county_wide=True))
        try:
            with session.begin_nested():
                _check(session, system, change_set)
                _apply(session, system, change_set)
            applied.append(change_set.id)
        except GridGovError as error:
            change_set.status = ChangeSetStatus.DRAFT.value
            change_set.result = {**(change_set.result or {}), "schedule_failed": error.message}
            bump(change_set)
            audit(session, system, "schedule_failed", change_set, after={"reason": error.message})
            failed[change_set.id] = error.message
    return DueReport(applied=applied, back_to_draft=failed)
