"""Change sets (规划变更单): draft, check, preview, review, apply all or nothing, discard, revert.

A draft is the planner's list of edits, replayed on the live map whenever it is read, so what is shown,
previewed and applied is always the draft on today's map. Each edit records the versions of the units it
was drawn on; when another change set has changed one of them since, applying answers 412 naming the
unit, and nothing is applied. Every write to a draft names the revision it was made against (If-Match).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gridgov.audit.service import record
from gridgov.config import county_today, get_settings
from gridgov.errors import Conflict, Forbidden, GridGovError, NotFound, PreconditionFailed, PreconditionRequired
from gridgov.grids.scope import Jurisdiction
from gridgov.people.models import Person, Role
from gridgov.people.principal import Principal
from gridgov.planning import history
from gridgov.planning.consequences import consequences
from gridgov.planning.edits import Unit as PlanUnit
from gridgov.planning.models import ChangeSet, ChangeSetStatus
from gridgov.planning.plan import EDITED, LEVELS, Drafted, PlanMap, Restore, apply_edit, edit_from_json

PLANNERS = (Role.PLANNER, Role.ADMIN)
READERS = (Role.PLANNER, Role.ADMIN, Role.SUPERVISOR)


def etag(change_set: ChangeSet) -> str:
    return f'"cs-{change_set.id}-{change_set.revision}"'


def _require(principal: Principal, roles, what: str) -> None:
    if not principal.has(*roles):
        raise Forbidden(f"Only a {' or '.join(roles)} may {what}.")


def require_planner(principal: Principal, what: str) -> None:
    """403 unless the principal is a planner or an administrator."""
    _require(principal, PLANNERS, what)


def scope_of(principal: Principal, scope_code: str | None) -> str:
    """The unit a new draft is about: the one asked for, else the planner's whole jurisdiction."""
    scope = principal.jurisdiction
    if scope_code is not None:
        if not scope.sees_unit(scope_code) and not (scope.county_wide and scope_code == principal.county_code):
            raise NotFound(f"No unit {scope_code} in your jurisdiction.")
        return scope_code
    if scope.county_wide:
        return principal.county_code
    roots = sorted(c for c in scope.units if not any(c != o and c.startswith(o) for o in scope.units))
    if len(roots) != 1:
        raise GridGovError(f"Your jurisdiction has {len(roots)} separate areas; say which one the change set is "
                           "about (scope_code).")
    return roots[0]


def create(*, session: Session, principal: Principal, title: str, effective_on: date | None = None,
           scope_code: str | None = None) -> ChangeSet:
    """A new, empty draft."""
    _require(principal, PLANNERS, "draft a change set")
    today = county_today()
    change_set = ChangeSet(
        county_code=principal.county_code, id=str(uuid.uuid4()), title=title.strip() or "Change set",
        status=ChangeSetStatus.DRAFT.value, effective_on=check_effective(effective_on or today, today),
        scope_code=scope_of(principal, scope_code), author=principal.username, created_at=datetime.now(UTC),
        revision=1, edits=[], reassignments=[])
    session.add(change_set)
    session.flush()
    audit(session, principal, "create", change_set)
    return change_set


def check_effective(on: date, today: date) -> date:
    window = get_settings().planning_backdate_days
    if on < today - timedelta(days=window):
        raise GridGovError(f"The effective date {on} is more than {window} days in the past; the earliest allowed "
                           f"is {today - timedelta(days=window)}.")
    return on


def listed(*, session: Session, principal: Principal, status: str | None = None) -> list[ChangeSet]:
    """The change sets of the caller's jurisdiction, newest first."""
    _require(principal, READERS, "read change sets")
    query = select(ChangeSet).where(ChangeSet.county_code == principal.county_code)
    if status is not None:
        query = query.where(ChangeSet.status == status)
    rows = session.scalars(query.order_by(ChangeSet.created_at.desc())).all()
    return [row for row in rows if _sees(principal.jurisdiction, row.scope_code, principal.county_code)]


def _sees(scope: Jurisdiction, code: str, county_code: str) -> bool:
    """A draft about the whole county is county-wide business; one about a town or village, its area's."""
    return scope.county_wide if code == county_code else scope.sees_unit(code)


def get(*, session: Session, principal: Principal, change_set_id: str, for_update: bool = False) -> ChangeSet:
    """One change set of the caller's jurisdiction, or 404."""
    _require(principal, READERS, "read change sets")
    query = select(ChangeSet).where(ChangeSet.county_code == principal.county_code, ChangeSet.id == change_set_id)
    row = session.scalars(query.with_for_update() if for_update else query).first()
    if row is None or not _sees(principal.jurisdiction, row.scope_code, principal.county_code):
        raise NotFound(f"No change set {change_set_id} in your jurisdiction.")
    return row


def for_write(session: Session, principal: Principal, change_set_id: str, if_match: str | None, what: str,
              statuses: tuple[ChangeSetStatus, ...] = (ChangeSetStatus.DRAFT,)) -> ChangeSet:
    """The draft to change, locked, after the caller's role and If-Match are checked.

    The lock is a write, taken before anything is read: on PostgreSQL it locks the change set's row; on
    SQLite, which starts a transaction at the first write, it takes the database's write lock, so that what
    this request reads next cannot change under it (two applies at once run one after the other).
    """
    _require(principal, PLANNERS, what)
    session.execute(update(ChangeSet).where(ChangeSet.county_code == principal.county_code,
                                            ChangeSet.id == change_set_id).values(revision=ChangeSet.revision)
                    .execution_options(synchronize_session=False))
    change_set = get(session=session, principal=principal, change_set_id=change_set_id, for_update=True)
    if if_match is None:
        raise PreconditionRequired(f"Send If-Match: {etag(change_set)} (the change set's ETag) to {what}; it stops "
                                   "two planners overwriting each other.")
    if if_match.strip() not in (etag(change_set), "*"):
        raise PreconditionFailed(f"Change set {change_set.id} was changed since you loaded it (now {etag(change_set)}"
                                 "); reload it and redo your change.")
    if change_set.status not in statuses:
        raise Conflict(f"Change set {change_set.id} is {change_set.status}; only a draft can {what.split()[0]}.")
    return change_set


def bump(change_set: ChangeSet) -> None:
    change_set.revision += 1


def replay(*, session: Session, change_set: ChangeSet) -> Drafted:
    """The draft's edits applied in order on the live map, each checked."""
    before = history.load_plan(session=session, county_code=change_set.county_code)
    after = before
    for stored in change_set.edits:
        after = apply_edit(after, _edit(session, change_set.county_code, stored))
    return Drafted.between(before, after)


def _edit(session: Session, county_code: str, stored: dict):
    if stored.get("op") != "restore":
        return edit_from_json(stored)
    keys = {(code, v) for code, v in stored["versions"].items() if v is not None}
    rows = history.versions(session=session, county_code=county_code, keys=keys)
    units: dict[str, dict] = {level: {} for level in LEVELS}
    for code, version in stored["versions"].items():
        level = stored["levels"][code]
        row = rows.get((code, version))
        units[level][code] = None if row is None else PlanUnit(row.parent_code, history.as_polygon(row.geom))
    return Restore(units)


def inside_scope(change_set: ChangeSet, principal: Principal, step: Drafted) -> None:
    """Every unit the draft retires, creates or reshapes lies in its scope and the planner's jurisdiction
    (a new unit by its parent); neighbours that only gained a shared vertex are not the planner's change."""
    for level in EDITED:
        change = step.changes[level]
        for code in (*change.retired, *change.created, *step.reshaped(level)):
            existing = code in step.before.units[level]
            seen = principal.jurisdiction.sees_unit(code) if existing else (
                principal.jurisdiction.sees_unit(step.after.units[level][code].parent)
                or step.after.units[level][code].parent in step.changes["grid"].created)
            if not code.startswith(change_set.scope_code) or not seen:
                raise NotFound(f"{code}: not in your jurisdiction or in this change set's area "
                               f"({change_set.scope_code}).")


def add_edit(*, session: Session, principal: Principal, change_set_id: str, if_match: str | None,
             edit: dict) -> ChangeSet:
    """Append an edit after checking it on the live map plus the draft's earlier edits (422 naming the unit)."""
    change_set = for_write(session, principal, change_set_id, if_match, "edit a change set")
    record_edits(session=session, principal=principal, change_set=change_set, edits=[edit])
    bump(change_set)
    audit(session, principal, "edit", change_set, after={"edit": len(change_set.edits) - 1})
    return change_set


def record_edits(*, session: Session, principal: Principal, change_set: ChangeSet, edits: list[dict]) -> PlanMap:
    """Check each edit in turn on the draft's map and append it with what it retires, creates and reshapes,
    and the versions of the units it was drawn on; returns the map after the last."""
    step = replay(session=session, change_set=change_set)
    plan, recorded = step.after, []
    for edit in edits:
        result = apply_edit(plan, edit_from_json(edit))
        made = Drafted.between(plan, result)
        inside_scope(change_set, principal, made)
        summary = {key: sorted(c for lv in EDITED for c in getattr(made.changes[lv], key))
                   for key in ("retired", "created")}
        summary["reshaped"] = sorted(c for lv in EDITED for c in made.reshaped(lv))
        drawn_on = [c for c in (*summary["retired"], *summary["reshaped"])
                    if any(c in step.before.units[lv] for lv in EDITED)]
        base = history.current_versions(session=session, county_code=change_set.county_code, codes=drawn_on)
        recorded.append({**edit, **summary, "base": {c: v.version for c, v in base.items()}})
        plan = result
    change_set.edits = [*change_set.edits, *recorded]
    return plan


def remove_edit(*, session: Session, principal: Principal, change_set_id: str, if_match: str | None,
                index: int) -> ChangeSet:
    """Take an edit out of the draft; the later ones must still apply without it."""
    change_set = for_write(session, principal, change_set_id, if_match, "edit a change set")
    if not 0 <= index < len(change_set.edits):
        raise NotFound(f"Change set {change_set.id} has no edit {index} (it has {len(change_set.edits)}).")
    change_set.edits = [e for k, e in enumerate(change_set.edits) if k != index]
    replay(session=session, change_set=change_set)
    bump(change_set)
    audit(session, principal, "remove_edit", change_set, after={"edit": index})
    return change_set


def reassign(*, session: Session, principal: Principal, change_set_id: str, if_match: str | None,
             grid_code: str, officer_code: str) -> ChangeSet:
    """Give a grid (an existing one or one the draft creates) to an officer from the effective date."""
    change_set = for_write(session, principal, change_set_id, if_match, "edit a change set")
    step = replay(session=session, change_set=change_set)
    if grid_code not in step.after.units["grid"] or not (
            principal.jurisdiction.sees_unit(grid_code) or grid_code in step.changes["grid"].created):
        raise NotFound(f"{grid_code}: no grid on the draft's map in your jurisdiction.")
    if session.get(Person, (principal.county_code, officer_code)) is None:
        raise NotFound(f"No officer {officer_code}.")
    kept = [r for r in change_set.reassignments if r["grid_code"] != grid_code]
    change_set.reassignments = [*kept, {"grid_code": grid_code, "officer_code": officer_code}]
    bump(change_set)
    audit(session, principal, "reassign", change_set, after={"grid_code": grid_code, "officer_code": officer_code})
    return change_set


def review(*, session: Session, principal: Principal, change_set_id: str, if_match: str | None, approve: bool,
           note: str = "") -> ChangeSet:
    """A second planner's verdict on the draft."""
    change_set = for_write(session, principal, change_set_id, if_match, "review a change set")
    if change_set.author == principal.username:
        raise Forbidden("A change set is reviewed by another planner than its author.")
    change_set.review = {"reviewer": principal.username, "approve": approve, "note": note.strip(),
                         "at": datetime.now(UTC).isoformat(), "revision": change_set.revision + 1}
    bump(change_set)
    audit(session, principal, "review", change_set, after={"approve": approve})
    return change_set


def discard(*, session: Session, principal: Principal, change_set_id: str, if_match: str | None) -> ChangeSet:
    """Drop the draft (it stays listed as discarded)."""
    change_set = for_write(session, principal, change_set_id, if_match, "discard a change set",
                           (ChangeSetStatus.DRAFT, ChangeSetStatus.SCHEDULED))
    change_set.status = ChangeSetStatus.DISCARDED.value
    bump(change_set)
    audit(session, principal, "discard", change_set)
    return change_set


def stale_bases(session: Session, change_set: ChangeSet, *, lock: bool = False) -> list[str]:
    """The units the draft's edits were drawn on that another change set has changed since. With ``lock``,
    their current versions stay locked to the end of the transaction (PostgreSQL): a concurrent apply
    waits, then finds them changed."""
    drawn = {code: version for e in change_set.edits for code, version in e.get("base", {}).items()}
    now = history.current_versions(session=session, county_code=change_set.county_code, codes=list(drawn),
                                   for_update=lock)
    return sorted(c for c, v in drawn.items() if c not in now or now[c].version != v)


def preview(*, session: Session, principal: Principal, change_set_id: str) -> dict:
    """The draft's before/after units and what moves: open findings, officers, chiefs, patrols, workload."""
    change_set = get(session=session, principal=principal, change_set_id=change_set_id)
    if change_set.status not in (ChangeSetStatus.DRAFT, ChangeSetStatus.SCHEDULED):
        raise Conflict(f"Change set {change_set.id} is {change_set.status}: there is nothing left to preview; what "
                       "it did is in its result.")
    step = replay(session=session, change_set=change_set)
    found = consequences(session=session, change_set=change_set, step=step)
    return {"change_set": change_set, **found, "stale": stale_bases(session, change_set)}


def revert(*, session: Session, principal: Principal, change_set_id: str) -> ChangeSet:
    """A new draft that puts back what an applied change set changed: retired codes come back with their
    ground, the codes it issued retire, reshaped units get their previous shape, officers their grids."""
    _require(principal, PLANNERS, "revert a change set")
    applied = get(session=session, principal=principal, change_set_id=change_set_id)
    if applied.status != ChangeSetStatus.APPLIED.value:
        raise Conflict(f"Change set {applied.id} is {applied.status}; only an applied one can be reverted.")
    levels = applied.result["levels"]
    versions = applied.result["versions"]
    issued = [c for lv in levels.values() for c in (*lv["created"], *lv["reshaped"])]
    now = history.current_versions(session=session, county_code=applied.county_code, codes=issued)
    moved_on = sorted(c for c in issued if c not in now or now[c].version != versions[c])
    if moved_on:
        raise Conflict(f"{moved_on[0]}: changed again since change set {applied.id}; revert the later change "
                       "sets first.", details=[{"code": c} for c in moved_on])
    restore, level_of = {}, {}
    for level, change in levels.items():
        for code in change["created"]:
            restore[code], level_of[code] = None, level
        for code in change["reshaped"]:
            restore[code], level_of[code] = versions[code] - 1, level
        for code in change["retired"]:
            level_of[code] = level
    last = history.last_versions(session=session, county_code=applied.county_code,
                                 codes=[c for lv in levels.values() for c in lv["retired"]])
    restore.update(last)
    draft = create(session=session, principal=principal, title=f"Revert: {applied.title}"[:200],
                   scope_code=applied.scope_code)
    draft.reverts = applied.id
    draft.edits = [{"op": "restore", "versions": restore, "levels": level_of,
                    "retired": sorted(c for c, v in restore.items() if v is None),
                    "created": sorted(last), "reshaped": sorted(c for c, v in restore.items() if v and c not in last)}]
    draft.reassignments = [{"grid_code": r["grid_code"], "officer_code": r["before"]}
                           for r in applied.result["officers"] if r["before"] and r["grid_code"] in last]
    replay(session=session, change_set=draft)
    return draft


def audit(session: Session, principal: Principal, action: str, change_set: ChangeSet, after: dict | None = None):
    record(session=session, principal=principal, action=action, object_type="change_set", object_id=change_set.id,
           unit_code=change_set.scope_code, after={"revision": change_set.revision, **(after or {})})
