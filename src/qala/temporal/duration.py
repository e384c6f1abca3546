"""ISO 8601 durations (``aggrPeriodDuration``): ``PT1H``, ``P1D``, ``P1M``, ``P1Y2M10DT2H30M``.

Years and months are calendar units (a month is not 30 days): a duration is kept as
``(months, microseconds)`` and :func:`add` steps a date-time by it on the UTC calendar.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime

_DURATION = re.compile(
    r"^P(?!$)"
    r"(?:(?P<years>\d+)Y)?"
    r"(?:(?P<months>\d+)M)?"
    r"(?:(?P<weeks>\d+)W)?"
    r"(?:(?P<days>\d+(?:[.,]\d+)?)D)?"
    r"(?:T(?=\d)"
    r"(?:(?P<hours>\d+(?:[.,]\d+)?)H)?"
    r"(?:(?P<minutes>\d+(?:[.,]\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:[.,]\d+)?)S)?"
    r")?$"
)
_UNIT_US = {
    "weeks": 7 * 86_400_000_000,
    "days": 86_400_000_000,
    "hours": 3_600_000_000,
    "minutes": 60_000_000,
    "seconds": 1_000_000,
}
MAX_MONTHS = 12 * 10_000


class InvalidDuration(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Duration:
    months: int = 0
    micros: int = 0
    text: str = "P0D"

    @property
    def is_zero(self) -> bool:
        return self.months == 0 and self.micros == 0

    @property
    def is_fixed(self) -> bool:
        """True when the length does not depend on the calendar (no years or months)."""
        return self.months == 0


def parse_duration(text: str) -> Duration:
    """Parse an ISO 8601 duration; :class:`InvalidDuration` says what is wrong."""
    match = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if match is None or text.strip().endswith("T"):
        raise InvalidDuration(
            f"{text!r} is not an ISO 8601 duration (examples: PT15M, PT1H, P1D, P1W, P1M, P1Y)"
        )
    parts = match.groupdict()
    fractional = [name for name, raw in parts.items() if raw and ("." in raw or "," in raw)]
    present = [name for name, raw in parts.items() if raw]
    if fractional and fractional != present[-1:]:
        raise InvalidDuration(f"{text!r}: only the smallest unit of a duration may have a fraction")
    months = int(parts["years"] or 0) * 12 + int(parts["months"] or 0)
    if months > MAX_MONTHS:
        raise InvalidDuration(f"{text!r} is too long")
    micros = 0
    for name, unit in _UNIT_US.items():
        raw = parts[name]
        if raw:
            micros += round(float(raw.replace(",", ".")) * unit)
    return Duration(months, micros, text.strip())


def add(at_us: int, duration: Duration, times: int = 1) -> int:
    """``at_us`` plus ``times`` × ``duration`` (calendar months, then the fixed part), in µs."""
    if duration.months:
        moment = datetime.fromtimestamp(at_us / 1_000_000, UTC)
        total = moment.year * 12 + (moment.month - 1) + duration.months * times
        year, month = divmod(total, 12)
        month += 1
        if not 1 <= year <= 9999:
            raise InvalidDuration("the aggregation period leaves the supported calendar")
        day = min(moment.day, calendar.monthrange(year, month)[1])
        moved = moment.replace(year=year, month=month, day=day)
        at_us = int(moved.timestamp()) * 1_000_000 + moved.microsecond
    return at_us + duration.micros * times
