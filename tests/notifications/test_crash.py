"""A delivery worker killed mid-way and restarted: every notification reaches its receiver exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from gridgov.api_types import as_utc
from gridgov.config import REPO_ROOT
from gridgov.notifications.adapters import LogAdapter, WebhookAdapter
from gridgov.notifications.delivery import DeliveryReport, deliver_due
from gridgov.storage.db import get_engine
from tests.databases import new_database
from tests.notifications.helpers import WebhookReceiver, outbox_rows, queue

NOTIFICATIONS = 40  # on two channels each: 80 rows
LEASE_SECONDS = 60
SEND_DELAY = 0.1  # seconds the driver holds each notification between sending it and recording it sent

# The worker as an operator runs it, except that each send lingers (SEND_DELAY) before it is recorded: the
# window in which a crash leaves a notification sent but still pending. The delay lives here, not in gridgov.
DRIVER = textwrap.dedent("""
    import os, sys, time
    from gridgov.notifications.adapters import LogAdapter, WebhookAdapter
    from gridgov.notifications.delivery import DeliveryReport, deliver_due
    from gridgov.storage.db import get_engine

    DELAY = float(os.environ["OUTBOX_TEST_SEND_DELAY"])

    class Lingering:
        def __init__(self, adapter):
            self.adapter = adapter

        def send(self, notification):
            self.adapter.send(notification)
            time.sleep(DELAY)

    url, log_path, webhook_url, lease = sys.argv[1:]
    adapters = {"log": Lingering(LogAdapter(log_path)), "webhook": Lingering(WebhookAdapter(webhook_url))}
    engine = get_engine(url)
    while deliver_due(engine=engine, adapters=adapters, limit=10, lease_seconds=float(lease)) != DeliveryReport():
        pass
""")


def _logged_ids(path) -> Counter:
    """Ids in the log file; a line still being written is left for the next look."""
    ids = Counter()
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                ids[json.loads(line)["id"]] += 1
            except ValueError:
                pass
    return ids


def _drain(url: str, adapters: dict, now: datetime | None) -> None:
    engine = get_engine(url)
    while deliver_due(engine=engine, adapters=adapters, now=now, lease_seconds=LEASE_SECONDS) != DeliveryReport():
        pass


def test_killed_mid_delivery_and_restarted_every_notification_is_delivered_exactly_once(backend, tmp_path):
    url = new_database(backend, tmp_path, "crash")
    log_path, driver = tmp_path / "notifications.jsonl", tmp_path / "driver.py"
    driver.write_text(DRIVER, encoding="utf-8")
    queue(url, NOTIFICATIONS, channels=("log", "webhook"))
    channel_of = {row.id: row.channel for row in outbox_rows(url)}
    total = len(channel_of)

    with WebhookReceiver() as receiver:

        def delivered() -> dict[str, set[str]]:
            return {"log": set(_logged_ids(log_path)), "webhook": {key for key, _, _ in list(receiver.posts)}}

        def run_and_kill(*, channel: str, at_least: int) -> set[str]:
            """Start the driver; kill it right after a send on ``channel``, once ``at_least`` are delivered.
            Answer the ids delivered but not recorded sent: those the kill caught."""
            with open(tmp_path / "driver.err", "ab") as stderr:
                child = subprocess.Popen(
                    [sys.executable, str(driver), url, str(log_path), receiver.url, str(LEASE_SECONDS)],
                    cwd=REPO_ROOT, env={**os.environ, "OUTBOX_TEST_SEND_DELAY": str(SEND_DELAY)}, stderr=stderr)
            deadline, before = time.monotonic() + 120, delivered()
            try:
                while True:
                    seen = delivered()
                    if sum(map(len, seen.values())) >= at_least and seen[channel] - before[channel]:
                        break  # a send on the channel just went out; the driver lingers before recording it
                    before = seen
                    assert child.poll() is None, (tmp_path / "driver.err").read_text()
                    assert time.monotonic() < deadline, "the driver delivered too little in 120 s"
                    time.sleep(0.002)
            finally:
                os.kill(child.pid, signal.SIGKILL)
                child.wait()
            assert child.returncode == -signal.SIGKILL
            recorded = {row.id for row in outbox_rows(url) if row.status == "sent"}
            return set().union(*delivered().values()) - recorded

        caught_webhook = run_and_kill(channel="webhook", at_least=total // 3)
        first_kill = sum(map(len, delivered().values()))
        caught_both = run_and_kill(channel="log", at_least=2 * total // 3)
        second_kill = sum(map(len, delivered().values()))
        caught_log = caught_both - caught_webhook
        assert 0 < first_kill < second_kill < total
        assert [channel_of[id_] for id_ in caught_webhook] == ["webhook"], "kill 1 lands between send and record"
        assert [channel_of[id_] for id_ in caught_log] == ["log"], "kill 2 lands between send and record"

        adapters = {"log": LogAdapter(log_path), "webhook": WebhookAdapter(receiver.url)}
        restarted = datetime.now(UTC)
        _drain(url, adapters, now=restarted)
        held = {row.id: row for row in outbox_rows(url) if row.status != "sent"}
        assert caught_both <= set(held), "what the dead workers had claimed waits for their leases"
        assert all(as_utc(row.lease_until) > restarted for row in held.values())
        _drain(url, adapters, now=restarted + timedelta(seconds=LEASE_SECONDS + 1))

    logged = _logged_ids(log_path)
    assert len(log_path.read_text(encoding="utf-8").splitlines()) == sum(logged.values())  # no torn lines
    assert logged == Counter(id_ for id_, channel in channel_of.items() if channel == "log")  # each exactly once

    keys = Counter(key for key, _, _ in receiver.posts)
    duplicates = sum(keys.values()) - len(keys)
    figures = (f"{first_kill} then {second_kill} of {total} delivered before the two kills; "
               f"{duplicates} duplicate POST(s) to the webhook, same Idempotency-Key; "
               f"{len(caught_log)} log resend(s) skipped by the log adapter")
    print(f"\n[{backend}] {figures}")
    assert set(keys) == {id_ for id_, channel in channel_of.items() if channel == "webhook"}, figures
    assert all(body["id"] == key and content_type == "application/json" for key, content_type, body in receiver.posts)
    assert {key for key, sends in keys.items() if sends > 1} == caught_webhook, figures  # only the caught one
    rows = outbox_rows(url)
    assert {row.status for row in rows} == {"sent"} and len(rows) == total
