"""How the API writes date-times: UTC, to the millisecond, no fraction when it is zero."""

from __future__ import annotations

import pytest

from qala.hub.model import iso_to_us, us_to_iso


@pytest.mark.parametrize(
    ("sent", "written"),
    [
        ("2026-03-01T10:00:00Z", "2026-03-01T10:00:00Z"),
        ("2026-03-01T10:00:00.000Z", "2026-03-01T10:00:00Z"),
        ("2026-03-01T10:00:00.250Z", "2026-03-01T10:00:00.250Z"),
        ("2026-03-01T10:00:00.001Z", "2026-03-01T10:00:00.001Z"),
        ("2026-03-01T10:00:00.9999Z", "2026-03-01T10:00:00.999Z"),  # truncated to the ms
        ("2026-03-01T15:00:00+05:00", "2026-03-01T10:00:00Z"),
        ("1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z"),
    ],
)
def test_date_times_are_written_in_utc_to_the_millisecond(sent: str, written: str) -> None:
    assert us_to_iso(iso_to_us(sent)) == written
