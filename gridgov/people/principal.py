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

from dataclasses import dataclass

from gridgov.grids.models import ResourceKind
from gridgov.grids.scope import Jurisdiction
from gridgov.people.models import ChiefDomain, Role

__all__ = ["DOMAIN_RESOURCE", "Jurisdiction", "Principal"]

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
    via: str = "api"  # "api" or "cli", recorded in the audit log

    def has(self, *roles: Role) -> bool:
        return any(role in self.roles for role in roles)
