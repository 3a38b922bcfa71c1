"""Channels: how a notification leaves the outbox (a log file, a webhook; SMS or e-mail later).

An adapter sends one notification, a plain dict (id, county_code, kind, recipient, subject, payload,
created_at), and either returns (delivered) or raises ``DeliveryError`` saying whether trying again may
help. The delivery worker owns retries, leases and bookkeeping; an adapter knows only its channel. A new
channel is a factory added to ``CHANNELS``: ``CHANNELS["sms"] = lambda settings: SmsAdapter(...)``.
"""

from __future__ import annotations

import fcntl
import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from http.client import HTTPException
from pathlib import Path
from typing import Protocol

from gridgov.config import Settings, get_settings


class DeliveryError(Exception):
    """One attempt to send failed; ``retryable`` is False when sending it again cannot succeed."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class MisconfiguredChannel(RuntimeError):
    """A channel no adapter can serve: unknown, or missing a setting it needs (a deployment mistake)."""


class Adapter(Protocol):
    """Sends one notification over one channel."""

    def send(self, notification: dict) -> None:
        """Deliver ``notification`` or raise ``DeliveryError``."""


class LogAdapter:
    """Appends each notification to a JSON-lines file, once per id even across crashes and restarts.

    Before appending it looks the id up among those already in the file, so a notification the worker
    sends again (it crashed after the append but before marking the row sent) is not written twice. The
    ids are read lazily, and only the lines appended since the last look, under an exclusive lock that
    also keeps two workers sharing the file from interleaving or doubling lines.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._seen: set[str] = set()
        self._read_to = 0
        self._ends_clean = True

    def send(self, notification: dict) -> None:
        line = json.dumps(notification, ensure_ascii=False, sort_keys=True).encode() + b"\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a+b") as file:
                fcntl.flock(file, fcntl.LOCK_EX)
                self._catch_up(file)
                if notification["id"] in self._seen:
                    return
                # A crash mid-write can leave a torn last line; start on a fresh one so ours stays readable.
                file.write(line if self._ends_clean else b"\n" + line)
                file.flush()
                os.fsync(file.fileno())
                self._read_to, self._ends_clean = file.tell(), True
                self._seen.add(notification["id"])
        except OSError as error:
            raise DeliveryError(f"cannot append to {self.path}: {error}", retryable=True) from error

    def _catch_up(self, file) -> None:
        file.seek(0, os.SEEK_END)
        if file.tell() < self._read_to:  # truncated or rotated under us: read it again from the start
            self._read_to = 0
        file.seek(self._read_to)
        tail = file.read()
        for raw in tail.splitlines():
            try:
                self._seen.add(json.loads(raw)["id"])
            except (ValueError, KeyError, TypeError):
                pass  # a line torn by a crash: its notification was never marked sent and will be appended again
        if tail:
            self._read_to += len(tail)
            self._ends_clean = tail.endswith(b"\n")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """urllib would follow a 302 to a POST with a GET, and count the GET's 200 as delivered."""

    def redirect_request(self, *_args, **_kwargs):
        return None


class WebhookAdapter:
    """POSTs each notification as JSON, its id in the ``Idempotency-Key`` header.

    2xx: delivered. 4xx other than 408 and 429: the receiver refuses it, and would again (permanent).
    Anything else, a timeout or a refused connection: retryable. The receiver sees the same key on every
    attempt of one notification and should act on it once.
    """

    PERMANENT_EXCEPT = frozenset({408, 429})

    def __init__(self, url: str, timeout: float = 5) -> None:
        self.url = url
        self.timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirects)

    def send(self, notification: dict) -> None:
        request = urllib.request.Request(
            self.url, data=json.dumps(notification, ensure_ascii=False).encode(), method="POST",
            headers={"Content-Type": "application/json", "Idempotency-Key": notification["id"]},
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                response.read()
        except urllib.error.HTTPError as error:
            permanent = 400 <= error.code < 500 and error.code not in self.PERMANENT_EXCEPT
            raise DeliveryError(f"webhook answered HTTP {error.code}", retryable=not permanent) from error
        except (OSError, HTTPException) as error:  # URLError, timeouts, refused or reset connections
            raise DeliveryError(f"webhook unreachable: {error}", retryable=True) from error


def _log(settings: Settings) -> Adapter:
    return LogAdapter(settings.notify_log_path)


def _webhook(settings: Settings) -> Adapter:
    if not settings.notify_webhook_url:
        raise MisconfiguredChannel("The webhook channel is on (GRIDGOV_NOTIFY_CHANNELS) but has no URL: set "
                                   "GRIDGOV_NOTIFY_WEBHOOK_URL, or take webhook out of GRIDGOV_NOTIFY_CHANNELS.")
    return WebhookAdapter(settings.notify_webhook_url)


CHANNELS: dict[str, Callable[[Settings], Adapter]] = {"log": _log, "webhook": _webhook}
"""Every channel GridGov can send over: its name and how to build its adapter from the settings."""


def check_channels(names) -> list[str]:
    """``names`` without repeats, in order, refusing a channel nobody could deliver (it would wait forever)."""
    names = list(dict.fromkeys(names))
    if unknown := [name for name in names if name not in CHANNELS]:
        raise MisconfiguredChannel(f"Unknown notification channel(s) {', '.join(unknown)}; "
                                   f"known: {', '.join(CHANNELS)}.")
    return names


def configured_channels(settings: Settings | None = None) -> list[str]:
    """The channels of ``GRIDGOV_NOTIFY_CHANNELS``, in order."""
    settings = settings or get_settings()
    return check_channels(name.strip() for name in settings.notify_channels.split(",") if name.strip())


def adapters_from_settings(settings: Settings | None = None) -> dict[str, Adapter]:
    """An adapter for each configured channel, as the delivery worker needs them."""
    settings = settings or get_settings()
    return {name: CHANNELS[name](settings) for name in configured_channels(settings)}
