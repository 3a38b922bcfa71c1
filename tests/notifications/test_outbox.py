"""Enqueueing: a notification exists only if the transaction of its event commits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gridgov.api_types import as_utc
from gridgov.notifications.adapters import MisconfiguredChannel
from gridgov.notifications.delivery import DeliveryReport, deliver_due
from gridgov.notifications.outbox import enqueue
from gridgov.storage.db import get_engine, transaction
from tests.notifications.helpers import ScriptedAdapter, outbox_rows, queue

T0 = datetime(2026, 11, 20, 1, 30, tzinfo=UTC)
EVENT = {"county_code": "430921", "kind": "dispatched", "recipient": "officer-1", "subject_type": "finding",
         "subject_id": "f-1", "payload": {"title": "河道漂浮垃圾"}}


def test_enqueue_in_a_rolled_back_transaction_leaves_nothing_to_send(outbox_db):
    engine = get_engine(outbox_db)
    with pytest.raises(RuntimeError, match="the event failed"):
        with transaction(engine) as session:
            assert len(enqueue(session=session, now=T0, channels=["log"], **EVENT)) == 1
            raise RuntimeError("the event failed")

    adapter = ScriptedAdapter()
    assert outbox_rows(outbox_db) == []
    assert deliver_due(engine=engine, adapters={"log": adapter}, now=T0 + timedelta(days=1)) == DeliveryReport()
    assert adapter.tried == []


def test_enqueue_committed_is_delivered_in_every_county(outbox_db):
    ids = queue(outbox_db, 2, now=T0) + queue(outbox_db, 1, county_code="430922", now=T0)
    engine, adapter = get_engine(outbox_db), ScriptedAdapter()

    assert deliver_due(engine=engine, adapters={"log": adapter}, now=T0) == DeliveryReport(sent=3)
    assert sorted(message["id"] for message in adapter.delivered) == sorted(ids)
    message = next(message for message in adapter.delivered if message["county_code"] == "430922")
    assert message == {"id": message["id"], "county_code": "430922", "kind": "dispatched", "recipient": "officer-0",
                       "subject": {"type": "finding", "id": message["subject"]["id"]},
                       "payload": {"n": 0, "title": "河道漂浮垃圾"}, "created_at": T0.isoformat()}
    for row in outbox_rows(outbox_db):
        assert (row.status, row.attempts, row.lease_until, as_utc(row.sent_at)) == ("sent", 1, None, T0)
    assert deliver_due(engine=engine, adapters={"log": adapter}, now=T0 + timedelta(days=1)) == DeliveryReport()


def test_enqueue_makes_one_row_per_configured_channel(outbox_db, notify_settings):
    notify_settings(GRIDGOV_NOTIFY_CHANNELS="log, webhook")
    with transaction(get_engine(outbox_db)) as session:
        made = enqueue(session=session, now=T0, **EVENT)

    assert [row.channel for row in made] == ["log", "webhook"]
    assert len({row.id for row in made}) == 2
    for row in outbox_rows(outbox_db):
        assert (row.status, row.attempts, as_utc(row.next_attempt_at), row.lease_until) == ("pending", 0, T0, None)


def test_enqueue_refuses_a_channel_nobody_delivers(outbox_db):
    with pytest.raises(MisconfiguredChannel, match="pager"):
        with transaction(get_engine(outbox_db)) as session:
            enqueue(session=session, now=T0, channels=["log", "pager"], **EVENT)
    assert outbox_rows(outbox_db) == []


def test_only_due_rows_of_served_channels_are_sent(outbox_db):
    engine, adapter = get_engine(outbox_db), ScriptedAdapter()
    later = queue(outbox_db, 1, now=T0 + timedelta(hours=1))
    [log_id, webhook_id] = queue(outbox_db, 1, channels=["log", "webhook"], now=T0)

    assert deliver_due(engine=engine, adapters={"log": adapter}, now=T0) == DeliveryReport(sent=1)
    assert [message["id"] for message in adapter.delivered] == [log_id]
    assert {row.id: row.status for row in outbox_rows(outbox_db)} == {
        later[0]: "pending", log_id: "sent", webhook_id: "pending"}
