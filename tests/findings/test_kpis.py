"""KPIs of the findings workflow: hand-built event streams with known answers, and a recount property."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridgov.errors import InvalidParameter
from gridgov.findings.kpis import KPI_COLUMNS, finding_facts, kpi_rows, kpi_rows_to_csv
from gridgov.findings.workflow import CLOSED, Action, Capacity, State, allowed_actions, replay, step

EVERYONE = list(Capacity)
T0 = pd.Timestamp("2026-03-02", tz="UTC")
END = T0 + pd.Timedelta(days=7)
PERIOD = (T0, END)
NOW = T0 + pd.Timedelta(hours=100)


def at(hours: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(hours=hours)


def wall_seconds(a, b) -> float:
    return (b - a).total_seconds()


def finding(finding_id: str, *, town: str = "t1", domain: str = "river") -> dict:
    return {"id": finding_id, "domain": domain, "category_code": f"{domain[:1].upper()}01",
            "micro_grid_code": f"{town}-m1", "grid_code": f"{town}-g1", "village_code": f"{town}-v1",
            "town_code": town, "county_code": "c1"}


def stream(finding_id: str, *steps: tuple) -> list[dict]:
    """Events of one finding from ``(action, hour[, {"accept_due": hour, ...}])``, each step checked by the workflow."""
    rows, state = [], None
    for seq, (action, hour, *dues) in enumerate(steps, start=1):
        after = State.REPORTED if action == "report" else step(state, Action(action), EVERYONE, reason="why")
        set_dues = dues[0] if dues else {}
        rows.append({"finding_id": finding_id, "seq": seq, "at": at(hour), "action": action,
                     "from_state": None if state is None else str(state),
                     "to_state": None if action == "escalate" else str(after), "data": None,
                     "accept_due": at(set_dues["accept_due"]) if "accept_due" in set_dues else pd.NaT,
                     "resolve_due": at(set_dues["resolve_due"]) if "resolve_due" in set_dues else pd.NaT})
        state = after
    return rows


def frames(findings: list[dict], *streams: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    return pd.DataFrame(findings), pd.DataFrame([row for s in streams for row in s])


def five_findings() -> tuple[pd.DataFrame, pd.DataFrame]:
    """One verified on time, one verified late (after a suspension), one rejected, one reopened then
    verified, one still dispatched and overdue (and escalated)."""
    return frames(
        [finding(f) for f in "ABCDE"],
        stream("A", ("report", 1), ("dispatch", 2, {"accept_due": 10}), ("accept", 4, {"resolve_due": 50}),
               ("start", 5), ("resolve", 20), ("verify", 22)),
        stream("B", ("report", 1), ("dispatch", 2, {"accept_due": 10}), ("accept", 8, {"resolve_due": 30}),
               ("start", 9), ("suspend", 10), ("resume", 14, {"resolve_due": 34}), ("resolve", 40), ("verify", 41)),
        stream("C", ("report", 3), ("dispatch", 3.5, {"accept_due": 12}), ("reject", 5)),
        stream("D", ("report", 2), ("dispatch", 3, {"accept_due": 11}), ("accept", 5, {"resolve_due": 60}),
               ("resolve", 20), ("reopen", 21), ("start", 22), ("resolve", 30), ("verify", 31)),
        stream("E", ("report", 10), ("dispatch", 11, {"accept_due": 20}), ("escalate", 25)),
    )


def rows_of(findings, events, *, group_by="town", small_sample=20, now=NOW, period=PERIOD,
            working_seconds=wall_seconds) -> pd.DataFrame:
    return kpi_rows(findings, events, period=period, now=now, working_seconds=working_seconds,
                    group_by=group_by, small_sample=small_sample)


def test_five_findings_every_column():
    rows = rows_of(*five_findings())
    assert list(rows.columns) == ["town_code", *KPI_COLUMNS]
    row = rows.iloc[0].to_dict()
    # Accept hours: A 2, B 6, D 2. Resolve hours: A 16, B 32 - 4 suspended = 28, D 25.
    assert row == {
        "town_code": "t1", "registered": 5, "closed": 4, "completion_rate": 0.8, "verified": 3, "on_time": 2,
        "on_time_rate": pytest.approx(2 / 3), "accept_hours_median": 2.0, "accept_hours_p90": pytest.approx(5.2),
        "resolve_hours_median": 25.0, "resolve_hours_p90": pytest.approx(27.4), "resolved_ever": 3, "reopened": 1,
        "reopen_rate": pytest.approx(1 / 3), "overdue_now": 1, "escalations": 1, "small": True, "rank": None,
    }
    assert np.percentile([2, 2, 6], 90) == pytest.approx(row["accept_hours_p90"])


def test_finding_facts_name_the_findings_behind_each_count():
    facts = finding_facts(*five_findings(), period=PERIOD, now=NOW, working_seconds=wall_seconds)
    assert facts.index[facts["closed"]].tolist() == ["A", "B", "C", "D"]
    assert facts.index[facts["on_time"]].tolist() == ["A", "D"]
    assert facts.index[facts["overdue_now"]].tolist() == ["E"]
    assert facts["resolve_hours"].dropna().to_dict() == {"A": 16.0, "B": 28.0, "D": 25.0}
    assert facts["escalations"].tolist() == [0, 0, 0, 0, 1]


def test_hours_are_working_hours_from_the_calendar():
    rows = rows_of(*five_findings(), working_seconds=lambda a, b: wall_seconds(a, b) / 2)
    assert rows.loc[0, "accept_hours_median"] == 1.0
    assert rows.loc[0, "resolve_hours_median"] == 12.5


def test_suspension_ended_by_a_reroute_stops_the_clock_too():
    findings, events = frames([finding("A")], stream(
        "A", ("report", 0), ("dispatch", 1, {"accept_due": 5}), ("accept", 2, {"resolve_due": 50}),
        ("suspend", 3), ("reroute", 7, {"accept_due": 9}), ("accept", 8, {"resolve_due": 60}), ("resolve", 10),
        ("verify", 11)))
    facts = finding_facts(findings, events, period=PERIOD, now=NOW, working_seconds=wall_seconds)
    assert facts.loc["A", "accept_hours"] == 1.0
    assert facts.loc["A", "resolve_hours"] == 4.0
    assert facts.loc["A", "on_time"]


def test_a_finding_without_a_known_deadline_is_not_on_time():
    findings, events = frames([finding("A")], stream(
        "A", ("report", 0), ("dispatch", 1), ("accept", 2), ("resolve", 3), ("verify", 4)))
    row = rows_of(findings, events.drop(columns=["accept_due", "resolve_due"])).iloc[0]
    assert (row["verified"], row["on_time"], row["on_time_rate"], row["overdue_now"]) == (1, 0, 0.0, 0)


def test_overdue_now_reads_the_deadline_of_the_current_state():
    due = {"accept_due": 5}
    findings, events = frames(
        [finding(f) for f in ["late_dispatch", "early_dispatch", "in_progress", "suspended", "resolved", "reopened",
                              "returned", "verified", "reported", "resumed", "accepted_at_now", "after_now"]],
        stream("late_dispatch", ("report", 0), ("dispatch", 1, due)),
        stream("early_dispatch", ("report", 0), ("dispatch", 1, {"accept_due": 500})),
        stream("in_progress", ("report", 0), ("dispatch", 1, due), ("accept", 2, {"resolve_due": 9}), ("start", 3)),
        stream("suspended", ("report", 0), ("dispatch", 1, due), ("accept", 2, {"resolve_due": 9}), ("suspend", 3)),
        stream("resolved", ("report", 0), ("dispatch", 1, due), ("accept", 2, {"resolve_due": 9}), ("resolve", 3)),
        stream("reopened", ("report", 0), ("dispatch", 1, due), ("accept", 2, {"resolve_due": 9}), ("resolve", 3),
               ("reopen", 4)),
        stream("returned", ("report", 0), ("dispatch", 1, due), ("return", 2)),
        stream("verified", ("report", 0), ("dispatch", 1, due), ("accept", 2, {"resolve_due": 9}), ("resolve", 3),
               ("verify", 4)),
        stream("reported", ("report", 0)),
        stream("resumed", ("report", 0), ("dispatch", 1, due), ("accept", 2, {"resolve_due": 9}), ("suspend", 3),
               ("resume", 90, {"resolve_due": 120})),
        stream("accepted_at_now", ("report", 0), ("dispatch", 1, due), ("accept", 100, {"resolve_due": 200})),
        stream("after_now", ("report", 0), ("dispatch", 1, due), ("accept", 101, {"resolve_due": 102})),
    )
    facts = finding_facts(findings, events, period=PERIOD, now=NOW, working_seconds=wall_seconds)
    assert facts.index[facts["overdue_now"]].tolist() == ["late_dispatch", "in_progress", "reopened", "after_now"]


def test_period_boundaries_are_half_open():
    findings, events = frames(
        [finding(f) for f in "PQRS"],
        stream("P", ("report", -1), ("dispatch", -0.5, {"accept_due": 500}), ("escalate", 0), ("escalate", 7 * 24)),
        stream("Q", ("report", 0)),
        stream("R", ("report", 7 * 24 - 2), ("dispatch", 7 * 24 - 1), ("reject", 7 * 24)),
        stream("S", ("report", 7 * 24)),
    )
    facts = finding_facts(findings, events, period=PERIOD, now=END + pd.Timedelta(days=1),
                          working_seconds=wall_seconds)
    assert facts.index[facts["registered"]].tolist() == ["Q", "R"]
    assert not facts["closed"].any()
    row = rows_of(findings, events).iloc[0]
    assert (row["registered"], row["closed"], row["completion_rate"], row["escalations"]) == (2, 0, 0.0, 1)


def test_figures_of_a_past_period_do_not_change_when_later_events_arrive():
    findings, events = five_findings()
    before = rows_of(findings, events)
    later = pd.DataFrame(stream("E", ("report", 10), ("dispatch", 11, {"accept_due": 20}), ("escalate", 25),
                                ("accept", 200, {"resolve_due": 300}), ("resolve", 210), ("verify", 220)))
    after = rows_of(findings, pd.concat([events[events["finding_id"] != "E"], later], ignore_index=True))
    pd.testing.assert_frame_equal(before, after)


def grouped_findings() -> tuple[pd.DataFrame, pd.DataFrame]:
    done = (("report", 1), ("dispatch", 2), ("reject", 3))
    return frames(
        [finding("a1", town="t1"), finding("a2", town="t1", domain="forest"), finding("a3", town="t1"),
         finding("b1", town="t2", domain="field"), finding("c1", town="t3")],
        stream("a1", *done), stream("a2", ("report", 1)), stream("a3", *done),
        stream("b1", *done), stream("c1", ("report", -5), ("dispatch", -4, {"accept_due": 0})),
    )


def test_group_by_town_keeps_groups_with_nothing_registered():
    rows = rows_of(*grouped_findings()).set_index("town_code")
    assert rows["registered"].to_dict() == {"t1": 3, "t2": 1, "t3": 0}
    assert rows["closed"].to_dict() == {"t1": 2, "t2": 1, "t3": 0}
    assert rows.loc["t1", "completion_rate"] == pytest.approx(2 / 3)
    assert rows.loc["t3", "completion_rate"] is None
    assert rows["overdue_now"].to_dict() == {"t1": 0, "t2": 0, "t3": 1}


def test_group_by_town_and_domain():
    rows = rows_of(*grouped_findings(), group_by=("town", "domain"))
    assert list(rows.columns[:2]) == ["town_code", "domain"]
    assert rows[["town_code", "domain", "registered", "closed"]].values.tolist() == [
        ["t1", "forest", 1, 0], ["t1", "river", 2, 2], ["t2", "field", 1, 1], ["t3", "river", 0, 0]]


def test_small_groups_are_marked_and_not_ranked():
    done = (("report", 1), ("dispatch", 2), ("reject", 3))
    towns = {"tA": [True, True, True], "tB": [True, True, False], "tC": [True, True, True], "tD": [True]}
    findings, streams = [], []
    for town, closed in towns.items():
        for i, is_closed in enumerate(closed):
            findings.append(finding(f"{town}{i}", town=town))
            streams.append(stream(f"{town}{i}", *(done if is_closed else done[:2])))
    rows = rows_of(*frames(findings, *streams), small_sample=3).set_index("town_code")
    assert rows["small"].to_dict() == {"tA": False, "tB": False, "tC": False, "tD": True}
    assert rows["rank"].to_dict() == {"tA": 1, "tB": 3, "tC": 1, "tD": None}


def test_no_events_gives_zero_counts_and_no_rates():
    findings = pd.DataFrame([finding("A")])
    events = pd.DataFrame(columns=["finding_id", "seq", "at", "action", "from_state", "to_state", "data"])
    row = rows_of(findings, events).iloc[0]
    assert (row["registered"], row["escalations"], row["completion_rate"], row["accept_hours_median"]) == (
        0, 0, None, None)


def test_no_findings_gives_an_empty_table_with_its_columns():
    findings = pd.DataFrame(columns=list(finding("A")))
    events = pd.DataFrame(columns=["finding_id", "seq", "at", "action", "from_state", "to_state", "data"])
    rows = rows_of(findings, events, group_by=("town", "domain"))
    assert rows.empty and list(rows.columns) == ["town_code", "domain", *KPI_COLUMNS]


def test_csv_has_a_header_fixed_columns_and_four_decimal_rates():
    findings, events = five_findings()
    findings["town_code"] = "城关镇"
    text = kpi_rows_to_csv(rows_of(findings, events)[["rank", "small", "town_code", *KPI_COLUMNS[:-2]]])
    header, line = text.splitlines()
    assert header == ",".join(["town_code", *KPI_COLUMNS])
    assert line == "城关镇,5,4,0.8000,3,2,0.6667,2.00,5.20,25.00,27.40,3,1,0.3333,1,1,True,"
    assert text.encode("utf-8").decode("utf-8") == text


@pytest.mark.parametrize("change, error", [
    ({"period": (T0.tz_localize(None), END)}, InvalidParameter),
    ({"period": (END, T0)}, InvalidParameter),
    ({"now": NOW.tz_localize(None)}, InvalidParameter),
    ({"group_by": "province"}, InvalidParameter),
    ({"group_by": ()}, InvalidParameter),
    ({"small_sample": 0}, InvalidParameter),
])
def test_bad_parameters_are_refused(change, error):
    with pytest.raises(error):
        rows_of(*five_findings(), **change)


def test_events_of_unknown_findings_are_refused():
    findings, events = five_findings()
    with pytest.raises(ValueError, match="findings not given"):
        rows_of(findings[findings["id"] != "E"], events)


# The property: random valid histories, walked through the transition table, recounted naively.

BASE = pd.Timestamp("2026-01-01", tz="UTC")
PROP_PERIOD = (BASE + pd.Timedelta(days=4), BASE + pd.Timedelta(days=10))
MINUTE = pd.Timedelta(minutes=1)
FORWARD = {Action.DISPATCH, Action.ACCEPT, Action.START, Action.RESOLVE}
"""Steps towards resolving, drawn four times as often so that random walks reach verification (and reopening)."""


@st.composite
def histories(draw):
    findings, events = [], []
    for i in range(draw(st.integers(1, 10))):
        finding_id = f"f{i}"
        findings.append(finding(finding_id, town=draw(st.sampled_from(["t1", "t2", "t3"])),
                                domain=draw(st.sampled_from(["river", "forest", "field"]))))
        t = BASE + draw(st.integers(2 * 24 * 60, 12 * 24 * 60)) * MINUTE
        state, rows = State.REPORTED, [("report", t, State.REPORTED, {})]
        for _ in range(draw(st.integers(0, 16))):
            options = allowed_actions(state, EVERYONE)
            if not options:
                break
            action = draw(st.sampled_from([a for a in options for _ in range(4 if a in FORWARD else 1)]))
            t += draw(st.integers(0, 2 * 24 * 60)) * MINUTE
            dues = {}
            if action in (Action.DISPATCH, Action.REROUTE):
                dues["accept_due"] = t + draw(st.integers(0, 3 * 24 * 60)) * MINUTE
            if action in (Action.ACCEPT, Action.RESUME):
                dues["resolve_due"] = t + draw(st.integers(0, 5 * 24 * 60)) * MINUTE
            after = step(state, action, EVERYONE, reason="why")
            rows.append((str(action), t, None if action == Action.ESCALATE else after, dues))
            state = after
        previous = None
        for seq, (action, when, to_state, dues) in enumerate(rows, start=1):
            events.append({"finding_id": finding_id, "seq": seq, "at": when, "action": action,
                           "from_state": previous, "to_state": None if to_state is None else str(to_state),
                           "data": None, "accept_due": dues.get("accept_due", pd.NaT),
                           "resolve_due": dues.get("resolve_due", pd.NaT)})
            previous = str(to_state) if to_state is not None else previous
    now = BASE + draw(st.integers(0, 20 * 24 * 60)) * MINUTE
    return findings, events, now


def naive_recount(findings: list[dict], events: list[dict], now) -> dict[str, dict[str, object]]:
    """The KPIs per town by walking each finding's events one by one in plain Python."""
    start, end = PROP_PERIOD
    by_finding = defaultdict(list)
    for event in sorted(events, key=lambda e: (e["finding_id"], e["seq"])):
        by_finding[event["finding_id"]].append(event)
    towns = defaultdict(lambda: defaultdict(int))
    hours = defaultdict(lambda: defaultdict(list))
    for f in findings:
        evs, town = by_finding[f["id"]], towns[f["town_code"]]
        registered = start <= evs[0]["at"] < end
        before = [e for e in evs if e["at"] < end]
        state = replay([(e["action"], e["to_state"]) for e in before]) if before else None
        town["escalations"] += sum(e["action"] == "escalate" and start <= e["at"] < end for e in evs)
        if registered:
            town["registered"] += 1
            town["closed"] += state in CLOSED
            town["verified"] += state == State.VERIFIED
            town["resolved_ever"] += any(e["action"] == "resolve" for e in before)
            town["reopened"] += any(e["action"] == "reopen" for e in before)
            dispatches = [e["at"] for e in before if e["action"] == "dispatch"]
            accepts = [e["at"] for e in before if e["action"] == "accept"]
            if dispatches and accepts:
                hours[f["town_code"]]["accept"].append((accepts[0] - dispatches[0]).total_seconds() / 3600)
        if registered and state == State.VERIFIED:
            resolve_due, suspended_since, suspended_s = None, None, 0.0
            for e in before:
                if e["action"] == "resolve":
                    last_resolve, due_then = e["at"], resolve_due
                if e["to_state"] is not None and suspended_since is not None:
                    suspended_s += (e["at"] - suspended_since).total_seconds()
                    suspended_since = None
                if e["to_state"] == State.SUSPENDED:
                    suspended_since = e["at"]
                if not pd.isna(e["resolve_due"]):
                    resolve_due = e["resolve_due"]
            town["on_time"] += due_then is not None and last_resolve <= due_then
            first_accept = next(e["at"] for e in before if e["action"] == "accept")
            resolve_s = (last_resolve - first_accept).total_seconds() - suspended_s
            hours[f["town_code"]]["resolve"].append(resolve_s / 3600)
        current, dues = None, {"accept_due": None, "resolve_due": None}
        for e in evs:
            if e["at"] <= now:
                current = e["to_state"] or current
                dues.update({k: e[k] for k in dues if not pd.isna(e[k])})
        due = (dues["accept_due"] if current == State.DISPATCHED else
               dues["resolve_due"] if current in (State.ACCEPTED, State.IN_PROGRESS, State.REOPENED) else None)
        town["overdue_now"] += due is not None and due < now
    for name, town in towns.items():
        for kind in ("accept", "resolve"):
            values = hours[name][kind]
            median, p90 = np.percentile(values, [50, 90]) if values else (None, None)
            town[f"{kind}_hours_median"], town[f"{kind}_hours_p90"] = median, p90
    return {name: dict(town) for name, town in towns.items()}


@settings(max_examples=150, deadline=None)
@given(histories())
def test_kpis_equal_a_naive_recount_of_random_valid_histories(history):
    findings, events, now = history
    rows = kpi_rows(pd.DataFrame(findings), pd.DataFrame(events), period=PROP_PERIOD, now=now,
                    working_seconds=wall_seconds, group_by="town").set_index("town_code")
    expected = naive_recount(findings, events, now)
    assert sorted(rows.index) == sorted(expected)
    for town, figures in expected.items():
        row = rows.loc[town]
        for column in ("registered", "closed", "verified", "on_time", "resolved_ever", "reopened", "overdue_now",
                       "escalations"):
            assert row[column] == figures.get(column, 0), (town, column)
        for column in ("accept_hours_median", "accept_hours_p90", "resolve_hours_median", "resolve_hours_p90"):
            assert row[column] == (None if figures[column] is None else pytest.approx(figures[column])), column
        registered = figures.get("registered", 0)
        assert row["completion_rate"] == (figures.get("closed", 0) / registered if registered else None)
