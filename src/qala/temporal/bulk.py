"""Bulk loading of history (demo data, imports, benchmarks) without the per-write path.

Rows are built directly in their stored form and inserted in large transactions
(``Storage.insert_rows``: ``executemany`` on SQLite, ``COPY`` on PostgreSQL), sorted by series
and time so that SQLite appends to its clustered B-tree rather than splitting pages at random.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from qala.hub import RowBatch, Storage
from qala.hub.model import now_us
from qala.temporal import schema
from qala.temporal.schema import HOUR_US, INTEGER, OBSERVED

#: ``(entity_id, attribute IRI, observedAt µs, value)``: one Property instance.
HistoryPoint = tuple[str, str, int, Any]
CHUNK = 200_000


async def load_history(
    store: Storage,
    tenant_id: int,
    points: Iterable[HistoryPoint],
    *,
    register: dict[str, list[str]] | None = None,
    replace: tuple[int, int] | None = None,
    chunk: int = CHUNK,
) -> int:
    """Insert observed Property values as history instances; the number of instances.

    ``register`` (entity id -> expanded types) records the entities' creation for entities
    the history does not know yet (those written through the hub are known already).
    ``replace`` (start, end µs): first remove the loaded series' instances in [start, end), so
    that loading the same data again leaves one copy (the demo is re-seeded this way).
    """
    now = schema.millis(now_us())
    known = {
        r[0]
        for r in await store.fetch(
            "SELECT DISTINCT sid FROM temporal_series WHERE tenant_id = $1", tenant_id
        )
    }
    if register:
        have = {
            r[0]
            for r in await store.fetch(
                "SELECT DISTINCT entity_id FROM temporal_entities WHERE tenant_id = $1",
                tenant_id,
            )
        }
        events = [
            (tenant_id, eid, now, orjson.dumps(types).decode(), 0)
            for eid, types in register.items()
            if eid not in have
        ]
        if events:
            await store.insert_rows([RowBatch(schema.ENTITIES, schema.ENTITY_COLUMNS, events)])
    sids: dict[tuple[str, str], int] = {}
    rows: list[tuple[Any, ...]] = []
    series: list[tuple[Any, ...]] = []
    total = 0
    cleared: set[int] = set()
    rand = schema.new_iid
    for entity_id, attr, ts, value in points:
        key = (entity_id, attr)
        sid = sids.get(key)
        if sid is None:
            sid = sids[key] = schema.series_id(tenant_id, entity_id, attr, None)
            if sid not in known:
                known.add(sid)
                series.append((sid, tenant_id, entity_id, attr, None, now))
        cls = value.__class__
        if cls is float:
            rows.append((sid, ts // HOUR_US, ts, rand(), OBSERVED, value, None, None, now, None))
        elif cls is int:
            rows.append(
                (
                    sid,
                    ts // HOUR_US,
                    ts,
                    rand(),
                    OBSERVED | INTEGER,
                    float(value),
                    None,
                    None,
                    now,
                    None,
                )
            )
        else:
            text = orjson.dumps(value).decode()
            rows.append((sid, ts // HOUR_US, ts, rand(), OBSERVED, None, text, None, now, None))
        if len(rows) >= chunk:
            total += await _flush(store, rows, series, replace, cleared)
    total += await _flush(store, rows, series, replace, cleared)
    return total


async def _flush(
    store: Storage,
    rows: list[tuple[Any, ...]],
    series: list[tuple[Any, ...]],
    replace: tuple[int, int] | None,
    cleared: set[int],
) -> int:
    if not rows and not series:
        return 0
    rows.sort(key=lambda r: (r[0], r[2]))
    if replace is not None:
        fresh = sorted({r[0] for r in rows} - cleared)
        cleared.update(fresh)
        statements = []
        for start in range(0, len(fresh), 500):
            part = fresh[start : start + 500]
            marks = ", ".join(f"${i + 3}" for i in range(len(part)))
            statements.append(
                (
                    f"DELETE FROM temporal_instances WHERE ts >= $1 AND ts < $2 "
                    f"AND sid IN ({marks})",
                    [replace[0], replace[1], *part],
                )
            )
        if statements:
            await store.execute(statements)
    batches = [RowBatch(schema.INSTANCES, schema.INSTANCE_COLUMNS, list(rows))]
    if series:
        batches.append(RowBatch(schema.SERIES, schema.SERIES_COLUMNS, list(series)))
    await store.insert_rows(batches)
    count = len(rows)
    rows.clear()
    series.clear()
    return count
