"""The production store: PostgreSQL through asyncpg.

Writes run in a transaction that locks the touched entities (``SELECT … FOR UPDATE`` in id
order); two transactions creating the same new entity, or a deadlock between batches, are retried
transparently. Bulk rows go in with COPY. Queries are the same SQL as SQLite's, with the
dialect's JSON and geometry operators.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from typing import Any

import anyio
import asyncpg
import orjson

from qala.hub.errors import ServiceUnavailable, UnknownTenant
from qala.hub.model import Entity, now_us
from qala.hub.query import AttributeInfo, EntityQuery, QueryResult, TypeInfo
from qala.jsonld.resolver import StoredContext
from qala.store import migrate
from qala.store.base import Planner, RowBatch, Statement, Store, Tenant, WritePlan
from qala.store.entity_sql import (
    ENTITY_COLUMNS,
    EntitySQL,
    GeoPlan,
    PageCollector,
    build_select,
    by_pks,
    row_to_entity,
)
from qala.store.urls import DatabaseURL

_RETRYABLE = (
    asyncpg.UniqueViolationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
)
_ATTEMPTS = 8
#: Seconds a cached tenant (its settings: access policy, validation) is trusted.
_TENANT_TTL = 1.0
_CTX_COLUMNS = "local_id, url, kind, body, created_at, last_usage, hits"


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


class PostgresStore(Store):
    dialect = "postgresql"

    def __init__(self, url: DatabaseURL, *, min_size: int = 2, max_size: int = 16) -> None:
        self.url = url
        self._min = min_size
        self._max = max_size
        self._pool: asyncpg.Pool | None = None
        self._sql = EntitySQL("postgresql")
        self._tenants: dict[str, Tenant] = {}
        self._tenants_checked = 0.0

    # -- lifecycle --------------------------------------------------------------------------

    async def open(self) -> None:
        await anyio.to_thread.run_sync(migrate.upgrade, self.url)
        self._pool = await asyncpg.create_pool(
            self.url.asyncpg_dsn,
            min_size=self._min,
            max_size=self._max,
            command_timeout=60,
            # JIT compilation costs seconds on the large JSON filters of the q-language, which
            # otherwise run in milliseconds.
            server_settings={"jit": "off"},
        )
        await self._load_tenants()

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise ServiceUnavailable("the store is not open")
        return self._pool

    async def health(self) -> dict[str, Any]:
        async with self.pool.acquire() as conn:
            version = await conn.fetchval("SHOW server_version")
            size = await conn.fetchval("SELECT pg_database_size(current_database())")
            tenants = await conn.fetchval("SELECT count(*) FROM tenants")
        return {
            "backend": "postgresql",
            "server_version": version,
            "size_bytes": size,
            "tenants": tenants,
            "pool": {"size": self.pool.get_size(), "idle": self.pool.get_idle_size()},
        }

    # -- tenants ----------------------------------------------------------------------------

    async def _load_tenants(self) -> None:
        rows = await self.pool.fetch("SELECT id, name, settings FROM tenants")
        for r in rows:
            self._tenants[r["name"]] = Tenant(r["id"], r["name"], orjson.loads(r["settings"]))

    async def tenant(self, name: str) -> Tenant | None:
        tenant = self._tenants.get(name)
        now = time.monotonic()
        # Created, or its settings changed, by another server process perhaps: look again, at
        # most every _TENANT_TTL seconds (one caller reloads; the others use the cache).
        if tenant is None or now - self._tenants_checked > _TENANT_TTL:
            self._tenants_checked = now
            await self._load_tenants()
            tenant = self._tenants.get(name)
        return tenant

    async def tenants(self) -> list[Tenant]:
        await self._load_tenants()
        return sorted(self._tenants.values(), key=lambda t: t.name)

    @staticmethod
    async def _tenant_in_txn(conn: asyncpg.Connection, name: str, create: bool) -> Tenant | None:
        row = await conn.fetchrow("SELECT id, settings FROM tenants WHERE name = $1", name)
        if row is not None:
            return Tenant(row["id"], name, orjson.loads(row["settings"]))
        if not create:
            return None
        await conn.execute(
            "INSERT INTO tenants(name, created_at, settings) VALUES ($1, $2, '{}') "
            "ON CONFLICT (name) DO NOTHING",
            name,
            now_us(),
        )
        row = await conn.fetchrow("SELECT id, settings FROM tenants WHERE name = $1", name)
        assert row is not None
        return Tenant(row["id"], name, orjson.loads(row["settings"]))

    async def ensure_tenant(self, name: str) -> Tenant:
        tenant = self._tenants.get(name)
        if tenant is not None:
            return tenant
        async with self.pool.acquire() as conn:
            tenant = await self._tenant_in_txn(conn, name, True)
        assert tenant is not None
        self._tenants[name] = tenant
        return tenant

    async def update_tenant_settings(self, name: str, settings: dict[str, Any]) -> Tenant:
        async with self.pool.acquire() as conn, conn.transaction():
            tenant = await self._tenant_in_txn(conn, name, True)
            assert tenant is not None
            await conn.execute(
                "UPDATE tenants SET settings = $1 WHERE id = $2", _dumps(settings), tenant.id
            )
        updated = Tenant(tenant.id, name, settings)
        self._tenants[name] = updated
        return updated

    # -- writes -----------------------------------------------------------------------------

    async def write(
        self, tenant: str, entity_ids: Sequence[str], planner: Planner, *, create_tenant: bool
    ) -> WritePlan:
        ids = sorted(set(entity_ids))
        for attempt in range(_ATTEMPTS):
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    ten = await self._tenant_in_txn(conn, tenant, create_tenant)
                    if ten is None:
                        raise UnknownTenant(f"tenant {tenant!r} does not exist")
                    current = await self._load(conn, ten.id, ids)
                    plan = planner(ten, current)
                    await self._persist(conn, ten.id, plan)
            except _RETRYABLE:
                if attempt == _ATTEMPTS - 1:
                    raise
                await asyncio.sleep(random.uniform(0, 0.002 * 2**attempt))
                continue
            self._tenants.setdefault(ten.name, ten)
            return plan
        raise AssertionError("unreachable")

    @staticmethod
    async def _load(conn: asyncpg.Connection, tenant_id: int, ids: list[str]) -> dict[str, Entity]:
        if not ids:
            return {}
        rows = await conn.fetch(
            f"SELECT {ENTITY_COLUMNS} FROM entities e WHERE e.tenant_id = $1 "
            "AND e.entity_id = ANY($2::text[]) ORDER BY e.entity_id FOR UPDATE",
            tenant_id,
            ids,
        )
        found = {}
        for row in rows:
            entity = row_to_entity(row)
            found[entity.id] = entity
        return found

    @staticmethod
    async def _persist(conn: asyncpg.Connection, tenant_id: int, plan: WritePlan) -> None:
        inserts = [w for w in plan.writes if w.kind == "insert"]
        updates = [w for w in plan.writes if w.kind == "update"]
        deletes = [w for w in plan.writes if w.kind == "delete"]
        if deletes:
            pks = [w.entity.pk for w in deletes]
            await conn.execute("DELETE FROM entities WHERE pk = ANY($1::bigint[])", pks)
            await conn.execute("DELETE FROM entity_types WHERE entity_pk = ANY($1::bigint[])", pks)
            await conn.execute("DELETE FROM entity_geo WHERE entity_pk = ANY($1::bigint[])", pks)
        type_rows: list[tuple[Any, ...]] = []
        geo_rows: list[tuple[Any, ...]] = []
        if inserts:
            pks = await conn.fetch(
                "SELECT nextval(pg_get_serial_sequence('entities', 'pk')) "
                "FROM generate_series(1, $1)",
                len(inserts),
            )
            rows = []
            for w, pk_row in zip(inserts, pks, strict=True):
                e = w.entity
                e.pk = pk_row[0]
                rows.append(
                    (
                        e.pk,
                        tenant_id,
                        e.id,
                        _dumps(e.types),
                        _dumps(e.scope) if e.scope else None,
                        e.created_at,
                        e.modified_at,
                        e.owner,
                        _dumps(e.attrs),
                    )
                )
                type_rows.extend((tenant_id, t, e.pk) for t in e.types)
                geo_rows.extend((tenant_id, e.pk, *g) for g in w.geo or ())
            await conn.copy_records_to_table(
                "entities",
                records=rows,
                columns=(
                    "pk",
                    "tenant_id",
                    "entity_id",
                    "types",
                    "scope",
                    "created_at",
                    "modified_at",
                    "owner",
                    "data",
                ),
            )
        if updates:
            await conn.executemany(
                "UPDATE entities SET types = $1, scope = $2, modified_at = $3, owner = $4, "
                "data = $5::jsonb WHERE pk = $6",
                [
                    (
                        _dumps(w.entity.types),
                        _dumps(w.entity.scope) if w.entity.scope else None,
                        w.entity.modified_at,
                        w.entity.owner,
                        _dumps(w.entity.attrs),
                        w.entity.pk,
                    )
                    for w in updates
                ],
            )
            retyped = [w.entity.pk for w in updates if w.types_changed]
            if retyped:
                await conn.execute(
                    "DELETE FROM entity_types WHERE entity_pk = ANY($1::bigint[])", retyped
                )
                for w in updates:
                    if w.types_changed:
                        type_rows.extend((tenant_id, t, w.entity.pk) for t in w.entity.types)
            regeo = [w for w in updates if w.geo is not None]
            if regeo:
                await conn.execute(
                    "DELETE FROM entity_geo WHERE entity_pk = ANY($1::bigint[])",
                    [w.entity.pk for w in regeo],
                )
                for w in regeo:
                    geo_rows.extend((tenant_id, w.entity.pk, *g) for g in w.geo or ())
        if type_rows:
            await conn.copy_records_to_table(
                "entity_types", records=type_rows, columns=("tenant_id", "type", "entity_pk")
            )
        if geo_rows:
            await conn.copy_records_to_table(
                "entity_geo",
                records=geo_rows,
                columns=("tenant_id", "entity_pk", "attr", "minx", "miny", "maxx", "maxy"),
            )
        await _insert_batches(conn, plan.batches)
        for sql, args in plan.statements:
            await conn.execute(sql, *args)

    # -- generic access ---------------------------------------------------------------------

    async def fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        rows = await self.pool.fetch(sql, *args)
        return [tuple(r) for r in rows]

    async def execute(self, statements: Sequence[Statement]) -> list[int]:
        counts = []
        async with self.pool.acquire() as conn, conn.transaction():
            for sql, args in statements:
                status = await conn.execute(sql, *args)
                tail = status.rsplit(" ", 1)[-1]
                counts.append(int(tail) if tail.isdigit() else 0)
        return counts

    async def insert_rows(self, batches: Sequence[RowBatch]) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await _insert_batches(conn, batches)

    # -- reads ------------------------------------------------------------------------------

    async def get_entity(self, tenant_id: int, entity_id: str) -> Entity | None:
        row = await self.pool.fetchrow(
            f"SELECT {ENTITY_COLUMNS} FROM entities e WHERE e.tenant_id = $1 AND e.entity_id = $2",
            tenant_id,
            entity_id,
        )
        return row_to_entity(row) if row is not None else None

    async def query(self, tenant_id: int, query: EntityQuery) -> QueryResult:
        select = build_select(self._sql, tenant_id, query)
        async with self.pool.acquire() as conn:

            async def read(pks: list[int]) -> list[Entity]:
                if not pks:
                    return []
                sql, values = by_pks(pks, numbered=True)
                return [row_to_entity(r) for r in await conn.fetch(sql, *values)]

            if select.geo is not None:
                plan = GeoPlan(select, query)
                sql, values = select.geo_candidates()
                matched, unknown = plan.decide(await conn.fetch(sql, *values))
                result, missing, known = plan.result(
                    matched, unknown, await read(plan.to_read(matched, unknown))
                )
                return result if result is not None else plan.finish(known, await read(missing))
            if select.exact:
                count = None
                if query.count:
                    sql, values = select.count()
                    count = await conn.fetchval(sql, *values)
                entities: list[Entity] = []
                if query.limit > 0:
                    sql, values = select.select(query.limit, query.offset)
                    entities = [row_to_entity(r) for r in await conn.fetch(sql, *values)]
                return QueryResult(entities, count)
            sql, values = select.select()
            collector = PageCollector(select.python_checks, query)
            async with conn.transaction():
                async for record in conn.cursor(sql, *values, prefetch=256):
                    if collector.feed(row_to_entity(record)):
                        break
            return collector.result()

    async def types(self, tenant_id: int) -> list[str]:
        rows = await self.pool.fetch(
            "SELECT DISTINCT type FROM entity_types WHERE tenant_id = $1 ORDER BY type", tenant_id
        )
        return [r[0] for r in rows]

    async def type_details(self, tenant_id: int, types: list[str] | None) -> list[TypeInfo]:
        cond = "AND t.type = ANY($2::text[])" if types else ""
        args: list[Any] = [tenant_id, *([types] if types else [])]
        async with self.pool.acquire() as conn:
            counts = await conn.fetch(
                f"SELECT t.type, count(*) FROM entity_types t WHERE t.tenant_id = $1 {cond} "
                "GROUP BY t.type",
                *args,
            )
            infos = {r[0]: TypeInfo(r[0], r[1], {}) for r in counts}
            rows = await conn.fetch(
                "SELECT t.type, j.key, COALESCE(j.value->>'type', j.value->0->>'type') "
                "FROM entity_types t JOIN entities e ON e.pk = t.entity_pk, "
                f"jsonb_each(e.data) j WHERE t.tenant_id = $1 {cond} GROUP BY 1, 2, 3",
                *args,
            )
        for type_iri, attr, kind in rows:
            infos[type_iri].attributes.setdefault(attr, set()).add(kind or "Property")
        return sorted(infos.values(), key=lambda i: i.type)

    async def attribute_details(
        self, tenant_id: int, attrs: list[str] | None
    ) -> list[AttributeInfo]:
        cond = "AND j.key = ANY($2::text[])" if attrs else ""
        args: list[Any] = [tenant_id, *([attrs] if attrs else [])]
        async with self.pool.acquire() as conn:
            counts = await conn.fetch(
                "SELECT j.key, count(*) FROM entities e, jsonb_each(e.data) j "
                f"WHERE e.tenant_id = $1 {cond} GROUP BY j.key",
                *args,
            )
            infos = {r[0]: AttributeInfo(r[0], r[1], set(), set()) for r in counts}
            rows = await conn.fetch(
                "SELECT j.key, t.type, COALESCE(j.value->>'type', j.value->0->>'type') "
                "FROM entity_types t JOIN entities e ON e.pk = t.entity_pk, "
                f"jsonb_each(e.data) j WHERE t.tenant_id = $1 {cond} GROUP BY 1, 2, 3",
                *args,
            )
        for attr, type_iri, kind in rows:
            info = infos[attr]
            info.types.add(type_iri)
            info.attribute_types.add(kind or "Property")
        return sorted(infos.values(), key=lambda i: i.attr)

    # -- contexts ---------------------------------------------------------------------------

    async def context_by_url(self, url: str) -> StoredContext | None:
        row = await self.pool.fetchrow(
            f"SELECT {_CTX_COLUMNS} FROM jsonld_contexts WHERE url = $1", url
        )
        return _context_row(row) if row is not None else None

    async def context_by_id(self, local_id: str) -> StoredContext | None:
        row = await self.pool.fetchrow(
            f"SELECT {_CTX_COLUMNS} FROM jsonld_contexts WHERE local_id = $1", local_id
        )
        return _context_row(row) if row is not None else None

    async def save_context(self, ctx: StoredContext) -> None:
        await self.pool.execute(
            "INSERT INTO jsonld_contexts(local_id, url, kind, body, created_at, last_usage, hits) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (url) DO UPDATE SET "
            "kind = excluded.kind, body = excluded.body",
            ctx.local_id,
            ctx.url,
            ctx.kind,
            _dumps(ctx.body),
            int(ctx.created_at * 1_000_000),
            int(ctx.last_usage * 1_000_000) if ctx.last_usage else None,
            ctx.hits,
        )

    async def contexts(self, kind: str | None = None) -> list[StoredContext]:
        if kind:
            rows = await self.pool.fetch(
                f"SELECT {_CTX_COLUMNS} FROM jsonld_contexts WHERE kind = $1 ORDER BY created_at",
                kind,
            )
        else:
            rows = await self.pool.fetch(
                f"SELECT {_CTX_COLUMNS} FROM jsonld_contexts ORDER BY created_at"
            )
        return [_context_row(r) for r in rows]

    async def delete_context(self, local_id: str) -> bool:
        status = await self.pool.execute(
            "DELETE FROM jsonld_contexts WHERE local_id = $1", local_id
        )
        return status.endswith(" 1")

    async def touch_context(self, local_id: str) -> None:
        await self.pool.execute(
            "UPDATE jsonld_contexts SET hits = hits + 1, last_usage = $1 WHERE local_id = $2",
            now_us(),
            local_id,
        )


async def _insert_batches(conn: asyncpg.Connection, batches: Sequence[RowBatch]) -> None:
    for batch in batches:
        if batch.rows:
            await conn.copy_records_to_table(batch.table, records=batch.rows, columns=batch.columns)


def _context_row(row: Any) -> StoredContext:
    return StoredContext(
        local_id=row["local_id"],
        url=row["url"],
        kind=row["kind"],
        body=orjson.loads(row["body"]),
        created_at=row["created_at"] / 1_000_000,
        last_usage=row["last_usage"] / 1_000_000 if row["last_usage"] else None,
        hits=row["hits"],
    )
