"""Strict parsing of the temporal values the query language compares.

The evaluator and the SQL compiler must agree, bit for bit, on which strings are
date-times, dates and times and on the instant each one denotes, so the rules are
deliberately narrow and implemented by hand (the SQL compiler re-implements the very
same arithmetic in SQL):

* DateTime: ``YYYY-MM-DDThh:mm:ss`` with an optional fraction ``.d+`` and an optional
  zone, ``Z`` or ``±hh:mm`` (no zone means UTC). The key is the number of microseconds
  since 1970-01-01T00:00:00Z; fraction digits past the sixth are ignored (truncated).
* Date: ``YYYY-MM-DD``; the key is the number of days since 1970-01-01.
* Time: ``hh:mm:ss`` with an optional fraction and an optional ``Z``; the key is the
  number of microseconds since midnight.

Calendar fields are validated (month 1-12, day within the month with Gregorian leap
years, hour ≤ 23, minute ≤ 59, second ≤ 59, zone hour ≤ 23, zone minute ≤ 59); the
year is 0000-9999 in the proleptic Gregorian calendar. Anything else is not a temporal
value and never matches a temporal query value.

A JSON-LD typed literal such as ``{"@type": "DateTime", "@value": "..."}`` stands for
its ``@value`` when its ``@type`` is one of :data:`TEMPORAL_TYPES`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

__all__ = [
    "TEMPORAL_TYPES",
    "date_key",
    "datetime_key",
    "days_from_civil",
    "temporal_text",
    "time_key",
]

_NGSI_LD = "https://uri.etsi.org/ngsi-ld/"
_XSD = "http://www.w3.org/2001/XMLSchema#"

#: ``@type`` values of a typed literal whose ``@value`` is a date, time or date-time.
TEMPORAL_TYPES: frozenset[str] = frozenset(
    {
        "DateTime",
        "Date",
        "Time",
        "ngsi-ld:DateTime",
        "ngsi-ld:Date",
        "ngsi-ld:Time",
        _NGSI_LD + "DateTime",
        _NGSI_LD + "Date",
        _NGSI_LD + "Time",
        "xsd:dateTime",
        "xsd:date",
        "xsd:time",
        _XSD + "dateTime",
        _XSD + "date",
        _XSD + "time",
    }
)

_DATETIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]+))?(Z|[+-][0-9]{2}:[0-9]{2})?"
)
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_TIME = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?Z?")

_MICROS_PER_SECOND = 1_000_000
_SECONDS_PER_DAY = 86_400


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (no validation).

    Shifted by 400 years so that every intermediate value stays non-negative for
    years 0000-9999: the SQL compiler uses the same formula with integer division,
    which truncates towards zero in SQL.
    """
    shifted = year + 400 - (1 if month <= 2 else 0)
    era = shifted // 400
    year_of_era = shifted - era * 400
    day_of_year = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468 - 146097


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        leap = (year % 4 == 0 and year % 100 != 0) or year % 400 == 0
        return 29 if leap else 28
    return 30 + (month + month // 8) % 2


def _valid_date(year: int, month: int, day: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= _days_in_month(year, month)


def _micros(fraction: str | None) -> int:
    return int((fraction or "")[:6].ljust(6, "0"))


@lru_cache(maxsize=4096)
def datetime_key(text: str) -> int | None:
    """Microseconds since the Unix epoch, or ``None`` if ``text`` is not a DateTime."""
    match = _DATETIME.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    if not _valid_date(year, month, day) or hour > 23 or minute > 59 or second > 59:
        return None
    offset = 0
    zone = match.group(8)
    if zone is not None and zone != "Z":
        zone_hour, zone_minute = int(zone[1:3]), int(zone[4:6])
        if zone_hour > 23 or zone_minute > 59:
            return None
        offset = (zone_hour * 3600 + zone_minute * 60) * (-1 if zone[0] == "-" else 1)
    seconds = (
        days_from_civil(year, month, day) * _SECONDS_PER_DAY
        + hour * 3600
        + minute * 60
        + second
        - offset
    )
    return seconds * _MICROS_PER_SECOND + _micros(match.group(7))


@lru_cache(maxsize=1024)
def date_key(text: str) -> int | None:
    """Days since 1970-01-01, or ``None`` if ``text`` is not a Date."""
    match = _DATE.fullmatch(text)
    if match is None:
        return None
    year, month, day = (int(g) for g in match.groups())
    if not _valid_date(year, month, day):
        return None
    return days_from_civil(year, month, day)


@lru_cache(maxsize=1024)
def time_key(text: str) -> int | None:
    """Microseconds since midnight, or ``None`` if ``text`` is not a Time."""
    match = _TIME.fullmatch(text)
    if match is None:
        return None
    hour, minute, second = int(match.group(1)), int(match.group(2)), int(match.group(3))
    if hour > 23 or minute > 59 or second > 59:
        return None
    return (hour * 3600 + minute * 60 + second) * _MICROS_PER_SECOND + _micros(match.group(4))


def temporal_text(value: Any) -> str | None:
    """The string a JSON value offers for a temporal comparison, if any.

    A plain string offers itself; a typed literal whose ``@type`` is temporal offers
    its ``@value`` when that is a string; anything else offers nothing.
    """
    if type(value) is str:
        return value
    if type(value) is dict:
        literal = value.get("@value")
        literal_type = value.get("@type")
        if type(literal) is str and type(literal_type) is str and literal_type in TEMPORAL_TYPES:
            return literal
    return None
