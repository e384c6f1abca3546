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
import random
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from common import (
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


def raw_sqlite_inserts(rows: list[tuple[Any, ...]]) -> float:
    """The ceiling: the same rows through sqlite3's executemany, same table shape and pragmas."""
    folder = Path(tempfile.mkdtemp(prefix="qala-raw-"))
    conn = sqlite3.connect(folder / "raw.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(
        "CREATE TABLE entities (pk INTEGER PRIMARY KEY, tenant_id INTEGER, entity_id TEXT, "
        "types TEXT, scope TEXT, created_at BIGINT, modified_at BIGINT, owner TEXT, data TEXT, "
        "UNIQUE (tenant_id, entity_id))"
    )
    started = time.perf_counter()
    for start in range(0, len(rows), 1000):
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO entities VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows[start : start + 1000]
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


async def raw_postgres_inserts(url: str, rows: list[tuple[Any, ...]]) -> float:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "CREATE TABLE raw_entities (pk BIGINT PRIMARY KEY, tenant_id INT, entity_id TEXT, "
            "types TEXT, scope TEXT, created_at BIGINT, modified_at BIGINT, owner TEXT, "
            "data JSONB, UNIQUE (tenant_id, entity_id))"
        )
        started = time.perf_counter()
        for start in range(0, len(rows), 1000):
            async with conn.transaction():
                await conn.copy_records_to_table("raw_entities", records=rows[start : start + 1000])
        return time.perf_counter() - started
    finally:
        await conn.close()


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
    rows = [
        (
            i + 1,
            1,
            e["id"],
            '["AirQualityObserved"]',
            None,
            0,
            0,
            None,
            orjson.dumps({k: v for k, v in e.items() if k not in ("id", "type")}).decode(),
        )
        for i, e in enumerate(entities)
    ]
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
                ceiling = count / raw_sqlite_inserts(rows)
            else:
                ceiling = count / asyncio.run(raw_postgres_inserts(url, rows))
            results.append(
                [
                    backend,
                    f"batch upsert {count:,} AirQualityObserved",
                    f"{fmt(rate)} entities/s",
                    "",
                    f"raw driver inserts {fmt(ceiling)}/s",
                    f"{rate / ceiling:.2f}",
                ]
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
