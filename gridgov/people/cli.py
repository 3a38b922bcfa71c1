"""`gridgov users`: manage accounts from the server's shell, e.g. to create the first administrator.

Runs as the county-wide CLI operator (``cli:<OS user>``), so every change lands in the audit log
attributed to the person at the shell. Passwords never appear on the command line (shell history,
``ps``): they are read from a hidden prompt or from standard input.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gridgov.errors import GridGovError
from gridgov.people import users
from gridgov.people.admin_schemas import GrantedRole
from gridgov.people.principal import cli_principal
from gridgov.storage.db import transaction

users_app = typer.Typer(help="Manage sign-in accounts and staff role grants.", no_args_is_help=True)
console = Console(stderr=True)

UsernameArg = Annotated[str, typer.Argument(help="The account's username.")]
RoleArg = Annotated[GrantedRole, typer.Argument(help="supervisor, planner or admin.")]
UnitArg = Annotated[str, typer.Argument(help="Code of the county, town, village or grid the role covers.")]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from the first line of standard input.")
]


def run_as_operator(action: Callable, done: str | None = None):
    """Run ``action(session, principal)`` in one transaction; print GridGov errors and exit 1."""
    try:
        with transaction() as session:
            result = action(session, cli_principal(session=session))
    except GridGovError as error:
        console.print(f"[red]error:[/red] {error.message}")
        raise typer.Exit(1) from error
    if done:
        console.print(f"[green]{done}[/green]")
    return result


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@users_app.command("list")
def list_users() -> None:
    """Print every account with its grants."""

    def action(session, principal):
        found = users.list_users(session=session, principal=principal)
        grants = users.grants_of(session=session, county_code=principal.county_code,
                                 usernames=[user.username for user in found])
        return [(user.username, user.display_name, user.person_code or "", "yes" if user.disabled else "",
                 ", ".join(f"{g.role}@{g.unit_code}" for g in grants.get(user.username, [])))
                for user in found]

    table = Table(title="Users")
    for column in ("username", "display name", "person", "disabled", "grants"):
        table.add_column(column)
    for row in run_as_operator(action):
        table.add_row(*row)
    Console().print(table)


@users_app.command()
def create(
    username: UsernameArg,
    display_name: Annotated[str, typer.Option("--display-name", help="The name shown in the pages.")],
    person_code: Annotated[str | None, typer.Option("--person-code", help="Link to an officer or chief.")] = None,
    password_stdin: PasswordStdin = False,
) -> None:
    """Create an account; grant it roles with `gridgov users grant`."""
    password = _password(password_stdin)
    run_as_operator(lambda session, principal: users.create_user(
        session=session, principal=principal, username=username, display_name=display_name, password=password,
        person_code=person_code,
    ), f"created {username}")


@users_app.command()
def disable(username: UsernameArg) -> None:
    """Disable an account; its tokens stop working at once."""
    run_as_operator(lambda session, principal: users.update_user(
        session=session, principal=principal, username=username, disabled=True), f"disabled {username}")


@users_app.command()
def enable(username: UsernameArg) -> None:
    """Enable a disabled account again."""
    run_as_operator(lambda session, principal: users.update_user(
        session=session, principal=principal, username=username, disabled=False), f"enabled {username}")


@users_app.command("set-password")
def set_password(username: UsernameArg, password_stdin: PasswordStdin = False) -> None:
    """Set a new password; the account's existing tokens stop working."""
    password = _password(password_stdin)
    run_as_operator(lambda session, principal: users.update_user(
        session=session, principal=principal, username=username, password=password), f"password set for {username}")


@users_app.command()
def grant(username: UsernameArg, role: RoleArg, unit_code: UnitArg) -> None:
    """Give an account a staff role over a unit and everything inside it."""
    run_as_operator(lambda session, principal: users.grant_role(
        session=session, principal=principal, username=username, role=role.value, unit_code=unit_code,
    ), f"granted {role.value} on {unit_code} to {username}")


@users_app.command()
def revoke(username: UsernameArg, role: RoleArg, unit_code: UnitArg) -> None:
    """Take a staff role over a unit away from an account."""
    run_as_operator(lambda session, principal: users.revoke_role(
        session=session, principal=principal, username=username, role=role.value, unit_code=unit_code,
    ), f"revoked {role.value} on {unit_code} from {username}")
