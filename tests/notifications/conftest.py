"""Fixtures of the outbox tests: a fresh database per test, and notification settings set per test."""

from __future__ import annotations

import pytest

from gridgov.config import get_settings
from tests.databases import new_database

NOTIFY_ENV = ("GRIDGOV_NOTIFY_CHANNELS", "GRIDGOV_NOTIFY_LOG_PATH", "GRIDGOV_NOTIFY_WEBHOOK_URL")


@pytest.fixture
def outbox_db(backend, tmp_path) -> str:
    """URL of a new, migrated database: each test owns its outbox, since delivery commits."""
    return new_database(backend, tmp_path, "outbox")


@pytest.fixture
def notify_settings(monkeypatch):
    """Set the notification settings of this test, e.g. ``notify_settings(GRIDGOV_NOTIFY_CHANNELS="log")``."""

    def configure(**env: str) -> None:
        for name in NOTIFY_ENV:
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    yield configure
    get_settings.cache_clear()  # monkeypatch restores the environment next; settings are read again after
