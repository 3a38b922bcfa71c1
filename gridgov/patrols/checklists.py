"""The three checklists of one patrol (一巡三查) and the patrol rules, as county data with defaults.

A county starts with the defaults below when its map is imported and edits them afterwards; a grid's
patrol carries only the lists of the resources the grid holds (a grid without forest has no forest list).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridgov.audit.service import record_many
from gridgov.grids.models import Resource, ResourceKind, Unit
from gridgov.patrols.models import ChecklistItem, PatrolRule
from gridgov.people.principal import Principal

DOMAIN_OF_RESOURCE = {ResourceKind.RIVER: "river", ResourceKind.FOREST: "forest", ResourceKind.FARMLAND: "field"}

DEFAULT_ITEMS = [
    ("R01", "river", "河面有无漂浮物、垃圾", "Floating debris or garbage on the water"),
    ("R02", "river", "有无入河排污口、污水直排", "Sewage outfalls or untreated discharge"),
    ("R03", "river", "有无非法采砂", "Illegal sand mining"),
    ("R04", "river", "有无侵占河道、违章建筑", "Encroachment on the channel or illegal structures"),
    ("R05", "river", "有无死鱼、水体异色异味", "Dead fish, discoloured or smelly water"),
    ("R06", "river", "有无电鱼、非法捕捞", "Electrofishing or illegal fishing"),
    ("F01", "forest", "有无乱砍滥伐", "Illegal logging"),
    ("F02", "forest", "有无野外用火、火灾隐患", "Open fires or fire hazards"),
    ("F03", "forest", "有无病虫害迹象", "Signs of pests or disease"),
    ("F04", "forest", "有无非法占用林地", "Illegal occupation of forest land"),
    ("T01", "field", "有无耕地非农化", "Farmland turned to non-farm use"),
    ("T02", "field", "有无耕地撂荒", "Abandoned farmland"),
    ("T03", "field", "有无耕地上违法建房", "Illegal building on farmland"),
    ("T04", "field", "有无秸秆焚烧", "Straw burning"),
]

# (level, period in days, patrols per period, minimum minutes and km per patrol). Grid officers walk
# their grids weekly; chiefs patrol by level: village weekly, town monthly, county quarterly.
DEFAULT_RULES = [
    ("grid", 7, 1, 30.0, 2.0),
    ("village", 7, 1, 30.0, 2.0),
    ("town", 30, 1, 60.0, 5.0),
    ("county", 90, 1, 60.0, 5.0),
]


def seed_patrol_defaults(*, session: Session, principal: Principal) -> int:
    """Add the default checklist items and rules the county does not have yet; returns how many."""
    county = principal.county_code
    have_items = set(session.scalars(select(ChecklistItem.code).where(ChecklistItem.county_code == county)))
    items = [
        ChecklistItem(county_code=county, code=code, domain=domain, text_zh=zh, text_en=en, position=n)
        for n, (code, domain, zh, en) in enumerate(DEFAULT_ITEMS) if code not in have_items
    ]
    have_rules = set(session.scalars(select(PatrolRule.level).where(PatrolRule.county_code == county)))
    rules = [
        PatrolRule(county_code=county, level=level, period_days=days, min_patrols=n, min_minutes=minutes, min_km=km)
        for level, days, n, minutes, km in DEFAULT_RULES if level not in have_rules
    ]
    session.add_all(items + rules)
    session.flush()
    record_many(session=session, principal=principal, action="create", object_type="checklist_item",
                changes=[(i.code, county, None, {"domain": i.domain, "text_zh": i.text_zh}) for i in items])
    record_many(session=session, principal=principal, action="create", object_type="patrol_rule",
                changes=[(r.level, county, None, {"period_days": r.period_days, "min_patrols": r.min_patrols,
                                                  "min_minutes": r.min_minutes, "min_km": r.min_km}) for r in rules])
    return len(items) + len(rules)


def grid_resources(*, session: Session, county_code: str, grid: Unit) -> dict[ResourceKind, list]:
    """The grid's share of each resource layer (EPSG:4490): the resources of its village, clipped to it."""
    rows = session.execute(
        select(Resource.resource, Resource.geom).where(
            Resource.county_code == county_code, Resource.parent_code == grid.parent_code,
            Resource.max_x >= grid.min_x, Resource.min_x <= grid.max_x,
            Resource.max_y >= grid.min_y, Resource.min_y <= grid.max_y,
        ).order_by(Resource.code)  # the same order on both backends, so measurements are reproducible
    ).all()
    found: dict[ResourceKind, list] = defaultdict(list)
    if not rows:
        return found
    kinds = [ResourceKind(kind) for kind, _geom in rows]
    clipped = shapely.intersection(np.array([geom for _kind, geom in rows], dtype=object), grid.geom)
    for kind, part in zip(kinds, clipped, strict=True):
        if not shapely.is_empty(part) and (shapely.length(part) > 0 or shapely.area(part) > 0):
            found[kind].append(part)
    return found


def items_for(*, session: Session, county_code: str, domains: set[str]) -> list[ChecklistItem]:
    """The active checklist items of ``domains``, in the county's order."""
    return list(session.scalars(
        select(ChecklistItem)
        .where(ChecklistItem.county_code == county_code, ChecklistItem.active, ChecklistItem.domain.in_(domains))
        .order_by(ChecklistItem.position, ChecklistItem.code)
    ))
