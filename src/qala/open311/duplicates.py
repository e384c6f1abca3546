"""Duplicate suggestion, and residents' "+1" instead of a new request.

Two requests are likely the same problem when they are of the same service, open, within the
service's radius (metres, great-circle distance) and filed within its time window of each
other: a pothole is suggested within 30 m and two weeks, a broken lift within 15 m (the same
building) and three days (see the catalogue). Suggestions are ranked nearest first, then
newest. Staff decide: merging closes the newer request as DUPLICATE of the older.

A resident who finds their problem already reported supports it ("+1") rather than filing it
again. A supporter is counted once per request, by a one-way key of what identifies them
(account, device or email, per city): the support table keeps no personal data in clear. The
key is a keyed hash (HMAC-SHA-256) when the server passes its secret, so that it cannot be
recomputed from a guessed email address by someone holding only the database.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from qala.open311.model import OPEN, Personal, Service

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)


def distance_m(lat1: float, long1: float, lat2: float, long2: float) -> float:
    """Great-circle distance in metres (haversine): well under a metre off at city scale."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(long2 - long1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


@dataclass(slots=True, frozen=True)
class Candidate:
    """What duplicate suggestion needs of a stored request."""

    service_request_id: str
    service_code: str
    status: str
    requested_at: datetime
    lat: float | None
    long: float | None


@dataclass(slots=True, frozen=True)
class Suggestion:
    service_request_id: str
    distance_m: float
    hours_apart: float


def bounding_box(
    lat: float, long: float, radius_m: float
) -> tuple[float, float, float, float]:
    """``(min_lat, min_long, max_lat, max_long)`` enclosing the circle: a prefilter for SQL."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    coslat = max(math.cos(math.radians(lat)), 1e-6)
    dlong = math.degrees(radius_m / (EARTH_RADIUS_M * coslat))
    return lat - dlat, long - dlong, lat + dlat, long + dlong


def suggest(
    service: Service,
    lat: float,
    long: float,
    requested_at: datetime,
    candidates: Iterable[Candidate],
    *,
    exclude: str | None = None,
) -> list[Suggestion]:
    """Open requests of ``service`` that are probably the same problem, nearest first."""
    window = timedelta(hours=service.duplicate_window_h)
    found = []
    for c in candidates:
        if c.service_request_id == exclude or c.service_code != service.code:
            continue
        if c.status != OPEN or c.lat is None or c.long is None:
            continue
        apart = abs(requested_at - c.requested_at)
        if apart > window:
            continue
        d = distance_m(lat, long, c.lat, c.long)
        if d <= service.duplicate_radius_m:
            found.append(Suggestion(c.service_request_id, d, apart / timedelta(hours=1)))
    found.sort(key=lambda s: (round(s.distance_m, 1), s.hours_apart))
    return found


def supporter_key(tenant: str, personal: Personal, secret: bytes = b"") -> str | None:
    """A stable, one-way key for the person behind ``personal`` in ``tenant``; None when
    nothing identifies them (an anonymous +1 cannot be counted once)."""
    for kind, value in (
        ("account", personal.account_id),
        ("device", personal.device_id),
        ("email", personal.email.strip().lower() if personal.email else None),
    ):
        if value:
            message = f"{tenant}\x00{kind}\x00{value}".encode()
            digest = hmac.new(secret, message, hashlib.sha256).hexdigest()
            return f"{kind}:{digest[:32]}"
    return None
