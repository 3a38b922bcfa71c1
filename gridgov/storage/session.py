"""The request-scoped session: one request, one transaction."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.orm import Session

from gridgov.storage.db import session_factory


def get_session(request: Request) -> Iterator[Session]:
    """Open a session for the request; commit when the route returns, roll back when it raises."""
    session = session_factory(request.app.state.engine)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
