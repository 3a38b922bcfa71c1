"""`gridgov plan`: change sets from the server's shell, the same operations as /api/v1/planning.

Runs as the county-wide CLI operator (``cli:<OS user>``), audited like the API. The shell acts on a draft's
current revision (``If-Match: *``), one command at a time. Lines come as WKT in EPSG:4490 (``--line``) or
from any file GDAL reads (``--line-file``, e.g. a line drawn in QGIS; reprojected to EPSG:4490).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from shapely import wkt
from shapely.geometry import mapping

from gridgov.config import county_today
from gridgov.errors import InvalidParameter
from gridgov.people.cli import run_as_operator
from gridgov.planning import applying, history, proposals, service
from gridgov.planning.models import ChangeSet

plan_app = typer.Typer(help="Plan grids: drafts of splits, merges and reassignments, applied all or nothing.",
                       no_args_is_help=True)
console = Console()

IdArg = Annotated[str, typer.Argument(help="The change set's id (or its first characters).")]
LineOpt = Annotated[str | None, typer.Option("--line", help="The line as WKT, lon/lat (EPSG:4490).")]
LineFileOpt = Annotated[Path | None, typer.Option("--line-file", help="A file holding the line (any GDAL format).")]


def _line(line: str | None, line_file: Path | None) -> dict:
    if (line is None) == (line_file is None):
        raise typer.BadParameter("give the line with --line WKT or --line-file FILE")
    if line is not None:
        try:
            return mapping(wkt.loads(line))
        except Exception as error:  # shapely raises several kinds for bad WKT
            raise typer.BadParameter(f"--line is not WKT: {error}") from None
    import geopandas as gpd

    frame = gpd.read_file(line_file)
    if frame.crs is None:
        raise typer.BadParameter(f"{line_file} has no CRS; GridGov will not guess one")
    lines = frame.to_crs(4490).geometry
    lines = lines[lines.geom_type == "LineString"]
    if len(lines) != 1:
        raise typer.BadParameter(f"{line_file} must hold exactly one LineString, not {len(lines)}")
    return mapping(lines.iloc[0])


def _find(session, principal, change_set_id: str) -> ChangeSet:
    """A change set by id or by a unique prefix of it, as people type them from a listing."""
    matches = [c for c in service.listed(session=session, principal=principal) if c.id.startswith(change_set_id)]
    if len(matches) != 1:
        raise InvalidParameter(f"{len(matches)} change sets have an id starting with {change_set_id!r}.")
    return matches[0]


def _show(change_set: ChangeSet) -> None:
    console.print(f"[bold]{change_set.id}[/bold] {change_set.title!r}: {change_set.status}, effective "
                  f"{change_set.effective_on}, area {change_set.scope_code}, by {change_set.author}, "
                  f"revision {change_set.revision}")
    for n, edit in enumerate(change_set.edits):
        subject = edit.get("code") or edit.get("village") or ", ".join(edit.get("codes", [])) or edit.get("a", "")
        console.print(f"  {n}. {edit['op']} {subject}: retires {', '.join(edit.get('retired', [])) or '-'}; "
                      f"creates {', '.join(edit.get('created', [])) or '-'}")
    for row in change_set.reassignments:
        console.print(f"  grid {row['grid_code']} → officer {row['officer_code']}")
    if change_set.result and "proposal" in change_set.result:
        console.print(f"  balancing: {change_set.result['proposal']}")


def _edit(change_set_id: str, body: dict) -> None:
    def action(session, principal):
        found = _find(session, principal, change_set_id)
        return service.add_edit(session=session, principal=principal, change_set_id=found.id, if_match="*",
                                edit=body)

    _show(run_as_operator(action, "edit added"))


@plan_app.command("list")
def list_change_sets(status: Annotated[str | None, typer.Option(help="draft, applied, discarded, reverted")] = None):
    """List change sets, newest first."""
    rows = run_as_operator(lambda s, p: service.listed(session=s, principal=p, status=status))
    table = Table("id", "title", "status", "effective", "area", "edits", "author")
    for c in rows:
        table.add_row(c.id[:8], c.title, c.status, str(c.effective_on), c.scope_code, str(len(c.edits)), c.author)
    console.print(table)


@plan_app.command("new")
def new(title: str, effective: Annotated[str | None, typer.Option(help="YYYY-MM-DD; default today")] = None,
        scope: Annotated[str | None, typer.Option(help="town or village the draft is about")] = None) -> None:
    """Start a draft."""
    on = date.fromisoformat(effective) if effective else None
    _show(run_as_operator(lambda s, p: service.create(session=s, principal=p, title=title, effective_on=on,
                                                      scope_code=scope), "draft created"))


@plan_app.command("show")
def show(change_set_id: IdArg) -> None:
    """Print a change set and its edits."""
    _show(run_as_operator(lambda s, p: _find(s, p, change_set_id)))


@plan_app.command("split")
def split(change_set_id: IdArg, code: str, line: LineOpt = None, line_file: LineFileOpt = None) -> None:
    """Split a grid or micro-grid along a line crossing it."""
    _edit(change_set_id, {"op": "split", "code": code, "line": _line(line, line_file)})


@plan_app.command("merge")
def merge(change_set_id: IdArg, codes: Annotated[list[str], typer.Argument(help="two or more neighbours")]) -> None:
    """Merge neighbouring grids or micro-grids of one parent."""
    _edit(change_set_id, {"op": "merge", "codes": codes})


@plan_app.command("move-boundary")
def move_boundary(change_set_id: IdArg, a: str, b: str, line: LineOpt = None, line_file: LineFileOpt = None):
    """Make the line the shared boundary of neighbours A and B."""
    _edit(change_set_id, {"op": "move_boundary", "a": a, "b": b, "line": _line(line, line_file)})


@plan_app.command("reparent")
def reparent(change_set_id: IdArg, code: str, new_parent: str) -> None:
    """Move a micro-grid to a neighbouring grid of its village."""
    _edit(change_set_id, {"op": "reparent", "code": code, "new_parent": new_parent})


@plan_app.command("reassign")
def reassign(change_set_id: IdArg, grid: str, officer: str) -> None:
    """Give a grid to an officer from the draft's effective date."""

    def action(session, principal):
        found = _find(session, principal, change_set_id)
        return service.reassign(session=session, principal=principal, change_set_id=found.id, if_match="*",
                                grid_code=grid, officer_code=officer)

    _show(run_as_operator(action, "reassignment added"))


@plan_app.command("preview")
def preview(change_set_id: IdArg) -> None:
    """What applying would do: units retired and created, findings and officers that move."""

    def action(session, principal):
        return service.preview(session=session, principal=principal,
                               change_set_id=_find(session, principal, change_set_id).id)

    found = run_as_operator(action)
    console.print(f"retires {len(found['retired'])}: {', '.join(found['retired'][:20])}")
    console.print(f"creates {len(found['created'])}: {', '.join(found['created'][:20])}")
    if found["stale"]:
        console.print(f"[red]changed since drawn on: {', '.join(found['stale'])}[/red]")
    table = Table("open finding", "from", "to", title="Findings that move")
    for move in found["findings"]:
        table.add_row(move["id"], move["from"], move["to"])
    console.print(table)
    table = Table("grid", "officer before", "officer after", title="Officers")
    for row in found["officers"]:
        table.add_row(row["grid_code"], row["before"] or "-", row["after"] or "-")
    console.print(table)


@plan_app.command("apply")
def apply(change_set_id: IdArg) -> None:
    """Apply a draft, all or nothing (one dated later is scheduled for its day)."""
    _show(run_as_operator(lambda s, p: applying.apply(session=s, principal=p, if_match="*",
                                                      change_set_id=_find(s, p, change_set_id).id), "done"))


@plan_app.command("discard")
def discard(change_set_id: IdArg) -> None:
    """Discard a draft."""
    _show(run_as_operator(lambda s, p: service.discard(session=s, principal=p, if_match="*",
                                                       change_set_id=_find(s, p, change_set_id).id), "discarded"))


@plan_app.command("revert")
def revert(change_set_id: IdArg) -> None:
    """Draft the undoing of an applied change set (then apply the new draft)."""
    _show(run_as_operator(lambda s, p: service.revert(session=s, principal=p,
                                                      change_set_id=_find(s, p, change_set_id).id), "revert drafted"))


@plan_app.command("balance")
def balance(scope: Annotated[str | None, typer.Option(help="town or village; default the county")] = None) -> None:
    """Draft a balancing proposal: one contiguous grid per officer, workload spread evened out."""
    with console.status("Computing the proposal (a whole county takes a few tens of seconds)"):
        change_set = run_as_operator(lambda s, p: proposals.propose(session=s, principal=p, scope_code=scope),
                                     "proposal drafted")
    _show(change_set)


@plan_app.command("locate")
def locate(lon: float, lat: float, as_of: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None) -> None:
    """Which micro-grid, grid, village and town held a point on a day."""
    on = date.fromisoformat(as_of) if as_of else county_today()
    found = run_as_operator(lambda s, p: history.locate_as_of(session=s, county_code=p.county_code, lon=lon,
                                                              lat=lat, on=on))
    console.print({"as_of": on.isoformat(), **found})
