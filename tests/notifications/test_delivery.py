"""Delivery rounds: retries with backoff, giving up, leases and concurrent workers."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

from gridgov.api_types import as_utc
from gridgov.config import get_settings
from gridgov.notifications.adapters import DeliveryError
from gridgov.notifications.delivery import DeliveryReport, deliver_due
from gridgov.storage.db import get_engine
from tests.notifications.helpers import ScriptedAdapter, outbox_rows, queue

T0 = datetime(2026, 11, 20, 1, 30, tzinfo=UTC)


def test_retries_with_doubling_backoff_until_delivered(outbox_db):
    [notification_id] = queue(outbox_db, 1, now=T0)
    engine, backoff = get_engine(outbox_db), timedelta(seconds=get_settings().notify_backoff_seconds)
    adapter = ScriptedAdapter(*[DeliveryError("gateway busy", retryable=True)] * 2)

    def deliver(at):
        return deliver_due(engine=engine, adapters={"log": adapter}, now=at)

    assert deliver(T0) == DeliveryReport(retried=1)
    [row] = outbox_rows(outbox_db)
    assert (row.status, row.attempts, row.last_error, row.lease_until) == ("pending", 1, "gateway busy", None)
    assert as_utc(row.next_attempt_at) == T0 + backoff
    assert deliver(T0 + backoff - timedelta(seconds=1)) == DeliveryReport()
    assert deliver(T0 + backoff) == DeliveryReport(retried=1)
    assert as_utc(outbox_rows(outbox_db)[0].next_attempt_at) == T0 + backoff + 2 * backoff
    assert deliver(T0 + 3 * backoff) == DeliveryReport(sent=1)
    assert deliver(T0 + timedelta(days=1)) == DeliveryReport()

    [row] = outbox_rows(outbox_db)
    assert (row.status, row.attempts, as_utc(row.sent_at)) == ("sent", 3, T0 + 3 * backoff)
    assert adapter.tried == [notification_id] * 3
    assert [message["id"] for message in adapter.delivered] == [notification_id]


def test_a_permanent_failure_fails_at_once_and_is_not_retried(outbox_db):
    queue(outbox_db, 1, now=T0)
    engine = get_engine(outbox_db)
    adapter = ScriptedAdapter(DeliveryError("webhook answered HTTP 400", retryable=False))

    assert deliver_due(engine=engine, adapters={"log": adapter}, now=T0) == DeliveryReport(failed=1)
    assert deliver_due(engine=engine, adapters={"log": adapter}, now=T0 + timedelta(days=30)) == DeliveryReport()
    [row] = outbox_rows(outbox_db)
    assert (row.status, row.attempts, row.last_error) == ("failed", 1, "webhook answered HTTP 400")
    assert len(adapter.tried) == 1


def test_gives_up_after_the_last_attempt(outbox_db):
    queue(outbox_db, 1, now=T0)
    most = get_settings().notify_max_attempts
    # An exception that is no DeliveryError (a bug in an adapter) counts as a retryable attempt.
    engine, adapter = get_engine(outbox_db), ScriptedAdapter(*[RuntimeError("x" * 2000)] * (most + 5))

    reports = [deliver_due(engine=engine, adapters={"log": adapter}, now=T0 + timedelta(days=day))
               for day in range(most + 2)]
    assert reports == [DeliveryReport(retried=1)] * (most - 1) + [DeliveryReport(failed=1)] + [DeliveryReport()] * 2
    [row] = outbox_rows(outbox_db)
    assert (row.status, row.attempts, len(row.last_error)) == ("failed", most, 500)
    assert row.last_error.startswith("RuntimeError: xxx")
    assert len(adapter.tried) == most


def test_a_claimed_row_waits_for_its_lease_to_expire(outbox_db):
    queue(outbox_db, 1, now=T0)
    engine, seen = get_engine(outbox_db), {}

    class WorkerMeanwhile:
        """While the first worker sends, a second one runs a round: before and after the lease runs out."""

        def send(self, _notification):
            other = ScriptedAdapter()
            seen["during"] = deliver_due(engine=engine, adapters={"log": other}, now=T0 + timedelta(seconds=59))
            seen["after"] = deliver_due(engine=engine, adapters={"log": other}, now=T0 + timedelta(seconds=60))

    report = deliver_due(engine=engine, adapters={"log": WorkerMeanwhile()}, now=T0, lease_seconds=60)
    assert report == DeliveryReport(sent=1)
    assert seen == {"during": DeliveryReport(), "after": DeliveryReport(sent=1)}  # at least once: a late resend
    assert outbox_rows(outbox_db)[0].status == "sent"


def test_concurrent_workers_never_send_the_same_notification_twice(outbox_db):
    ids = queue(outbox_db, 120, now=T0)
    engine, adapter = get_engine(outbox_db), ScriptedAdapter(delay=0.002)
    start, errors = threading.Barrier(2), []

    def work():
        start.wait()
        try:
            while deliver_due(engine=engine, adapters={"log": adapter}, now=T0, limit=10) != DeliveryReport():
                pass
        except Exception as error:  # a thread's exception would otherwise pass unseen
            errors.append(error)

    workers = [threading.Thread(target=work) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert errors == []
    assert [id_ for id_, sends in Counter(adapter.tried).items() if sends > 1] == []
    assert sorted(adapter.tried) == sorted(ids)
    assert len(set(adapter.workers)) == 2, "both workers should have sent some"
    assert {row.status for row in outbox_rows(outbox_db)} == {"sent"}
