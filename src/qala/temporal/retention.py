"""Retention: raw instances older than a tenant's horizon become hourly aggregates.

Nothing is dropped silently: for every (series, hour) the count of instances, the count of
numeric values, their sum, sum of squares, minimum and maximum are added to
``temporal_hourly`` (merged with what an earlier run stored), in the same transaction that
deletes the raw rows. Aggregated queries combine both; instance queries return one instance
per hour (the hourly mean) beyond the horizon. Deletion markers are not kept.

The horizon is ``temporalRetentionDays`` in the tenant's settings, else the server's
``temporal_retention_days``; 0 keeps everything.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from qala.config import Settings
from qala.hub import Storage, Tenant
from qala.hub.model import now_us
from qala.temporal.schema import DELETED, HOUR_US

log = logging.getLogger("qala.temporal")

SETTING = "temporalRetentionDays"
DAY_US = 86_400_000_000

_ROLLUP = (
    "INSERT INTO temporal_hourly (sid, hour, n, nnum, sum, sumsq, min, max) "
    f"SELECT sid, h * {HOUR_US}, count(*), count(num), sum(num), sum(num * num), "
    "min(num), max(num) FROM temporal_instances "
    "WHERE sid IN (SELECT sid FROM temporal_series WHERE tenant_id = $1) AND h < $2 "
    f"AND (k & {DELETED}) = 0 GROUP BY sid, h "
    "ON CONFLICT (sid, hour) DO UPDATE SET "
    "n = temporal_hourly.n + excluded.n, "
    "nnum = temporal_hourly.nnum + excluded.nnum, "
    "sum = COALESCE(temporal_hourly.sum + excluded.sum, temporal_hourly.sum, excluded.sum), "
    "sumsq = COALESCE(temporal_hourly.sumsq + excluded.sumsq, temporal_hourly.sumsq, "
    "excluded.sumsq), "
    "min = CASE WHEN temporal_hourly.min IS NULL OR excluded.min < temporal_hourly.min "
    "THEN excluded.min ELSE temporal_hourly.min END, "
    "max = CASE WHEN temporal_hourly.max IS NULL OR excluded.max > temporal_hourly.max "
    "THEN excluded.max ELSE temporal_hourly.max END"
)
_PURGE = (
    "DELETE FROM temporal_instances "
    "WHERE sid IN (SELECT sid FROM temporal_series WHERE tenant_id = $1) AND h < $2"
)


@dataclass(slots=True)
class Compaction:
    tenant: str
    horizon: int  # µs: raw instances before it were compacted
    hours: int  # (series, hour) aggregates written or merged
    instances: int  # raw rows removed


def retention_days(tenant: Tenant, settings: Settings) -> int:
    value = tenant.settings.get(SETTING, settings.temporal_retention_days)
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        log.warning("tenant %r has an invalid %s: %r", tenant.name, SETTING, value)
        return settings.temporal_retention_days


async def compact_tenant(
    store: Storage, tenant: Tenant, days: int, now: int | None = None
) -> Compaction | None:
    if days <= 0:
        return None
    moment = now if now is not None else now_us()
    horizon = ((moment - days * DAY_US) // HOUR_US) * HOUR_US
    hour = horizon // HOUR_US  # a whole hour: the hours before it are compacted whole
    hours, removed = await store.execute(
        [(_ROLLUP, [tenant.id, hour]), (_PURGE, [tenant.id, hour])]
    )
    return Compaction(tenant.name, horizon, hours, removed)


async def compact(
    store: Storage, settings: Settings, tenant: str | None = None, now: int | None = None
) -> list[Compaction]:
    """Apply retention to one tenant or to all of them."""
    tenants = await store.tenants()
    if tenant is not None:
        tenants = [t for t in tenants if t.name == tenant]
    done = []
    for ten in tenants:
        result = await compact_tenant(store, ten, retention_days(ten, settings), now)
        if result is not None:
            done.append(result)
    return done


async def compaction_loop(store: Storage, settings: Settings) -> None:
    """The server's periodic retention task (every ``temporal_compact_interval`` seconds)."""
    interval = settings.temporal_compact_interval
    while True:
        await asyncio.sleep(interval)
        try:
            for result in await compact(store, settings):
                if result.instances:
                    log.info(
                        "temporal retention: %s: %d instances before %d compacted into %d hours",
                        result.tenant,
                        result.instances,
                        result.horizon,
                        result.hours,
                    )
        except Exception:
            log.exception("temporal retention failed; retrying at the next interval")
