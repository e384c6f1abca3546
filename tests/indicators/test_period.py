"""Periods are calendar periods of the city's zone, with their bounds in UTC."""

from datetime import UTC, date, datetime

import pytest

from qala.indicators.period import Period


def test_a_year_in_almaty_starts_at_local_midnight_which_is_19_00_utc_the_day_before():
    year = Period.parse("2026")
    assert year.start == datetime(2025, 12, 31, 19, tzinfo=UTC)
    assert year.end == datetime(2026, 12, 31, 19, tzinfo=UTC)
    assert year.start_local.isoformat() == "2026-01-01T00:00:00+05:00"
    assert len(year.days()) == 365
    assert year.hours == 365 * 24


def test_quarters_and_months_have_their_calendar_bounds():
    q4 = Period.parse("2025-Q4")
    assert (q4.first_day, q4.end_day) == (date(2025, 10, 1), date(2026, 1, 1))
    february = Period.parse("2024-02")
    assert len(february.days()) == 29
    assert february.label == "2024-02"


def test_a_moment_falls_on_the_citys_local_day():
    period = Period.parse("2026-01")
    assert period.local_day(datetime(2026, 1, 1, 18, 59, tzinfo=UTC)) == date(2026, 1, 1)
    assert period.local_day(datetime(2026, 1, 1, 19, 0, tzinfo=UTC)) == date(2026, 1, 2)


@pytest.mark.parametrize("text", ["2026-13", "2026-Q5", "26", "2026-1", "", "2026-W01"])
def test_malformed_periods_are_refused_with_the_expected_forms(text):
    with pytest.raises(ValueError, match="expected 2026, 2026-Q1 or 2026-03"):
        Period.parse(text)


def test_an_unknown_time_zone_is_refused():
    with pytest.raises(Exception, match="Nowhere"):
        Period("year", 2026, 1, "Europe/Nowhere")
