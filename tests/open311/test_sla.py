"""SLAs counted in Kazakh working hours: weekends, lunch, public holidays, the city's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from qala.open311.model import Sla
from qala.open311.sla import SlaState, WorkingCalendar, expected_datetime, sla_state

ASTANA = ZoneInfo("Asia/Almaty")
CAL = WorkingCalendar(ASTANA)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=ASTANA)


def test_the_zone_is_utc_plus_5() -> None:
    assert local(2026, 3, 20, 9).utcoffset() == timedelta(hours=5)


def test_a_working_day_sla_skips_the_weekend() -> None:
    # Friday 13 February 2026, 16:00: 2 hours on Friday, 8 on Monday, 8 on Tuesday, 6 on Wednesday.
    due = CAL.add_working_hours(local(2026, 2, 13, 16), 24)
    assert due == local(2026, 2, 18, 16).astimezone(UTC)
    assert due.tzinfo is UTC


def test_nauryz_and_its_carried_over_days_are_not_working_days() -> None:
    # Nauryz 2026 is Saturday 21 to Monday 23 March; the weekend days are carried over to
    # Tuesday 24 and Wednesday 25. Friday 20 March, 17:00 + one working day = Thursday 26, 17:00.
    assert "Nowruz" in (CAL.holiday(date(2026, 3, 21)) or "")
    for day in (21, 22, 23, 24, 25):
        assert not CAL.is_working_day(date(2026, 3, day)), day
    assert CAL.is_working_day(date(2026, 3, 26))
    due = expected_datetime(Sla(8), local(2026, 3, 20, 17), CAL)
    assert due == local(2026, 3, 26, 17).astimezone(UTC)


def test_lunch_is_not_working_time() -> None:
    assert CAL.add_working_hours(local(2026, 2, 16, 12, 30), 1) == local(2026, 2, 16, 14, 30)
    assert CAL.add_working_hours(local(2026, 2, 16, 13, 20), 1) == local(2026, 2, 16, 15)


def test_a_request_filed_out_of_hours_starts_at_the_next_working_moment() -> None:
    assert CAL.add_working_hours(local(2026, 2, 13, 20), 2) == local(2026, 2, 16, 11)
    assert CAL.add_working_hours(local(2026, 2, 14, 10), 0) == local(2026, 2, 16, 9)


def test_a_day_of_work_ends_at_18_00_the_same_day() -> None:
    assert CAL.add_working_hours(local(2026, 2, 16, 9), 8) == local(2026, 2, 16, 18)


def test_emergency_slas_count_calendar_hours_through_holidays() -> None:
    due = expected_datetime(Sla(24, working=False), local(2026, 3, 21, 22), CAL)
    assert due == local(2026, 3, 22, 22)


def test_government_transfers_of_working_days_are_applied() -> None:
    # e.g. a decree making a Saturday a working day and a Friday a day off.
    cal = WorkingCalendar(ASTANA, extra_days_off=[date(2026, 2, 20)],
                          extra_working_days=[date(2026, 2, 21)])  # fmt: skip
    assert cal.add_working_hours(local(2026, 2, 19, 17), 2) == local(2026, 2, 21, 10)


def test_working_hours_between_two_moments() -> None:
    assert CAL.working_hours_between(local(2026, 2, 13, 16), local(2026, 2, 16, 10)) == 3
    assert CAL.working_hours_between(local(2026, 2, 16, 10), local(2026, 2, 13, 16)) == -3
    assert CAL.working_hours_between(local(2026, 3, 20, 18), local(2026, 3, 26, 9)) == 0


def test_sla_state_of_an_open_request() -> None:
    sla = Sla(80)  # ten working days
    filed = local(2026, 2, 2, 9)
    due = expected_datetime(sla, filed, CAL)
    assert due == local(2026, 2, 13, 18)
    assert sla_state(sla, filed, due, local(2026, 2, 5, 10), CAL) is SlaState.ON_TIME
    # 16 working hours (20 %) left: Thursday 12 February, 09:00 onwards
    assert sla_state(sla, filed, due, local(2026, 2, 12, 9), CAL) is SlaState.DUE_SOON
    assert sla_state(sla, filed, due, local(2026, 2, 11, 17), CAL) is SlaState.ON_TIME
    assert sla_state(sla, filed, due, local(2026, 2, 14, 9), CAL) is SlaState.OVERDUE


def test_sla_state_of_a_closed_request_is_whether_it_closed_in_time() -> None:
    sla = Sla(24, working=False)
    filed = local(2026, 1, 10, 8)
    due = expected_datetime(sla, filed, CAL)
    later = local(2026, 2, 1)
    assert sla_state(sla, filed, due, later, CAL, closed_at=due) is SlaState.ON_TIME
    late = due + timedelta(minutes=1)
    assert sla_state(sla, filed, due, later, CAL, closed_at=late) is SlaState.OVERDUE
    assert sla_state(sla, filed, due, due - timedelta(hours=4), CAL) is SlaState.DUE_SOON


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError):
        CAL.add_working_hours(datetime(2026, 2, 16, 9), 1)
