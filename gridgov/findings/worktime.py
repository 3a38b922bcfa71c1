"""Working time on the official Chinese calendar (工作日), the clock every finding's deadline runs on.

A deadline such as "accept within 8 working hours, resolve within 5 working days" (办理时限) counts only the
county's working hours on official working days: weekends and public holidays do not count, and the
make-up working days (调休) around the holidays do, even on a Saturday or Sunday. The official calendar
comes from ``chinesecalendar``, which knows the years the State Council has published; for any other year
the count falls back to Monday to Friday, logs a warning once per year and :func:`calendar_known` says so,
so that a caller (or the admin reading the log) can tell a deadline that may miss a holiday.

Counting and adding are exact inverses to the microsecond (the resolution of ``datetime``): a suspended
finding keeps ``left = working_seconds_between(now, due)`` and, on resuming, gets
``add_working_seconds(later, left)``. Both walk the calendar a day at a time, never by the minute.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar

from gridgov.config import get_settings

logger = logging.getLogger(__name__)

Periods = tuple[tuple[time, time], ...]
"""A working day's periods on the county's clock, ``(begin, end)`` each, in order."""

_PERIOD = re.compile(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})")
_MICROSECOND = timedelta(microseconds=1)
_ONE_DAY = timedelta(days=1)
_warned_years: set[int] = set()


def calendar_known(day: date) -> bool:
    """Whether the official calendar of ``day``'s year is known; if not, working days are Monday to Friday.

    >>> calendar_known(date(2026, 10, 1)), calendar_known(date(2027, 10, 1))
    (True, False)
    """
    return _official_workday(day) is not None


def _working_day(day: date) -> bool:
    """Whether ``day`` is a working day: the official calendar, or Monday to Friday in a year it does not know."""
    official = _official_workday(day)
    if official is not None:
        return official
    if day.year not in _warned_years:
        _warned_years.add(day.year)
        logger.warning("The official calendar of %d is not known to chinesecalendar %s: counting Monday to Friday "
                       "as working days, without holidays or make-up days. Upgrade chinesecalendar once the "
                       "State Council publishes the year.", day.year, chinese_calendar.__version__)
    return day.weekday() < 5


@lru_cache(maxsize=8192)
def _official_workday(day: date) -> bool | None:
    # Cached: chinesecalendar scans its whole table for the known range on every call, and a deadline walks
    # the same few weeks over and over. None: a year it does not know.
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return None


@lru_cache(maxsize=8192)
def _periods_utc(zone: tzinfo, periods: Periods, day: date) -> tuple[tuple[datetime, datetime], ...]:
    # UTC instants, so that differences are elapsed time even across a daylight-saving change.
    return tuple((datetime.combine(day, begin, tzinfo=zone).astimezone(UTC),
                  datetime.combine(day, end, tzinfo=zone).astimezone(UTC)) for begin, end in periods)


@dataclass(frozen=True, kw_only=True)
class WorkCalendar:
    """The county's working hours (``periods`` of each working day, on the clock of ``zone``).

    All moments must be timezone-aware; results are in UTC.

    Examples
    --------
    A finding dispatched on Friday 13 February 2026 at 16:00 with two working days: 1.5 h on Friday,
    7 h on Saturday the 14th (a make-up day), the Spring Festival from the 15th to the 23rd, then 5.5 h
    of Tuesday the 24th.

    >>> cal = WorkCalendar.parse("Asia/Shanghai", "08:30-12:00,14:00-17:30")
    >>> start = datetime(2026, 2, 13, 16, 0, tzinfo=cal.zone)
    >>> due = cal.add_working_days(start, 2)
    >>> due.isoformat(), due.astimezone(cal.zone).isoformat()
    ('2026-02-24T08:00:00+00:00', '2026-02-24T16:00:00+08:00')
    >>> cal.working_seconds_between(start, due) / 3600
    14.0
    """

    zone: tzinfo
    periods: Periods

    def __post_init__(self) -> None:
        if not self.periods:
            raise ValueError("A working day needs at least one period of working hours.")
        previous_end: time | None = None
        for begin, end in self.periods:
            if begin.tzinfo is not None or end.tzinfo is not None:
                raise ValueError("Working hours are wall-clock times without a zone: the zone is the calendar's.")
            if end <= begin:
                raise ValueError(f"The working period {begin:%H:%M}-{end:%H:%M} ends before it begins "
                                 "(a period cannot run past midnight).")
            if previous_end is not None and begin < previous_end:
                raise ValueError(f"The working period {begin:%H:%M}-{end:%H:%M} begins before the one before it "
                                 f"ends ({previous_end:%H:%M}): list periods in order, without overlaps.")
            previous_end = end

    @classmethod
    def parse(cls, zone: str, work_hours: str) -> WorkCalendar:
        """The calendar of IANA time zone ``zone`` and ``work_hours``, comma-separated ``HH:MM-HH:MM`` periods.

        >>> WorkCalendar.parse("Asia/Shanghai", "08:30-12:00, 14:00-17:30").day_seconds / 3600
        7.0
        """
        try:
            zone_info = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"Unknown time zone {zone!r}: use an IANA name such as 'Asia/Shanghai'.") from None
        periods = []
        for text in work_hours.split(","):
            match = _PERIOD.fullmatch(text.strip())
            if match is None:
                raise ValueError(f"Working hours {work_hours!r}: {text.strip()!r} is not a period HH:MM-HH:MM "
                                 "(periods are separated by commas, e.g. '08:30-12:00,14:00-17:30').")
            h1, m1, h2, m2 = (int(g) for g in match.groups())
            if not (h1 < 24 and h2 < 24 and m1 < 60 and m2 < 60):
                raise ValueError(f"Working hours {work_hours!r}: {text.strip()!r} is not a time of day "
                                 "(hours 00-23, minutes 00-59).")
            periods.append((time(h1, m1), time(h2, m2)))
        return cls(zone=zone_info, periods=tuple(periods))

    @classmethod
    def from_settings(cls) -> WorkCalendar:
        """The calendar of ``GRIDGOV_TIMEZONE`` and ``GRIDGOV_WORK_HOURS``."""
        settings = get_settings()
        return cls.parse(settings.timezone, settings.work_hours)

    @property
    def day_seconds(self) -> float:
        """The length of one working day: its periods' total (7 h with the default hours)."""
        return sum(_seconds_of(end) - _seconds_of(begin) for begin, end in self.periods)

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` (a date on the county's clock) is a working day, make-up days (调休) included."""
        return _working_day(day)

    def working_seconds_between(self, start: datetime, end: datetime) -> float:
        """Working seconds in ``(start, end]``: inside the periods of working days; 0 when ``end <= start``."""
        start, end = _utc(start, "start"), _utc(end, "end")
        if end <= start:
            return 0.0
        total = 0
        day, last = self._local_day(start), self._local_day(end)
        while day <= last:
            for begin, finish in self._periods_on(day):
                low, high = max(begin, start), min(finish, end)
                if high > low:
                    total += (high - low) // _MICROSECOND
            day += _ONE_DAY
        return total / 1_000_000

    def add_working_seconds(self, start: datetime, seconds: float) -> datetime:
        """The moment ``seconds`` of working time after ``start`` (rounded to the microsecond).

        Outside working hours the count begins at the next period. A count that runs out exactly at the end of
        a period ends there (17:30, not 08:30 the next working day). Zero seconds give ``start`` itself, even
        outside working hours: a deadline of no time is due at once, not at the next opening.
        """
        start = _utc(start, "start")
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"Working seconds to add must be a finite number >= 0, not {seconds!r}.")
        left = round(seconds * 1_000_000)
        if left == 0:
            return start
        day = self._local_day(start)
        while True:
            for begin, finish in self._periods_on(day):
                low = max(begin, start)
                if finish <= low:
                    continue
                available = (finish - low) // _MICROSECOND
                if left <= available:
                    return low + timedelta(microseconds=left)
                left -= available
            day += _ONE_DAY

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """The moment ``hours`` working hours after ``start`` (see :meth:`add_working_seconds`)."""
        return self.add_working_seconds(start, hours * 3600)

    def add_working_days(self, start: datetime, days: float) -> datetime:
        """The moment ``days`` working days after ``start``, a working day being :attr:`day_seconds` long.

        "Resolve within 5 working days" from Monday 10:00 is Monday 10:00 a week later when no holiday falls
        in between; fractions count hours (half a day is 3.5 h with the default hours).
        """
        return self.add_working_seconds(start, days * self.day_seconds)

    def _local_day(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def _periods_on(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        return _periods_utc(self.zone, self.periods, day) if _working_day(day) else ()


def _seconds_of(moment: time) -> float:
    return moment.hour * 3600 + moment.minute * 60 + moment.second + moment.microsecond / 1_000_000


def _utc(moment: datetime, name: str) -> datetime:
    if not isinstance(moment, datetime):
        raise TypeError(f"{name} must be a datetime, not {type(moment).__name__}.")
    if moment.utcoffset() is None:
        raise ValueError(f"{name} ({moment.isoformat()}) has no time zone: working time needs to know which "
                         "clock a moment is on.")
    utc = moment.astimezone(UTC)
    # A plain datetime whatever came in: the KPIs pass pandas Timestamps, whose nanoseconds and arithmetic
    # would otherwise leak into deadlines.
    return datetime(utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond, tzinfo=UTC)
