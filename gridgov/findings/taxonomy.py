"""The county's taxonomy of findings: default categories per domain, editable by the county afterwards."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gridgov.audit.service import record, record_many, snapshot
from gridgov.errors import Conflict, Forbidden, InvalidParameter
from gridgov.findings.models import FindingCategory
from gridgov.findings.routing import seed_routing_defaults
from gridgov.patrols.checklists import seed_patrol_defaults
from gridgov.people.models import Role
from gridgov.people.principal import Principal

# (code, domain, Chinese name, English name, duplicate radius in metres). The radius says how close two
# reports of the same kind must be to be one problem: a garbage pile is a point, illegal logging or straw
# burning spreads over a field or a stand.
DEFAULT_CATEGORIES = [
    ("river_garbage", "river", "河道垃圾", "Garbage in the river", 30.0),
    ("river_sewage_outfall", "river", "排污口", "Sewage outfall", 30.0),
    ("river_sand_mining", "river", "非法采砂", "Illegal sand mining", 100.0),
    ("river_encroachment", "river", "侵占河道", "Encroachment on the channel", 50.0),
    ("river_dead_fish", "river", "死鱼", "Dead fish", 100.0),
    ("river_illegal_fishing", "river", "非法捕捞", "Illegal fishing", 100.0),
    ("forest_illegal_logging", "forest", "乱砍滥伐", "Illegal logging", 100.0),
    ("forest_fire_hazard", "forest", "火灾隐患", "Fire hazard", 50.0),
    ("forest_pests", "forest", "病虫害", "Pests and disease", 100.0),
    ("forest_land_occupation", "forest", "非法占用林地", "Illegal occupation of forest land", 50.0),
    ("field_non_farm_use", "field", "耕地非农化", "Non-farm use of farmland", 50.0),
    ("field_abandonment", "field", "耕地撂荒", "Abandoned farmland", 100.0),
    ("field_illegal_building", "field", "违法占用耕地建房", "Illegal building on farmland", 30.0),
    ("field_straw_burning", "field", "秸秆焚烧", "Straw burning", 100.0),
]


def seed_finding_categories(*, session: Session, principal: Principal) -> int:
    """Add the default categories the county does not have yet; returns how many."""
    county = principal.county_code
    have = set(session.scalars(select(FindingCategory.code).where(FindingCategory.county_code == county)))
    rows = [
        FindingCategory(county_code=county, code=code, domain=domain, name_zh=zh, name_en=en, duplicate_radius_m=r)
        for code, domain, zh, en, r in DEFAULT_CATEGORIES if code not in have
    ]
    session.add_all(rows)
    session.flush()
    record_many(session=session, principal=principal, action="create", object_type="finding_category",
                changes=[(c.code, county, None, {"domain": c.domain, "name_zh": c.name_zh,
                                                 "duplicate_radius_m": c.duplicate_radius_m}) for c in rows])
    return len(rows)


def seed_county_defaults(*, session: Session, principal: Principal) -> int:
    """What a newly imported county starts with: checklists, patrol rules, finding categories, routing and
    deadlines."""
    return (seed_patrol_defaults(session=session, principal=principal)
            + seed_finding_categories(session=session, principal=principal)
            + seed_routing_defaults(session=session, principal=principal))


def categories(*, session: Session, county_code: str, include_inactive: bool = False) -> list[FindingCategory]:
    query = select(FindingCategory).where(FindingCategory.county_code == county_code)
    if not include_inactive:
        query = query.where(FindingCategory.active)
    return list(session.scalars(query.order_by(FindingCategory.domain, FindingCategory.code)))


EDITABLE = ("name_zh", "name_en", "duplicate_radius_m", "active")


def save_category(*, session: Session, principal: Principal, code: str, domain: str, fields: dict) -> FindingCategory:
    """Create or change one of the county's categories; only a county-wide administrator may.

    A category is never deleted (findings refer to it): ``active: false`` retires it from new reports.
    Its domain is fixed once created, since its findings were routed by it.
    """
    if not (principal.has(Role.ADMIN) and principal.jurisdiction.county_wide):
        raise Forbidden("Only a county-wide administrator edits the county's finding categories.")
    category = session.get(FindingCategory, (principal.county_code, code))
    if category is None:
        missing = [name for name in ("name_zh", "name_en") if not fields.get(name)]
        if missing:
            raise InvalidParameter(f"A new category needs {' and '.join(missing)}.")
        category = FindingCategory(county_code=principal.county_code, code=code, domain=domain, active=True,
                                   duplicate_radius_m=30.0)
        session.add(category)
        before = None
    elif category.domain != domain:
        raise Conflict(f"Category {code} belongs to the {category.domain} domain; its domain cannot change.")
    else:
        before = snapshot(category, ("domain", *EDITABLE))
    for name in EDITABLE:
        if fields.get(name) is not None:
            setattr(category, name, fields[name])
    session.flush()
    record(session=session, principal=principal, action="create" if before is None else "update",
           object_type="finding_category", object_id=code, unit_code=principal.county_code, before=before,
           after=snapshot(category, ("domain", *EDITABLE)))
    return category
