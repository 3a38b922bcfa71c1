"""API schemas of sign-in and of ``/me`` (who am I, what do I answer for)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from gridgov.people.auth import Duties
from gridgov.people.models import User
from gridgov.people.principal import Jurisdiction


class TokenRead(BaseModel):
    """An OAuth2 bearer token for the API."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the token expires.")


class ChiefPostRead(BaseModel):
    domain: str = Field(description="river (河长), forest (林长) or field (田长).")
    level: str = Field(description="county, town or village.")
    unit_code: str


class GrantRead(BaseModel):
    role: str
    unit_code: str


class JurisdictionRead(BaseModel):
    """The area a user may see. County-wide users get no code lists: everything is theirs."""

    county_code: str
    county_wide: bool
    unit_count: int = Field(description="Units (towns, villages, grids, micro-grids) covered; 0 when county-wide.")
    units: list[str] = Field(description="Codes of the units covered; empty when county-wide.")
    resource_villages: dict[str, list[str]] = Field(
        description="Per resource kind (river, forest, farmland), the villages whose resources are visible."
    )

    @classmethod
    def of(cls, jurisdiction: Jurisdiction) -> JurisdictionRead:
        return cls(
            county_code=jurisdiction.county_code,
            county_wide=jurisdiction.county_wide,
            unit_count=len(jurisdiction.units),
            units=sorted(jurisdiction.units),
            resource_villages={kind: sorted(codes) for kind, codes in sorted(jurisdiction.resource_villages.items())},
        )


class MeRead(BaseModel):
    """The signed-in user, their roles, what they answer for, and their jurisdiction."""

    county_code: str
    username: str
    display_name: str
    person_code: str | None
    roles: list[str]
    officer_grids: list[str]
    chief_posts: list[ChiefPostRead]
    grants: list[GrantRead]
    jurisdiction: JurisdictionRead

    @classmethod
    def of(cls, user: User, duties: Duties, jurisdiction: Jurisdiction) -> MeRead:
        return cls(
            county_code=user.county_code,
            username=user.username,
            display_name=user.display_name,
            person_code=user.person_code,
            roles=sorted(duties.roles),
            officer_grids=sorted(duties.officer_grids),
            chief_posts=[ChiefPostRead(domain=d.domain, level=d.level, unit_code=d.unit_code)
                          for d in duties.chief_posts],
            grants=[GrantRead(role=role, unit_code=unit) for role, unit in duties.grants],
            jurisdiction=JurisdictionRead.of(jurisdiction),
        )
