"""ISO 8601 durations for aggrPeriodDuration."""

from __future__ import annotations

import pytest

from qala.hub.model import iso_to_us, us_to_iso
from qala.temporal.duration import Duration, InvalidDuration, add, parse_duration

HOUR = 3_600_000_000


@pytest.mark.parametrize(
    ("text", "months", "micros"),
    [
        ("PT1H", 0, HOUR),
        ("PT15M", 0, 15 * 60_000_000),
        ("PT0.5S", 0, 500_000),
        ("PT1,5S", 0, 1_500_000),
        ("P1D", 0, 24 * HOUR),
        ("P1W", 0, 7 * 24 * HOUR),
        ("P1M", 1, 0),
        ("P1Y", 12, 0),
        ("P1Y2M10DT2H30M", 14, 10 * 24 * HOUR + 2 * HOUR + 30 * 60_000_000),
        ("P0D", 0, 0),
        ("PT36H", 0, 36 * HOUR),
        ("P1.5D", 0, 36 * HOUR),
    ],
)
def test_valid_durations(text: str, months: int, micros: int) -> None:
    duration = parse_duration(text)
    assert (duration.months, duration.micros) == (months, micros)


@pytest.mark.parametrize(
    "text", ["", "P", "PT", "1H", "PT1", "P1H", "PT1D", "P-1D", "P1.5M", "P1.5DT1H", "PT1H1H", "x"]
)
def test_invalid_durations(text: str) -> None:
    with pytest.raises(InvalidDuration):
        parse_duration(text)


def test_zero_and_fixed() -> None:
    assert parse_duration("P0D").is_zero
    assert parse_duration("PT1H").is_fixed
    assert not parse_duration("P1M").is_fixed


def test_calendar_steps_keep_the_day_or_clamp_to_the_month_end() -> None:
    jan31 = iso_to_us("2026-01-31T12:00:00Z")
    month = Duration(months=1)
    assert us_to_iso(add(jan31, month)) == "2026-02-28T12:00:00Z"
    assert us_to_iso(add(jan31, month, 2)) == "2026-03-31T12:00:00Z"
    assert us_to_iso(add(iso_to_us("2024-02-29T00:00:00Z"), Duration(months=12))) == (
        "2025-02-28T00:00:00Z"
    )
    assert us_to_iso(add(jan31, parse_duration("P1MT1H"))) == "2026-02-28T13:00:00Z"
