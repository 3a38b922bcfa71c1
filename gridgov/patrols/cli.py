"""`gridgov patrols`: load patrols recorded offline (GPX or GeoJSON) from the server's shell."""

from __future__ import annotations

import getpass
import hashlib
import uuid
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gridgov.errors import GridGovError
from gridgov.patrols.service import import_track
from gridgov.patrols.track_files import read_track_file
from gridgov.people.auth import officer_principal
from gridgov.people.principal import cli_principal
from gridgov.storage.db import transaction

patrols_app = typer.Typer(help="Patrols (巡查): import tracks recorded offline.", no_args_is_help=True)
console = Console(stderr=True)


@patrols_app.command("import")
def import_file(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A .gpx or .geojson track.")],
    officer: Annotated[str, typer.Option(help="Person code of the grid officer who walked it.")],
    grid: Annotated[str, typer.Option(help="Code of the grid patrolled.")],
    patrol_id: Annotated[str | None, typer.Option(
        "--id", help="Patrol id (UUID); default: derived from the file's content, so importing twice is safe.")] = None,
) -> None:
    """Store a whole patrol from a track file, measured like one walked live; importing it again is a no-op."""
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    patrol_id = patrol_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"gridgov:patrol:{officer}:{grid}:{digest}"))
    try:
        fixes = read_track_file(data, filename=path.name)
        first = fixes.sorted_by_time().t[0].astype("datetime64[D]").item()
        with transaction() as session:
            county = cli_principal(session=session).county_code
            principal = officer_principal(session=session, county_code=county, officer_code=officer, on=first,
                                          operator=f"cli:{getpass.getuser()}")
            patrol = import_track(session=session, principal=principal, patrol_id=patrol_id, grid_code=grid,
                                  fixes=fixes, source="gpx" if path.suffix.lower() == ".gpx" else "geojson")
            summary = (f"patrol {patrol.id}: grid {patrol.grid_code}, {patrol.fix_count} fixes, "
                       f"{(patrol.length_m or 0) / 1000:.2f} km in {(patrol.duration_s or 0) / 60:.0f} min, "
                       f"{len(patrol.flags or [])} flag(s)")
    except GridGovError as error:
        console.print(f"[red]error:[/red] {error.message}")
        raise typer.Exit(1) from error
    console.print(f"[green]{summary}[/green]")
