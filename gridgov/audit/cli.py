"""`gridgov audit`: read the audit log from the server's shell, as a county-wide operator."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gridgov.audit.schemas import MAX_LIMIT, AuditPage
from gridgov.audit.service import query
from gridgov.errors import GridGovError
from gridgov.people.principal import cli_principal
from gridgov.storage.db import transaction

audit_app = typer.Typer(help="Read the append-only audit log (追踪问效).", no_args_is_help=True)
console = Console(stderr=True)

MOMENT_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"]


class AuditFormat(StrEnum):
    table = "table"
    json = "json"


def _table(page: AuditPage) -> Table:
    table = Table(title="Audit log, newest first")
    for column in ("at (UTC)", "actor", "via", "action", "object", "unit", "id"):
        table.add_column(column)
    for item in page.items:
        table.add_row(
            item.at.strftime("%Y-%m-%d %H:%M:%S"), item.actor, item.via, item.action,
            f"{item.object_type} {item.object_id}", item.unit_code or "", item.id,
        )
    return table


Moment = Annotated[datetime | None, typer.Option(formats=MOMENT_FORMATS)]


@audit_app.command("list")
def list_records(
    actor: Annotated[str | None, typer.Option(help="Username, or cli:<OS user>.")] = None,
    object_type: Annotated[str | None, typer.Option()] = None,
    object_id: Annotated[str | None, typer.Option()] = None,
    action: Annotated[str | None, typer.Option()] = None,
    since: Moment = None,
    until: Moment = None,
    limit: Annotated[int, typer.Option(min=1, help=f"Records to show, at most {MAX_LIMIT}.")] = 100,
    before_id: Annotated[str | None, typer.Option(help="Show records older than this id (a page's next).")] = None,
    format: Annotated[AuditFormat, typer.Option("--format")] = AuditFormat.table,
) -> None:
    """Print audit records, newest first (times without a zone are UTC)."""
    limit = min(limit, MAX_LIMIT)
    try:
        with transaction() as session:
            records = query(
                session=session, principal=cli_principal(session=session), actor=actor, object_type=object_type,
                object_id=object_id, action=action, since=since, until=until, limit=limit + 1,
                before_id=before_id,
            )
            page = AuditPage.from_records(records, limit)
    except GridGovError as error:
        console.print(f"[red]error:[/red] {error.message}")
        raise typer.Exit(1) from error
    if format is AuditFormat.json:
        print(json.dumps(page.model_dump(mode="json"), ensure_ascii=False, indent=2))
        return
    Console().print(_table(page))
    if page.next:
        console.print(f"more: --before-id {page.next}")
