"""create_app(): the FastAPI application with its routers and one error handler."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import OperationalError
from starlette.datastructures import QueryParams

from gridgov import __version__
from gridgov.audit.router import router as audit_router
from gridgov.config import REPO_ROOT, get_settings
from gridgov.errors import GridGovError
from gridgov.findings.router import router as findings_router
from gridgov.findings.workflow_router import router as workflow_router
from gridgov.grids.router import router as grids_router
from gridgov.maps.dashboard import router as dashboard_router
from gridgov.maps.field import router as field_router
from gridgov.maps.planner import router as planner_router
from gridgov.maps.router import router as maps_router
from gridgov.maps.supervisor import router as supervisor_map_router
from gridgov.ogc.router import router as ogc_router
from gridgov.patrols.router import router as patrols_router
from gridgov.people.admin_router import router as people_admin_router
from gridgov.people.auth_router import router as auth_router
from gridgov.planning.router import router as planning_router
from gridgov.scheduler import run_forever
from gridgov.storage.db import get_engine

NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)
"""A JSON ``\u0000`` escape that is not itself an escaped backslash followed by ``u0000``."""


class RefuseControlCharacters:
    """No code, name or parameter holds a control character, and no stored text a NUL (PostgreSQL can
    neither store nor compare it): such a path names nothing (404), such a query parameter is invalid
    (400), and a JSON body with a NUL in a string is invalid (422).

    Plain ASGI rather than ``@app.middleware("http")``: the request line costs nothing to check; a JSON
    body is read once, scanned, and handed on, where Starlette's BaseHTTPMiddleware would wrap every
    request and response body.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            refusal = self._refusal(scope)
            if refusal is None and self._is_json(scope):
                body, receive = await self._buffered(receive)
                if NUL_ESCAPE.search(body):
                    refusal = JSONResponse(status_code=422, content={
                        "code": "invalid_request", "description": "A string in the request body holds a NUL "
                        "character (\\u0000), which no field may hold."})
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _is_json(scope) -> bool:
        content_type = dict(scope["headers"]).get(b"content-type", b"")
        return content_type.split(b";")[0].strip().lower() == b"application/json"

    @staticmethod
    async def _buffered(receive):
        """The whole body, and a ``receive`` that hands it to the app as if it were read for the first time."""
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return b"", receive
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return body, replay

    @staticmethod
    def _refusal(scope) -> JSONResponse | None:
        if not scope["path"].isprintable():
            return JSONResponse(status_code=404, content={"code": "not_found", "description": "No such resource."})
        query = QueryParams(scope.get("query_string", b""))
        if any(not (key + value).isprintable() for key, value in query.multi_items()):
            description = "A query parameter holds a control character."
            return JSONResponse(status_code=400, content={"code": "InvalidParameterValue", "description": description})
        return None


@asynccontextmanager
async def _lifespan(_app: FastAPI) -> AsyncIterator[None]:
    """Serve at most as many requests at once as the database pool has connections (a request beyond that
    waits for a thread instead of holding one while it waits for a connection), and run the workflow's
    clock (escalations, notifications) while the app runs."""
    settings = get_settings()
    anyio.to_thread.current_default_thread_limiter().total_tokens = settings.database_pool_size
    clock = None
    if settings.scheduler_seconds > 0:
        clock = asyncio.create_task(run_forever(settings.scheduler_seconds))
    yield
    if clock is not None:
        clock.cancel()


def create_app(database_url: str | None = None) -> FastAPI:
    """Build the app on the database at ``database_url`` (default: ``GRIDGOV_DATABASE_URL``)."""
    get_settings().check_production()
    app = FastAPI(
        title="GridGov",
        version=__version__,
        description="Grid governance for river, forest and field chiefs (河长制·林长制·田长制).",
        lifespan=_lifespan,
    )
    app.state.engine = get_engine(database_url)
    app.include_router(auth_router)
    app.include_router(people_admin_router)
    app.include_router(audit_router)
    app.include_router(grids_router)
    app.include_router(patrols_router)
    app.include_router(findings_router)
    app.include_router(workflow_router)
    app.include_router(ogc_router)
    app.include_router(maps_router)
    app.include_router(dashboard_router)
    app.include_router(supervisor_map_router)
    app.include_router(field_router)
    app.include_router(planner_router)
    app.include_router(planning_router)
    app.mount("/static", StaticFiles(directory=REPO_ROOT / "web" / "static"), name="static")
    app.add_middleware(GZipMiddleware, minimum_size=1000)  # the map's layer and the pages travel compressed
    app.add_middleware(RefuseControlCharacters)

    @app.exception_handler(GridGovError)
    async def gridgov_error(_request: Request, exc: GridGovError) -> JSONResponse:
        return JSONResponse(status_code=exc.status, content=exc.to_dict(), headers=getattr(exc, "headers", None))

    @app.exception_handler(OperationalError)
    async def database_busy(_request: Request, exc: OperationalError) -> JSONResponse:
        # SQLite lets one writer at a time and waits 5 s for the lock; a long write (a county-wide change set)
        # can outlast that. The request changed nothing: say so and when to try again, instead of a 500.
        if "database is locked" not in str(exc.orig):
            raise exc
        return JSONResponse(status_code=503, headers={"Retry-After": "5"}, content={
            "code": "database_busy", "description": "The database is busy with another change; nothing was "
            "changed by this request. Try again in a few seconds."})

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"where": ".".join(str(p) for p in err["loc"]), "message": err["msg"]} for err in exc.errors()
        ]
        return JSONResponse(
            status_code=422,
            content={"code": "invalid_request", "description": "Invalid request parameters.", "details": details},
        )

    return app
