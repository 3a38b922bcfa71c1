"""What a workflow step sets off: the notifications it owes, written to the outbox in the step's own
transaction (``gridgov.notifications``): if the step rolls back there is nothing to send, and once it
commits nothing is lost, whatever crashes before delivery.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from gridgov.findings.workflow import Action
from gridgov.notifications.adapters import configured_channels
from gridgov.notifications.models import Notification
from gridgov.storage import bulk

# Who hears of which step: the new owner of a dispatch, the unit's queue of a return, the reporter of a
# resolution (theirs to verify), the owner of a reopening.
KIND_OF = {Action.DISPATCH: "dispatched", Action.REROUTE: "dispatched", Action.RETURN: "returned",
           Action.RESOLVE: "resolved", Action.REOPEN: "reopened"}


def notice(*, county_code: str, kind: str, finding, recipient: str, now: datetime, extra: dict | None = None) -> dict:
    """One notification's content, before it is addressed to each channel. ``finding`` is a Finding or the
    dict of one being reported."""
    get = finding.get if isinstance(finding, dict) else (lambda name: getattr(finding, name))
    payload = {"finding_id": get("id"), "category_code": get("category_code"), "severity": get("severity"),
               "domain": get("domain"), "grid_code": get("grid_code"), "lon": get("lon"), "lat": get("lat"),
               "status": get("status"), **(extra or {})}
    return {"county_code": county_code, "kind": kind, "recipient": recipient, "subject_id": get("id"),
            "payload": payload, "now": now}


def store(*, session: Session, notices: list[dict]) -> None:
    """Write ``notices`` to the outbox, one row per configured channel."""
    channels = configured_channels()
    rows = [
        {"county_code": n["county_code"], "id": str(uuid.uuid4()), "created_at": n["now"], "channel": channel,
         "recipient": n["recipient"], "kind": n["kind"], "subject_type": "finding", "subject_id": n["subject_id"],
         "payload": n["payload"], "status": "pending", "attempts": 0, "next_attempt_at": n["now"],
         "lease_until": None, "sent_at": None, "last_error": None}
        for n in notices for channel in channels
    ]
    bulk.insert_rows(session, Notification.__table__, rows)


def after_step(*, session: Session, finding, action: Action, actor: str, now: datetime | None = None) -> None:
    """The notifications one step owes (none for most steps: the owner acting needs no message)."""
    kind = KIND_OF.get(action)
    if kind is None:
        return
    now = now or datetime.now(UTC)
    if action == Action.RESOLVE:
        recipient = finding.reporter
    elif action == Action.RETURN:
        recipient = finding.owner_unit
    else:
        recipient = finding.owner_person or finding.owner_unit
    if recipient is None or recipient == actor:
        return
    store(session=session, notices=[notice(county_code=finding.county_code, kind=kind, finding=finding,
                                           recipient=recipient, now=now)])
