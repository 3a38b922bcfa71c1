"""Principals over the small county: county-wide, one town's supervisor, one grid's officer."""

from __future__ import annotations

from gridgov.people.models import Role
from gridgov.people.principal import Jurisdiction, Principal
from tests.factories_geo import COUNTY, GRIDS, TOWNS, VILLAGES

TOWN_UNITS = frozenset({TOWNS[0], *VILLAGES[:2], *GRIDS[:3]})


def principal(username: str, *roles: Role, units: frozenset[str] | None = None, via: str = "api",
              county_code: str = COUNTY) -> Principal:
    """County-wide unless ``units`` is given."""
    jurisdiction = Jurisdiction(county_code=county_code, county_wide=units is None, units=units or frozenset())
    return Principal(county_code=county_code, username=username, roles=frozenset(roles),
                     jurisdiction=jurisdiction, via=via)


COUNTY_ADMIN = principal("zhang.admin", Role.ADMIN)
TOWN_SUPERVISOR = principal("li.supervisor", Role.SUPERVISOR, units=TOWN_UNITS)
OFFICER = principal("wang.officer", Role.OFFICER, units=frozenset({GRIDS[0]}))
