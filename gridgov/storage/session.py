"""The request-scoped session: one request, one transaction."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from gridgov.storage.db import transaction


def get_session(request: Request) -> Iterator[Session]:
    """Open a session for the request; commit when the route returns, roll back when it raises."""
    with transaction(request.app.state.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
"""The request's session, for route signatures."""
