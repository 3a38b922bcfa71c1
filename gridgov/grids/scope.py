"""A jurisdiction: the part of the county a request may see. Built by gridgov.people from who is asking.

Services of every domain take one and filter by it, so scoping lives in the service layer, once.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Jurisdiction:
    """The units a principal may see, and per resource kind the villages whose resources they may see.

    ``county_wide`` short-cuts both sets for county-level roles (no ``IN`` list needed).
    """

    county_code: str
    county_wide: bool = False
    units: frozenset[str] = frozenset()
    resource_villages: dict[str, frozenset[str]] = field(default_factory=dict)

    def sees_unit(self, code: str) -> bool:
        return self.county_wide or code in self.units

    def sees_resource(self, kind: str, village_code: str) -> bool:
        return self.county_wide or village_code in self.resource_villages.get(kind, frozenset())
