"""The clock: apply the change sets whose day has come, escalate overdue findings, then deliver the
notifications that are due.

The app runs it every ``GRIDGOV_SCHEDULER_SECONDS`` (each worker process does; escalation and delivery
are safe to run concurrently), and ``gridgov tick`` runs it once, e.g. from cron with the in-app
scheduler off. It works as the tables' owner: it serves every county, not one caller.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi.concurrency import run_in_threadpool

from gridgov.findings.escalation import Escalated, tick
from gridgov.notifications.adapters import Adapter, adapters_from_settings
from gridgov.notifications.delivery import DeliveryReport, deliver_due
from gridgov.planning.applying import DueReport, apply_due
from gridgov.storage.db import owner_engine, transaction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TickReport:
    escalated: list[Escalated]
    delivery: DeliveryReport
    planned: DueReport


def run_once(*, now: datetime | None = None, adapters: dict[str, Adapter] | None = None) -> TickReport:
    """One round: escalations committed first, so that their notifications go out in the same round."""
    now = now or datetime.now(UTC)
    engine = owner_engine()
    with transaction(engine) as session:
        planned = apply_due(session=session)
    with transaction(engine) as session:
        escalated = tick(session=session, now=now)
    delivery = deliver_due(engine=engine, adapters=adapters or adapters_from_settings(), now=now)
    return TickReport(escalated=escalated, delivery=delivery, planned=planned)


async def run_forever(seconds: float) -> None:
    """Run a round every ``seconds`` until cancelled; a failing round is logged and the next one tries again.
    The adapters are built once: the log channel reads its file of sent ids only at the start."""
    adapters = adapters_from_settings()
    while True:
        try:
            report = await run_in_threadpool(run_once, adapters=adapters)
            if report.escalated or report.delivery.sent or report.delivery.failed or report.planned.applied:
                log.info("scheduler: %d change sets applied, %d escalated, %s", len(report.planned.applied),
                         len(report.escalated), report.delivery)
            for change_set_id, reason in report.planned.back_to_draft.items():
                log.warning("scheduler: change set %s went back to draft: %s", change_set_id, reason)
        except Exception:  # noqa: BLE001 — the clock must keep running; the error is in the log
            log.exception("scheduler round failed")
        await asyncio.sleep(seconds)
