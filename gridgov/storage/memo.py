"""Short-lived memory of facts every request needs and that rarely change: who a user answers for, the
county's categories and chiefs, its metric CRS.

Each request used to ask the database for them again, which cost more than the work it came for. An
entry lives ``GRIDGOV_CACHE_SECONDS`` (0 turns the memory off) and is forgotten at once, in this process,
when a service changes what it was computed from (``changed()``): assignments, grants, accounts,
categories. Other worker processes see such a change within the same number of seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session

from gridgov.config import get_settings

T = TypeVar("T")

_lock = threading.Lock()
_entries: dict[Hashable, tuple[float, int, object]] = {}
_generation = 0
MAX_ENTRIES = 10_000


def recall(key: Hashable) -> object | None:
    """The value remembered for ``key`` if it is still fresh, else None (nothing is computed)."""
    entry = _entries.get(key)
    if entry is not None and entry[0] > time.monotonic() and entry[1] == _generation:
        return entry[2]
    return None


def remembered(key: Hashable, compute: Callable[[], T]) -> T:
    """The value for ``key`` computed within the last ``GRIDGOV_CACHE_SECONDS``, else ``compute()``."""
    seconds = get_settings().cache_seconds
    if seconds <= 0:
        return compute()
    value = recall(key)
    if value is not None:
        return value
    now = time.monotonic()
    generation = _generation
    value = compute()
    with _lock:
        if len(_entries) >= MAX_ENTRIES:
            _entries.clear()
        _entries[key] = (now + seconds, generation, value)
    return value


def changed() -> None:
    """Something remembered may be out of date: forget everything (cheap; it is rebuilt on demand)."""
    global _generation
    with _lock:
        _generation += 1
        _entries.clear()


def changes(session: Session) -> None:
    """``session`` is changing what is remembered: forget now, and again once it commits (a request that
    read the old rows in between must not keep them)."""
    session.info[_STALE] = True
    changed()


_STALE = "gridgov_memo_stale"


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_STALE, False):
        changed()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_STALE, None)
