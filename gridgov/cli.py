"""The `gridgov` command: thin wrappers that call the services, with progress bars on long steps."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from gridgov.audit.cli import audit_app
from gridgov.config import REPO_ROOT, get_settings
from gridgov.errors import GridGovError, InvalidParameter
from gridgov.patrols.cli import patrols_app
from gridgov.people.cli import users_app
from gridgov.planning.cli import plan_app
from gridgov.storage import walls
from gridgov.storage.db import get_engine, owner_engine, refresh_statistics, session_factory, transaction
from gridgov.storage.migrate import upgrade

app = typer.Typer(help="GridGov: grid governance for river, forest and field chiefs.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.add_typer(patrols_app, name="patrols")
app.add_typer(plan_app, name="plan")
console = Console(stderr=True)

DEMO_DATASET = REPO_ROOT / "geodata" / "nan_county" / "nan_county.gpkg"


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


PathArg = Annotated[Path, typer.Argument(help="GeoPackage, Shapefile, GeoJSON, or a folder of them.")]
LayerOpt = Annotated[str | None, typer.Option(help="The layer a single file holds (default: its name).")]
CrsOpt = Annotated[str | None, typer.Option(help="CRS of files that carry none, e.g. EPSG:4546.")]
Gcj02Opt = Annotated[bool, typer.Option("--gcj02", help="Coordinates are Amap GCJ-02; convert them exactly.")]


@contextmanager
def _progress():
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:>6}"),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        yield progress


def _fail(error: GridGovError) -> None:
    console.print(f"[red]error:[/red] {error.message}")
    raise typer.Exit(1)


def _import(path: Path, *, layer: str | None = None, crs: str | None = None, gcj02: bool = False) -> None:
    """Migrate, then validate and import a dataset in one transaction, drawing progress."""
    from gridgov.findings.taxonomy import seed_county_defaults
    from gridgov.grids.checks import format_defects
    from gridgov.grids.importing import check_path, store_checked
    from gridgov.people.principal import cli_principal

    engine = owner_engine()
    upgrade(engine)
    with _progress() as progress:
        task = progress.add_task(f"Reading and checking {path.name}", total=None)
        with transaction(engine) as session:
            layers, defects = check_path(session=session, path=path, layer=layer, crs=crs, gcj02=gcj02)
            progress.update(task, total=1, completed=1)
            if defects:
                progress.stop()
                print(format_defects(defects))
                console.print(f"[red]{len(defects)} defect(s); nothing was imported.[/red]")
                raise typer.Exit(1)
            total = sum(len(frame) for frame in layers.values())
            store = progress.add_task("Storing features", total=total)
            summary = store_checked(
                session=session, layers=layers, source=path.name,
                progress=lambda step, n: progress.advance(store, n),
            )
            seed_county_defaults(session=session, principal=cli_principal(session=session))
    refresh_statistics(engine)
    table = Table(title=f"Imported into county {summary.county_code}")
    table.add_column("layer")
    table.add_column("features", justify="right")
    for name, count in summary.counts.items():
        table.add_row(name, str(count))
    console.print(table)


@app.command()
def validate(
    path: PathArg,
    layer: LayerOpt = None,
    crs: CrsOpt = None,
    gcj02: Gcj02Opt = False,
    format: Annotated[OutputFormat, typer.Option("--format", help="text: one line per defect; json: a list.")] = (
        OutputFormat.text
    ),
) -> None:
    """Check a county's files; one line per defect (kind, layer, code, where, message); exit 1 if any."""
    from gridgov.grids.checks import defects_to_json, format_defects
    from gridgov.grids.importing import check_path

    try:
        session = _existing_session()
        try:
            _layers, defects = check_path(session=session, path=path, layer=layer, crs=crs, gcj02=gcj02)
        finally:
            if session is not None:
                session.close()
    except GridGovError as error:
        _fail(error)
    if format is OutputFormat.json:
        print(defects_to_json(defects))
    elif defects:
        print(format_defects(defects))
    if defects:
        console.print(f"[red]{len(defects)} defect(s) in {path}[/red]")
        raise typer.Exit(1)
    console.print(f"[green]{path}: no defects[/green]")


def _existing_session():
    """A session on the configured database when it is already migrated, else None (check files alone)."""
    engine = owner_engine()
    try:
        with engine.connect() as conn:
            if not engine.dialect.has_table(conn, "units"):
                return None
    except SQLAlchemyError:
        return None
    return session_factory(engine)()


@app.command("import")
def import_(path: PathArg, layer: LayerOpt = None, crs: CrsOpt = None, gcj02: Gcj02Opt = False) -> None:
    """Validate and load a county's files; all or nothing: a file with any defect changes nothing."""
    try:
        _import(path, layer=layer, crs=crs, gcj02=gcj02)
    except GridGovError as error:
        _fail(error)


@app.command()
def export(
    path: Annotated[Path, typer.Argument(help="x.gpkg, x_geojson/ (folder), or x_shp/ (folder of Shapefiles).")],
    overwrite: Annotated[bool, typer.Option(help="Replace existing output.")] = False,
) -> None:
    """Write the stored county in the import format: GeoPackage, GeoJSON or Shapefile (ASCII fields)."""
    from gridgov.grids.export import export_layers
    from gridgov.grids.service import dataset_layers, only_county_code

    try:
        with transaction() as session:
            county_code = only_county_code(session=session) or get_settings().county_code
            with _progress() as progress:
                task = progress.add_task(f"Exporting county {county_code}", total=None)
                written = export_layers(dataset_layers(session=session, county_code=county_code), path,
                                        overwrite=overwrite)
                progress.update(task, total=1, completed=1)
    except GridGovError as error:
        _fail(error)
    for file in written:
        console.print(f"wrote {file}")


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema (Alembic) as GRIDGOV_DATABASE_OWNER_URL (else GRIDGOV_DATABASE_URL)."""
    upgrade(owner_engine())
    console.print("[green]database is up to date[/green]")


def _serve(host: str, port: int, workers: int = 1) -> None:
    import uvicorn

    from gridgov.main import create_app

    upgrade(owner_engine())
    if walls.bypassed_by(get_engine()):
        console.print(
            "[yellow]warning:[/yellow] GRIDGOV_DATABASE_URL connects as a superuser or the tables' owner, so "
            "row-level security does not apply; connect as a member of gridgov_app (see README, Configuration)."
        )
    console.print(f"GridGov serving on [bold]http://{host}:{port}[/bold]  (OGC API at /ogc/, API docs at /docs)")
    if workers == 1:
        uvicorn.run(create_app(), host=host, port=port, log_level="info")
    else:  # each worker process builds its own app from the same settings
        create_app()  # refuse insecure settings here, before starting the workers
        uvicorn.run("gridgov.main:create_app", factory=True, host=host, port=port, workers=workers,
                    log_level="warning")


HostOpt = Annotated[str, typer.Option(help="Interface to listen on.")]
PortOpt = Annotated[int, typer.Option(help="Port to listen on.")]


WorkersOpt = Annotated[int, typer.Option(min=1, help="Worker processes (about one per CPU core in production).")]


@app.command()
def serve(host: HostOpt = "127.0.0.1", port: PortOpt = 8000, workers: WorkersOpt = 1) -> None:
    """Serve the API and pages on the database at GRIDGOV_DATABASE_URL."""
    _serve(host, port, workers)


@app.command()
def demo(
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8000,
    build_only: Annotated[bool, typer.Option("--build-only", help="Build the demo database, then stop.")] = False,
) -> None:
    """Build the Nan County demo database when it is absent, then serve it."""
    from gridgov.findings.demo import seed_demo_history
    from gridgov.grids.service import only_county_code
    from gridgov.people.demo import seed_demo_users

    # Demo mode: a random per-process secret instead of the public placeholder, cookies over http.
    os.environ.setdefault("GRIDGOV_DEMO", "1")
    get_settings.cache_clear()
    engine = owner_engine()
    upgrade(engine)
    with session_factory(engine)() as session:
        loaded = only_county_code(session=session)
    if loaded is None:
        console.print("Building the Nan County demo (synthetic grids on the real county boundary)")
        try:
            _import(DEMO_DATASET)
        except GridGovError as error:
            _fail(error)
    else:
        console.print(f"Demo database already holds county {loaded}; serving it as it is.")
    with transaction(engine) as session:
        sign_ins = seed_demo_users(session=session, county_code=only_county_code(session=session))
    with _progress() as progress:
        tasks = {}

        def advance(step: str, n: int) -> None:
            if step not in tasks:
                tasks[step] = progress.add_task(f"History: {step}", total=None)
            progress.advance(tasks[step], n)

        with transaction(engine) as session:
            history = seed_demo_history(session=session, county_code=only_county_code(session=session),
                                        today=date.today(), progress=advance)
    refresh_statistics(engine)
    if history["skipped"]:
        console.print("Demo patrols and findings are already there; none added.")
    else:
        console.print(f"Seeded synthetic patrol history: {history['patrols']:,} patrols "
                      f"({history['track_fixes']:,} GPS fixes, {history['flagged_patrols']} flagged), "
                      f"{history['checks']:,} checklist answers, {history['findings']:,} findings "
                      f"({history['possible_duplicates']} possible duplicates); along the workflow: "
                      + ", ".join(f"{n:,} {status}" for status, n in sorted(history["statuses"].items())))
    table = Table(title="Demo sign-ins 演示账号 (http://%s:%d/sign-in)" % (host, port))
    for column in ("role", "username", "password"):
        table.add_column(column)
    for sign_in in sign_ins:
        table.add_row(sign_in.role, sign_in.username, sign_in.password)
    console.print(table)
    if not build_only:
        _serve(host, port)


@app.command()
def tick() -> None:
    """Escalate overdue findings and deliver due notifications once (for cron, with
    GRIDGOV_SCHEDULER_SECONDS=0 on the server)."""
    from gridgov.scheduler import run_once

    report = run_once()
    levels = ", ".join(f"{e.finding_id} → {e.level}" for e in report.escalated[:10])
    console.print(f"escalated {len(report.escalated)}" + (f" ({levels}{' …' if len(report.escalated) > 10 else ''})"
                                                          if levels else ""))
    console.print(f"notifications: {report.delivery}")
    console.print(f"change sets applied on their day: {len(report.planned.applied)}")
    for change_set_id, reason in report.planned.back_to_draft.items():
        console.print(f"  change set {change_set_id} went back to draft: {reason}")


@app.command()
def kpi(
    since: Annotated[str, typer.Option(help="First day of the period (YYYY-MM-DD, county time).")],
    until: Annotated[str, typer.Option(help="Day after the period (YYYY-MM-DD, county time).")],
    group_by: Annotated[str, typer.Option(help="county, town, village, grid, micro_grid, domain, category; "
                                               "several joined by commas")] = "town",
    csv: Annotated[Path | None, typer.Option(help="Also write the table to this CSV file.")] = None,
) -> None:
    """Key figures of the county's findings for a period, recounted from the workflow's events."""
    from zoneinfo import ZoneInfo

    from gridgov.findings.kpi_service import kpi_table
    from gridgov.findings.kpis import GROUP_COLUMNS, kpi_rows_to_csv
    from gridgov.people.principal import cli_principal

    zone = ZoneInfo(get_settings().timezone)
    try:
        start, end = (datetime.combine(date.fromisoformat(day), datetime.min.time(), zone) for day in (since, until))
    except ValueError as error:
        _fail(InvalidParameter(f"--since and --until take dates like 2026-11-01: {error}"))
    keys = [k.strip() for k in group_by.split(",")]
    with transaction(owner_engine()) as session:
        try:
            table = kpi_table(session=session, principal=cli_principal(session=session), since=start, until=end,
                              group_by=keys)
        except GridGovError as error:
            _fail(error)
    view = Table(title=f"KPIs {since} – {until} (end exclusive), by {group_by}")
    shown = [*(GROUP_COLUMNS[k] for k in keys), *KPI_SHOWN]
    for column in shown:
        view.add_column(column)
    for row in table[shown].itertuples(index=False):
        view.add_row(*("" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)
                       for value in row))
    console.print(view)
    if csv is not None:
        csv.write_text(kpi_rows_to_csv(table), encoding="utf-8")
        console.print(f"wrote {csv}")


KPI_SHOWN = ["registered", "closed", "completion_rate", "on_time_rate", "accept_hours_median",
             "resolve_hours_median", "overdue_now", "escalations", "small", "rank"]


def main() -> None:  # pragma: no cover - console entry point alias
    app(prog_name="gridgov")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
