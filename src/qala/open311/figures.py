"""Figures of the service requests, for the indicators capability and the back office.

:func:`service_requests` is the public entry point the indicators' ``service_requests`` input
reads: every request of a city filed between two times, as :class:`RequestRecord`. The other
functions summarise such records: time to close by service and by agency, the share closed
within the SLA, the backlog (requests open at a moment).

``tables`` is anything with the store's ``fetch(sql, *args)`` (``services.store``).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from qala.open311.catalogue import load
from qala.open311.repository import from_us, to_us


class Readable(Protocol):
    async def fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]: ...


@dataclass(slots=True, frozen=True)
class RequestRecord:
    """One request: its id, service, when it was opened and closed (None: still open), its
    SLA in hours (working hours when ``sla_working``), agency and due time."""

    id: str
    service_code: str
    opened_at: datetime
    closed_at: datetime | None
    sla_hours: float | None
    agency: str | None = None
    expected_at: datetime | None = None
    sla_working: bool = True
    status: str = "open"


async def service_requests(
    tables: Readable, tenant: str, start: datetime, end: datetime
) -> list[RequestRecord]:
    """Every request of ``tenant`` filed in ``[start, end)``, oldest first; duplicates merged
    into another request are left out (they are the same problem)."""
    city = load().by_tenant(tenant)
    slas = {s.code: s.sla for s in city.services} if city is not None else {}
    rows = await tables.fetch(
        "SELECT num, service_code, requested_at, closed_at, agency, expected_at, status "
        "FROM open311_requests WHERE tenant = $1 AND requested_at >= $2 AND requested_at < $3 "
        "AND duplicate_of IS NULL ORDER BY requested_at, num",
        tenant, to_us(start), to_us(end),
    )  # fmt: skip
    out = []
    for num, code, opened, closed, agency, expected, status in rows:
        sla = slas.get(code)
        out.append(
            RequestRecord(
                id=str(num), service_code=code, opened_at=from_us(opened),  # type: ignore[arg-type]
                closed_at=from_us(closed), sla_hours=sla.hours if sla else None,
                agency=agency, expected_at=from_us(expected),
                sla_working=sla.working if sla else True, status=status,
            )
        )  # fmt: skip
    return out


def _hours(record: RequestRecord) -> float | None:
    if record.closed_at is None:
        return None
    return (record.closed_at - record.opened_at).total_seconds() / 3600


def time_to_close(records: Iterable[RequestRecord], by: str = "service_code") -> dict[str, Any]:
    """Per service (``by="service_code"``) or agency (``by="agency"``): closed count and the
    median and mean calendar hours from opening to closing."""
    groups: dict[str, list[float]] = {}
    for record in records:
        hours = _hours(record)
        if hours is not None:
            groups.setdefault(str(getattr(record, by) or "unknown"), []).append(hours)
    return {
        key: {
            "closed": len(values),
            "median_hours": round(statistics.median(values), 2),
            "mean_hours": round(statistics.fmean(values), 2),
        }
        for key, values in sorted(groups.items())
    }


def within_sla(records: Iterable[RequestRecord]) -> float | None:
    """Percentage of the closed requests closed by their due time (None: none closed)."""
    closed = [r for r in records if r.closed_at is not None and r.expected_at is not None]
    if not closed:
        return None
    on_time = sum(1 for r in closed if r.closed_at <= r.expected_at)  # type: ignore[operator]
    return round(100 * on_time / len(closed), 1)


def backlog(records: Sequence[RequestRecord], at: datetime) -> dict[str, int]:
    """Requests open at ``at`` (opened by then, not closed by then): total and overdue."""
    open_then = [
        r for r in records
        if r.opened_at <= at and (r.closed_at is None or r.closed_at > at)
    ]  # fmt: skip
    overdue = sum(1 for r in open_then if r.expected_at is not None and r.expected_at < at)
    return {"open": len(open_then), "overdue": overdue}


def summary(records: Sequence[RequestRecord], at: datetime) -> dict[str, Any]:
    return {
        "requests": len(records),
        "closed": sum(1 for r in records if r.closed_at is not None),
        "time_to_close_by_service": time_to_close(records, "service_code"),
        "time_to_close_by_agency": time_to_close(records, "agency"),
        "percent_within_sla": within_sla(records),
        "backlog": backlog(records, at),
    }
