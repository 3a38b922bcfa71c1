"""Working time on the official calendar: hand-counted deadlines around the 2026 holidays, and add/between
as exact inverses (the suspend/resume arithmetic of the workflow relies on it)."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridgov.findings import worktime
from gridgov.findings.worktime import WorkCalendar, calendar_known

SHANGHAI = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar.parse("Asia/Shanghai", "08:30-12:00,14:00-17:30")
HOUR = 3600.0


def local(*args: int) -> datetime:
    """A moment on the county's clock (Beijing time, UTC+8)."""
    return datetime(*args, tzinfo=SHANGHAI)


def test_defaults_make_a_seven_hour_day():
    assert CAL.day_seconds == 7 * HOUR
    assert WorkCalendar.from_settings().day_seconds == 7 * HOUR


@pytest.mark.parametrize(("day", "working"), [
    (date(2026, 2, 13), True),    # Friday before the Spring Festival
    (date(2026, 2, 14), True),    # Saturday, make-up day (调休)
    (date(2026, 2, 15), False),   # Sunday, first day of the holiday
    (date(2026, 2, 23), False),   # Monday, last day of the holiday
    (date(2026, 2, 24), True),
    (date(2026, 2, 28), True),    # Saturday, make-up day
    (date(2026, 3, 7), False),    # an ordinary Saturday
    (date(2026, 9, 20), True),    # Sunday, make-up day for National Day
    (date(2026, 9, 25), False),   # Friday, Mid-autumn Festival
    (date(2026, 10, 1), False),
    (date(2026, 10, 7), False),   # Wednesday, last day of National Day
    (date(2026, 10, 10), True),   # Saturday, make-up day
    (date(2026, 10, 11), False),
])
def test_working_days_follow_the_official_calendar(day, working):
    assert CAL.is_working_day(day) is working


def test_spring_festival_2026_two_working_days():
    """Dispatched Fri 2026-02-13 16:00 with 2 working days (14 h):
    Fri 16:00-17:30 1.5 h (12.5 h left); Sat 02-14 is a make-up day: 7 h (5.5 h left); 02-15..02-23 is the
    holiday; Tue 02-24 08:30-12:00 3.5 h (2 h left), 14:00 + 2 h = Tue 2026-02-24 16:00 (08:00 UTC)."""
    start = local(2026, 2, 13, 16, 0)
    due = CAL.add_working_days(start, 2)
    assert due == local(2026, 2, 24, 16, 0)
    assert due.tzinfo is UTC and due == datetime(2026, 2, 24, 8, 0, tzinfo=UTC)
    assert CAL.working_seconds_between(start, due) == 14 * HOUR


def test_national_day_2026_eight_working_hours():
    """Dispatched Wed 2026-09-30 10:00 with 8 working hours: Wed 10:00-12:00 2 h and 14:00-17:30 3.5 h
    (2.5 h left); 10-01..10-07 is the holiday; Thu 10-08 08:30 + 2.5 h = Thu 2026-10-08 11:00."""
    start = local(2026, 9, 30, 10, 0)
    assert CAL.add_working_hours(start, 8) == local(2026, 10, 8, 11, 0)


def test_national_day_2026_five_working_days_over_two_holidays():
    """Dispatched Thu 2026-09-24 10:00 with 5 working days (35 h): Thu 5.5 h (29.5 left); Mid-autumn
    Festival Fri 09-25..Sun 09-27; Mon 09-28, Tue 09-29, Wed 09-30 7 h each (8.5 left); National Day
    10-01..10-07; Thu 10-08 7 h (1.5 left); Fri 10-09 08:30 + 1.5 h = Fri 2026-10-09 10:00."""
    assert CAL.add_working_days(local(2026, 9, 24, 10, 0), 5) == local(2026, 10, 9, 10, 0)


def test_sunday_make_up_day_before_national_day():
    """Dispatched Fri 2026-09-18 17:00 with 4 working hours: Fri 0.5 h (3.5 h left); Sat 09-19 is a rest day;
    Sun 09-20 is a make-up day: 08:30 + 3.5 h = Sun 2026-09-20 12:00, the end of the morning (not 14:00)."""
    assert CAL.add_working_hours(local(2026, 9, 18, 17, 0), 4) == local(2026, 9, 20, 12, 0)


def test_saturday_make_up_day_after_national_day():
    """Dispatched Fri 2026-10-09 16:00 with 1 working day (7 h): Fri 1.5 h (5.5 h left); Sat 10-10 is a
    make-up day: 08:30-12:00 3.5 h (2 h left), 14:00 + 2 h = Sat 2026-10-10 16:00."""
    assert CAL.add_working_days(local(2026, 10, 9, 16, 0), 1) == local(2026, 10, 10, 16, 0)


def test_between_across_a_holiday_sums_the_working_days():
    # Spring Festival: of 02-13..02-28 the working days are 13, 14 (make-up), 24, 25, 26, 27 and 28 (make-up).
    assert CAL.working_seconds_between(local(2026, 2, 13), local(2026, 3, 1)) == 7 * 7 * HOUR
    # National Day: of 09-30..10-10 the working days are 09-30, 10-08, 10-09 and 10-10 (make-up).
    assert CAL.working_seconds_between(local(2026, 9, 30), local(2026, 10, 11)) == 4 * 7 * HOUR
    assert CAL.working_seconds_between(local(2026, 10, 1), local(2026, 10, 8)) == 0.0


def test_a_start_at_lunch_counts_from_the_afternoon():
    monday_lunch = local(2026, 3, 2, 12, 30)
    assert CAL.add_working_hours(monday_lunch, 1) == local(2026, 3, 2, 15, 0)
    assert CAL.working_seconds_between(monday_lunch, local(2026, 3, 2, 14, 30)) == 0.5 * HOUR


@pytest.mark.parametrize("after_hours", [local(2026, 3, 2, 17, 30), local(2026, 3, 2, 18, 0),
                                         local(2026, 3, 3, 2, 0) - timedelta(hours=1)])
def test_a_start_after_hours_counts_from_the_next_morning(after_hours):
    assert CAL.add_working_hours(after_hours, 1) == local(2026, 3, 3, 9, 30)


def test_a_start_on_a_weekend_counts_from_monday():
    assert CAL.add_working_hours(local(2026, 3, 7, 10, 0), 1) == local(2026, 3, 9, 9, 30)


def test_a_count_that_runs_out_at_a_period_end_ends_there():
    monday = local(2026, 3, 2, 8, 30)
    assert CAL.add_working_days(monday, 1) == local(2026, 3, 2, 17, 30)
    assert CAL.add_working_days(monday, 0.5) == local(2026, 3, 2, 12, 0)
    assert CAL.add_working_days(monday, 5) == local(2026, 3, 6, 17, 30)


def test_zero_is_the_start_itself():
    evening = local(2026, 3, 2, 20, 15)
    assert CAL.add_working_seconds(evening, 0) == evening
    assert CAL.working_seconds_between(evening, evening) == 0.0
    assert CAL.working_seconds_between(evening, evening - timedelta(days=3)) == 0.0


def test_results_are_utc_whatever_the_input_zone():
    start_ny = local(2026, 3, 2, 9, 0).astimezone(ZoneInfo("America/New_York"))
    due = CAL.add_working_hours(start_ny, 1)
    assert due.tzinfo is UTC and due == local(2026, 3, 2, 10, 0)


def test_pandas_timestamps_are_accepted():
    start, end = pd.Timestamp("2026-03-02 08:30", tz="Asia/Shanghai"), pd.Timestamp("2026-03-02 09:30", tz="UTC")
    assert CAL.working_seconds_between(start, end) == 7 * HOUR  # 09:30 UTC is 17:30 in Shanghai
    due = CAL.add_working_hours(start, 1)
    assert type(due) is datetime and due == local(2026, 3, 2, 9, 30)


def test_other_working_hours():
    one_period = WorkCalendar.parse("Asia/Shanghai", "09:00-17:00")
    assert one_period.day_seconds == 8 * HOUR
    assert one_period.add_working_days(local(2026, 2, 13, 9, 0), 2) == local(2026, 2, 14, 17, 0)


def test_unknown_year_falls_back_to_monday_to_friday(caplog, monkeypatch):
    monkeypatch.setattr(worktime, "_warned_years", set())
    assert calendar_known(date(2026, 12, 31)) and not calendar_known(date(2027, 1, 1))
    assert not calendar_known(date(2003, 12, 31))
    with caplog.at_level(logging.WARNING, logger="gridgov.findings.worktime"):
        # Fri 2027-01-01 is New Year's Day, but the fallback cannot know: it counts as a working day.
        assert CAL.is_working_day(date(2027, 1, 1))
        assert not CAL.is_working_day(date(2027, 1, 2))
        # Thu 2026-12-31 16:00 + 7 h: 1.5 h on Thursday, 5.5 h of Friday 2027-01-01.
        assert CAL.add_working_days(local(2026, 12, 31, 16, 0), 1) == local(2027, 1, 1, 16, 0)
        assert CAL.working_seconds_between(local(2027, 1, 4), local(2027, 1, 9)) == 5 * 7 * HOUR
    warnings = [r for r in caplog.records if r.name == "gridgov.findings.worktime"]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert "2027" in warnings[0].getMessage()


def test_naive_moments_are_refused():
    with pytest.raises(ValueError, match="no time zone"):
        CAL.add_working_hours(datetime(2026, 3, 2, 9, 0), 1)
    with pytest.raises(ValueError, match="no time zone"):
        CAL.working_seconds_between(local(2026, 3, 2, 9, 0), datetime(2026, 3, 3, 9, 0))
    with pytest.raises(TypeError, match="must be a datetime"):
        CAL.add_working_hours(date(2026, 3, 2), 1)


@pytest.mark.parametrize("seconds", [-1.0, float("nan"), float("inf")])
def test_bad_amounts_are_refused(seconds):
    with pytest.raises(ValueError, match="finite number >= 0"):
        CAL.add_working_seconds(local(2026, 3, 2, 9, 0), seconds)


@pytest.mark.parametrize(("zone", "work_hours", "message"), [
    ("Asia/Shanghai", "", "is not a period"),
    ("Asia/Shanghai", "8-12", "is not a period"),
    ("Asia/Shanghai", "08:30-12:00;14:00-17:30", "is not a period"),
    ("Asia/Shanghai", "08:30-12:00,", "is not a period"),
    ("Asia/Shanghai", "24:00-25:00", "not a time of day"),
    ("Asia/Shanghai", "08:60-09:00", "not a time of day"),
    ("Asia/Shanghai", "12:00-08:30", "ends before it begins"),
    ("Asia/Shanghai", "22:00-06:00", "ends before it begins"),
    ("Asia/Shanghai", "08:30-08:30", "ends before it begins"),
    ("Asia/Shanghai", "08:30-12:00,11:00-17:30", "without overlaps"),
    ("Asia/Shanghai", "14:00-17:30,08:30-12:00", "without overlaps"),
    ("Mars/Olympus_Mons", "08:30-12:00", "Unknown time zone"),
    ("../etc/passwd", "08:30-12:00", "Unknown time zone"),
])
def test_bad_calendars_are_refused(zone, work_hours, message):
    with pytest.raises(ValueError, match=message):
        WorkCalendar.parse(zone, work_hours)


def test_touching_periods_are_allowed():
    assert WorkCalendar.parse("Asia/Shanghai", "08:00-12:00,12:00-16:00").day_seconds == 8 * HOUR


STARTS = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 31, 23, 59, 59),
                      timezones=st.sampled_from([SHANGHAI, UTC, ZoneInfo("Europe/Berlin")]), allow_imaginary=False)
AMOUNTS = st.floats(min_value=0, max_value=30 * CAL.day_seconds, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(start=STARTS, seconds=AMOUNTS)
def test_between_undoes_add(start, seconds):
    due = CAL.add_working_seconds(start, seconds)
    assert due >= start
    assert abs(CAL.working_seconds_between(start, due) - seconds) <= 1e-6


@settings(max_examples=200, deadline=None)
@given(start=STARTS, seconds=st.floats(min_value=1e-3, max_value=30 * CAL.day_seconds),
       fraction=st.floats(min_value=0, max_value=1, exclude_max=True))
def test_suspending_for_no_time_keeps_the_deadline(start, seconds, fraction):
    """A suspend at any moment before the deadline and an immediate resume give the same deadline back."""
    due = CAL.add_working_seconds(start, seconds)
    suspended = start.astimezone(UTC) + (due - start.astimezone(UTC)) * fraction
    left = CAL.working_seconds_between(suspended, due)
    assert CAL.add_working_seconds(suspended, left) == due


@settings(max_examples=200, deadline=None)
@given(start=STARTS, span=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=60)))
def test_add_of_between_stops_at_the_last_working_moment(start, span):
    end = start + span
    back = CAL.add_working_seconds(start, CAL.working_seconds_between(start, end))
    assert back <= end and CAL.working_seconds_between(back, end) == 0.0
