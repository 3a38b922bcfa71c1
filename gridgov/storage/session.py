"""The request-scoped session: one request, one transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from gridgov.storage.db import session_factory


def _end(session: Session, *, commit: bool) -> None:
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


async def get_session(request: Request) -> AsyncIterator[Session]:
    """Open a session for the request; commit when the route returns, roll back when it raises.

    Opening a session touches no database (the connection is taken at the first query), so it happens on
    the event loop; only the commit or rollback goes to a worker thread. A synchronous generator would
    cost a thread hand-off at each end of every request.
    """
    session = session_factory(request.app.state.engine)()
    try:
        yield session
    except BaseException:
        await run_in_threadpool(_end, session, commit=False)
        raise
    await run_in_threadpool(_end, session, commit=True)


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
"""The request's session, for route signatures. It ends with the route (``scope="function"``), before the
answer is sent: a commit that fails must not follow a 201 already on its way."""
