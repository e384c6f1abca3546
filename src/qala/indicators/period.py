"""Calculation periods: a calendar year, quarter or month in a city's time zone.

A period is half-open, ``[start, end)``. Its bounds are given both in the city's zone (the
calendar the indicator is reported in: "2026" in Almaty starts at local midnight on 1 January)
and in UTC (what history queries use).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

PeriodKind = Literal["year", "quarter", "month"]

_PATTERNS: tuple[tuple[re.Pattern[str], PeriodKind], ...] = (
    (re.compile(r"^(\d{4})$"), "year"),
    (re.compile(r"^(\d{4})-Q([1-4])$"), "quarter"),
    (re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$"), "month"),
)


@dataclass(frozen=True, slots=True)
class Period:
    """One calendar period of a city: ``kind`` year/quarter/month, ``year``, ``number``.

    ``number`` is 1 for a year, 1..4 for a quarter, 1..12 for a month.
    """

    kind: PeriodKind
    year: int
    number: int
    zone: str = "Asia/Almaty"

    def __post_init__(self) -> None:
        limits = {"year": 1, "quarter": 4, "month": 12}
        if self.kind not in limits:
            raise ValueError(f"period kind must be year, quarter or month, not {self.kind!r}")
        if not 1 <= self.number <= limits[self.kind]:
            raise ValueError(f"{self.kind} number {self.number} is out of range")
        if not 1900 <= self.year <= 9998:
            raise ValueError(f"year {self.year} is out of range")
        ZoneInfo(self.zone)  # raises for an unknown zone

    @classmethod
    def parse(cls, text: str, zone: str = "Asia/Almaty") -> Period:
        """``2026``, ``2026-Q1`` or ``2026-03``."""
        for pattern, kind in _PATTERNS:
            match = pattern.match(text.strip())
            if match:
                number = int(match.group(2)) if kind != "year" else 1
                return cls(kind, int(match.group(1)), number, zone)
        raise ValueError(f"not a period: {text!r} (expected 2026, 2026-Q1 or 2026-03)")

    @property
    def label(self) -> str:
        if self.kind == "year":
            return f"{self.year:04d}"
        if self.kind == "quarter":
            return f"{self.year:04d}-Q{self.number}"
        return f"{self.year:04d}-{self.number:02d}"

    def __str__(self) -> str:
        return self.label

    @property
    def first_day(self) -> date:
        if self.kind == "year":
            return date(self.year, 1, 1)
        if self.kind == "quarter":
            return date(self.year, 3 * (self.number - 1) + 1, 1)
        return date(self.year, self.number, 1)

    @property
    def end_day(self) -> date:
        """The first day after the period."""
        if self.kind == "year":
            return date(self.year + 1, 1, 1)
        month = self.first_day.month + (3 if self.kind == "quarter" else 1)
        year = self.year + (month - 1) // 12
        return date(year, (month - 1) % 12 + 1, 1)

    @property
    def start_local(self) -> datetime:
        return datetime.combine(self.first_day, datetime.min.time(), ZoneInfo(self.zone))

    @property
    def end_local(self) -> datetime:
        return datetime.combine(self.end_day, datetime.min.time(), ZoneInfo(self.zone))

    @property
    def start(self) -> datetime:
        """Start in UTC."""
        return self.start_local.astimezone(UTC)

    @property
    def end(self) -> datetime:
        """End (exclusive) in UTC."""
        return self.end_local.astimezone(UTC)

    def days(self) -> list[date]:
        """The local calendar days of the period."""
        count = (self.end_day - self.first_day).days
        return [self.first_day + timedelta(days=i) for i in range(count)]

    @property
    def hours(self) -> int:
        """Whole hours in the period (a fixed-offset zone has 24 per day)."""
        return int((self.end - self.start).total_seconds() // 3600)

    def local_day(self, moment: datetime) -> date:
        """The city's calendar day a moment falls on."""
        return _local_day(self.zone, moment)

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def to_dict(self) -> dict[str, str]:
        return {
            "label": self.label,
            "kind": self.kind,
            "zone": self.zone,
            "start": _iso(self.start),
            "end": _iso(self.end),
            "startLocal": self.start_local.isoformat(),
            "endLocal": self.end_local.isoformat(),
        }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@lru_cache(maxsize=1 << 16)
def _local_day(zone: str, moment: datetime) -> date:
    # calculators ask for the day of every hour of every series; the hours repeat
    return moment.astimezone(ZoneInfo(zone)).date()
