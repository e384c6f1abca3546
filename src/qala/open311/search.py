"""The back office's search: requests by status, service, agency, assignee, text, overdue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from qala.open311.repository import _SELECT, StoredRequest, _request, to_us


@dataclass(slots=True)
class Search:
    statuses: tuple[str, ...] = ()
    service_codes: tuple[str, ...] = ()
    agency: str | None = None
    assigned_to: str | None = None
    text: str | None = None
    overdue_at: datetime | None = None
    limit: int = 100
    offset: int = 0


async def search(tables: Any, tenant: str, query: Search) -> tuple[list[StoredRequest], int]:
    """Matching requests, newest first, and how many match in all."""
    where, args = ["r.tenant = $1"], [tenant]

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if query.statuses:
        where.append(f"r.status IN ({', '.join(arg(s) for s in query.statuses)})")
    if query.service_codes:
        where.append(f"r.service_code IN ({', '.join(arg(c) for c in query.service_codes)})")
    if query.agency:
        where.append(f"r.agency = {arg(query.agency)}")
    if query.assigned_to:
        where.append(f"r.assigned_to = {arg(query.assigned_to)}")
    if query.text:
        pattern = "%" + query.text.lower().replace("%", "").replace("_", "") + "%"
        mark = arg(pattern)
        where.append(f"(LOWER(r.description) LIKE {mark} OR LOWER(r.address) LIKE {mark})")
    if query.overdue_at is not None:
        where.append(f"r.status = 'open' AND r.expected_at < {arg(to_us(query.overdue_at))}")
    clause = " AND ".join(where)
    total = (await tables.fetch(f"SELECT COUNT(*) FROM open311_requests r WHERE {clause}",
                                *args))[0][0]  # fmt: skip
    rows = await tables.fetch(
        f"{_SELECT} WHERE {clause} ORDER BY r.requested_at DESC, r.num DESC "
        f"LIMIT {int(query.limit)} OFFSET {int(query.offset)}",
        *args,
    )
    return [_request(r) for r in rows], int(total)
