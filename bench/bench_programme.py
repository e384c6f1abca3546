"""Programme verification: evaluating deliverables against the hub's data.

For each backend (SQLite, PostgreSQL), on a fresh database, in-process (``start_services``):

1. The demo programme: the deliverable types of the five demo cities loaded as ``qala demo``
   seeds them, then every deliverable of the demo programme (10) verified through the live
   adapter (``Hub.find`` with the compiled ``q``), evaluations stored.
2. Scale: 100 cities of 1,000 entities each (100k entities, ``qala seed`` data at the scale
   of a small city, loaded in bulk), and a programme of 1,000 projects, 10 per city, each with
   one deliverable on one of the city's entity types (a quarter of them with a ``q``); every
   deliverable verified.

Ceiling, measured in the same run: the same counts (matching, and reporting by the newest
``observedAt`` within the window) computed directly in SQL on the ``entities`` table, one
query per deliverable, with the backend's own driver (sqlite3, asyncpg). Best of ``--runs``;
figures are printed, nothing is asserted.

    python bench/bench_programme.py [--cities 100] [--per-city 1000] [--runs 3]
                                    [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import time
from datetime import timedelta
from typing import Any

from common import database, machine, postgres_available
from qala.app import start_services, stop_services
from qala.config import Settings
from qala.demo.generate import (
    CONTEXT,
    DEFAULT_OBSERVED_AT,
    demo_plan,
    generate_city,
    generate_entities,
)
from qala.hub import Actor
from qala.ngsild.parse import parse_entity
from qala.programme import demo
from qala.programme.hub_inputs import HubInputs
from qala.programme.repository import Repository
from qala.programme.revisions import Revision
from qala.programme.service import verify
from qala.services import Services

ACTOR = Actor(id="bench", role="admin")
AT = DEFAULT_OBSERVED_AT + timedelta(minutes=30)
TYPES = ("Streetlight", "WasteContainer", "PublicTransportStop", "AirQualityObserved")


async def _load(svc: Services, tenant: str, entities: list[dict[str, Any]]) -> None:
    ctx = await svc.contexts.compile(list(CONTEXT))
    for start in range(0, len(entities), 1000):
        parsed = [parse_entity(e, ctx) for e in entities[start : start + 1000]]
        outcome = await svc.hub.batch_upsert(tenant, parsed, ACTOR, mode="replace")
        assert not outcome.errors, outcome.errors[:1]


Deliverable = tuple[str, str, str | None, str, int]


def _window(window: int) -> tuple[str, str]:
    since = (AT - timedelta(seconds=window)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return since, AT.strftime("%Y-%m-%dT%H:%M:%SZ")


def _ceiling_sqlite(path: str, deliverables: list[Deliverable]) -> float:
    """The same counts in SQL: (tenant, type IRI, q attribute IRI, q value, window seconds)."""
    conn = sqlite3.connect(path)
    tenants = dict(conn.execute("SELECT name, id FROM tenants"))
    started = time.perf_counter()
    for tenant, type_iri, attr, value, window in deliverables:
        since, until = _window(window)
        sql = (
            "SELECT count(*), coalesce(sum(last > ? AND last <= ?), 0) FROM ("
            "SELECT (SELECT max(json_extract(a.value, '$.observedAt')) FROM json_each(e.data) a)"
            " AS last FROM entity_types t CROSS JOIN entities e ON e.pk = t.entity_pk "
            "WHERE t.tenant_id = ? AND t.type = ?"
        )
        args: list[Any] = [since, until, tenants[tenant], type_iri]
        if attr is not None:
            sql += f" AND json_extract(e.data, '$.\"{attr}\".value') = ?"
            args.append(value)
        conn.execute(sql + ")", args).fetchall()
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


async def _ceiling_postgresql(url: str, deliverables: list[Deliverable]) -> float:
    """The same counts on PostgreSQL (JSONB), with asyncpg."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        tenants = dict(await conn.fetch("SELECT name, id FROM tenants"))
        started = time.perf_counter()
        for tenant, type_iri, attr, value, window in deliverables:
            since, until = _window(window)
            sql = (
                "SELECT count(*), coalesce(sum(CASE WHEN last > $1 AND last <= $2 THEN 1 END), 0)"
                " FROM (SELECT (SELECT max(a.value->>'observedAt') FROM jsonb_each(e.data) a)"
                " AS last FROM entity_types t JOIN entities e ON e.pk = t.entity_pk"
                " WHERE t.tenant_id = $3 AND t.type = $4"
            )
            args: list[Any] = [since, until, tenants[tenant], type_iri]
            if attr is not None:
                sql += " AND e.data->$5->>'value' = $6"
                args += [attr, value]
            await conn.fetch(sql + ") s", *args)
        return time.perf_counter() - started
    finally:
        await conn.close()


async def _ceiling(url: str, deliverables: list[Deliverable], runs: int) -> float:
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        return min(_ceiling_sqlite(path, deliverables) for _ in range(runs))
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    return min([await _ceiling_postgresql(dsn, deliverables) for _ in range(runs)])


def _plan(svc_ctx: Any, state: Any) -> list[Deliverable]:
    out = []
    for d in sorted(state.deliverables.values(), key=lambda x: x.id):
        attr = value = None
        if d.q:
            name, _, raw = d.q.partition("==")
            attr, value = svc_ctx.expand(name.strip()), raw.strip().strip('"')
        tenant = state.projects[d.project].tenant
        out.append(
            (
                tenant,
                svc_ctx.expand(d.entity_type),
                attr,
                value,
                int(d.fresh_within.total_seconds()),
            )
        )
    return out


async def _time_verify(svc: Services, programme: str, runs: int) -> tuple[float, int]:
    repo = Repository(svc.store)
    inputs = await HubInputs.open(svc.hub, svc.contexts)
    best, count = float("inf"), 0
    for _ in range(runs):
        started = time.perf_counter()
        count = len(await verify(repo, inputs, programme, AT))
        best = min(best, time.perf_counter() - started)
    return best, count


def _scale_revisions(cities: list[str]) -> list[Revision]:
    at = DEFAULT_OBSERVED_AT - timedelta(days=400)
    revs = []

    def add(op: str, kind: str, target: str, data: dict[str, Any]) -> None:
        revs.append(Revision(op, kind, target, data, "bench", "bench programme", at))

    for c, city in enumerate(cities):
        for k in range(10):
            pid = f"{city}-P{k}"
            entity_type = TYPES[(c + k) % len(TYPES)]
            add("create", "project", pid, {"tenant": city, "title": f"Project {pid}"})
            deliverable = {
                "project": pid,
                "title": f"{entity_type} reporting",
                "type": entity_type,
                "count": 10,
                "freshWithin": "PT24H",
            }
            if entity_type == "Streetlight":
                deliverable["q"] = 'controllingMethod=="individual"'
            add("create", "deliverable", f"{pid}-D1", deliverable)
    return revs


async def run(args: argparse.Namespace, backend: str, url: str) -> None:
    settings = Settings(database_url=url, mqtt_url="", programme_verify_interval=0)
    svc = await start_services(settings)
    try:
        ctx = await svc.contexts.compile(list(CONTEXT))
        # 1. the demo programme
        needed = sorted({(s.tenant, s.entity_type) for s in demo._SPECS})
        loaded = 0
        for tenant, entity_type in needed:
            entities = generate_entities(
                tenant, entity_type, demo_plan(tenant)[entity_type], demo.SEED
            )
            await _load(svc, tenant, entities)
            loaded += len(entities)
        repo = Repository(svc.store)
        await repo.append(demo.PROGRAMME_ID, demo.revisions())
        state = await repo.state(demo.PROGRAMME_ID)
        took, count = await _time_verify(svc, demo.PROGRAMME_ID, args.runs)
        plan = _plan(ctx, state)
        ceiling = await _ceiling(url, plan, args.runs)
        print(
            f"{backend}: demo programme: {count} deliverables over {loaded} entities verified in "
            f"{took * 1000:.0f} ms ({took / count * 1000:.1f} ms each); SQL ceiling "
            f"{ceiling * 1000:.0f} ms; ratio {ceiling / took:.2f}"
        )
        # 2. 1,000 projects over 100k entities
        cities = [f"city{i:03d}" for i in range(args.cities)]
        scale = args.per_city / sum(demo_plan("astana").values())
        started = time.perf_counter()
        total = 0
        for i, city in enumerate(cities):
            entities = list(generate_city("astana", 2026 + i, scale=scale))
            await _load(svc, city, entities)
            total += len(entities)
        print(
            f"{backend}: loaded {total} entities in {len(cities)} cities "
            f"in {time.perf_counter() - started:.0f} s"
        )
        await repo.append("bench-scale", _scale_revisions(cities))
        state = await repo.state("bench-scale")
        took, count = await _time_verify(svc, "bench-scale", args.runs)
        plan = _plan(ctx, state)
        ceiling = await _ceiling(url, plan, args.runs)
        print(
            f"{backend}: {len(state.projects)} projects: {count} deliverables over {total} "
            f"entities verified in {took:.2f} s ({took / count * 1000:.1f} ms each); "
            f"SQL ceiling {ceiling:.2f} s; ratio {ceiling / took:.2f}"
        )
    finally:
        await stop_services(svc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cities", type=int, default=100)
    parser.add_argument("--per-city", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        if backend == "postgresql" and not postgres_available():
            print("postgresql: not reachable (QALA_BENCH_POSTGRES_URL), skipped")
            continue
        with database(backend) as url:
            asyncio.run(run(args, backend, url))
    print(f"{machine()} · SQLite {sqlite3.sqlite_version} · {time.strftime('%Y-%m-%d')}")


if __name__ == "__main__":
    main()
