"""Demo history (SYNTHETIC): a few weeks of believable patrols and findings for the demo county.

``gridgov demo`` and the test suite's ``demo_db`` call :func:`seed_demo_history` after the county and its
accounts are in, so the API, the pages and the OGC collections ``patrols`` and ``findings`` have
something to show. Everything it makes is invented, and marked where a column allows it: patrols carry
``source = "demo"``, and every audit record of the seeding says ``synthetic``.

What it makes, for each of ``weeks`` weeks before ``today``:

* One patrol of most grids by the grid's officer of that day (the assignment in force), on a weekday
  in daytime, China time. Some grid-weeks are missed (about 8 %, more in some grids than others), a few
  patrols are too short for the grid rule (under 30 minutes or 2 km), and about 1 % of tracks carry
  what :func:`~gridgov.patrols.tracks.flag_track` flags (a GPS glitch kilometres away, a stuck position).
* Its track: along a river reach of the grid when there is one (a few metres off the bank, out along
  one bank and back along the other), else along the grid's boundary buffered 20-40 m inwards (standing
  in for the roads and field paths); fixes every 25-40 m at 1.1-1.5 m/s with 2-5 m of GPS jitter, and
  stops of a few minutes to look at things (a fix every 45-90 s there). One track batch per patrol,
  the batch id a UUID5 of the patrol id. Its metrics are what :func:`~gridgov.patrols.service.measure`
  computes, from the same pure functions (see :func:`_measured`; the tests recompute a sample with
  ``measure`` itself).
* Its checklist answers (一巡三查) for the items of the resources the grid holds: mostly ``ok``,
  ``problem`` where a finding follows.
* Findings on about one patrol in five, of every category, placed on the resource of their domain
  (a river reach, a forest patch, a farmland parcel) inside the grid near the track, observed during the
  patrol, reported by the officer through :func:`~gridgov.findings.service.submit_findings` itself (so
  they are located, routed, given their chiefs and flagged as possible duplicates exactly as any report),
  then taken along the workflow by their owners and the command centre in working time: old ones mostly
  verified, recent ones still open (:mod:`gridgov.findings.demo_workflow`).

Deterministic for a seed (ids are UUID5 of the seed, county, grid and week; the database's row order
does not matter) and idempotent (nothing is added when the county already has patrols).

Cost, for Nan County's ~5,800 patrols and ~600,000 fixes on two cores: about 30 s on SQLite and 40 s on
PostGIS. Half of it is coverage (``gridgov.geo.coverage``, ~4.5 ms a patrol, most of it the k-d tree
query over the ~15,000 pieces of a grid's farmland), which runs in a thread pool (scipy, shapely and
pyproj release the GIL); the rest is storing the fixes (executemany) and ~1,300 ``submit_findings``
calls, one per patrol with findings, so each is received right after its patrol. Database work waits
for the pool: overlapping them was slower, a thread waiting on the database queueing for the GIL.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from gridgov.audit.service import record_many
from gridgov.config import get_settings
from gridgov.findings import demo_workflow
from gridgov.findings.models import Finding
from gridgov.findings.schemas import FindingIn
from gridgov.findings.service import submit_findings
from gridgov.findings.taxonomy import categories as county_categories
from gridgov.geo.crs import STORAGE_EPSG, to_metric, transformer
from gridgov.grids.locating import locator_for
from gridgov.grids.models import County, Level, ResourceKind, Unit
from gridgov.patrols.checklists import DOMAIN_OF_RESOURCE, grid_resources, items_for
from gridgov.patrols.demo_paths import (
    CHINA,
    largest_part,
    river_line,
    walk,
    walking_ring,
)
from gridgov.patrols.models import Patrol, PatrolCheck, PatrolStatus, TrackBatch, TrackFix
from gridgov.patrols.service import content_hash, measurements
from gridgov.patrols.tracks import Fixes
from gridgov.people.auth import resolve_principal
from gridgov.people.models import OfficerAssignment, User
from gridgov.people.principal import Principal, cli_principal
from gridgov.storage import bulk
from gridgov.storage.db import is_postgis

Progress = Callable[[str, int], None]
"""Called as ``progress(step, n)`` after each step's rows (the CLI draws a bar)."""

SOURCE = "demo"
"""``Patrol.source`` of the synthetic patrols (the phone's are live, gpx or geojson)."""

NAMESPACE = uuid.UUID("6f1c2b8e-3d4a-5e6f-8a9b-0c1d2e3f4a5b")
"""Namespace of the UUID5 ids of demo patrols and findings."""


MISS_RATE = 0.08
"""Mean share of grid-weeks without a patrol (per grid drawn from a Beta distribution around it)."""
FINDING_RATE = 0.2
"""Findings per patrol, about."""
REPORT_AGAIN_RATE = 0.08
"""Chance that a finding re-reports an earlier one of its grid nearby (a possible duplicate), if any."""


CATEGORY_WEIGHTS = {
    "river_garbage": 3.0, "river_sewage_outfall": 1.5, "river_sand_mining": 0.7, "river_encroachment": 1.0,
    "river_dead_fish": 0.6, "river_illegal_fishing": 1.0,
    "forest_illegal_logging": 1.0, "forest_fire_hazard": 1.5, "forest_pests": 1.2, "forest_land_occupation": 0.7,
    "field_non_farm_use": 1.2, "field_abandonment": 1.5, "field_illegal_building": 1.0, "field_straw_burning": 1.3,
}
"""How often each default category turns up (a county's own categories weigh 1)."""

CATEGORY_ITEM = {
    "river_garbage": "R01", "river_sewage_outfall": "R02", "river_sand_mining": "R03", "river_encroachment": "R04",
    "river_dead_fish": "R05", "river_illegal_fishing": "R06",
    "forest_illegal_logging": "F01", "forest_fire_hazard": "F02", "forest_pests": "F03",
    "forest_land_occupation": "F04",
    "field_non_farm_use": "T01", "field_abandonment": "T02", "field_illegal_building": "T03",
    "field_straw_burning": "T04",
}
"""The default checklist item answered ``problem`` when a finding of the category follows."""

DETAILS = {
    "river": ("岸边发现", "巡河时发现", "群众反映后现场核实", "河段下游约百米处"),
    "forest": ("林带内发现", "巡林时发现", "林地边缘", "村民反映后现场核实"),
    "field": ("田块内发现", "巡田时发现", "机耕道旁", "村民反映后现场核实"),
}

SEVERITIES = ("low", "medium", "high", "urgent")
SEVERITY_WEIGHTS = {"default": (0.3, 0.45, 0.2, 0.05), "forest_fire_hazard": (0.1, 0.4, 0.35, 0.15),
                    "river_sewage_outfall": (0.15, 0.45, 0.3, 0.1), "river_dead_fish": (0.1, 0.4, 0.35, 0.15),
                    "field_straw_burning": (0.15, 0.45, 0.3, 0.1)}

# Where each finding is headed: most are verified, some rejected as not a problem, a few left unaccepted,
# unfinished or unverified by someone. How far along that path a finding has got by today follows from the
# working time each step takes (gridgov.findings.demo_workflow): recent findings are still open.
OUTCOMES = (("verified", 0.84), ("rejected", 0.07), ("in_progress", 0.04), ("resolved", 0.03),
            ("dispatched", 0.02))

PATROL_CHUNK = 500
"""Patrols stored at a time."""



@dataclass
class _Grid:
    code: str
    unit: Unit
    epsg: int  # the county's metric CRS
    metric: shapely.Geometry  # the grid in the metric CRS, as measure() projects it
    inner: shapely.Geometry  # the grid shrunk by 3 m: where findings may lie
    ring: np.ndarray  # the walking loop (closed, vertices), the outline buffered inwards
    river: np.ndarray | None  # vertices of the longest river stretch worth walking along
    resources: dict  # ResourceKind -> metric geometries, as measure() projects grid_resources()
    shapes: dict  # the same in a fixed order (the database's may differ), to place things by
    items: list[str]  # applicable checklist item codes
    miss_rate: float


@dataclass
class _Patrol:
    id: str
    grid: _Grid
    officer_code: str
    username: str
    kind: str  # normal | short_distance | short_time | glitch | stuck
    xy: np.ndarray  # metric fixes, in time order
    t_ms: np.ndarray  # epoch milliseconds
    accuracy_m: np.ndarray
    speed_mps: np.ndarray
    started_at: datetime | None = None
    ended_at: datetime | None = None
    lon: np.ndarray | None = None
    lat: np.ndarray | None = None
    row: dict = field(default_factory=dict)


def seed_demo_history(*, session: Session, county_code: str, today: date, weeks: int = 8, seed: int = 20261127,
                      progress: Progress | None = None) -> dict:
    """Seed ``weeks`` weeks of synthetic patrols and findings before ``today``; returns what was added.

    Adds nothing when the county already has patrols (``skipped`` is 1 then). Everything is audited in
    the caller's transaction: one record per patrol, per finding reported and per finding moved along
    the workflow.
    """
    counts = {"patrols": 0, "track_fixes": 0, "checks": 0, "findings": 0, "flagged_patrols": 0,
              "possible_duplicates": 0, "skipped": 0}
    if session.scalar(select(func.count()).select_from(Patrol).where(Patrol.county_code == county_code)):
        counts["skipped"] = 1
        return counts
    progress = progress or (lambda _step, _n: None)
    rng = np.random.default_rng(seed)
    epsg = session.scalar(select(County.metric_epsg).where(County.county_code == county_code))
    grids = _grids(session, county_code, epsg, rng)
    plans = _plan(session, county_code, grids, today, weeks, seed, rng)
    progress("patrols planned", len(plans))
    _project(plans, epsg)
    settings, now = get_settings(), datetime.now(UTC)
    with ThreadPoolExecutor(max(1, min(4, os.cpu_count() or 1))) as pool:
        # The slow part, coverage, runs in the pool while this thread prepares the rest. Storing waits
        # until it is done: a thread waiting on the database would queue for the GIL behind the pool.
        measuring = [pool.submit(_measured, p, epsg, settings, now) for p in plans]
        _visited(session, county_code, plans)
        reports = _findings(plans, county_categories(session=session, county_code=county_code), rng)
        checks = _checks(plans, reports, rng)
        for p, measured in zip(plans, measuring, strict=True):
            p.row.update(measured.result())
            progress("patrols measured", 1)
    _store_patrols(session, county_code, plans, checks, progress)
    submitted = _report(session, county_code, reports, today, progress)
    counts["statuses"] = _advance(session, county_code, reports, submitted, today, rng)
    counts.update(
        patrols=len(plans), track_fixes=sum(len(p.t_ms) for p in plans), checks=len(checks),
        findings=len(submitted), flagged_patrols=sum(bool(p.row["flags"]) for p in plans),
        possible_duplicates=sum(f.duplicate_of is not None for f in submitted.values()),
    )
    return counts


# --- the grids: where to walk, what to measure against -------------------------------------------------


def _grids(session: Session, county_code: str, epsg: int, rng: np.random.Generator) -> list[_Grid]:
    units = session.scalars(
        select(Unit).where(Unit.county_code == county_code, Unit.level == Level.GRID.value).order_by(Unit.code)
    ).all()
    items_of: dict[frozenset, list[str]] = {}
    grids = []
    for unit in units:
        resources = grid_resources(session=session, county_code=county_code, grid=unit)
        metric = {kind: to_metric(np.array(geoms, dtype=object), epsg) for kind, geoms in resources.items()}
        domains = frozenset(DOMAIN_OF_RESOURCE[kind] for kind in resources)
        if domains not in items_of:
            items_of[domains] = [item.code for item in items_for(session=session, county_code=county_code,
                                                                    domains=set(domains))]
        grid_metric = to_metric(unit.geom, epsg)
        shapes = {kind: geoms[np.lexsort(shapely.bounds(geoms).T[::-1])] for kind, geoms in metric.items()}
        grids.append(_Grid(
            code=unit.code, unit=unit, epsg=epsg, metric=grid_metric, inner=shapely.buffer(grid_metric, -3.0),
            ring=walking_ring(grid_metric, rng.uniform(20.0, 40.0)), river=river_line(shapes.get(ResourceKind.RIVER)),
            resources=metric, shapes=shapes, items=items_of[domains],
            miss_rate=float(rng.beta(1.0, (1 - MISS_RATE) / MISS_RATE)),
        ))
    return grids







# --- planning the patrols and walking them --------------------------------------------------------------


def _plan(session: Session, county_code: str, grids: list[_Grid], today: date, weeks: int, seed: int,
          rng: np.random.Generator) -> list[_Patrol]:
    """One patrol per grid and week (some missed), by the officer in charge that day, oldest week first."""
    assignments = defaultdict(list)
    for grid_code, officer, valid_from, valid_to in session.execute(
        select(OfficerAssignment.grid_code, OfficerAssignment.officer_code, OfficerAssignment.valid_from,
               OfficerAssignment.valid_to).where(OfficerAssignment.county_code == county_code)
        .order_by(OfficerAssignment.grid_code, OfficerAssignment.valid_from)
    ):
        assignments[grid_code].append((officer, valid_from, valid_to))
    usernames: dict[str, str] = {}
    for username, person in session.execute(
        select(User.username, User.person_code).where(User.county_code == county_code, User.person_code.is_not(None),
                                                      User.disabled.is_(False)).order_by(User.username)
    ):
        if person not in usernames or username == person.lower():  # the demo's account (the code in lower case)
            usernames[person] = username
    county_box = shapely.total_bounds([grid.metric for grid in grids])
    plans = []
    for week in range(weeks):
        first = today - timedelta(days=7 * (weeks - week))
        weekdays = [day for day in (first + timedelta(days=k) for k in range(7)) if day.weekday() < 5]
        busy: dict[str, set[date]] = defaultdict(set)  # an officer's patrol days this week: one grid a day
        for grid in grids:
            if rng.random() < grid.miss_rate:
                continue
            day = weekdays[rng.integers(len(weekdays))]
            officer = _officer_on(assignments[grid.code], day)
            if officer in busy and day in busy[officer]:
                free = [d for d in weekdays if d not in busy[officer] and _officer_on(assignments[grid.code], d)
                        == officer]
                day = free[rng.integers(len(free))] if free else day
            if officer is None or officer not in usernames:
                continue
            busy[officer].add(day)
            patrol_id = str(uuid.uuid5(NAMESPACE, f"patrol/{seed}/{county_code}/{grid.code}/{first.isoformat()}"))
            walked = walk(grid.river, grid.ring, day, county_box, rng)
            plans.append(_Patrol(id=patrol_id, grid=grid, officer_code=officer, username=usernames[officer],
                                 kind=walked.kind, xy=walked.xy, t_ms=walked.t_ms, accuracy_m=walked.accuracy_m,
                                 speed_mps=walked.speed_mps))
    return plans


def _officer_on(rows: list[tuple[str, date, date | None]], day: date) -> str | None:
    for officer, valid_from, valid_to in rows:
        if valid_from <= day and (valid_to is None or valid_to > day):
            return officer
    return None


def _project(plans: list[_Patrol], epsg: int) -> None:
    """Fixes to CGCS2000 lon/lat in one call; stuck positions are copied after, so they are identical."""
    if not plans:
        return
    xy = np.concatenate([p.xy for p in plans])
    lon, lat = transformer(epsg, STORAGE_EPSG).transform(xy[:, 0], xy[:, 1])
    offsets = np.cumsum([0] + [len(p.xy) for p in plans])
    for k, p in enumerate(plans):
        # Seven decimals (about a centimetre), as a phone reports them.
        p.lon, p.lat = np.round(lon[offsets[k]:offsets[k + 1]], 7), np.round(lat[offsets[k]:offsets[k + 1]], 7)
        if p.kind == "stuck":  # the phone served its last position for a while
            n = len(p.lon)
            i, run = n // 2, min(8 + n // 20, n // 2 - 1)
            p.lon[i:i + run], p.lat[i:i + run] = p.lon[i], p.lat[i]
        first, last = int(p.t_ms[0]), int(p.t_ms[-1])
        # The phone records its first fix a little after the officer taps start; ending comes a little late.
        p.started_at = datetime.fromtimestamp((first - 1000 * (5 + first // 1000 % 40)) / 1000, UTC)
        p.ended_at = datetime.fromtimestamp((last + 1000 * (10 + last // 1000 % 80)) / 1000, UTC)


# --- measuring, as measure() does -------------------------------------------------------------------------


def _fixes(p: _Patrol) -> Fixes:
    return Fixes.from_arrays(p.lon, p.lat, p.t_ms.astype("datetime64[ms]"), accuracy_m=p.accuracy_m,
                             speed_mps=p.speed_mps)


def _measured(p: _Patrol, epsg: int, settings, now: datetime) -> dict:
    """The columns :func:`gridgov.patrols.service.measure` sets, through the same ``measurements``: the
    fixes come from memory (one batch, so received order is time order) instead of the database, and the
    micro-grids visited are located for all patrols at once (:func:`_visited`)."""
    return measurements(received=_fixes(p), batch_starts=np.array([0]), grid_metric=p.grid.metric,
                        resources_metric=p.grid.resources, epsg=epsg, started_at=p.started_at,
                        ended_at=p.ended_at, now=now, settings=settings)


def _visited(session: Session, county_code: str, plans: list[_Patrol]) -> None:
    """Each patrol's micro-grids, as ``measure`` locates them, for all fixes in one call."""
    if not plans:
        return
    lon, lat = np.concatenate([p.lon for p in plans]), np.concatenate([p.lat for p in plans])
    codes = locator_for(session=session, county_code=county_code).locate(lon, lat)["micro_grid_code"].to_numpy()
    offsets = np.cumsum([0] + [len(p.lon) for p in plans])
    for k, p in enumerate(plans):
        p.row["micro_grids"] = sorted({c for c in codes[offsets[k]:offsets[k + 1]] if isinstance(c, str)})


# --- findings and checklist answers -----------------------------------------------------------------------


@dataclass
class _Report:
    patrol: _Patrol
    item: FindingIn
    received_at: datetime


def _findings(plans: list[_Patrol], categories, rng: np.random.Generator) -> list[_Report]:
    """About one finding per five patrols, on the resource of its domain near the track, in time order."""
    by_domain = defaultdict(list)
    for category in categories:
        by_domain[category.domain].append(category)
    kind_of = {domain: kind for kind, domain in DOMAIN_OF_RESOURCE.items()}
    reports: list[_Report] = []
    earlier: dict[str, list[tuple[_Report, np.ndarray]]] = defaultdict(list)  # by grid, for re-reports
    for p in sorted(plans, key=lambda p: (p.started_at, p.id)):
        count = int(rng.random() < FINDING_RATE) + int(rng.random() < FINDING_RATE * 0.1)
        received_at = p.ended_at + timedelta(seconds=int(rng.integers(60, 900)))
        for n in range(count):
            previous = earlier[p.grid.code]
            if previous and rng.random() < REPORT_AGAIN_RATE:  # the same problem, reported again
                before, spot = previous[rng.integers(len(previous))]
                category = before.item.category_code
                xy = spot + rng.normal(0.0, 5.0, 2)
                if not shapely.contains_xy(p.grid.inner, *xy):
                    continue
            else:
                domains = [d for d in sorted(by_domain) if kind_of.get(d) in p.grid.resources]
                if not domains:
                    continue
                weights = np.array([sum(CATEGORY_WEIGHTS.get(c.code, 1.0) for c in by_domain[d]) for d in domains])
                domain = domains[rng.choice(len(domains), p=weights / weights.sum())]
                options = by_domain[domain]
                weights = np.array([CATEGORY_WEIGHTS.get(c.code, 1.0) for c in options])
                category = options[rng.choice(len(options), p=weights / weights.sum())].code
                xy = _spot(p, kind_of[domain], rng)
                if xy is None:
                    continue
            report = _Report(patrol=p, item=_item(p, n, category, xy, categories, rng), received_at=received_at)
            reports.append(report)
            earlier[p.grid.code].append((report, xy))
    return reports


def _item(p: _Patrol, n: int, category_code: str, xy: np.ndarray, categories, rng: np.random.Generator) -> FindingIn:
    """The finding as the officer's phone would send it: seen when the track passed nearest to it."""
    category = next(c for c in categories if c.code == category_code)
    nearest = int(np.argmin(np.hypot(*(p.xy - xy).T)))
    observed_ms = min(int(p.t_ms[nearest]) + int(rng.integers(0, 60)) * 1000, int(p.t_ms[-1]))
    lon, lat = transformer(p.grid.epsg, STORAGE_EPSG).transform(xy[0], xy[1])
    details = DETAILS.get(category.domain, ("巡查时发现",))
    return FindingIn(
        id=uuid.uuid5(NAMESPACE, f"finding/{p.id}/{n}"), category_code=category_code,
        severity=SEVERITIES[rng.choice(4, p=SEVERITY_WEIGHTS.get(category_code, SEVERITY_WEIGHTS["default"]))],
        description=f"{details[rng.integers(len(details))]}{category.name_zh}（演示数据 demo data）",
        lon=round(float(lon), 7), lat=round(float(lat), 7),
        observed_at=datetime.fromtimestamp(observed_ms / 1000, UTC).astimezone(CHINA), patrol_id=p.id,
    )


def _spot(p: _Patrol, kind: ResourceKind, rng: np.random.Generator) -> np.ndarray | None:
    """A point (metric) on the grid's resource of ``kind``, near the track: on a river, in a forest or field."""
    geoms = np.asarray(p.grid.shapes.get(kind, []), dtype=object)
    if not len(geoms):
        return None
    track = shapely.LineString(p.xy)
    size = shapely.length(geoms) if kind is ResourceKind.RIVER else shapely.area(geoms)
    weights = size * np.exp(-shapely.distance(track, geoms) / 150.0) + 1e-12
    geom = geoms[rng.choice(len(geoms), p=weights / weights.sum())]
    if kind is ResourceKind.RIVER:  # on the water or the bank
        part = largest_part(geom)
        candidates = shapely.get_coordinates(shapely.line_interpolate_point(part, rng.uniform(0, part.length, 24)))
        candidates = candidates + rng.normal(0.0, 4.0, candidates.shape)
        inside = shapely.contains_xy(p.grid.inner, candidates[:, 0], candidates[:, 1])
    else:
        x0, y0, x1, y1 = geom.bounds
        candidates = np.column_stack([rng.uniform(x0, x1, 64), rng.uniform(y0, y1, 64)])
        inside = (shapely.contains_xy(geom, candidates[:, 0], candidates[:, 1])
                  & shapely.contains_xy(p.grid.inner, candidates[:, 0], candidates[:, 1]))
    candidates = candidates[inside]
    if not len(candidates):
        return None
    return candidates[int(np.argmin(shapely.distance(track, shapely.points(candidates))))]


def _checks(plans: list[_Patrol], reports: list[_Report], rng: np.random.Generator) -> list[dict]:
    """Answers to the applicable items: ``problem`` where a finding followed, else nearly always ``ok``."""
    problems = defaultdict(dict)
    for report in reports:
        item = CATEGORY_ITEM.get(report.item.category_code)
        if item is not None:
            problems[report.patrol.id][item] = "已上报问题 finding reported"
    rows = []
    for p in plans:
        for code in p.grid.items:
            note = problems[p.id].get(code)
            roll = rng.random()
            if note is not None:
                answer = "problem"
            elif roll < 0.01:
                answer, note = "problem", "已现场劝导处理 handled on the spot"
            elif p.kind.startswith("short") and roll < 0.3:
                answer = "not_checked"
            else:
                answer = "ok"
            rows.append({"county_code": p.grid.unit.county_code, "patrol_id": p.id, "item_code": code,
                         "answer": answer, "note": note})
    return rows


# --- storing ----------------------------------------------------------------------------------------------


def _chunks(rows: list, size: int):
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def _store_patrols(session: Session, county_code: str, plans: list[_Patrol], checks: list[dict],
                   progress: Progress) -> None:
    """Insert the patrols, their batches, fixes and checklist answers, and one audit record per patrol."""
    patrols, batches, audit = [], [], []
    for p in plans:
        patrols.append({
            "county_code": county_code, "id": p.id, "grid_code": p.grid.code, "officer_code": p.officer_code,
            "username": p.username, "status": PatrolStatus.ENDED.value, "source": SOURCE,
            "started_at": p.started_at, "ended_at": p.ended_at,
            "content_hash": content_hash({"grid_code": p.grid.code, "started_at": p.started_at.isoformat(),
                                          "source": SOURCE}),
            **p.row,
        })
        batches.append({"county_code": county_code, "id": _batch_id(p), "patrol_id": p.id, "fix_count": len(p.t_ms),
                        "content_hash": hashlib.sha256(p.lon.tobytes() + p.lat.tobytes() + p.t_ms.tobytes())
                        .hexdigest(), "received_at": p.ended_at + timedelta(seconds=5)})
        audit.append((p.id, p.grid.code, None, {
            "synthetic": True, "grid_code": p.grid.code, "username": p.username, "started_at": p.started_at,
            "ended_at": p.ended_at, "fixes": len(p.t_ms), "length_m": round(p.row["length_m"], 1),
            "duration_s": p.row["duration_s"], "flags": [flag["kind"] for flag in p.row["flags"]],
        }))
    bulk.insert_rows(session, Patrol.__table__, patrols)
    bulk.insert_rows(session, TrackBatch.__table__, batches)
    if is_postgis(session):
        # Fresh tables have no statistics, so the foreign-key checks of the rows below would scan the
        # parent tables row by row (quadratic); with statistics they use the primary keys.
        session.execute(text("ANALYZE patrols, track_batches"))
    for start in range(0, len(plans), PATROL_CHUNK):
        chunk = plans[start:start + PATROL_CHUNK]
        fixes = []
        for p in chunk:
            batch_id = _batch_id(p)
            moments = pd.to_datetime(p.t_ms, unit="ms", utc=True).to_pydatetime()
            accuracy = [None if a != a else a for a in p.accuracy_m.tolist()]  # NaN: not reported
            speed = [None if s != s else s for s in p.speed_mps.tolist()]
            fixes += [
                {"county_code": county_code, "batch_id": batch_id, "seq": i, "patrol_id": p.id, "t": t,
                 "lon": lon, "lat": lat, "accuracy_m": a, "speed_mps": s}
                for i, (t, lon, lat, a, s) in enumerate(zip(moments, p.lon.tolist(), p.lat.tolist(), accuracy,
                                                            speed, strict=True))
            ]
        bulk.insert_rows(session, TrackFix.__table__, fixes)
        progress("patrols stored", len(chunk))
    bulk.insert_rows(session, PatrolCheck.__table__, checks)
    record_many(session=session, principal=cli_principal(session=session), action="seed_demo", object_type="patrol",
                changes=audit)


def _batch_id(p: _Patrol) -> str:
    """The one track batch of a demo patrol: a UUID5 of the patrol id."""
    return str(uuid.uuid5(uuid.UUID(p.id), SOURCE))


def _report(session: Session, county_code: str, reports: list[_Report], today: date,
            progress: Progress) -> dict[str, Finding]:
    """Report the findings as their officers would, patrol by patrol in time order, through submit_findings."""
    names = sorted({r.patrol.username for r in reports})
    users = {u.username: u for u in session.scalars(
        select(User).where(User.county_code == county_code, User.username.in_(names)))} if names else {}
    principals: dict[tuple[str, date], Principal] = {}

    def principal_for(p: _Patrol) -> Principal:
        """The officer as of ``today``; as of the patrol's day if the grid was handed over since."""
        for on in (today, p.started_at.astimezone(CHINA).date()):
            if (p.username, on) not in principals:
                principal = resolve_principal(session=session, user=users[p.username], on=on)
                principals[(p.username, on)] = replace(principal, via="cli")  # made at the shell, not the API
            if p.grid.code in principals[(p.username, on)].jurisdiction.units:
                break
        return principals[(p.username, on)]

    by_patrol: dict[str, list[_Report]] = defaultdict(list)
    for report in reports:
        by_patrol[report.patrol.id].append(report)
    stored: dict[str, Finding] = {}
    for group in by_patrol.values():
        p = group[0].patrol
        result = submit_findings(session=session, principal=principal_for(p), items=[r.item for r in group],
                                 now=group[0].received_at)
        stored |= {f.id: f for f in result.findings}
        progress("findings reported", len(group))
    return stored


def _advance(session: Session, county_code: str, reports: list[_Report], stored: dict, today: date,
             rng: np.random.Generator) -> dict[str, int]:
    """Take the findings along the workflow towards their outcomes (``OUTCOMES``) as far as today allows."""
    statuses, weights = zip(*OUTCOMES, strict=True)
    targets = {}
    for report in reports:
        finding = stored[str(report.item.id)]
        status = statuses[rng.choice(len(statuses), p=np.array(weights) / sum(weights))]
        if finding.duplicate_of is not None and rng.random() < 0.7:
            status = "rejected"  # the same problem as the earlier report
        targets[finding.id] = status
    evening = datetime.combine(today, time(18, 0), CHINA)
    return demo_workflow.advance(session=session, principal=cli_principal(session=session),
                                 findings=[stored[i] for i in targets], targets=targets, now=evening, rng=rng)
