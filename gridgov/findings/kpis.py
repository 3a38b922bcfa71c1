"""Key figures of the findings workflow (问题办结率等考核指标), recounted from its events (pure, pandas).

Leaders quote these figures ("4,588 registered, 4,509 closed: 98.28 %"), so each one is a count of
findings that anyone can redo by reading the events, and every rate comes with its denominator. The
events are the record (the ``Finding`` row only mirrors where the workflow stands), so nothing here reads
a finding's ``status`` or due columns.

Inputs
------
* ``findings``: one row per finding: ``id``, ``domain``, ``category_code``, ``micro_grid_code``,
  ``grid_code``, ``village_code``, ``town_code``, ``county_code``.
* ``events``: one row per event: ``finding_id``, ``seq`` (1..n, the order of the record), ``at``
  (tz-aware), ``action``, ``from_state``, ``to_state`` (None for ``escalate``), and optionally
  ``accept_due`` and ``resolve_due``: the deadlines set by the event (``accept_due`` on dispatch and
  reroute, ``resolve_due`` on accept, reopen and resume). NaT means "not set by this event": the deadline
  in force at a moment is the latest value set before it. That a reroute, return or suspend clears a
  deadline needs no record, because a deadline is read only in the states that set it anew (below).
  Absent columns mean no deadline is known anywhere.
* ``period``: ``(start, end)``, tz-aware, half-open ``[start, end)``; ``now`` for "overdue now".
* ``working_seconds(a, b)``: working seconds between two moments on the official calendar.

Definitions
-----------
"In the period" is ``start <= at < end``; "by the end" is ``at < end``, the same half-open bound, so an
event stamped exactly at ``end`` belongs to the next period. Every period figure reads only the events
before ``end``: January's figures computed in March are the ones computed on 1 February.

* ``registered``: findings whose report event is in the period.
* ``closed``: registered findings whose state at the end is verified or rejected (those states are
  final, so this is the same as having a verify or reject event by the end).
  ``completion_rate = closed / registered``, None when nothing was registered.
* ``verified``: registered findings verified by the end. ``on_time``: those of them whose last resolve
  event was at or before the ``resolve_due`` in force just before it (a finding with no known
  deadline cannot be shown on time and counts as not on time). ``on_time_rate = on_time / verified``.
* ``accept_hours_*``: working hours from the first dispatch to the first accept, over registered findings
  accepted by the end. No suspension can fall in between (suspending needs an accepted finding).
* ``resolve_hours_*``: working hours from the first accept to the last resolve, over registered findings
  verified by the end, minus the working time spent suspended: each span from a suspend to the next
  change of state (a resume, or a reroute, which also ends a suspension).
* ``*_median`` and ``*_p90``: ``numpy.percentile`` (linear) at 50 and 90; None with no finding to measure.
* ``resolved_ever``: registered findings with a resolve event by the end; ``reopened``: registered
  findings with a reopen event by the end; ``reopen_rate = reopened / resolved_ever``.
* ``overdue_now``: findings registered at any time, open at ``now`` (events at or before ``now``), whose
  current deadline is before ``now``: ``accept_due`` while dispatched, ``resolve_due`` while accepted,
  in progress or reopened; none while reported, returned, suspended (the clock stops) or resolved.
* ``escalations``: escalate events in the period, of findings registered at any time.
* ``small``: fewer than ``small_sample`` registered ("small sample: not ranked"). ``rank``: 1 for the
  highest completion rate among the groups that are not small, ties sharing the better rank (1, 2, 2, 4);
  None for small groups.

Rates, hours and ranks are Python ``None`` where undefined, so a JSON dump says ``null`` and nobody reads
a missing rate as zero. :func:`finding_facts` gives the same figures per finding, for drilling down from
a group's count to the findings behind it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import numpy as np
import pandas as pd

from gridgov.errors import InvalidParameter
from gridgov.findings.workflow import CLOSED, Action, State

WorkingSeconds = Callable[[datetime, datetime], float]
"""Working seconds between two moments (the working-time calendar; a test may pass wall-clock seconds)."""

GROUP_COLUMNS: dict[str, str] = {
    "county": "county_code", "town": "town_code", "village": "village_code", "grid": "grid_code",
    "micro_grid": "micro_grid_code", "domain": "domain", "category": "category_code",
}
"""What a KPI table may be grouped by, and the column of ``findings`` (and of the result) that holds it."""

COUNT_COLUMNS = ("registered", "closed", "verified", "on_time", "resolved_ever", "reopened", "overdue_now",
                 "escalations")
RATE_COLUMNS = ("completion_rate", "on_time_rate", "reopen_rate")
HOUR_COLUMNS = ("accept_hours_median", "accept_hours_p90", "resolve_hours_median", "resolve_hours_p90")
KPI_COLUMNS = ("registered", "closed", "completion_rate", "verified", "on_time", "on_time_rate",
               "accept_hours_median", "accept_hours_p90", "resolve_hours_median", "resolve_hours_p90",
               "resolved_ever", "reopened", "reopen_rate", "overdue_now", "escalations", "small", "rank")
"""The columns of a KPI table after its group key column(s), in the order of :func:`kpi_rows_to_csv`."""

COMPLIANCE_COLUMNS = ("grids", "compliant_grids", "patrol_compliance")
"""Columns the service adds for groupings by area (patrols, not events, so not computed here); the CSV
puts them last."""

_CLOSED = [str(s) for s in CLOSED]
_ON_RESOLVE_CLOCK = [str(State.ACCEPTED), str(State.IN_PROGRESS), str(State.REOPENED)]


def finding_facts(findings: pd.DataFrame, events: pd.DataFrame, *, period: tuple[datetime, datetime],
                  now: datetime, working_seconds: WorkingSeconds) -> pd.DataFrame:
    """Per finding (indexed by id, in the order of ``findings``): the flags and times the KPIs count.

    Boolean columns ``registered``, ``closed``, ``verified``, ``on_time``, ``resolved_ever``, ``reopened``,
    ``overdue_now``; ``escalations`` (count in the period); ``accept_hours`` and ``resolve_hours`` (NaN
    where the finding is not measured). The definitions are those of the module docstring.
    """
    start, end = _period(period)
    now = _moment(now, "now")
    ids = pd.Index(findings["id"], name="finding_id")
    if ids.has_duplicates:
        raise ValueError(f"findings repeat ids: {sorted(set(ids[ids.duplicated()]))[:5]}")
    ev = _ordered(events, ids)
    action, at = ev["action"], ev["at"]
    by_end = ev[at < end]

    report_at = _first(ev, action == Action.REPORT, "at").reindex(ids)
    registered = (report_at >= start) & (report_at < end)
    state_at_end = _last(by_end, by_end["to_state"].notna(), "to_state").reindex(ids)
    closed = registered & state_at_end.isin(_CLOSED)
    verified = registered & (state_at_end == State.VERIFIED)

    last_resolve = by_end[by_end["action"] == Action.RESOLVE].drop_duplicates("finding_id", keep="last")
    last_resolve = last_resolve.set_index("finding_id").reindex(ids)
    on_time = verified & (last_resolve["at"] <= last_resolve["resolve_due_before"])

    first_dispatch = _first(by_end, by_end["action"] == Action.DISPATCH, "at").reindex(ids)
    first_accept = _first(by_end, by_end["action"] == Action.ACCEPT, "at").reindex(ids)
    accepted = registered & first_dispatch.notna() & first_accept.notna()
    accept_s = _spans(first_dispatch[accepted], first_accept[accepted], working_seconds)
    measured = verified & first_accept.notna() & last_resolve["at"].notna()
    resolve_s = (_spans(first_accept[measured], last_resolve["at"][measured], working_seconds)
                 - _suspended_seconds(ev, ids[measured.to_numpy()], working_seconds))

    has_resolve = _any(by_end, by_end["action"] == Action.RESOLVE, ids)
    has_reopen = _any(by_end, by_end["action"] == Action.REOPEN, ids)

    until_now = ev[at <= now]
    latest = until_now.drop_duplicates("finding_id", keep="last").set_index("finding_id").reindex(ids)
    state_now = _last(until_now, until_now["to_state"].notna(), "to_state").reindex(ids)
    due_now = latest["accept_due_known"].where(state_now == State.DISPATCHED,
                                               latest["resolve_due_known"].where(state_now.isin(_ON_RESOLVE_CLOCK)))
    overdue_now = due_now < now

    in_period = (action == Action.ESCALATE) & (at >= start) & (at < end)
    escalations = ev[in_period].groupby("finding_id").size().reindex(ids, fill_value=0)

    return pd.DataFrame({
        "registered": registered, "closed": closed, "verified": verified, "on_time": on_time,
        "accept_hours": (accept_s / 3600).reindex(ids), "resolve_hours": (resolve_s / 3600).reindex(ids),
        "resolved_ever": registered & has_resolve, "reopened": registered & has_reopen,
        "overdue_now": overdue_now, "escalations": escalations.astype("int64"),
    }, index=ids)


def kpi_rows(findings: pd.DataFrame, events: pd.DataFrame, *, period: tuple[datetime, datetime], now: datetime,
             working_seconds: WorkingSeconds, group_by: str | Sequence[str], small_sample: int = 20) -> pd.DataFrame:
    """One row of KPIs per group of ``findings`` (each group holding at least one finding), sorted by key.

    Columns: the group key column(s) (see :data:`GROUP_COLUMNS`), then :data:`KPI_COLUMNS`. A group with
    findings but nothing registered in the period still has a row (its overdue findings and escalations
    count). ``group_by`` is a name of :data:`GROUP_COLUMNS` or a sequence of them, e.g. ``("town", "domain")``.

    Examples
    --------
    >>> at = pd.Timestamp("2026-03-02 09:00", tz="UTC")
    >>> findings = pd.DataFrame([{"id": "f1", "domain": "river", "category_code": "R01", "micro_grid_code": "m",
    ...                           "grid_code": "g", "village_code": "v", "town_code": "t1", "county_code": "c"}])
    >>> steps = [("report", None, "reported"), ("dispatch", "reported", "dispatched"),
    ...          ("accept", "dispatched", "accepted"), ("resolve", "accepted", "resolved"),
    ...          ("verify", "resolved", "verified")]
    >>> events = pd.DataFrame([{"finding_id": "f1", "seq": i + 1, "at": at + pd.Timedelta(hours=i), "action": a,
    ...                         "from_state": s, "to_state": t, "data": None} for i, (a, s, t) in enumerate(steps)])
    >>> rows = kpi_rows(findings, events, period=(at.floor("D"), at.floor("D") + pd.Timedelta(days=7)),
    ...                 now=at + pd.Timedelta(days=1), working_seconds=lambda a, b: (b - a).total_seconds(),
    ...                 group_by="town", small_sample=1)
    >>> print(rows[["town_code", "registered", "closed", "completion_rate", "accept_hours_median", "rank"]]
    ...       .to_string(index=False))
    town_code  registered  closed completion_rate accept_hours_median rank
           t1           1       1             1.0                 1.0    1
    """
    keys = _group_keys(group_by)
    if isinstance(small_sample, bool) or not isinstance(small_sample, int) or small_sample < 1:
        raise InvalidParameter(f"small_sample must be a whole number of at least 1, not {small_sample!r}")
    missing = [k for k in keys if k not in findings.columns]
    if missing:
        raise ValueError(f"findings lack the column(s) {missing} to group by")
    facts = finding_facts(findings, events, period=period, now=now, working_seconds=working_seconds)
    placed = placed_at(findings, events, _period(period)[1])
    table = facts.join(placed.set_index("id")[keys].rename_axis("finding_id"))
    grouped = table.groupby(keys, dropna=False, sort=True)
    rows = grouped[list(COUNT_COLUMNS)].sum().astype("int64")
    for column, hours in (("accept", "accept_hours"), ("resolve", "resolve_hours")):
        rows[f"{column}_hours_median"] = grouped[hours].quantile(0.5)
        rows[f"{column}_hours_p90"] = grouped[hours].quantile(0.9)
    rows["completion_rate"] = _ratio(rows["closed"], rows["registered"])
    rows["on_time_rate"] = _ratio(rows["on_time"], rows["verified"])
    rows["reopen_rate"] = _ratio(rows["reopened"], rows["resolved_ever"])
    rows["small"] = rows["registered"] < small_sample
    rows["rank"] = rows["completion_rate"].where(~rows["small"]).rank(method="min", ascending=False)
    for column in (*RATE_COLUMNS, *HOUR_COLUMNS, "rank"):
        cast = int if column == "rank" else float
        rows[column] = pd.Series([None if pd.isna(x) else cast(x) for x in rows[column]], index=rows.index,
                                 dtype=object)
    return rows.reset_index()[[*keys, *KPI_COLUMNS]]


def placed_at(findings: pd.DataFrame, events: pd.DataFrame, end: datetime) -> pd.DataFrame:
    """The findings with the micro-grid and grid they lay in at ``end``.

    A finding stores the units it lies in now; a planner's change set that retired its micro-grid while it
    was open moved it, with a ``relocate`` event holding the units it came from. A period that ended before
    that move counts the finding where it lay then, so a past period's KPIs use the map of its time.
    """
    moves = events[(events["action"] == Action.RELOCATE) & (events["at"] >= end)]
    if moves.empty:
        return findings
    first = moves.sort_values(["finding_id", "seq"]).drop_duplicates("finding_id").set_index("finding_id")["data"]
    placed = findings.copy()
    for column, key in (("micro_grid_code", "micro_grid"), ("grid_code", "grid")):
        then = placed["id"].map(lambda i, key=key: first[i]["from"][key] if i in first.index else None)
        placed[column] = then.where(then.notna(), placed[column])
    return placed


def kpi_rows_to_csv(frame: pd.DataFrame) -> str:
    """A KPI table as UTF-8 CSV text with a header: key columns first, then :data:`KPI_COLUMNS`.

    Rates are fractions with 4 decimals (``0.9828``) and hours have 2, so a figure in a report reads the
    same as in the file; undefined figures are empty.

    >>> frame = pd.DataFrame([{"town_code": "t1", **dict.fromkeys(KPI_COLUMNS, None),
    ...                        "registered": 3, "closed": 2, "completion_rate": 2 / 3}])
    >>> print(kpi_rows_to_csv(frame).splitlines()[1])
    t1,3,2,0.6667,,,,,,,,,,,,,,
    """
    extra = [c for c in COMPLIANCE_COLUMNS if c in frame.columns]
    keys = [c for c in frame.columns if c not in KPI_COLUMNS and c not in extra]
    out = frame[[*keys, *KPI_COLUMNS, *extra]].copy()
    for columns, decimals in ((RATE_COLUMNS + tuple(c for c in extra if c.endswith("compliance")), 4),
                              (HOUR_COLUMNS, 2)):
        for column in columns:
            out[column] = out[column].map(lambda x, d=decimals: "" if x is None or pd.isna(x) else f"{x:.{d}f}")
    return out.to_csv(index=False, lineterminator="\n")


def _group_keys(group_by: str | Sequence[str]) -> list[str]:
    names = [group_by] if isinstance(group_by, str) else list(group_by)
    unknown = [n for n in names if n not in GROUP_COLUMNS]
    if not names or unknown or len(set(names)) != len(names):
        raise InvalidParameter(f"group_by must name distinct groups among {', '.join(GROUP_COLUMNS)}; "
                               f"got {group_by!r}")
    return [GROUP_COLUMNS[n] for n in names]


def _moment(value: datetime, name: str) -> pd.Timestamp:
    moment = pd.Timestamp(value)
    if moment.tzinfo is None:
        raise InvalidParameter(f"{name} must carry a time zone: a bare time could be UTC or Beijing time")
    return moment


def _period(period: tuple[datetime, datetime]) -> tuple[pd.Timestamp, pd.Timestamp]:
    start, end = (_moment(t, name) for t, name in zip(period, ("period start", "period end"), strict=True))
    if not start < end:
        raise InvalidParameter(f"the period must start before it ends: [{start}, {end})")
    return start, end


def _ordered(events: pd.DataFrame, ids: pd.Index) -> pd.DataFrame:
    """The events in record order, with the deadlines known after (``*_known``) and just before each event."""
    ev = events.sort_values(["finding_id", "seq"], kind="stable").reset_index(drop=True)
    unknown = ~ev["finding_id"].isin(ids)
    if unknown.any():
        raise ValueError(f"events of findings not given: {sorted(set(ev.loc[unknown, 'finding_id']))[:5]}")
    if ev.duplicated(["finding_id", "seq"]).any():
        raise ValueError("events repeat a (finding_id, seq)")
    if len(ev) and getattr(ev["at"].dtype, "tz", None) is None:
        raise ValueError("event times must be tz-aware")
    by_finding = ev.groupby("finding_id", sort=False)
    for due in ("accept_due", "resolve_due"):
        ev[due] = pd.to_datetime(ev[due] if due in ev.columns else pd.Series(pd.NaT, index=ev.index), utc=True)
        ev[f"{due}_known"] = by_finding[due].ffill()
    ev["resolve_due_before"] = ev.groupby("finding_id", sort=False)["resolve_due_known"].shift()
    return ev


def _first(ev: pd.DataFrame, mask: pd.Series, column: str) -> pd.Series:
    return ev.loc[mask].drop_duplicates("finding_id", keep="first").set_index("finding_id")[column]


def _last(ev: pd.DataFrame, mask: pd.Series, column: str) -> pd.Series:
    return ev.loc[mask].drop_duplicates("finding_id", keep="last").set_index("finding_id")[column]


def _any(ev: pd.DataFrame, mask: pd.Series, ids: pd.Index) -> pd.Series:
    return pd.Series(ids.isin(ev.loc[mask, "finding_id"]), index=ids)


def _spans(starts: pd.Series, ends: pd.Series, working_seconds: WorkingSeconds) -> pd.Series:
    """Working seconds of each ``starts[i]``-``ends[i]`` span (one calendar call each: it is not vectorised)."""
    seconds = [float(working_seconds(a, b)) for a, b in zip(starts, ends, strict=True)]
    return pd.Series(np.asarray(seconds, dtype="float64"), index=starts.index)


def _suspended_seconds(ev: pd.DataFrame, ids: pd.Index, working_seconds: WorkingSeconds) -> pd.Series:
    """Working seconds each of ``ids`` spent suspended: from each suspend to its next change of state."""
    changes = ev[ev["to_state"].notna() & ev["finding_id"].isin(ids)]
    until = changes.groupby("finding_id", sort=False)["at"].shift(-1)
    suspended = (changes["to_state"] == State.SUSPENDED) & until.notna()
    spans = _spans(changes.loc[suspended, "at"], until[suspended], working_seconds)
    per_finding = spans.groupby(changes.loc[suspended, "finding_id"]).sum()
    return per_finding.reindex(ids, fill_value=0.0)


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    return (numerator / denominator.where(denominator > 0)).astype("float64")
