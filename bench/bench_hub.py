"""The city data hub under load: batch upsert, GET by id, type+q and geo-near queries.

For each backend (SQLite, PostgreSQL): a Qala server (uvicorn, one worker) on a fresh database;
100k AirQualityObserved entities upserted in batches of 1,000 over HTTP (entities/s, beside raw
driver inserts of the same rows: the ceiling); then wrk from a separate process for GET by id,
type+q and geo near (requests/s, p50/p99), beside a bare ASGI endpoint returning the same JSON
under the same server (the ceiling). Figures are printed; nothing is asserted.

    python bench/bench_hub.py [--entities 100000] [--duration 10] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from common import (
    PG_ADMIN_URL,
    admin_key,
    database,
    machine,
    postgres_available,
    server,
    table,
    wrk,
)

SDM = "https://smartdatamodels.org/context.jsonld"
LINK = f'<{SDM}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
TENANT = "bench"
HEADERS = {"Link": LINK, "NGSILD-Tenant": TENANT}
# Astana's extent, roughly: the entities are spread over it.
WEST, SOUTH, EAST, NORTH = 71.25, 51.05, 71.65, 51.25
POLLUTANTS = ("pm25", "pm10", "no2", "so2", "co", "o3")


def air_quality(number: int, rng: random.Random) -> dict[str, Any]:
    observed = "2026-01-15T09:00:00Z"
    entity: dict[str, Any] = {
        "id": f"urn:ngsi-ld:AirQualityObserved:bench:{number:06d}",
        "type": "AirQualityObserved",
        "dateObserved": {"type": "Property", "value": observed},
        "location": {
            "type": "GeoProperty",
            "value": {
                "type": "Point",
                "coordinates": [
                    round(rng.uniform(WEST, EAST), 6),
                    round(rng.uniform(SOUTH, NORTH), 6),
                ],
            },
        },
        "temperature": {
            "type": "Property",
            "value": round(rng.uniform(-30, 35), 1),
            "unitCode": "CEL",
            "observedAt": observed,
        },
        "relativeHumidity": {
            "type": "Property",
            "value": round(rng.uniform(0.2, 0.95), 2),
            "observedAt": observed,
        },
    }
    for name in POLLUTANTS:
        entity[name] = {
            "type": "Property",
            "value": round(rng.uniform(0, 150), 1),
            "unitCode": "GQ",
            "observedAt": observed,
        }
    return entity


async def upsert_all(url: str, bodies: list[bytes], concurrency: int = 4) -> float:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    headers = {**HEADERS, "Content-Type": "application/json"}

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            response = await client.post(
                f"{url}/ngsi-ld/v1/entityOperations/upsert", content=body, headers=headers
            )
            if response.status_code not in (201, 204):
                raise RuntimeError(f"upsert failed: {response.status_code} {response.text[:300]}")

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(timeout=300, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        return time.perf_counter() - started


#: The rows a batch upsert of new entities writes, table by table (columns as Qala inserts
#: them): the entity, its type and geometry index rows (the R*Tree through its trigger), one
#: history row per attribute instance, the attribute series, the entity's history event and
#: the audit row.
SAME_ROWS: dict[str, tuple[str, ...]] = {
    "entities": (
        "pk", "tenant_id", "entity_id", "types", "scope", "created_at", "modified_at", "owner",
        "data",
    ),
    "entity_types": ("tenant_id", "type", "entity_pk"),
    "entity_geo": ("tenant_id", "entity_pk", "attr", "minx", "miny", "maxx", "maxy"),
    "temporal_instances": (
        "sid", "h", "ts", "iid", "k", "num", "val", "doc", "created_at", "modified_at",
    ),
    "temporal_series": ("sid", "tenant_id", "entity_id", "attr", "dataset_id", "created_at"),
    "temporal_entities": ("tenant_id", "entity_id", "at", "types", "deleted"),
    "audit_log": (
        "tenant", "at", "actor", "role", "via", "address", "operation", "entity_id", "change",
        "attributes",
    ),
}


def _chunks(rows: list[Any], parts: int) -> list[list[Any]]:
    size = -(-len(rows) // parts) if rows else 1
    return [rows[i * size : (i + 1) * size] for i in range(parts)]


def qala_rows_sqlite(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of SAME_ROWS's tables that Qala wrote, in the order it wrote them."""
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        return {
            table: conn.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY rowid").fetchall()
            if table not in ("temporal_instances", "temporal_series")  # WITHOUT ROWID tables
            else conn.execute(f"SELECT {', '.join(cols)} FROM {table}").fetchall()
            for table, cols in SAME_ROWS.items()
        }
    finally:
        conn.close()


def raw_same_rows_sqlite(
    rows: dict[str, list[tuple[Any, ...]]], batches: int
) -> tuple[float, dict[str, float]]:
    """The ceiling of the write path: the rows Qala wrote, written again with sqlite3's
    executemany into a fresh database of Qala's schema (its migrations: same indexes, the
    R*Tree trigger, the audit log's triggers), with the writer's pragmas and one transaction
    per batch, as Qala commits them. Seconds taken in all and per table (the commits: "COMMIT")."""
    from qala.store import migrate
    from qala.store.sqlite_writer import writer_connection
    from qala.store.urls import DatabaseURL

    folder = Path(tempfile.mkdtemp(prefix="qala-raw-"))
    path = folder / "raw.db"
    migrate.upgrade(DatabaseURL(f"sqlite:///{path}"))
    conn = writer_connection(str(path), "FULL")
    conn.execute(
        "INSERT OR IGNORE INTO tenants(id, name, created_at, settings) "
        "VALUES (1, 'bench', 0, '{}')"
    )
    chunks = {table: _chunks(table_rows, batches) for table, table_rows in rows.items()}
    statements = {
        table: f"INSERT INTO {table}({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
        for table, cols in SAME_ROWS.items()
    }
    spent = dict.fromkeys([*statements, "COMMIT"], 0.0)
    clock = time.perf_counter
    started = clock()
    for n in range(batches):
        conn.execute("BEGIN IMMEDIATE")
        for name, sql in statements.items():
            mark = clock()
            conn.executemany(sql, chunks[name][n])
            spent[name] += clock() - mark
        mark = clock()
        conn.execute("COMMIT")
        spent["COMMIT"] += clock() - mark
    elapsed = clock() - started
    conn.close()
    shutil.rmtree(folder, ignore_errors=True)
    return elapsed, spent


async def raw_same_rows_postgres(
    url: str, admin_url: str, batches: int
) -> tuple[float, dict[str, float], dict[str, int]]:
    """The same ceiling on PostgreSQL: Qala's rows read back, then COPY into a fresh database
    of Qala's schema, one transaction per batch. Seconds taken in all and per table, and the
    rows per table."""
    import asyncpg

    from qala.store import migrate
    from qala.store.urls import DatabaseURL

    source = await asyncpg.connect(url)
    try:
        rows = {
            table: [tuple(r) for r in await source.fetch(f"SELECT {', '.join(cols)} FROM {table}")]
            for table, cols in SAME_ROWS.items()
        }
    finally:
        await source.close()
    head, _, _ = admin_url.rpartition("/")
    name = f"qala_raw_{os.getpid()}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    target_url = f"{head}/{name}"
    try:
        await asyncio.to_thread(migrate.upgrade, DatabaseURL(target_url))
        conn = await asyncpg.connect(target_url)
        try:
            await conn.execute(
                "INSERT INTO tenants(id, name, created_at, settings) VALUES (1, 'bench', 0, '{}') "
                "ON CONFLICT DO NOTHING"
            )
            chunks = {table: _chunks(table_rows, batches) for table, table_rows in rows.items()}
            spent = dict.fromkeys([*SAME_ROWS, "COMMIT"], 0.0)
            clock = time.perf_counter
            started = clock()
            for n in range(batches):
                transaction = conn.transaction()
                await transaction.start()
                for table, cols in SAME_ROWS.items():
                    if chunks[table][n]:
                        mark = clock()
                        await conn.copy_records_to_table(
                            table, records=chunks[table][n], columns=cols
                        )
                        spent[table] += clock() - mark
                mark = clock()
                await transaction.commit()
                spent["COMMIT"] += clock() - mark
            elapsed = clock() - started
        finally:
            await conn.close()
    finally:
        admin = await asyncpg.connect(admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
    return elapsed, spent, {table: len(table_rows) for table, table_rows in rows.items()}


GET_BY_ID = """
local headers = {{["Link"] = '{link}', ["NGSILD-Tenant"] = "{tenant}",
                  ["Authorization"] = "{auth}"}}
math.randomseed(os.time())
request = function()
  local path = string.format("/ngsi-ld/v1/entities/urn:ngsi-ld:AirQualityObserved:bench:%06d",
                             math.random(0, {n} - 1))
  return wrk.format("GET", path, headers)
end
"""

TYPE_Q = """
local headers = {{["Link"] = '{link}', ["NGSILD-Tenant"] = "{tenant}",
                  ["Authorization"] = "{auth}"}}
math.randomseed(os.time())
request = function()
  local path = string.format(
    "/ngsi-ld/v1/entities?type=AirQualityObserved&q=pm25%%3E%d%%3Bno2%%3C%d&limit=20",
    math.random(50, 140), math.random(20, 150))
  return wrk.format("GET", path, headers)
end
"""

GEO_NEAR = """
local headers = {{["Link"] = '{link}', ["NGSILD-Tenant"] = "{tenant}",
                  ["Authorization"] = "{auth}"}}
math.randomseed(os.time())
request = function()
  local lon = {west} + math.random() * ({east} - {west})
  local lat = {south} + math.random() * ({north} - {south})
  local path = string.format(
    "/ngsi-ld/v1/entities?type=AirQualityObserved&georel=near%%3BmaxDistance%%3D%%3D500"
    .. "&geometry=Point&coordinates=%%5B%.5f%%2C%.5f%%5D&limit=20", lon, lat)
  return wrk.format("GET", path, headers)
end
"""


def fmt(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def run_backend(backend: str, count: int, duration: int, connections: int) -> list[list[str]]:
    rng = random.Random(2026)
    entities = [air_quality(i, rng) for i in range(count)]
    bodies = [orjson.dumps(entities[i : i + 1000]) for i in range(0, count, 1000)]
    results: list[list[str]] = []
    with database(backend) as url:
        # Real authentication (an admin key), but no per-key rate limit: one key drives the load.
        key = admin_key(url)
        HEADERS["Authorization"] = f"Bearer {key}"
        env = {"QALA_DATABASE_URL": url, "QALA_RATE_LIMIT": "0", "QALA_MQTT_URL": ""}
        with server(env=env) as srv:
            elapsed = asyncio.run(upsert_all(srv.url, bodies))
            rate = count / elapsed
            if backend == "sqlite":
                rows_written = qala_rows_sqlite(url)
                counts = {table: len(r) for table, r in rows_written.items()}
                ceiling_s, spent = raw_same_rows_sqlite(rows_written, len(bodies))
                del rows_written
            else:
                ceiling_s, spent, counts = asyncio.run(
                    raw_same_rows_postgres(url, PG_ADMIN_URL, len(bodies))
                )
            ceiling = count / ceiling_s
            results.append(
                [
                    backend,
                    f"batch upsert {count:,} AirQualityObserved",
                    f"{fmt(rate)} entities/s",
                    "",
                    f"same rows, raw driver {fmt(ceiling)} entities/s",
                    f"{rate / ceiling:.2f}",
                ]
            )
            print(f"{backend}: what the raw driver's {ceiling_s:.2f} s of the same rows went to")
            for name, seconds in spent.items():
                n = counts.get(name, len(bodies))
                per_row = seconds / max(n, 1) * 1e6
                print(
                    f"  {name:<20} {n:>9,} rows  {seconds:6.2f} s  {per_row:6.2f} µs/row  "
                    f"{seconds / count * 1e6:6.2f} µs/entity"
                )
            sample = httpx.get(
                f"{srv.url}/ngsi-ld/v1/entities/urn:ngsi-ld:AirQualityObserved:bench:000001",
                headers=HEADERS,
            )
            body_file = Path(tempfile.mkstemp(suffix=".json")[1])
            body_file.write_bytes(sample.content)
            params = {
                "link": LINK,
                "tenant": TENANT,
                "n": count,
                "west": WEST,
                "east": EAST,
                "south": SOUTH,
                "north": NORTH,
                "auth": HEADERS["Authorization"],
            }
            measured = {}
            for name, script in (
                ("GET by id", GET_BY_ID),
                ("type+q", TYPE_Q),
                ("geo near 500 m", GEO_NEAR),
            ):
                lua = script.format(**params)
                # Throughput under many connections; latency of one client at a time (under
                # load, latency only measures the queue: connections / throughput).
                measured[name] = (
                    wrk(srv.url, script=lua, duration=duration, connections=connections),
                    wrk(srv.url, script=lua, duration=max(3, duration // 2), connections=1),
                )
        with server("bare_app:app", factory=False, env={"QALA_BENCH_BODY": str(body_file)}) as bare:
            ceiling_read = wrk(bare.url + "/x", duration=duration, connections=connections)
        body_file.unlink(missing_ok=True)
    for name, (res, single) in measured.items():
        errors = res.errors + res.non_2xx + single.errors + single.non_2xx
        results.append(
            [
                backend,
                name,
                f"{fmt(res.requests_per_s)} req/s",
                f"p50 {single.p50_ms:.2f} ms · p99 {single.p99_ms:.2f} ms"
                + (f" · {errors} errors" if errors else ""),
                f"bare ASGI {fmt(ceiling_read.requests_per_s)} req/s",
                f"{res.requests_per_s / ceiling_read.requests_per_s:.2f}",
            ]
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    rows = [["backend", "benchmark", "Qala", "latency (one client)", "ceiling", "ratio"]]
    for backend in args.backends.split(","):
        if backend == "postgresql" and not postgres_available():
            print("PostgreSQL is not reachable: skipping its figures")
            continue
        rows += run_backend(backend, args.entities, args.duration, args.connections)
    print(f"\n{machine()} · {time.strftime('%Y-%m-%d %H:%M')}\n")
    print(table(rows))


if __name__ == "__main__":
    main()
