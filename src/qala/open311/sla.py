"""SLAs in Kazakh working time: ``expected_datetime`` and a request's SLA state.

The working calendar is the city's, in its time zone (UTC+5 everywhere in Kazakhstan since
1 March 2024):

* a working day is Monday to Friday, 09:00–18:00 with a lunch break 13:00–14:00, so 8 working
  hours a day and 40 a week, the normal working week of Kazakhstan's Labour Code. An SLA of
  "3 working days" is 24 working hours;
* public holidays are days off: the PyPI package ``holidays`` (``holidays.KZ``) keeps the
  statutory list year by year (New Year, 8 March, Nauryz 21–23 March, 1, 7 and 9 May, Capital
  Day, Republic Day, Independence Day, the first day of Kurban Ait, which moves with the lunar
  calendar…) with the days off carried over when a holiday falls on a weekend;
* the Government also moves working days by decree each year (a Saturday worked so that a
  bridge day is off). Those are not in ``holidays``: a city passes them as ``extra_days_off``
  and ``extra_working_days``.

Emergency services (heating, water, lifts) have SLAs in calendar hours, counted around the
clock. A request filed outside working hours starts its working-hour clock at the next working
moment. Due soon: at most ``DUE_SOON_FRACTION`` of the SLA left (working hours for working
SLAs, wall time for calendar ones).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo

import holidays

from qala.open311.model import Sla

WORK_PERIODS: tuple[tuple[time, time], ...] = ((time(9), time(13)), (time(14), time(18)))
HOURS_PER_DAY = 8
DUE_SOON_FRACTION = 0.2
_MAX_DAYS = 3660  # an SLA never spans ten years: stop rather than loop on a bad calendar


class SlaState(enum.StrEnum):
    ON_TIME = "on_time"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"


class WorkingCalendar:
    """Kazakh working days and hours in one time zone."""

    def __init__(
        self,
        zone: tzinfo,
        extra_days_off: Iterable[date] = (),
        extra_working_days: Iterable[date] = (),
    ) -> None:
        self.zone = zone
        self._holidays = holidays.country_holidays("KZ")
        self._off = set(extra_days_off)
        self._on = set(extra_working_days)

    def holiday(self, day: date) -> str | None:
        """The name of the public holiday on ``day``, if it is one."""
        return self._holidays.get(day)

    def is_working_day(self, day: date) -> bool:
        if day in self._on:
            return True
        if day in self._off or day.weekday() >= 5:
            return False
        return day not in self._holidays

    def _periods(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working periods ending after ``start`` (local, aware), in order."""
        day = start.date()
        for _ in range(_MAX_DAYS):
            if self.is_working_day(day):
                for begin, end in WORK_PERIODS:
                    b = datetime.combine(day, begin, self.zone)
                    e = datetime.combine(day, end, self.zone)
                    if e > start:
                        yield max(b, start), e
            day += timedelta(days=1)
        raise ValueError("no working time found within ten years")

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """The moment ``hours`` working hours after ``start`` (in UTC)."""
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        left = timedelta(hours=hours)
        local = start.astimezone(self.zone)
        for begin, end in self._periods(local):
            if left <= end - begin:
                return (begin + left).astimezone(UTC)
            left -= end - begin
        raise AssertionError("unreachable")

    def working_hours_between(self, start: datetime, end: datetime) -> float:
        """Working hours from ``start`` to ``end`` (negative when ``end`` is earlier)."""
        if end < start:
            return -self.working_hours_between(end, start)
        total = timedelta()
        end_local = end.astimezone(self.zone)
        for begin, stop in self._periods(start.astimezone(self.zone)):
            if begin >= end_local:
                break
            total += min(stop, end_local) - begin
        return total / timedelta(hours=1)


def expected_datetime(sla: Sla, requested: datetime, calendar: WorkingCalendar) -> datetime:
    """When a request filed at ``requested`` is due under ``sla``."""
    if sla.working:
        return calendar.add_working_hours(requested, sla.hours)
    return (requested + timedelta(hours=sla.hours)).astimezone(UTC)


def sla_state(
    sla: Sla,
    requested: datetime,
    expected: datetime,
    now: datetime,
    calendar: WorkingCalendar,
    closed_at: datetime | None = None,
) -> SlaState:
    """On time, due soon or overdue. A closed request is on time if it was closed by its
    expected time and overdue otherwise; it is never due soon."""
    if closed_at is not None:
        return SlaState.ON_TIME if closed_at <= expected else SlaState.OVERDUE
    if now > expected:
        return SlaState.OVERDUE
    if sla.working:
        left = calendar.working_hours_between(now, expected)
        total = sla.hours
    else:
        left = (expected - now) / timedelta(hours=1)
        total = (expected - requested) / timedelta(hours=1)
    return SlaState.DUE_SOON if left <= DUE_SOON_FRACTION * total else SlaState.ON_TIME
