"""Writing a year of demo history (:class:`~qala.demo.year.Block` s) into the temporal store.

Observations older than ``cut`` are stored as **hourly aggregates** (``temporal_hourly``: count,
sum, sum of squares, minimum, maximum per series and hour), the form in which retention keeps
history beyond its horizon; the temporal API and the indicators read them like compacted
history (aggregations merge them; instance queries give one instance per hour, the hourly
mean). Newer ones are raw instances. Rows are built with numpy and written in large batches
(``executemany`` on SQLite, ``COPY`` on PostgreSQL); loading again replaces the window.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from qala.demo.year import HOUR_US, Block
from qala.hub import RowBatch, Storage
from qala.hub.model import now_us
from qala.temporal import schema

HOURLY_COLUMNS = ("sid", "hour", "n", "nnum", "sum", "sumsq", "min", "max")
CHUNK = 250_000
_iids = np.random.default_rng(int.from_bytes(os.urandom(8), "big"))


@dataclass
class Loaded:
    observations: int = 0  # points generated
    instances: int = 0  # raw rows written
    hours: int = 0  # hourly aggregate rows written
    first: dict[str, tuple[str, int]] = field(default_factory=dict)  # entity -> (type, µs)


async def load_blocks(
    store: Storage,
    tenant_id: int,
    blocks: Iterable[Block],
    *,
    expand: Callable[[str, str], str],
    window: tuple[int, int],
    cut: int,
    done: Callable[[Block], None] | None = None,
) -> Loaded:
    """Write ``blocks`` (attribute IRIs from ``expand(type, term)``); replaces ``window``."""
    now = schema.millis(now_us())
    known = {
        r[0]
        for r in await store.fetch(
            "SELECT DISTINCT sid FROM temporal_series WHERE tenant_id = $1", tenant_id
        )
    }
    out = Loaded()
    for block in blocks:
        iri = expand(block.entity_type, block.term)
        sids = np.array(
            [schema.series_id(tenant_id, e, iri, None) for e in block.entity_ids], np.int64
        )
        fresh = [
            (int(sid), tenant_id, entity_id, iri, None, now)
            for sid, entity_id in zip(sids.tolist(), block.entity_ids, strict=True)
            if sid not in known
        ]
        known.update(r[0] for r in fresh)
        await _clear(store, [int(s) for s in sids], window)
        if fresh:
            await store.insert_rows([RowBatch(schema.SERIES, schema.SERIES_COLUMNS, fresh)])
        sid = sids[block.index]
        old = block.ts < cut
        out.hours += await _hourly(store, sid[old], block.ts[old], block.value[old])
        out.instances += await _raw(store, block, sid[~old], ~old, now)
        out.observations += len(block)
        if len(block):
            starts = np.flatnonzero(np.r_[True, block.index[1:] != block.index[:-1]])
            for i, ts in zip(block.index[starts].tolist(), block.ts[starts].tolist(), strict=True):
                entity_id = block.entity_ids[i]
                seen = out.first.get(entity_id)
                if seen is None or ts < seen[1]:
                    out.first[entity_id] = (block.entity_type, ts)
        if done is not None:
            done(block)
    return out


async def _clear(store: Storage, sids: list[int], window: tuple[int, int]) -> None:
    statements: list[tuple[str, list[Any]]] = []
    for start in range(0, len(sids), 500):
        part = sids[start : start + 500]
        marks = ", ".join(f"${i + 3}" for i in range(len(part)))
        statements.append(
            (
                f"DELETE FROM temporal_instances WHERE ts >= $1 AND ts < $2 AND sid IN ({marks})",
                [window[0], window[1], *part],
            )
        )
        statements.append(
            (
                f"DELETE FROM temporal_hourly WHERE hour >= $1 AND hour < $2 AND sid IN ({marks})",
                [window[0], window[1], *part],
            )
        )
    if statements:
        await store.execute(statements)


async def _hourly(store: Storage, sid: np.ndarray, ts: np.ndarray, value: np.ndarray) -> int:
    """One aggregate row per (series, hour); input sorted by series then time."""
    if not sid.size:
        return 0
    hour = ts // HOUR_US
    starts = np.flatnonzero(np.r_[True, (sid[1:] != sid[:-1]) | (hour[1:] != hour[:-1])])
    n = np.diff(np.r_[starts, sid.size])
    total = np.add.reduceat(value, starts)
    squares = np.add.reduceat(value * value, starts)
    low = np.minimum.reduceat(value, starts)
    high = np.maximum.reduceat(value, starts)
    keys, hours = sid[starts], hour[starts] * HOUR_US
    order = np.lexsort((hours, keys))  # the primary key's order: appends, no page splits
    columns = [keys, hours, n, n, total, squares, low, high]
    for start in range(0, order.size, CHUNK):
        part = order[start : start + CHUNK]
        rows = list(zip(*(c[part].tolist() for c in columns), strict=True))
        await store.insert_rows([RowBatch(schema.HOURLY, HOURLY_COLUMNS, rows)])
    return int(order.size)


async def _raw(
    store: Storage, block: Block, sid: np.ndarray, mask: np.ndarray, now: int
) -> int:
    if not sid.size:
        return 0
    ts = block.ts[mask]
    value = block.value[mask]
    kind = schema.OBSERVED | (schema.INTEGER if block.integer else 0)
    doc = orjson.dumps({"unitCode": block.unit}).decode() if block.unit else None
    iid = _iids.integers(1, 2**62, sid.size, dtype=np.int64)
    order = np.lexsort((iid, ts, sid))
    count = 0
    for start in range(0, order.size, CHUNK):
        part = order[start : start + CHUNK]
        size = part.size
        rows = list(
            zip(
                sid[part].tolist(),
                (ts[part] // HOUR_US).tolist(),
                ts[part].tolist(),
                iid[part].tolist(),
                [kind] * size,
                value[part].tolist(),
                [None] * size,
                [doc] * size,
                [now] * size,
                [None] * size,
                strict=True,
            )
        )
        await store.insert_rows([RowBatch(schema.INSTANCES, schema.INSTANCE_COLUMNS, rows)])
        count += size
    return count


async def backdate(
    store: Storage, tenant_id: int, first: dict[str, tuple[str, int]], before: int
) -> None:
    """Record each entity's creation at its first observation (the device's installation), in
    the history's entity events; earlier such records (from a previous seeding) are replaced.
    ``first``: entity id -> (expanded type, µs)."""
    ids = list(first)
    statements: list[tuple[str, list[Any]]] = []
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        marks = ", ".join(f"${i + 3}" for i in range(len(part)))
        statements.append(
            (
                "DELETE FROM temporal_entities WHERE tenant_id = $1 AND at < $2 AND deleted = 0 "
                f"AND entity_id IN ({marks})",
                [tenant_id, before, *part],
            )
        )
    if statements:
        await store.execute(statements)
    rows = [
        (tenant_id, entity_id, schema.millis(ts), orjson.dumps([kind]).decode(), 0)
        for entity_id, (kind, ts) in first.items()
        if ts < before
    ]
    if rows:
        await store.insert_rows([RowBatch(schema.ENTITIES, schema.ENTITY_COLUMNS, rows)])
