"""Who is asking, and over which area: the principal and its jurisdiction, resolved once per request.

Every query and mutation in the service layer takes a ``Jurisdiction`` and filters by it, so scoping is
enforced in one place. Rules:

- a supervisor, planner or admin grant on a unit covers that unit and everything inside it;
- an officer (网格员) covers their current grids and those grids' micro-grids, and sees the resources
  of the villages their grids lie in (one patrol checks all three domains);
- a chief (河长/林长/田长) covers the unit they answer for and everything inside it, but sees only the
  resource layer of their own domain (river → rivers, forest → forests, field → farmland);
- several roles add up.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass

from gridgov.errors import GridGovError
from gridgov.grids.models import ResourceKind
from gridgov.grids.scope import Jurisdiction
from gridgov.grids.service import only_county_code
from gridgov.people.models import ChiefDomain, Role

__all__ = ["DOMAIN_RESOURCE", "Jurisdiction", "Principal", "cli_principal"]

DOMAIN_RESOURCE: dict[ChiefDomain, ResourceKind] = {
    ChiefDomain.RIVER: ResourceKind.RIVER,
    ChiefDomain.FOREST: ResourceKind.FOREST,
    ChiefDomain.FIELD: ResourceKind.FARMLAND,
}


@dataclass(frozen=True)
class Principal:
    """The signed-in user of a request (or the operator of a CLI command)."""

    county_code: str
    username: str
    roles: frozenset[Role]
    jurisdiction: Jurisdiction
    person_code: str | None = None
    via: str = "api"  # "api", "cli" or "system" (the scheduler), recorded in the audit log

    def has(self, *roles: Role) -> bool:
        return any(role in self.roles for role in roles)


def cli_principal(*, session) -> Principal:
    """The operator at the shell: ``cli:<OS user>``, county-wide over the one loaded county.

    Whoever can run the command can already read the database, so the CLI does not sign in; it records
    the OS user so that a change made from the shell is still attributed.
    """
    county_code = only_county_code(session=session)
    if county_code is None:
        raise GridGovError("The database must hold exactly one county; load one with `gridgov import`.")
    return Principal(
        county_code=county_code, username=f"cli:{getpass.getuser()}", roles=frozenset({Role.ADMIN}),
        jurisdiction=Jurisdiction(county_code=county_code, county_wide=True), via="cli",
    )
