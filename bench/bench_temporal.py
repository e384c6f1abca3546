"""Temporal history: the cost of recording it, and aggregation over a year of sensor data.

For each backend (SQLite, PostgreSQL), on a fresh database:

1. Write cost. In-process ``Hub.batch_upsert`` of AirQualityObserved entities (10 attributes,
   batches of 1,000; create rounds then update rounds) without and with the history
   participant, interleaved: entities/s before/after, history rows per entity, bytes per row.
2. Aggregation. 100 sensors with a year of 15-minute pm25 values (3.5M instances, loaded in
   bulk with ``qala.temporal.load_history``), then the hourly average of all of them for the
   whole year through the temporal API (``GET /ngsi-ld/v1/temporal/entities`` on a uvicorn
   server, the full JSON response read), beside the same aggregation written directly in SQL
   on the same rows (rows fetched by the driver). Best of several runs; ratio API / SQL.

Figures are printed; nothing is asserted.

    python bench/bench_temporal.py [--sensors 100] [--upsert 20000]
                                   [--backends sqlite,postgresql] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import random
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx

from qala.app import start_services, stop_services
from qala.capabilities import load_capabilities
from qala.config import Settings
from qala.hub import Actor
from qala.hub.model import iso_to_us
from qala.ngsild.parse import parse_entity
from qala.services import Services
from qala.temporal import load_history
from qala.temporal.bulk import HistoryPoint
from qala.temporal.recorder import HistoryRecorder

PG_ADMIN = os.environ.get("QALA_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
SDM = "https://smartdatamodels.org/context.jsonld"
POLLUTANTS = ("temperature", "relativeHumidity", "pm25", "pm10", "no2", "so2", "co", "o3")
START = "2025-01-01T00:00:00Z"
END = "2026-01-01T00:00:00Z"
STEP_US = 15 * 60 * 1_000_000
HOUR_US = 3_600_000_000
ACTOR = Actor(id="bench", role="admin")


def air_quality(number: int, observed: str, rng: random.Random) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "id": f"urn:ngsi-ld:AirQualityObserved:bench:{number:06d}",
        "type": "AirQualityObserved",
        "dateObserved": {"type": "Property", "value": observed},
        "location": {
            "type": "GeoProperty",
            "value": {
                "type": "Point",
                "coordinates": [
                    round(rng.uniform(71.25, 71.65), 6),
                    round(rng.uniform(51.05, 51.25), 6),
                ],
            },
        },
    }
    for name in POLLUTANTS:
        entity[name] = {
            "type": "Property",
            "value": round(rng.uniform(0, 100), 1),
            "unitCode": "GQ",
            "observedAt": observed,
        }
    return entity


# -- databases ---------------------------------------------------------------------------------


class Database:
    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.url = ""
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._name = ""

    async def __aenter__(self) -> Database:
        if self.backend == "sqlite":
            self._tmp = tempfile.TemporaryDirectory(prefix="qala-bench-temporal-")
            self.url = f"sqlite:///{self._tmp.name}/qala.db"
        else:
            self._name = f"qala_bench_temporal_{os.getpid()}"
            conn = await asyncpg.connect(PG_ADMIN)
            await conn.execute(f'DROP DATABASE IF EXISTS "{self._name}"')
            await conn.execute(f'CREATE DATABASE "{self._name}"')
            await conn.close()
            self.url = PG_ADMIN.rpartition("/")[0] + "/" + self._name
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
        if self._name:
            conn = await asyncpg.connect(PG_ADMIN)
            await conn.execute(f'DROP DATABASE IF EXISTS "{self._name}" WITH (FORCE)')
            await conn.close()


def settings_for(url: str) -> Settings:
    return Settings(database_url=url, temporal_compact_interval=0, auth_disabled=True, mqtt_url="")


async def table_bytes(svc: Services, table: str) -> int | None:
    if svc.store.dialect == "postgresql":
        rows = await svc.store.fetch("SELECT pg_total_relation_size($1)", table)
        return int(rows[0][0])
    try:
        rows = await svc.store.fetch("SELECT sum(pgsize) FROM dbstat WHERE name = $1", table)
        return int(rows[0][0] or 0)
    except Exception:  # dbstat is not compiled into every SQLite
        return None


# -- 1. write cost -------------------------------------------------------------------------------


async def upsert_rates(url: str, entities: int, rounds: int = 2) -> dict[str, Any]:
    """Batch upsert rates without and with the history participant, interleaved (A, B, A, B…)
    on one server so that a busy machine slows both alike; the best round of each."""
    caps = [c for c in load_capabilities() if c.name in ("ngsi-ld", "temporal")]
    svc = await start_services(settings_for(url), caps)
    recorder = next(p for p in svc.hub.participants if isinstance(p, HistoryRecorder))
    best: dict[tuple[bool, str], float] = {}
    recorded = 0
    try:
        ctx = await svc.contexts.compile([SDM])
        rng = random.Random(7)

        async def run(with_history: bool, phase: str, first: int, observed: str) -> None:
            if with_history:
                svc.hub.add_participant(recorder)
            else:
                svc.hub.remove_participant(recorder)
            bodies = [air_quality(first + n, observed, rng) for n in range(entities)]
            batches = [
                [parse_entity(b, ctx) for b in bodies[i : i + 1000]]
                for i in range(0, entities, 1000)
            ]
            started = time.perf_counter()
            for batch in batches:
                outcome = await svc.hub.batch_upsert("bench", batch, ACTOR, mode="replace")
                assert not outcome.errors, outcome.errors[:1]
            rate = entities / (time.perf_counter() - started)
            key = (with_history, phase)
            best[key] = max(best.get(key, 0.0), rate)

        for r in range(rounds):
            for with_history in (False, True):
                first = (2 * r + with_history) * entities
                await run(with_history, "create", first, "2026-01-15T09:00:00Z")
            for with_history in (False, True):
                first = (2 * r + with_history) * entities
                await run(with_history, "update", first, "2026-01-15T10:00:00Z")
                recorded += 2 * entities if with_history else 0
        rows = (await svc.store.fetch("SELECT count(*) FROM temporal_instances"))[0][0]
        size = await table_bytes(svc, "temporal_instances")
    finally:
        svc.hub.add_participant(recorder)
        await stop_services(svc)
    return {
        "without": {"create": best[(False, "create")], "update": best[(False, "update")]},
        "with": {"create": best[(True, "create")], "update": best[(True, "update")]},
        "rows_per_entity": rows / recorded,
        "bytes_per_row": size / rows if size else None,
    }


# -- 2. aggregation ------------------------------------------------------------------------------


def sensor_points(entity_ids: list[str], attr: str) -> Iterator[HistoryPoint]:
    start, end = iso_to_us(START), iso_to_us(END)
    for n, entity_id in enumerate(entity_ids):
        rng = random.Random(n)
        base = rng.uniform(5, 40)
        for ts in range(start, end, STEP_US):
            hour = (ts // HOUR_US) % 24
            value = base * (1 + 0.4 * math.sin((hour - 8) / 24 * 2 * math.pi)) + rng.gauss(0, 3)
            yield entity_id, attr, ts, round(max(0.0, value), 2)


async def load_year(url: str, sensors: int) -> tuple[int, float, list[int]]:
    caps = [c for c in load_capabilities() if c.name in ("ngsi-ld", "temporal")]
    svc = await start_services(settings_for(url), caps)
    try:
        ctx = await svc.contexts.compile([SDM])
        rng = random.Random(3)
        entities = [parse_entity(air_quality(n, END, rng), ctx) for n in range(sensors)]
        await svc.hub.batch_upsert("city", entities, ACTOR, mode="replace")
        tenant = await svc.hub.tenant("city")
        attr = ctx.expand("pm25")
        ids = [e.id for e in entities]
        started = time.perf_counter()
        loaded = await load_history(svc.store, tenant.id, sensor_points(ids, attr))
        took = time.perf_counter() - started
        if svc.store.dialect == "postgresql":
            await svc.store.execute([("ANALYZE temporal_instances", [])])
        else:
            await svc.store.execute([("ANALYZE", [])])
        sids = [
            r[0]
            for r in await svc.store.fetch(
                "SELECT DISTINCT sid FROM temporal_series WHERE tenant_id = $1 AND attr = $2",
                tenant.id,
                attr,
            )
        ]
    finally:
        await stop_services(svc)
    return loaded, took, sids


#: The hourly average written directly in SQL, two ways: grouping by an expression of the time
#: (as one would write it without knowing the layout), and by the stored hour column (as the API
#: does: in index order, without a sort).
DIRECT_SQL = {
    "by expression": (
        "SELECT sid, (ts - $1) / $2 AS b, avg(num) FROM temporal_instances "
        "WHERE ts >= $1 AND ts < $3 AND sid IN ({marks}) GROUP BY sid, b"
    ),
    "by hour column": (
        "SELECT sid, h - CAST($1 AS BIGINT) / CAST($2 AS BIGINT) AS b, avg(num) "
        "FROM temporal_instances "
        "WHERE ts >= $1 AND ts < $3 AND sid IN ({marks}) GROUP BY sid, h"
    ),
}


async def direct_sql(backend: str, url: str, sids: list[int], runs: int) -> dict[str, float]:
    """The same hourly average, straight from the driver: the floor for the API."""
    start, end = iso_to_us(START), iso_to_us(END)
    marks = ", ".join(f"${i + 4}" for i in range(len(sids)))
    args = [start, HOUR_US, end, *sids]
    best: dict[str, float] = {}
    if backend == "sqlite":
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute("PRAGMA cache_size=-65536")
        try:
            for name, sql in DIRECT_SQL.items():
                text = re.sub(r"\$(\d+)", r"?\1", sql.format(marks=marks))
                for _ in range(runs):
                    started = time.perf_counter()
                    rows = conn.execute(text, args).fetchall()
                    took = time.perf_counter() - started
                    best[name] = min(best.get(name, math.inf), took)
                    assert len(rows) > 0
        finally:
            conn.close()
        return best
    pg = await asyncpg.connect(url)
    try:
        for name, sql in DIRECT_SQL.items():
            for _ in range(runs):
                started = time.perf_counter()
                records = await pg.fetch(sql.format(marks=marks), *args)
                best[name] = min(best.get(name, math.inf), time.perf_counter() - started)
                assert len(records) > 0
    finally:
        await pg.close()
    return best


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def through_api(url: str, sensors: int, runs: int) -> tuple[float, int, int]:
    port = free_port()
    env = {
        **os.environ,
        "QALA_DATABASE_URL": url,
        "QALA_AUTH_DISABLED": "true",
        "QALA_TEMPORAL_COMPACT_INTERVAL": "0",
        "QALA_MQTT_URL": "",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "qala.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.2)
        params = {
            "type": "AirQualityObserved",
            "attrs": "pm25",
            "options": "aggregatedValues",
            "aggrMethods": "avg",
            "aggrPeriodDuration": "PT1H",
            "timerel": "between",
            "timeAt": START,
            "endTimeAt": END,
            "limit": str(sensors),
        }
        headers = {
            "NGSILD-Tenant": "city",
            "Link": f'<{SDM}>; rel="http://www.w3.org/ns/json-ld#context"',
        }
        best = math.inf
        size = buckets = 0
        with httpx.Client(timeout=600) as client:
            for _ in range(runs):
                started = time.perf_counter()
                response = client.get(
                    f"{base}/ngsi-ld/v1/temporal/entities", params=params, headers=headers
                )
                body = response.content
                best = min(best, time.perf_counter() - started)
                assert response.status_code == 200, response.text[:500]
                size = len(body)
            data = response.json()
            buckets = sum(len(e["pm25"]["avg"]) for e in data)
        return best, size, buckets
    finally:
        server.terminate()
        server.wait(timeout=30)


# -- main ----------------------------------------------------------------------------------------


async def bench_backend(backend: str, args: argparse.Namespace) -> None:
    print(f"\n## {backend}\n")
    async with Database(backend) as db:
        rates = await upsert_rates(db.url, args.upsert)
        before, after = rates["without"], rates["with"]
        print(
            f"batch upsert of {args.upsert:,} AirQualityObserved (10 attributes), entities/s "
            "(best of 2 interleaved rounds):"
        )
        print(f"  {'':24} {'create':>10} {'update':>10}")
        print(f"  {'without history':24} {before['create']:>10,.0f} {before['update']:>10,.0f}")
        print(f"  {'with history':24} {after['create']:>10,.0f} {after['update']:>10,.0f}")
        print(
            f"  cost: x{before['create'] / after['create']:.2f} (create), "
            f"x{before['update'] / after['update']:.2f} (update); "
            f"{rates['rows_per_entity']:.1f} history rows per entity written"
            + (
                f", {rates['bytes_per_row']:.0f} bytes per row (table and indexes)"
                if rates.get("bytes_per_row")
                else ""
            )
        )
    async with Database(backend) as db:
        loaded, took, sids = await load_year(db.url, args.sensors)
        print(
            f"\nbulk load: {loaded:,} instances ({args.sensors} sensors, 15-minute values, "
            f"{START[:10]} to {END[:10]}) in {took:.1f} s ({loaded / took:,.0f}/s)"
        )
        sql_times = await direct_sql(backend, db.url, sids, args.runs)
        api_time, size, buckets = through_api(db.url, args.sensors, args.runs)
        print(f"hourly avg over the year, all sensors (best of {args.runs}):")
        for name, took in sql_times.items():
            print(f"  direct SQL, {name:15} {took:7.2f} s   (API / this: {api_time / took:.2f})")
        print(
            f"  temporal API {'':15} {api_time:7.2f} s   {buckets:,} [avg, start, end] entries, "
            f"{size / 1e6:.1f} MB of JSON"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sensors", type=int, default=100)
    parser.add_argument("--upsert", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    host = f"{platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()}"
    print(f"# bench_temporal — {host}")
    for backend in args.backends.split(","):
        asyncio.run(bench_backend(backend.strip(), args))


if __name__ == "__main__":
    main()
