"""HTTP routes of the findings workflow: steps, the timeline, my inbox, the overdue list, and the county's
routing and deadline rules."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from gridgov.api_types import as_utc
from gridgov.errors import InvalidParameter
from gridgov.findings import kpi_service, kpis, routing, steps
from gridgov.findings.router import finding_read
from gridgov.findings.schemas import (
    DeadlineIn,
    DeadlineRead,
    EventRead,
    FindingPage,
    RouteIn,
    RouteRead,
    StepRequest,
    TimelineRead,
)
from gridgov.findings.workflow import Action
from gridgov.people.auth import PrincipalDep
from gridgov.storage.session import SessionDep

router = APIRouter(prefix="/api/v1", tags=["workflow"])
CODE = r"^(\*|[a-z][a-z0-9_]{0,31})$"  # a category code, or * for any
SEVERITY = r"^(\*|low|medium|high|urgent)$"
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0)]


@router.post("/findings/{finding_id}/steps", response_model=TimelineRead, status_code=201)
def take_step(session: SessionDep, principal: PrincipalDep, finding_id: str, body: StepRequest) -> TimelineRead:
    """Take one step (dispatch, accept, resolve, verify, …). 409 lists the steps allowed from the
    finding's state; send ``version`` to be told when the finding moved on since you looked."""
    request = steps.StepIn(action=Action(body.action), note=body.note, reason=body.reason, photos=body.photos,
                           version=body.version, owner_person=body.owner_person, owner_level=body.owner_level)
    steps.take_step(session=session, principal=principal, finding_id=finding_id, request=request)
    return timeline(session, principal, finding_id)


@router.get("/findings/{finding_id}/timeline", response_model=TimelineRead)
def get_timeline(session: SessionDep, principal: PrincipalDep, finding_id: str) -> TimelineRead:
    """Every event of the finding, in order, and the steps you may take now."""
    return timeline(session, principal, finding_id)


def timeline(session, principal, finding_id: str) -> TimelineRead:
    finding, events = steps.timeline(session=session, principal=principal, finding_id=finding_id)
    return TimelineRead(finding=finding_read(finding), events=[EventRead.model_validate(e) for e in events],
                        allowed=steps.next_actions(session=session, principal=principal, finding=finding))


@router.get("/inbox", response_model=FindingPage)
def inbox(session: SessionDep, principal: PrincipalDep, limit: Limit = 100, offset: Offset = 0) -> FindingPage:
    """Findings waiting on you, earliest deadline first: dispatched to you, or yours to verify."""
    total, rows = steps.inbox(session=session, principal=principal, limit=limit, offset=offset)
    return FindingPage(count=total, limit=limit, offset=offset, items=[finding_read(f) for f in rows])


@router.get("/overdue", response_model=FindingPage)
def overdue(session: SessionDep, principal: PrincipalDep, limit: Limit = 100, offset: Offset = 0) -> FindingPage:
    """Open findings of your jurisdiction past their deadline, most overdue first."""
    total, rows = steps.overdue(session=session, principal=principal, limit=limit, offset=offset)
    return FindingPage(count=total, limit=limit, offset=offset, items=[finding_read(f) for f in rows])


@router.get("/routing-rules", response_model=list[RouteRead])
def list_routes(session: SessionDep, principal: PrincipalDep) -> list[RouteRead]:
    """The county's routing table: (domain, category, severity) → the level that answers (``*``: any)."""
    table = routing.routes(session, principal.county_code)
    return [RouteRead(domain=d, category_code=c, severity=s, level=level) for (d, c, s), level in sorted(table.items())]


@router.put("/routing-rules/{domain}/{category_code}/{severity}", response_model=RouteRead)
def save_route(session: SessionDep, principal: PrincipalDep,
               domain: Annotated[str, Path(pattern=r"^(river|forest|field)$")],
               category_code: Annotated[str, Path(pattern=CODE)], severity: Annotated[str, Path(pattern=SEVERITY)],
               body: RouteIn) -> RouteRead:
    rule = routing.save_route(session=session, principal=principal, domain=domain, category=category_code,
                              severity=severity, level=body.level)
    return RouteRead.model_validate(rule)


@router.get("/deadline-rules", response_model=list[DeadlineRead])
def list_deadlines(session: SessionDep, principal: PrincipalDep) -> list[DeadlineRead]:
    """The county's deadlines in working time per (category, severity) (``*``: any)."""
    table = routing.deadline_table(session, principal.county_code)
    return [DeadlineRead(category_code=c, severity=s, accept_hours=d.accept_hours, resolve_days=d.resolve_days,
                         escalate_hours=d.escalate_hours) for (c, s), d in sorted(table.items())]


@router.put("/deadline-rules/{category_code}/{severity}", response_model=DeadlineRead)
def save_deadline(session: SessionDep, principal: PrincipalDep, category_code: Annotated[str, Path(pattern=CODE)],
                  severity: Annotated[str, Path(pattern=SEVERITY)], body: DeadlineIn) -> DeadlineRead:
    rule = routing.save_deadline(session=session, principal=principal, category=category_code, severity=severity,
                                 deadlines=routing.Deadlines(body.accept_hours, body.resolve_days,
                                                             body.escalate_hours))
    return DeadlineRead.model_validate(rule)


@router.get("/kpis")
def get_kpis(
    session: SessionDep,
    principal: PrincipalDep,
    since: datetime = Query(description="Start of the period (inclusive), with its time zone"),
    until: datetime = Query(description="End of the period (exclusive)"),
    group_by: Annotated[str, Query(description="county, town, village, grid, micro_grid, domain, category, "
                                               "or several joined by commas (town,domain)")] = "town",
    domain: Literal["river", "forest", "field"] | None = None,
    category_code: str | None = None,
    f: Annotated[Literal["json", "csv"], Query(description="json (default) or csv")] = "json",
):
    """Key figures of your jurisdiction for a period, recounted from the workflow's events: registered,
    closed and the completion rate with its denominator, on-time rate, times to accept and resolve
    (working hours, median and 90th percentile), reopen rate, overdue now, escalations. Groups with fewer
    findings than ``GRIDGOV_KPI_SMALL_SAMPLE`` are marked ``small`` and not ranked."""
    keys = [k.strip() for k in group_by.split(",") if k.strip()]
    unknown = [k for k in keys if k not in kpis.GROUP_COLUMNS]
    if not keys or unknown:
        raise InvalidParameter(f"group_by takes {', '.join(kpis.GROUP_COLUMNS)} (comma-separated), "
                               f"not {group_by!r}.")
    for name, moment in (("since", since), ("until", until)):
        if moment.tzinfo is None:
            raise InvalidParameter(f"{name} needs a time zone, e.g. 2026-11-01T00:00:00+08:00.")
    table = kpi_service.kpi_table(session=session, principal=principal, since=as_utc(since), until=as_utc(until),
                                  group_by=keys, domain=domain, category_code=category_code)
    if f == "csv":
        return Response(kpis.kpi_rows_to_csv(table), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="gridgov-kpis.csv"'})
    return {"since": as_utc(since).isoformat(), "until": as_utc(until).isoformat(), "group_by": keys,
            "rows": table.to_dict(orient="records")}
