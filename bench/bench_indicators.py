"""City indicators: every indicator of five cities over a year of hourly history.

For each backend (SQLite, PostgreSQL), on a fresh database:

1. Five cities, each with air-quality stations (pm25, pm10, no2, so2), waste containers
   (fillingLevel), car parks (availableSpotNumber), traffic counters (intensity), arrival
   feeds (remainingTime) and street lights (some reporting illuminanceLevel every 6 hours),
   EV charging stations, stops and the City entity — written through the hub, their year of
   hourly history (the year 2025 in Almaty) loaded in bulk with ``qala.temporal.load_history``.
2. ``IndicatorService.compute(force=True)`` for each city and the year: every calculator, its
   inputs fingerprint, storing the values and publishing the KeyPerformanceIndicator entities.
   Then the same again without ``force``: nothing changed, nothing recomputed.
3. The ceiling: the hourly means of every series the calculators read, written directly in SQL
   on the temporal tables (one statement per city and attribute, rows fetched by the driver).

Best of ``--runs``. Figures are printed; nothing is asserted.

    python bench/bench_indicators.py [--scale 1] [--backends sqlite,postgresql] [--runs 2]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import database, machine, postgres_available, table
from qala.app import start_services, stop_services
from qala.capabilities import load_capabilities
from qala.config import Settings
from qala.hub import Actor
from qala.indicators.period import Period
from qala.indicators.service import IndicatorService
from qala.ngsild.parse import parse_entity
from qala.services import Services
from qala.store import migrate
from qala.store.urls import DatabaseURL
from qala.temporal import load_history

SDM = "https://smartdatamodels.org/context.jsonld"
CITIES = ("astana", "almaty", "shymkent", "aktobe", "karaganda")
YEAR = Period.parse("2025")
HOURS = int((YEAR.end - YEAR.start).total_seconds() // 3600)
HOUR_US = 3_600_000_000
ACTOR = Actor(id="bench", role="admin")
CAPABILITIES = ("qala.temporal.capability", "qala.indicators.capability")
#: (type, count at scale 1, attributes with hourly history, every n hours, value maker)
SENSORS: tuple[tuple[str, int, tuple[str, ...], int], ...] = (
    ("AirQualityObserved", 6, ("pm25", "pm10", "no2", "so2"), 1),
    ("WasteContainer", 20, ("fillingLevel",), 1),
    ("OffStreetParking", 5, ("availableSpotNumber",), 1),
    ("TrafficFlowObserved", 10, ("intensity",), 1),
    ("ArrivalEstimation", 3, ("remainingTime",), 1),
    ("Streetlight", 20, ("illuminanceLevel",), 6),
)


def prop(value: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value}


def city_entities(city: str, scale: float) -> list[dict[str, Any]]:
    since = (YEAR.start - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    out: list[dict[str, Any]] = [
        {
            "id": f"urn:ngsi-ld:City:{city}",
            "type": "City",
            "population": {**prop(1_000_000 + 100_000 * CITIES.index(city)),
                           "observedAt": "2025-01-01T00:00:00Z",
                           "source": prop("bench")},
            "areaKm2": {**prop(700.0), "observedAt": "2025-01-01T00:00:00Z"},
        }
    ]

    def add(kind: str, n: int, **attrs: Any) -> None:
        body = {"id": f"urn:ngsi-ld:{kind}:{city}:{n:04d}", "type": kind,
                "dateCreated": prop(since)}
        body.update({k: prop(v) if not isinstance(v, dict) else v for k, v in attrs.items()})
        out.append(body)

    for kind, count, _, _ in SENSORS:
        for n in range(max(1, round(count * scale))):
            extra: dict[str, Any] = {}
            if kind == "OffStreetParking":
                extra["totalSpotNumber"] = 200
            if kind == "ArrivalEstimation":
                extra["hasStop"] = {"type": "Relationship",
                                    "object": f"urn:ngsi-ld:PublicTransportStop:{city}:{n:04d}"}
            if kind == "Streetlight":
                extra.update(controllingMethod="individual", status="ok")
            add(kind, n, **extra)
    for n in range(max(1, round(180 * scale))):  # lights without telemetry
        add("Streetlight", 1000 + n, controllingMethod="group", status="ok")
    for n in range(max(1, round(30 * scale))):
        add("PublicTransportStop", n)
    for n in range(max(1, round(10 * scale))):
        add("EVChargingStation", n, capacity=2)
    return out


def history(city: str, scale: float, ctx: Any, rng: random.Random) -> list[tuple[Any, ...]]:
    start_us = int(YEAR.start.timestamp()) * 1_000_000
    rows: list[tuple[Any, ...]] = []
    winter = 2.5 if city == "almaty" else 1.0
    for kind, count, attrs, every in SENSORS:
        type_ctx = ctx.for_types([ctx.expand(kind)])
        for n in range(max(1, round(count * scale))):
            entity_id = f"urn:ngsi-ld:{kind}:{city}:{n:04d}"
            for attr in attrs:
                iri = type_ctx.expand(attr)
                level = 0.1
                for h in range(0, HOURS, every):
                    if kind == "AirQualityObserved":
                        month = (h // 730) % 12
                        base = 35 * (winter if month in (0, 1, 10, 11) else 1)
                        value: float = max(1.0, rng.gauss(base, 8))
                    elif attr == "fillingLevel":
                        level = 0.05 if level > 0.9 else level + rng.uniform(0.005, 0.02)
                        value = round(level, 4)
                    else:
                        value = rng.randint(0, 200)
                    rows.append((entity_id, iri, start_us + h * HOUR_US, value))
    return rows


async def build(url: str, scale: float) -> tuple[int, float]:
    settings = Settings(database_url=url, mqtt_url="", temporal_compact_interval=0)
    svc = await start_services(settings, load_capabilities(CAPABILITIES))
    try:
        ctx = await svc.contexts.compile(SDM)
        rng = random.Random(11)
        points = 0
        started = time.perf_counter()
        for city in CITIES:
            entities = [parse_entity(e, ctx) for e in city_entities(city, scale)]
            outcome = await svc.hub.batch_upsert(city, entities, ACTOR, mode="replace")
            assert not outcome.errors, outcome.errors[:3]
            tenant = await svc.hub.tenant(city)
            points += await load_history(svc.store, tenant.id, history(city, scale, ctx, rng))
        return points, time.perf_counter() - started
    finally:
        await stop_services(svc)


async def compute_all(svc: Services, force: bool) -> tuple[float, int]:
    service = svc.state.get(IndicatorService)
    started = time.perf_counter()
    computed = 0
    for city in CITIES:
        outcomes = await service.compute(city, ACTOR, YEAR, force=force)
        computed += sum(o.status == "computed" for o in outcomes)
    return time.perf_counter() - started, computed


async def direct_sql(svc: Services) -> float:
    """The hourly means of every series the calculators read, straight from the driver."""
    service = svc.state.get(IndicatorService)
    ctx = await service.context()
    start = int(YEAR.start.timestamp()) * 1_000_000
    end = int(YEAR.end.timestamp()) * 1_000_000
    wanted = {
        ctx.for_types([ctx.expand(t)]).expand(a)
        for c in service.calculators()
        for t, attrs in c.reads()
        for a in attrs
    }
    started = time.perf_counter()
    rows = 0
    for city in CITIES:
        tenant = await svc.hub.tenant(city)
        for attr in sorted(wanted):
            found = await svc.store.fetch(
                "SELECT i.sid, i.h, avg(i.num), count(*) FROM temporal_instances i "
                "JOIN temporal_series s ON s.sid = i.sid "
                "WHERE s.tenant_id = $1 AND s.attr = $2 AND i.ts >= $3 AND i.ts < $4 "
                "GROUP BY i.sid, i.h",
                tenant.id, attr, start, end,
            )
            rows += len(found)
    assert rows > 0
    return time.perf_counter() - started


async def measure(url: str, runs: int) -> dict[str, Any]:
    settings = Settings(database_url=url, mqtt_url="", temporal_compact_interval=0)
    svc = await start_services(settings, load_capabilities(CAPABILITIES))
    try:
        full, again, ceiling, computed = math.inf, math.inf, math.inf, 0
        for _ in range(runs):
            took, computed = await compute_all(svc, force=True)
            full = min(full, took)
            took, recomputed = await compute_all(svc, force=False)
            assert recomputed == 0, recomputed
            again = min(again, took)
            ceiling = min(ceiling, await direct_sql(svc))
        return {"full": full, "unchanged": again, "sql": ceiling, "computed": computed}
    finally:
        await stop_services(svc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    print(f"{machine()} · {datetime.now(UTC):%Y-%m-%d}")
    rows = [["backend", "history points", "load s", "all indicators s", "unchanged s",
             "direct SQL s", "ratio"]]
    for backend in args.backends.split(","):
        if backend == "postgresql" and not postgres_available():
            print("PostgreSQL is not reachable: skipped")
            continue
        with database(backend) as url:
            migrate.upgrade(DatabaseURL(url))
            points, load = asyncio.run(build(url, args.scale))
            result = asyncio.run(measure(url, args.runs))
        rows.append([
            backend, f"{points:,}", f"{load:.1f}", f"{result['full']:.2f}",
            f"{result['unchanged']:.2f}", f"{result['sql']:.2f}",
            f"{result['full'] / result['sql']:.1f}×",
        ])
        print(f"{backend}: {result['computed']} calculator runs over 5 cities", flush=True)
        print(table([rows[0], rows[-1]]), flush=True)
    if len(rows) > 2:
        print(table(rows))


if __name__ == "__main__":
    main()
