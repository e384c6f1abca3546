"""The subscriptions' tables: definitions, delivery state, the outbox, version counters.

SQL is the same on SQLite and PostgreSQL (``$n`` placeholders, integers for flags and times).
Every change of a definition bumps its tenant's row in ``subscription_versions`` in the same
transaction: a server process learns that its cached subscriptions are stale by reading that
small table.

Delivery is serialised per subscription with a *lease* (``lease_owner``/``lease_until``): a
process takes it with a compare-and-set UPDATE before sending, renews it with every batch it
sends and gives it back when idle, so the outbox rows of one subscription are sent by one
process at a time, in order. A lease left by a process that died expires, or is taken at once
when its owner was a process on this machine that no longer exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from qala.hub import RowBatch, Statement, Storage
from qala.subscriptions.model import DeliveryState

OUTBOX = "subscription_outbox"
OUTBOX_COLUMNS = ("tenant_id", "subscription_id", "created_at", "payload")

_BUMP = (
    "INSERT INTO subscription_versions(tenant_id, version) VALUES ($1, 1) "
    "ON CONFLICT (tenant_id) DO UPDATE SET version = subscription_versions.version + 1"
)
_STATE_COLUMNS = (
    "times_sent, times_failed, last_notification, last_success, last_failure, "
    "last_failure_reason, consecutive_failures"
)


@dataclass(slots=True)
class StoredSubscription:
    tenant_id: int
    id: str
    body: dict[str, Any]
    created_at: int
    modified_at: int
    state: DeliveryState


@dataclass(slots=True, frozen=True)
class Columns:
    """Members of the definition the worker filters on, as column values."""

    is_active: int
    expires_at: int | None
    time_interval_us: int | None
    throttling_us: int | None


def _row(row: tuple[Any, ...]) -> StoredSubscription:
    tenant_id, sub_id, body, created, modified, *state = row
    return StoredSubscription(
        tenant_id=tenant_id,
        id=sub_id,
        body=orjson.loads(body),
        created_at=created,
        modified_at=modified,
        state=DeliveryState(*state),
    )


_SELECT = (
    f"SELECT tenant_id, id, body, created_at, modified_at, {_STATE_COLUMNS} FROM subscriptions"
)


class Repository:
    def __init__(self, store: Storage) -> None:
        self.store = store

    # -- definitions ------------------------------------------------------------------------

    async def insert(
        self,
        tenant_id: int,
        sub_id: str,
        body: dict[str, Any],
        cols: Columns,
        now: int,
        next_periodic_at: int | None,
    ) -> bool:
        counts = await self.store.execute(
            [
                (
                    "INSERT INTO subscriptions(tenant_id, id, body, created_at, modified_at, "
                    "is_active, expires_at, time_interval_us, throttling_us, next_periodic_at) "
                    "VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8, $9) "
                    "ON CONFLICT (tenant_id, id) DO NOTHING",
                    (
                        tenant_id,
                        sub_id,
                        orjson.dumps(body).decode(),
                        now,
                        cols.is_active,
                        cols.expires_at,
                        cols.time_interval_us,
                        cols.throttling_us,
                        next_periodic_at,
                    ),
                ),
                (_BUMP, (tenant_id,)),
            ]
        )
        return counts[0] == 1

    async def update(
        self,
        tenant_id: int,
        sub_id: str,
        body: dict[str, Any],
        cols: Columns,
        now: int,
        next_periodic_at: int | None,
        previous_modified_at: int,
        *,
        reschedule: bool,
        retry_now: bool,
    ) -> bool:
        """Replace the definition (delivery state is kept); False if it changed meanwhile.

        ``reschedule``: set the next periodic notification to ``next_periodic_at`` (else the
        schedule is kept, unless the subscription is no longer periodic). ``retry_now``: send
        what is pending without waiting for the retry delay (a new endpoint, a resumption)."""
        periodic = (
            "CAST($9 AS BIGINT)"
            if reschedule
            else "CASE WHEN CAST($7 AS BIGINT) IS NULL THEN CAST($9 AS BIGINT) "
            "ELSE next_periodic_at END"
        )
        counts = await self.store.execute(
            [
                (
                    "UPDATE subscriptions SET body = $3, modified_at = $4, is_active = $5, "
                    "expires_at = $6, time_interval_us = $7, throttling_us = $8, "
                    f"next_periodic_at = {periodic}"
                    + (", next_send_at = NULL " if retry_now else " ")
                    + "WHERE tenant_id = $1 AND id = $2 AND modified_at = $10",
                    (
                        tenant_id,
                        sub_id,
                        orjson.dumps(body).decode(),
                        now,
                        cols.is_active,
                        cols.expires_at,
                        cols.time_interval_us,
                        cols.throttling_us,
                        next_periodic_at,
                        previous_modified_at,
                    ),
                ),
                (_BUMP, (tenant_id,)),
            ]
        )
        return counts[0] == 1

    async def delete(self, tenant_id: int, sub_id: str) -> bool:
        counts = await self.store.execute(
            [
                ("DELETE FROM subscriptions WHERE tenant_id = $1 AND id = $2", (tenant_id, sub_id)),
                (
                    f"DELETE FROM {OUTBOX} WHERE tenant_id = $1 AND subscription_id = $2",
                    (tenant_id, sub_id),
                ),
                (_BUMP, (tenant_id,)),
            ]
        )
        return counts[0] == 1

    async def get(self, tenant_id: int, sub_id: str) -> StoredSubscription | None:
        rows = await self.store.fetch(
            f"{_SELECT} WHERE tenant_id = $1 AND id = $2", tenant_id, sub_id
        )
        return _row(rows[0]) if rows else None

    async def page(self, tenant_id: int, limit: int, offset: int) -> list[StoredSubscription]:
        rows = await self.store.fetch(
            f"{_SELECT} WHERE tenant_id = $1 ORDER BY created_at, id LIMIT $2 OFFSET $3",
            tenant_id,
            limit,
            offset,
        )
        return [_row(r) for r in rows]

    async def count(self, tenant_id: int) -> int:
        rows = await self.store.fetch(
            "SELECT count(*) FROM subscriptions WHERE tenant_id = $1", tenant_id
        )
        return int(rows[0][0])

    async def of_tenant(self, tenant_id: int) -> list[StoredSubscription]:
        rows = await self.store.fetch(f"{_SELECT} WHERE tenant_id = $1", tenant_id)
        return [_row(r) for r in rows]

    async def versions(self) -> dict[int, int]:
        rows = await self.store.fetch("SELECT tenant_id, version FROM subscription_versions")
        return {int(t): int(v) for t, v in rows}

    async def tenant_names(self) -> dict[int, str]:
        rows = await self.store.fetch("SELECT id, name FROM tenants")
        return {int(i): str(n) for i, n in rows}

    # -- the outbox and delivery ------------------------------------------------------------

    @staticmethod
    def outbox_batch(rows: list[tuple[int, str, int, str]]) -> RowBatch:
        return RowBatch(OUTBOX, OUTBOX_COLUMNS, rows)

    async def enqueue(self, rows: list[tuple[int, str, int, str]]) -> None:
        await self.store.insert_rows([self.outbox_batch(rows)])

    async def due(self, now: int) -> list[tuple[int, str, str | None, int | None]]:
        """Active subscriptions with pending notifications that may be sent now."""
        rows = await self.store.fetch(
            "SELECT s.tenant_id, s.id, s.lease_owner, s.lease_until FROM subscriptions s "
            "WHERE s.is_active = 1 AND (s.next_send_at IS NULL OR s.next_send_at <= $1) "
            f"AND EXISTS (SELECT 1 FROM {OUTBOX} o WHERE o.tenant_id = s.tenant_id "
            "AND o.subscription_id = s.id)",
            now,
        )
        return [(int(t), str(i), o, u) for t, i, o, u in rows]

    async def orphans(self) -> list[tuple[int, str]]:
        """Outbox rows whose subscription no longer exists."""
        rows = await self.store.fetch(
            f"SELECT DISTINCT o.tenant_id, o.subscription_id FROM {OUTBOX} o "
            "WHERE NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.tenant_id = o.tenant_id "
            "AND s.id = o.subscription_id)"
        )
        return [(int(t), str(i)) for t, i in rows]

    async def drop_outbox(self, tenant_id: int, sub_id: str) -> None:
        await self.store.execute(
            [
                (
                    f"DELETE FROM {OUTBOX} WHERE tenant_id = $1 AND subscription_id = $2",
                    (tenant_id, sub_id),
                )
            ]
        )

    async def claim(
        self,
        tenant_id: int,
        sub_id: str,
        owner: str,
        now: int,
        until: int,
        stale_owner: str | None,
    ) -> bool:
        """Take the delivery lease if it is free, expired, ours, or ``stale_owner``'s."""
        counts = await self.store.execute(
            [
                (
                    "UPDATE subscriptions SET lease_owner = $3, lease_until = $5 "
                    "WHERE tenant_id = $1 AND id = $2 AND is_active = 1 "
                    "AND (next_send_at IS NULL OR next_send_at <= $4) "
                    "AND (lease_owner IS NULL OR lease_owner = $3 OR lease_until < $4 "
                    "OR lease_owner = $6)",
                    (tenant_id, sub_id, owner, now, until, stale_owner or owner),
                )
            ]
        )
        return counts[0] == 1

    async def release(self, tenant_id: int, sub_id: str, owner: str) -> None:
        await self.store.execute(
            [
                (
                    "UPDATE subscriptions SET lease_owner = NULL, lease_until = NULL "
                    "WHERE tenant_id = $1 AND id = $2 AND lease_owner = $3",
                    (tenant_id, sub_id, owner),
                )
            ]
        )

    async def pending(
        self, tenant_id: int, sub_id: str, limit: int, exclude: list[int] | None = None
    ) -> list[tuple[int, str]]:
        """The oldest rows of a subscription, but ``exclude`` (sent, deletion under way)."""
        skip = ""
        if exclude:
            marks = ", ".join(f"${n}" for n in range(4, len(exclude) + 4))
            skip = f"AND id NOT IN ({marks}) "
        rows = await self.store.fetch(
            f"SELECT id, payload FROM {OUTBOX} WHERE tenant_id = $1 AND subscription_id = $2 "
            f"{skip}ORDER BY id LIMIT $3",
            tenant_id,
            sub_id,
            limit,
            *(exclude or ()),
        )
        return [(int(i), str(p)) for i, p in rows]

    async def delivered(
        self,
        tenant_id: int,
        sub_id: str,
        row_ids: list[int],
        now: int,
        next_send_at: int | None,
        owner: str,
        lease_until: int,
    ) -> None:
        """Record the success and remove the sent rows, in one transaction — the subscription's
        row first, as :meth:`delete` takes them: in the other order, a DELETE of the
        subscription during a delivery deadlocked on PostgreSQL (a 500 to the DELETE)."""
        statements: list[Statement] = [
            (
                "UPDATE subscriptions SET times_sent = times_sent + 1, last_notification = $3, "
                "last_success = $3, consecutive_failures = 0, next_send_at = $4, "
                "lease_until = $6 WHERE tenant_id = $1 AND id = $2 AND lease_owner = $5",
                (tenant_id, sub_id, now, next_send_at, owner, lease_until),
            )
        ]
        for start in range(0, len(row_ids), 200):
            chunk = row_ids[start : start + 200]
            marks = ", ".join(f"${n}" for n in range(3, len(chunk) + 3))
            statements.append(
                (
                    f"DELETE FROM {OUTBOX} WHERE tenant_id = $1 AND subscription_id = $2 "
                    f"AND id IN ({marks})",
                    (tenant_id, sub_id, *chunk),
                )
            )
        await self.store.execute(statements)

    async def failed(
        self, tenant_id: int, sub_id: str, now: int, reason: str, retry_at: int, owner: str
    ) -> None:
        """Record a failed attempt; the rows stay for the retry at ``retry_at``."""
        await self.store.execute(
            [
                (
                    "UPDATE subscriptions SET times_failed = times_failed + 1, "
                    "last_notification = $3, last_failure = $3, last_failure_reason = $4, "
                    "consecutive_failures = consecutive_failures + 1, next_send_at = $5, "
                    "lease_owner = NULL, lease_until = NULL "
                    "WHERE tenant_id = $1 AND id = $2 AND lease_owner = $6",
                    (tenant_id, sub_id, now, reason[:500], retry_at, owner),
                )
            ]
        )

    async def failures(self, tenant_id: int, sub_id: str) -> int:
        rows = await self.store.fetch(
            "SELECT consecutive_failures FROM subscriptions WHERE tenant_id = $1 AND id = $2",
            tenant_id,
            sub_id,
        )
        return int(rows[0][0]) if rows else 0

    async def release_all(self, owner: str) -> None:
        await self.store.execute(
            [
                (
                    "UPDATE subscriptions SET lease_owner = NULL, lease_until = NULL "
                    "WHERE lease_owner = $1",
                    (owner,),
                )
            ]
        )

    # -- periodic notifications ---------------------------------------------------------

    async def periodic_due(self, now: int) -> list[tuple[int, str, int, int]]:
        rows = await self.store.fetch(
            "SELECT tenant_id, id, next_periodic_at, time_interval_us FROM subscriptions "
            "WHERE time_interval_us IS NOT NULL AND is_active = 1 "
            "AND next_periodic_at IS NOT NULL AND next_periodic_at <= $1 "
            "AND (expires_at IS NULL OR expires_at > $1)",
            now,
        )
        return [(int(t), str(i), int(n), int(v)) for t, i, n, v in rows]

    async def advance_periodic(self, tenant_id: int, sub_id: str, old: int, new: int) -> bool:
        """Move the next periodic notification on; True for the one process that did."""
        counts = await self.store.execute(
            [
                (
                    "UPDATE subscriptions SET next_periodic_at = $4 "
                    "WHERE tenant_id = $1 AND id = $2 AND next_periodic_at = $3",
                    (tenant_id, sub_id, old, new),
                )
            ]
        )
        return counts[0] == 1
