"""Channels: the log file, the webhook and building them from the settings."""

from __future__ import annotations

import json
import socket

import pytest

from gridgov.notifications.adapters import (
    CHANNELS,
    DeliveryError,
    LogAdapter,
    MisconfiguredChannel,
    WebhookAdapter,
    adapters_from_settings,
)
from tests.notifications.helpers import ScriptedAdapter, WebhookReceiver


def message(id_: str) -> dict:
    return {"id": id_, "county_code": "430921", "kind": "escalated", "recipient": "town-01",
            "subject": {"type": "finding", "id": "f-1"}, "payload": {"title": "林地火情"},
            "created_at": "2026-11-20T01:30:00+00:00"}


def logged(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_log_holds_each_notification_once_across_restarts(tmp_path):
    path = tmp_path / "var" / "notifications.jsonl"
    first = LogAdapter(path)
    for id_ in ("a", "a", "b"):
        first.send(message(id_))
    LogAdapter(path).send(message("a"))  # a restarted worker sends again what it could not mark sent
    LogAdapter(path).send(message("c"))

    assert logged(path) == [message("a"), message("b"), message("c")]


def test_log_shared_by_two_workers_holds_each_notification_once(tmp_path):
    path = tmp_path / "notifications.jsonl"
    one, two = LogAdapter(path), LogAdapter(path)
    one.send(message("a"))
    two.send(message("a"))
    two.send(message("b"))
    one.send(message("b"))

    assert [record["id"] for record in logged(path)] == ["a", "b"]


def test_log_recovers_from_a_line_torn_by_a_crash(tmp_path):
    path = tmp_path / "notifications.jsonl"
    LogAdapter(path).send(message("a"))
    with open(path, "ab") as file:
        file.write(b'{"county_code": "430921", "id": "b", "ki')  # the worker died mid-write

    again = LogAdapter(path)
    again.send(message("b"))
    again.send(message("a"))
    first, torn, last = path.read_text(encoding="utf-8").splitlines()
    assert torn.endswith('"ki')
    assert (json.loads(first), json.loads(last)) == (message("a"), message("b"))


def test_log_that_cannot_be_written_is_retryable(tmp_path):
    with pytest.raises(DeliveryError) as raised:
        LogAdapter(tmp_path).send(message("a"))  # a folder, not a file
    assert raised.value.retryable


def test_webhook_posts_json_with_its_idempotency_key():
    with WebhookReceiver() as receiver:
        WebhookAdapter(receiver.url).send(message("a"))
    assert receiver.posts == [("a", "application/json", message("a"))]


@pytest.mark.parametrize(("status", "retryable"), [
    (400, False), (403, False), (404, False), (422, False),
    (408, True), (429, True), (500, True), (503, True), (302, True),
])
def test_webhook_answers_sort_failures_into_permanent_and_retryable(status, retryable):
    with WebhookReceiver(status=status) as receiver:
        with pytest.raises(DeliveryError, match=f"HTTP {status}") as raised:
            WebhookAdapter(receiver.url).send(message("a"))
    assert raised.value.retryable is retryable
    assert (len(receiver.posts), receiver.gets) == (1, [])  # a redirect is not followed with a GET


def test_webhook_timeout_is_retryable():
    with WebhookReceiver(delay=1.0) as receiver:
        with pytest.raises(DeliveryError, match="unreachable") as raised:
            WebhookAdapter(receiver.url, timeout=0.2).send(message("a"))
    assert raised.value.retryable


def test_webhook_refused_connection_is_retryable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DeliveryError, match="unreachable") as raised:
        WebhookAdapter(f"http://127.0.0.1:{port}/hook", timeout=1).send(message("a"))
    assert raised.value.retryable


def test_adapters_from_settings(notify_settings, tmp_path):
    notify_settings(GRIDGOV_NOTIFY_LOG_PATH=str(tmp_path / "n.jsonl"))
    adapters = adapters_from_settings()
    assert list(adapters) == ["log"] and adapters["log"].path == tmp_path / "n.jsonl"

    notify_settings(GRIDGOV_NOTIFY_CHANNELS="webhook,log,webhook", GRIDGOV_NOTIFY_WEBHOOK_URL="http://127.0.0.1:9/h")
    adapters = adapters_from_settings()
    assert list(adapters) == ["webhook", "log"] and adapters["webhook"].url == "http://127.0.0.1:9/h"


def test_webhook_without_a_url_is_refused(notify_settings):
    notify_settings(GRIDGOV_NOTIFY_CHANNELS="log,webhook")
    with pytest.raises(MisconfiguredChannel, match="GRIDGOV_NOTIFY_WEBHOOK_URL"):
        adapters_from_settings()


def test_unknown_channel_is_refused(notify_settings):
    notify_settings(GRIDGOV_NOTIFY_CHANNELS="log,pager")
    with pytest.raises(MisconfiguredChannel, match="pager.*known: log, webhook"):
        adapters_from_settings()


def test_a_new_channel_plugs_into_the_registry(notify_settings, monkeypatch):
    sms = ScriptedAdapter()
    monkeypatch.setitem(CHANNELS, "sms", lambda _settings: sms)
    notify_settings(GRIDGOV_NOTIFY_CHANNELS="log,sms")
    assert adapters_from_settings()["sms"] is sms
