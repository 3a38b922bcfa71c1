"""Test doubles for the outbox: notifications queued in bulk, a scripted adapter and a local webhook receiver."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from uuid import uuid4

from sqlalchemy import select

from gridgov.notifications.models import Notification
from gridgov.notifications.outbox import enqueue
from gridgov.storage.db import get_engine, transaction


def queue(url: str, count: int, *, channels: Iterable[str] = ("log",), county_code: str = "430921",
          now: datetime | None = None) -> list[str]:
    """Enqueue ``count`` notifications (one row per channel each) in one committed transaction; their ids."""
    with transaction(get_engine(url)) as session:
        made = [row for n in range(count) for row in enqueue(
            session=session, county_code=county_code, kind="dispatched", recipient=f"officer-{n}",
            subject_type="finding", subject_id=str(uuid4()), payload={"n": n, "title": "河道漂浮垃圾"},
            now=now, channels=channels)]
    return [row.id for row in made]


def outbox_rows(url: str) -> list[Notification]:
    """Every row of the outbox as stored now."""
    with transaction(get_engine(url)) as session:
        return list(session.scalars(select(Notification).order_by(Notification.created_at, Notification.id)))


class ScriptedAdapter:
    """Raises ``errors`` one per attempt, then delivers; remembers every notification it was handed."""

    def __init__(self, *errors: Exception, delay: float = 0.0) -> None:
        self.errors = list(errors)
        self.delay = delay
        self.tried: list[str] = []
        self.delivered: list[dict] = []
        self.workers: list[int] = []
        self._lock = threading.Lock()

    def send(self, notification: dict) -> None:
        time.sleep(self.delay)
        with self._lock:
            self.tried.append(notification["id"])
            if self.errors:
                raise self.errors.pop(0)
            self.delivered.append(notification)
            self.workers.append(threading.get_ident())


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """A client that timed out has gone; writing the answer to it fails, as expected."""


class WebhookReceiver:
    """A local HTTP endpoint standing in for a message gateway: records every request, answers ``status``."""

    def __init__(self, status: int = 200, delay: float = 0.0) -> None:
        self.status = status
        self.delay = delay
        self.posts: list[tuple[str, str, dict]] = []  # (Idempotency-Key, Content-Type, body) of each POST
        self.gets: list[str] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/hook"

    def __enter__(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver._lock:
                    receiver.posts.append((self.headers["Idempotency-Key"], self.headers["Content-Type"], body))
                time.sleep(receiver.delay)
                self._answer(receiver.status)

            def do_GET(self) -> None:
                with receiver._lock:
                    receiver.gets.append(self.path)
                self._answer(200)

            def _answer(self, status: int) -> None:
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", receiver.url)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args) -> None:
                pass

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
