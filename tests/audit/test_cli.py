"""`gridgov audit list` (SQLite and PostGIS): a county-wide CLI operator reads the log as a table or JSON."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from gridgov.audit.cli import audit_app
from gridgov.audit.service import record
from gridgov.config import get_settings
from gridgov.people.principal import cli_principal
from gridgov.storage.db import get_engine, transaction
from tests.audit.principals import COUNTY_ADMIN
from tests.factories_geo import COUNTY, GRIDS

runner = CliRunner()
cli = typer.Typer()
cli.add_typer(audit_app, name="audit")  # as gridgov/cli.py mounts it


def _use(monkeypatch, url: str) -> None:
    monkeypatch.setenv("GRIDGOV_DATABASE_URL", url)
    monkeypatch.setenv("LOGNAME", "ops")
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def seeded(county_db) -> None:
    """Two committed records: one through the API, then one made from the shell by OS user ``ops``."""
    with pytest.MonkeyPatch.context() as patch, transaction(get_engine(county_db)) as session:
        patch.setenv("LOGNAME", "ops")
        record(session=session, principal=COUNTY_ADMIN, action="create", object_type="user", object_id="li.si",
               unit_code=GRIDS[0])
        record(session=session, principal=cli_principal(session=session), action="grant", object_type="role_grant",
               object_id="li.si/supervisor", after={"unit_code": COUNTY})


@pytest.fixture
def database(county_db, seeded, monkeypatch) -> str:
    """The module's county with its two records, configured for the CLI."""
    _use(monkeypatch, county_db)
    yield county_db
    get_settings.cache_clear()


def test_the_cli_principal_is_the_os_user_over_the_whole_county(database):
    with transaction(get_engine(database)) as session:
        operator = cli_principal(session=session)
    assert (operator.username, operator.via, operator.county_code) == ("cli:ops", "cli", COUNTY)
    assert operator.jurisdiction.county_wide


def test_json_pages_through_records_newest_first(database):
    def page(*args):
        result = runner.invoke(cli, ["audit", "list", "--format", "json", "--limit", "1", *args])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    first = page()
    second = page("--before-id", first["next"])
    third = page("--before-id", second["next"])  # the import that loaded the county, logged by the operator
    assert [(item["via"], item["action"]) for item in first["items"] + second["items"] + third["items"]] == [
        ("cli", "grant"), ("api", "create"), ("cli", "import"),
    ]
    assert [item["actor"] for item in first["items"] + second["items"]] == ["cli:ops", "zhang.admin"]
    assert first["next"] == first["items"][0]["id"] and third["next"] is None
    assert first["items"][0]["after"] == {"unit_code": COUNTY}


def test_the_table_shows_filtered_rows(database):
    result = runner.invoke(cli, ["audit", "list", "--object-type", "user", "--since", "2000-01-01"],
                           env={"COLUMNS": "220"})
    assert result.exit_code == 0, result.output
    assert "zhang.admin" in result.stdout and "li.si" in result.stdout and GRIDS[0] in result.stdout
    assert "cli:ops" not in result.stdout


@pytest.mark.parametrize("args", [["--limit", "0"], ["--since", "yesterday"]])
def test_bad_options_are_refused(database, args):
    assert runner.invoke(cli, ["audit", "list", *args]).exit_code == 2


def test_a_database_without_a_county_is_a_clear_error(empty_db, monkeypatch):
    _use(monkeypatch, empty_db)
    result = runner.invoke(cli, ["audit", "list"])
    get_settings.cache_clear()
    assert result.exit_code == 1
    assert "exactly one county" in result.output
