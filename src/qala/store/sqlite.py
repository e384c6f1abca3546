"""The embedded store: one SQLite file in WAL mode.

* Writes run on one writer thread that owns the only writing connection. Jobs that arrive while
  a transaction is being written are committed together (group commit), each inside its own
  SAVEPOINT so that one failing job never affects another. With ``synchronous=FULL`` a commit is
  on disk before any caller is answered.
* Point reads by entity id run inline on the event loop: a single index probe that never waits
  on a lock in WAL mode (a handful of microseconds), cheaper than a thread hop.
* Everything else (queries, discovery, scans) runs on a small pool of reader threads, each with
  its own connection, so the event loop never waits on the database.
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import anyio
import orjson

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
from qala.store.sqlite_writer import Checkpointer, Writer, connect, writer_connection
from qala.store.urls import DatabaseURL

T = TypeVar("T")
_CHUNK = 500
#: Seconds a cached tenant (its settings: access policy, validation) is trusted.
_TENANT_TTL = 1.0


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


class SQLiteStore(Store):
    dialect = "sqlite"

    def __init__(self, url: DatabaseURL, *, synchronous: str = "FULL", readers: int = 2) -> None:
        self.url = url
        self.path = url.sqlite_path
        self.synchronous = synchronous
        self._readers = readers
        self._sql = EntitySQL("sqlite")
        self._tenants: dict[str, Tenant] = {}
        self._tenants_checked = 0.0
        self._local = threading.local()
        #: Every reader connection opened (one per reader thread), closed with the store: a
        #: connection left to the garbage collector keeps its file open until a collection
        #: that may never come (``gc.freeze`` at start-up).
        self._reader_conns: list[sqlite3.Connection] = []
        self._reader_lock = threading.Lock()
        self._writer: Writer | None = None
        self._checkpointer: Checkpointer | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._inline: sqlite3.Connection | None = None

    # -- lifecycle --------------------------------------------------------------------------

    async def open(self) -> None:
        parent = Path(self.path).resolve().parent
        parent.mkdir(parents=True, exist_ok=True)
        await anyio.to_thread.run_sync(migrate.upgrade, self.url)
        self._writer = Writer(lambda: writer_connection(self.path, self.synchronous))
        self._writer.start_and_wait()
        self._checkpointer = Checkpointer(self.path, self.synchronous)
        self._checkpointer.start()
        self._pool = ThreadPoolExecutor(self._readers, thread_name_prefix="qala-sqlite-reader")
        self._inline = connect(self.path, self.synchronous)
        self._inline.execute("PRAGMA query_only=1")
        await self._load_tenants()

    async def close(self) -> None:
        if self._writer is not None:
            await anyio.to_thread.run_sync(self._writer.stop)
            self._writer = None
        if self._checkpointer is not None:
            await anyio.to_thread.run_sync(self._checkpointer.stop)
            self._checkpointer = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        with self._reader_lock:
            conns, self._reader_conns = self._reader_conns, []
        for conn in conns:
            conn.close()
        self._local = threading.local()
        if self._inline is not None:
            self._inline.close()
            self._inline = None

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, self.synchronous)
            conn.execute("PRAGMA query_only=1")
            self._local.conn = conn
            with self._reader_lock:
                self._reader_conns.append(conn)
        return conn

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        assert self._pool is not None, "store is not open"
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(self._reader()))

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        assert self._writer is not None, "store is not open"
        return await self._writer.submit(fn)

    async def health(self) -> dict[str, Any]:
        def probe(conn: sqlite3.Connection) -> dict[str, Any]:
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            count = conn.execute("SELECT count(*) FROM tenants").fetchone()[0]
            return {"journal_mode": mode, "tenants": count}

        info = await self._read(probe)
        size = os.path.getsize(self.path) if os.path.exists(self.path) else 0
        return {
            "backend": "sqlite",
            "path": str(Path(self.path).resolve()),
            "sqlite_version": sqlite3.sqlite_version,
            "size_bytes": size,
            **info,
        }

    # -- tenants ----------------------------------------------------------------------------

    async def _load_tenants(self) -> None:
        def load(conn: sqlite3.Connection) -> list[Tenant]:
            rows = conn.execute("SELECT id, name, settings FROM tenants").fetchall()
            return [Tenant(r[0], r[1], orjson.loads(r[2])) for r in rows]

        for tenant in await self._read(load):
            self._tenants[tenant.name] = tenant

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

    def _tenant_in_txn(self, conn: sqlite3.Connection, name: str, create: bool) -> Tenant | None:
        row = conn.execute("SELECT id, settings FROM tenants WHERE name = ?", (name,)).fetchone()
        if row is not None:
            return Tenant(row[0], name, orjson.loads(row[1]))
        if not create:
            return None
        cur = conn.execute(
            "INSERT INTO tenants(name, created_at, settings) VALUES (?, ?, '{}')", (name, now_us())
        )
        assert cur.lastrowid is not None
        return Tenant(cur.lastrowid, name, {})

    async def ensure_tenant(self, name: str) -> Tenant:
        tenant = self._tenants.get(name)
        if tenant is not None:
            return tenant
        tenant = await self._write(lambda conn: self._tenant_in_txn(conn, name, True))
        assert tenant is not None
        self._tenants[name] = tenant
        return tenant

    async def update_tenant_settings(self, name: str, settings: dict[str, Any]) -> Tenant:
        def job(conn: sqlite3.Connection) -> Tenant:
            tenant = self._tenant_in_txn(conn, name, True)
            assert tenant is not None
            conn.execute(
                "UPDATE tenants SET settings = ? WHERE id = ?", (_dumps(settings), tenant.id)
            )
            return Tenant(tenant.id, name, settings)

        tenant = await self._write(job)
        self._tenants[name] = tenant
        return tenant

    # -- writes -----------------------------------------------------------------------------

    async def write(
        self, tenant: str, entity_ids: Sequence[str], planner: Planner, *, create_tenant: bool
    ) -> WritePlan:
        ids = list(dict.fromkeys(entity_ids))

        def job(conn: sqlite3.Connection) -> tuple[Tenant | None, WritePlan | None]:
            ten = self._tenant_in_txn(conn, tenant, create_tenant)
            if ten is None:
                return None, None
            current = self._load(conn, ten.id, ids)
            plan = planner(ten, current)
            self._persist(conn, ten.id, plan)
            return ten, plan

        ten, plan = await self._write(job)
        if ten is None or plan is None:
            from qala.hub.errors import UnknownTenant

            raise UnknownTenant(f"tenant {tenant!r} does not exist")
        self._tenants.setdefault(ten.name, ten)
        return plan

    @staticmethod
    def _load(conn: sqlite3.Connection, tenant_id: int, ids: list[str]) -> dict[str, Entity]:
        found: dict[str, Entity] = {}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(
                f"SELECT {ENTITY_COLUMNS} FROM entities e "
                f"WHERE e.tenant_id = ? AND e.entity_id IN ({marks})",
                (tenant_id, *chunk),
            ).fetchall()
            for row in rows:
                entity = row_to_entity(row)
                found[entity.id] = entity
        return found

    @staticmethod
    def _persist(conn: sqlite3.Connection, tenant_id: int, plan: WritePlan) -> None:
        inserts = [w for w in plan.writes if w.kind == "insert"]
        updates = [w for w in plan.writes if w.kind == "update"]
        deletes = [w for w in plan.writes if w.kind == "delete"]
        if deletes:
            pks = [(w.entity.pk,) for w in deletes]
            conn.executemany("DELETE FROM entities WHERE pk = ?", pks)
            conn.executemany("DELETE FROM entity_types WHERE entity_pk = ?", pks)
            conn.executemany("DELETE FROM entity_geo WHERE entity_pk = ?", pks)
        type_rows: list[tuple[int, str, int]] = []
        geo_rows: list[tuple[Any, ...]] = []
        if inserts:
            next_pk = (conn.execute("SELECT max(pk) FROM entities").fetchone()[0] or 0) + 1
            rows = []
            for w in inserts:
                e = w.entity
                e.pk = next_pk
                next_pk += 1
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
            conn.executemany(
                "INSERT INTO entities(pk, tenant_id, entity_id, types, scope, created_at, "
                "modified_at, owner, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        if updates:
            conn.executemany(
                "UPDATE entities SET types = ?, scope = ?, modified_at = ?, owner = ?, data = ? "
                "WHERE pk = ?",
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
            retyped = [w for w in updates if w.types_changed]
            if retyped:
                conn.executemany(
                    "DELETE FROM entity_types WHERE entity_pk = ?",
                    [(w.entity.pk,) for w in retyped],
                )
                for w in retyped:
                    type_rows.extend((tenant_id, t, w.entity.pk) for t in w.entity.types)
            regeo = [w for w in updates if w.geo is not None]
            if regeo:
                conn.executemany(
                    "DELETE FROM entity_geo WHERE entity_pk = ?", [(w.entity.pk,) for w in regeo]
                )
                for w in regeo:
                    geo_rows.extend((tenant_id, w.entity.pk, *g) for g in w.geo or ())
        if type_rows:
            conn.executemany(
                "INSERT INTO entity_types(tenant_id, type, entity_pk) VALUES (?, ?, ?)", type_rows
            )
        if geo_rows:
            conn.executemany(
                "INSERT INTO entity_geo(tenant_id, entity_pk, attr, minx, miny, maxx, maxy) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                geo_rows,
            )
        _insert_batches(conn, plan.batches)
        for sql, args in plan.statements:
            conn.execute(numbered(sql), tuple(args))

    # -- generic access ---------------------------------------------------------------------

    async def fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        text = numbered(sql)
        return await self._read(lambda conn: conn.execute(text, args).fetchall())

    async def execute(self, statements: Sequence[Statement]) -> list[int]:
        prepared = [(numbered(sql), tuple(args)) for sql, args in statements]

        def job(conn: sqlite3.Connection) -> list[int]:
            return [conn.execute(sql, args).rowcount for sql, args in prepared]

        return await self._write(job)

    async def insert_rows(self, batches: Sequence[RowBatch]) -> None:
        await self._write(lambda conn: _insert_batches(conn, batches))

    # -- reads ------------------------------------------------------------------------------

    async def get_entity(self, tenant_id: int, entity_id: str) -> Entity | None:
        assert self._inline is not None, "store is not open"
        row = self._inline.execute(
            f"SELECT {ENTITY_COLUMNS} FROM entities e WHERE e.tenant_id = ? AND e.entity_id = ?",
            (tenant_id, entity_id),
        ).fetchone()
        return row_to_entity(row) if row is not None else None

    async def query(self, tenant_id: int, query: EntityQuery) -> QueryResult:
        select = build_select(self._sql, tenant_id, query)

        def read(conn: sqlite3.Connection, pks: list[int]) -> list[Entity]:
            found: list[Entity] = []
            for start in range(0, len(pks), _CHUNK):
                sql, values = by_pks(pks[start : start + _CHUNK], numbered=False)
                found.extend(row_to_entity(r) for r in conn.execute(sql, values))
            return found

        def run(conn: sqlite3.Connection) -> QueryResult:
            if select.geo is not None:
                plan = GeoPlan(select, query)
                sql, values = select.geo_candidates()
                matched, unknown = plan.decide(conn.execute(sql, values).fetchall())
                result, missing, known = plan.result(
                    matched, unknown, read(conn, plan.to_read(matched, unknown))
                )
                return result if result is not None else plan.finish(known, read(conn, missing))
            if select.exact:
                count = None
                if query.count:
                    sql, values = select.count()
                    count = conn.execute(sql, values).fetchone()[0]
                entities: list[Entity] = []
                if query.limit > 0:
                    sql, values = select.select(query.limit, query.offset)
                    entities = [row_to_entity(r) for r in conn.execute(sql, values)]
                return QueryResult(entities, count)
            sql, values = select.select()
            collector = PageCollector(select.python_checks, query)
            for row in _rows(conn.execute(sql, values)):
                if collector.feed(row_to_entity(row)):
                    break
            return collector.result()

        return await self._read(run)

    async def types(self, tenant_id: int) -> list[str]:
        def run(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                "SELECT DISTINCT type FROM entity_types WHERE tenant_id = ? ORDER BY type",
                (tenant_id,),
            )
            return [r[0] for r in rows]

        return await self._read(run)

    async def type_details(self, tenant_id: int, types: list[str] | None) -> list[TypeInfo]:
        def run(conn: sqlite3.Connection) -> list[TypeInfo]:
            cond, values = _in_clause("t.type", types)
            counts = conn.execute(
                f"SELECT t.type, count(*) FROM entity_types t WHERE t.tenant_id = ? {cond} "
                "GROUP BY t.type",
                (tenant_id, *values),
            ).fetchall()
            infos = {name: TypeInfo(name, n, {}) for name, n in counts}
            rows = conn.execute(
                "SELECT t.type, j.key, COALESCE(json_extract(j.value, '$.type'), "
                "json_extract(j.value, '$[0].type')) FROM entity_types t "
                "JOIN entities e ON e.pk = t.entity_pk, json_each(e.data) j "
                f"WHERE t.tenant_id = ? {cond} GROUP BY 1, 2, 3",
                (tenant_id, *values),
            )
            for type_iri, attr, kind in rows:
                infos[type_iri].attributes.setdefault(attr, set()).add(kind or "Property")
            return sorted(infos.values(), key=lambda i: i.type)

        return await self._read(run)

    async def attribute_details(
        self, tenant_id: int, attrs: list[str] | None
    ) -> list[AttributeInfo]:
        def run(conn: sqlite3.Connection) -> list[AttributeInfo]:
            cond, values = _in_clause("j.key", attrs)
            infos: dict[str, AttributeInfo] = {}
            for attr, n in conn.execute(
                "SELECT j.key, count(*) FROM entities e, json_each(e.data) j "
                f"WHERE e.tenant_id = ? {cond} GROUP BY j.key",
                (tenant_id, *values),
            ):
                infos[attr] = AttributeInfo(attr, n, set(), set())
            for attr, type_iri, kind in conn.execute(
                "SELECT j.key, t.type, COALESCE(json_extract(j.value, '$.type'), "
                "json_extract(j.value, '$[0].type')) FROM entity_types t "
                "JOIN entities e ON e.pk = t.entity_pk, json_each(e.data) j "
                f"WHERE t.tenant_id = ? {cond} GROUP BY 1, 2, 3",
                (tenant_id, *values),
            ):
                info = infos[attr]
                info.types.add(type_iri)
                info.attribute_types.add(kind or "Property")
            return sorted(infos.values(), key=lambda i: i.attr)

        return await self._read(run)

    # -- contexts ---------------------------------------------------------------------------

    _CTX_COLUMNS = "local_id, url, kind, body, created_at, last_usage, hits"

    async def context_by_url(self, url: str) -> StoredContext | None:
        return await self._read(
            lambda conn: _one_context(
                conn.execute(
                    f"SELECT {self._CTX_COLUMNS} FROM jsonld_contexts WHERE url = ?", (url,)
                )
            )
        )

    async def context_by_id(self, local_id: str) -> StoredContext | None:
        return await self._read(
            lambda conn: _one_context(
                conn.execute(
                    f"SELECT {self._CTX_COLUMNS} FROM jsonld_contexts WHERE local_id = ?",
                    (local_id,),
                )
            )
        )

    async def save_context(self, ctx: StoredContext) -> None:
        row = (
            ctx.local_id,
            ctx.url,
            ctx.kind,
            _dumps(ctx.body),
            int(ctx.created_at * 1_000_000),
            int(ctx.last_usage * 1_000_000) if ctx.last_usage else None,
            ctx.hits,
        )
        await self._write(
            lambda conn: conn.execute(
                "INSERT INTO jsonld_contexts(local_id, url, kind, body, created_at, last_usage, "
                "hits) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(url) DO UPDATE SET "
                "kind = excluded.kind, body = excluded.body",
                row,
            )
        )

    async def contexts(self, kind: str | None = None) -> list[StoredContext]:
        def run(conn: sqlite3.Connection) -> list[StoredContext]:
            sql = f"SELECT {self._CTX_COLUMNS} FROM jsonld_contexts"
            rows = (
                conn.execute(sql + " WHERE kind = ? ORDER BY created_at", (kind,))
                if kind
                else conn.execute(sql + " ORDER BY created_at")
            )
            return [_context_row(r) for r in rows]

        return await self._read(run)

    async def delete_context(self, local_id: str) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            cur = conn.execute("DELETE FROM jsonld_contexts WHERE local_id = ?", (local_id,))
            return cur.rowcount > 0

        return await self._write(job)

    async def touch_context(self, local_id: str) -> None:
        stamp = now_us()
        await self._write(
            lambda conn: conn.execute(
                "UPDATE jsonld_contexts SET hits = hits + 1, last_usage = ? WHERE local_id = ?",
                (stamp, local_id),
            )
        )


def _rows(cursor: sqlite3.Cursor) -> Iterable[Sequence[Any]]:
    while True:
        rows = cursor.fetchmany(256)
        if not rows:
            return
        yield from rows


_DOLLAR = re.compile(r"\$(\d+)")


def numbered(sql: str) -> str:
    """``$1`` placeholders (the capabilities' SQL) as SQLite's ``?1``."""
    return _DOLLAR.sub(r"?\1", sql)


def _insert_batches(conn: sqlite3.Connection, batches: Sequence[RowBatch]) -> None:
    for batch in batches:
        if batch.rows:
            cols = ", ".join(batch.columns)
            marks = ", ".join("?" * len(batch.columns))
            conn.executemany(f"INSERT INTO {batch.table}({cols}) VALUES ({marks})", batch.rows)


def _in_clause(column: str, values: list[str] | None) -> tuple[str, list[str]]:
    if not values:
        return "", []
    return f"AND {column} IN ({','.join('?' * len(values))})", list(values)


def _context_row(row: Sequence[Any]) -> StoredContext:
    local_id, url, kind, body, created_at, last_usage, hits = row
    return StoredContext(
        local_id=local_id,
        url=url,
        kind=kind,
        body=orjson.loads(body),
        created_at=created_at / 1_000_000,
        last_usage=last_usage / 1_000_000 if last_usage else None,
        hits=hits,
    )


def _one_context(cursor: sqlite3.Cursor) -> StoredContext | None:
    row = cursor.fetchone()
    return _context_row(row) if row is not None else None
