"""The audit log: who changed what, when, and from where — append-only.

Entity changes are recorded by a hub participant, in the transaction of the change, so no write
escapes it. Other writes (keys, subscriptions, settings, devices) call :func:`record`. The
database refuses to update or delete audit rows (triggers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from qala.hub import Actor, Change, RowBatch, Storage, Tenant, WriteContext
from qala.hub.model import now_us

COLUMNS = (
    "tenant",
    "at",
    "actor",
    "role",
    "via",
    "address",
    "operation",
    "entity_id",
    "change",
    "attributes",
)


def _attrs(change: Change) -> str | None:
    names = sorted(change.updated | change.deleted)
    return orjson.dumps(names).decode() if names else None


class AuditParticipant:
    """Writes one audit row per entity change, inside the write transaction."""

    def rows_for(self, tenant: Tenant, changes: list[Change], ctx: WriteContext) -> list[RowBatch]:
        actor = ctx.actor
        who = (tenant.name, ctx.now_us, actor.id, actor.role, actor.via, actor.address)
        rows = [
            (*who, ctx.operation, change.entity_id, change.kind, _attrs(change))
            for change in changes
        ]
        if not changes:
            # A write that changed no entity but wrote a capability's rows (e.g. temporal
            # history added or deleted through the temporal API).
            detail = ctx.extra.get("temporal") or {}
            what = orjson.dumps(detail).decode() if detail else None
            rows.append((*who, ctx.operation, detail.get("entityId"), None, what))
        return [RowBatch("audit_log", COLUMNS, rows)]

    async def after_commit(self, tenant: Tenant, changes: list[Change], ctx: WriteContext) -> None:
        return None


async def record(
    store: Storage,
    actor: Actor,
    operation: str,
    *,
    tenant: str = "",
    target: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Record a write that is not an entity change (keys, subscriptions, settings…)."""
    row = (
        tenant,
        now_us(),
        actor.id,
        actor.role,
        actor.via,
        actor.address,
        operation,
        target,
        None,
        orjson.dumps(detail).decode() if detail else None,
    )
    await store.insert_rows([RowBatch("audit_log", COLUMNS, [row])])


@dataclass(slots=True)
class AuditQuery:
    tenant: str | None = None
    entity_id: str | None = None
    actor: str | None = None
    operation: str | None = None
    since_us: int | None = None
    until_us: int | None = None
    limit: int = 100
    offset: int = 0


async def search(store: Storage, query: AuditQuery) -> tuple[list[dict[str, Any]], int]:
    """Audit rows, newest first, and how many match in all."""
    where: list[str] = []
    args: list[Any] = []

    def add(sql: str, value: Any) -> None:
        args.append(value)
        where.append(sql.replace("?", f"${len(args)}"))

    if query.tenant is not None:
        add("tenant = ?", query.tenant)
    if query.entity_id is not None:
        add("entity_id = ?", query.entity_id)
    if query.actor is not None:
        add("actor = ?", query.actor)
    if query.operation is not None:
        add("operation = ?", query.operation)
    if query.since_us is not None:
        add("at >= ?", query.since_us)
    if query.until_us is not None:
        add("at < ?", query.until_us)
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    total = (await store.fetch(f"SELECT count(*) FROM audit_log{clause}", *args))[0][0]
    rows = await store.fetch(
        f"SELECT id, {', '.join(COLUMNS)} FROM audit_log{clause} "
        f"ORDER BY at DESC, id DESC LIMIT {int(query.limit)} OFFSET {int(query.offset)}",
        *args,
    )
    out = []
    for row in rows:
        item = dict(zip(("id", *COLUMNS), row, strict=True))
        item["attributes"] = orjson.loads(item["attributes"]) if item["attributes"] else None
        out.append(item)
    return out, int(total)
