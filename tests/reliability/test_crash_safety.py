"""Crash safety: SIGKILL the server in the middle of sustained concurrent writes, restart it on
the same database, and find every acknowledged write (with its value) and nothing half-written:
entity rows, their type and geometry index rows, their history and their audit rows agree."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from reliability_support import ServerProcess, fetch

from ngsi import BASE, point, prop
from qala.store.urls import DatabaseURL
from qala.temporal.schema import millis

TENANT = "crashtest"
CLIENTS = 6
KILLS = 3
COUNTER = "https://uri.etsi.org/ngsi-ld/default-context/counter"
LOCATION = "https://uri.etsi.org/ngsi-ld/location"
TYPE = "https://uri.etsi.org/ngsi-ld/default-context/Counter"
LAT = 51.13


def lon_of(value: int) -> float:
    """Every write moves the entity: its geometry index row must move in the same commit."""
    return 71.0 + (value % 1000) / 1000


def body(entity_id: str, value: int) -> dict[str, Any]:
    return {
        "id": entity_id,
        "type": "Counter",
        "counter": prop(value),
        "location": point(lon_of(value), LAT),
    }


@dataclass
class Op:
    kind: str  # "create", "update", "batch" (upsert) or "delete"
    value: int | None  # the counter value written; None for a deletion
    acked: bool | None = None  # None while in flight; False: no answer (the server died)
    batch: list[str] | None = None


@dataclass
class Ledger:
    """What the clients asked for and what the server acknowledged, entity by entity."""

    ops: dict[str, list[Op]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)

    def acknowledged(self) -> int:
        return sum(1 for ops in self.ops.values() for op in ops if op.acked)

    def unacked_batches(self) -> list[Op]:
        seen: dict[int, Op] = {}
        for ops in self.ops.values():
            for op in ops:
                if op.kind == "batch" and op.acked is False:
                    seen[id(op)] = op
        return list(seen.values())


class Client:
    """One of the concurrent writers. It owns its entities (so each entity's writes are
    ordered) and never touches an entity again once a write to it went unanswered."""

    def __init__(self, number: int, ledger: Ledger, rng: random.Random) -> None:
        self.number = number
        self.ledger = ledger
        self.rng = rng
        self.live: list[str] = []
        self.value = 0
        self.made = 0

    def _new_id(self) -> str:
        self.made += 1
        return f"urn:ngsi-ld:Counter:c{self.number}-{self.made}"

    def _next(self) -> int:
        self.value += 1
        return self.value

    async def run(self, server: ServerProcess, stop: asyncio.Event) -> None:
        headers = {**server.headers, "NGSILD-Tenant": TENANT}
        async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=10) as http:
            while not stop.is_set():
                await self.step(http)

    async def step(self, http: httpx.AsyncClient) -> None:
        roll = self.rng.random()
        if roll < 0.25 or len(self.live) < 3:
            entity_id = self._new_id()
            op = Op("create", self._next())
            ops = {entity_id: op}
            request = http.post(f"{BASE}/entities", json=body(entity_id, op.value or 0))
            expected: tuple[int, ...] = (201,)
        elif roll < 0.45:
            ids = [*self.rng.sample(self.live, min(2, len(self.live))), self._new_id()]
            value = self._next()
            op = Op("batch", value, batch=ids)
            ops = dict.fromkeys(ids, op)
            request = http.post(
                f"{BASE}/entityOperations/upsert", json=[body(i, value) for i in ids]
            )
            expected = (201,)
        elif roll < 0.9:
            entity_id = self.rng.choice(self.live)
            op = Op("update", self._next())
            ops = {entity_id: op}
            value = op.value or 0
            request = http.patch(
                f"{BASE}/entities/{entity_id}/attrs",
                json={"counter": prop(value), "location": point(lon_of(value), LAT)},
            )
            expected = (204,)
        else:
            entity_id = self.rng.choice(self.live)
            op = Op("delete", None)
            ops = {entity_id: op}
            request = http.delete(f"{BASE}/entities/{entity_id}")
            expected = (204,)
        for entity_id, entity_op in ops.items():
            self.ledger.ops[entity_id].append(entity_op)
        try:
            response = await request
        except httpx.TransportError:
            op.acked = False  # the server is gone: maybe written, maybe not
            self.live = [i for i in self.live if i not in ops]
            await asyncio.sleep(0.02)
            return
        if response.status_code not in expected:
            op.acked = False
            self.live = [i for i in self.live if i not in ops]
            self.ledger.errors.append(
                f"{op.kind} {list(ops)}: {response.status_code} {response.text[:300]}"
            )
            return
        op.acked = True
        if op.kind == "delete":
            self.live = [i for i in self.live if i not in ops]
        else:
            self.live.extend(i for i in ops if i not in self.live)


async def _stream_then_kill(
    server: ServerProcess, clients: list[Client], rng: random.Random
) -> None:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(c.run(server, stop)) for c in clients]
    # Kill once the round has written enough to judge (at least 60 acknowledged writes, on
    # a busy machine however long that takes), at a random moment after that.
    ledger = clients[0].ledger
    wanted = ledger.acknowledged() + 60
    deadline = asyncio.get_running_loop().time() + 120
    while ledger.acknowledged() < wanted and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(rng.uniform(0.0, 1.2))
    server.kill()  # mid-stream: every client has a request in flight or about to be
    stop.set()
    await asyncio.gather(*tasks)


# -- what the database must show ----------------------------------------------------------------


@dataclass
class Tables:
    entities: dict[str, tuple[int, list[str], dict[str, Any], int]]  # id -> pk, types, data, mod
    types: dict[int, set[str]]
    geo: dict[int, list[tuple[Any, ...]]]
    audit: dict[str, list[tuple[int, str]]]  # entity -> (at, change)
    history: dict[str, list[tuple[int, float]]]  # entity -> (created_at, counter value)
    deletions: dict[str, list[int]]  # entity -> times of deletion events
    rtree_ids: set[int] | None
    geo_ids: set[int]


def read_tables(database_url: str) -> Tables:
    tid = fetch(database_url, "SELECT id FROM tenants WHERE name = $1", TENANT)[0][0]
    entities = {}
    for pk, entity_id, types, data, modified_at in fetch(
        database_url,
        "SELECT pk, entity_id, types, data, modified_at FROM entities WHERE tenant_id = $1",
        tid,
    ):
        entities[entity_id] = (pk, orjson.loads(types), orjson.loads(data), modified_at)
    types: dict[int, set[str]] = defaultdict(set)
    for pk, type_iri in fetch(
        database_url, "SELECT entity_pk, type FROM entity_types WHERE tenant_id = $1", tid
    ):
        types[pk].add(type_iri)
    geo: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    geo_ids = set()
    for geo_id, pk, attr, minx, miny, maxx, maxy in fetch(
        database_url,
        "SELECT id, entity_pk, attr, minx, miny, maxx, maxy FROM entity_geo WHERE tenant_id = $1",
        tid,
    ):
        geo[pk].append((attr, minx, miny, maxx, maxy))
        geo_ids.add(geo_id)
    audit: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for entity_id, at, change in fetch(
        database_url,
        "SELECT entity_id, at, change FROM audit_log WHERE tenant = $1 AND change IS NOT NULL",
        TENANT,
    ):
        audit[entity_id].append((at, change))
    history: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for entity_id, created_at, num in fetch(
        database_url,
        "SELECT s.entity_id, i.created_at, i.num FROM temporal_instances i "
        "JOIN (SELECT DISTINCT sid, entity_id FROM temporal_series "
        "WHERE tenant_id = $1 AND attr = $2) s ON s.sid = i.sid WHERE i.num IS NOT NULL",
        tid,
        COUNTER,
    ):
        history[entity_id].append((created_at, num))
    deletions: dict[str, list[int]] = defaultdict(list)
    for entity_id, at in fetch(
        database_url,
        "SELECT entity_id, at FROM temporal_entities WHERE tenant_id = $1 AND deleted = 1",
        tid,
    ):
        deletions[entity_id].append(at)
    rtree_ids = None
    if DatabaseURL(database_url).is_sqlite:
        rtree_ids = {r[0] for r in fetch(database_url, "SELECT id FROM entity_geo_rtree")}
        geo_ids = {r[0] for r in fetch(database_url, "SELECT id FROM entity_geo")}
    return Tables(entities, types, geo, audit, history, deletions, rtree_ids, geo_ids)


def counter_of(data: dict[str, Any]) -> int:
    return int(data[COUNTER]["value"])


def check_acknowledged(ledger: Ledger, t: Tables) -> int:
    """Every entity is in the state of its last acknowledged write, or of the one write after
    it that got no answer; an unanswered batch is all there or all absent. Returns how many
    writes were acknowledged."""
    acked = 0
    for entity_id, ops in ledger.ops.items():
        done = [op for op in ops if op.acked]
        acked += len(done)
        last = done[-1] if done else None
        after = ops[ops.index(last) + 1 :] if last else ops
        assert len(after) <= 1, f"{entity_id} was written again after a lost answer"
        assert all(op.acked is False for op in after), (entity_id, after)
        allowed = {last.value if last else None} | {op.value for op in after}
        row = t.entities.get(entity_id)
        actual = counter_of(row[2]) if row else None
        assert actual in allowed, (
            f"{entity_id}: stored {actual}, but the last acknowledged write left "
            f"{last.value if last else 'nothing'} (unanswered after it: "
            f"{[op.value for op in after]})"
        )
    for op in ledger.unacked_batches():
        assert op.batch is not None
        applied = [
            i for i in op.batch if i in t.entities and counter_of(t.entities[i][2]) == op.value
        ]
        assert applied in ([], op.batch), f"batch {op.value} is half written: {applied}"
    return acked


def check_history_and_audit(ledger: Ledger, t: Tables) -> None:
    """The history and the audit log hold each committed write exactly once, in order, and
    agree with each other and with the entity rows."""
    for entity_id, ops in ledger.ops.items():
        written = sorted(t.history.get(entity_id, []))
        values = [int(num) for _, num in written]
        assert values == sorted(values), f"{entity_id}: history goes backwards: {written}"
        acked = {op.value for op in ops if op.acked and op.value is not None}
        tried = {op.value for op in ops if op.value is not None}
        assert acked <= set(values) <= tried, (entity_id, acked, values, tried)
        assert len(values) == len(set(values)), f"{entity_id}: a write recorded twice"
        audit = sorted(t.audit.get(entity_id, []))
        changes = [at for at, change in audit if change != "delete"]
        deletes = [at for at, change in audit if change == "delete"]
        assert [millis(at) for at in changes] == [c for c, _ in written], (
            f"{entity_id}: audit rows {audit} and history {written} disagree"
        )
        assert [millis(at) for at in deletes] == sorted(t.deletions.get(entity_id, [])), entity_id
        row = t.entities.get(entity_id)
        if row is None:
            assert not written or len(deletes) == 1, f"{entity_id} vanished without a deletion"
            continue
        assert not deletes, f"{entity_id} is stored but its deletion was recorded"
        assert counter_of(row[2]) == values[-1], (entity_id, row[2], values)
        assert row[3] == changes[-1], f"{entity_id}: modified_at has no audit row"


def check_indexes(t: Tables) -> None:
    """Type and geometry index rows match the entity rows exactly; none is left over."""
    pks = {row[0] for row in t.entities.values()}
    assert set(t.types) <= pks, f"type rows of missing entities: {set(t.types) - pks}"
    assert set(t.geo) <= pks, f"geometry rows of missing entities: {set(t.geo) - pks}"
    for entity_id, (pk, types, data, _) in t.entities.items():
        assert t.types[pk] == set(types) == {TYPE}, entity_id
        lon, lat = data[LOCATION]["value"]["coordinates"]
        assert t.geo[pk] == [(LOCATION, lon, lat, lon, lat)], (entity_id, t.geo[pk], lon, lat)
        assert lon == lon_of(counter_of(data)), entity_id
    if t.rtree_ids is not None:
        assert t.rtree_ids == t.geo_ids, "the R*Tree and entity_geo disagree"


def check_served(server: ServerProcess, t: Tables) -> None:
    headers = {**server.headers, "NGSILD-Tenant": TENANT}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
        response = http.get(
            f"{BASE}/entities", params={"type": "Counter", "count": "true", "limit": 0}
        )
        assert response.status_code == 200, response.text
        assert int(response.headers["NGSILD-Results-Count"]) == len(t.entities)
        for entity_id in sorted(t.entities)[:20]:
            got = http.get(f"{BASE}/entities/{entity_id}", params={"options": "keyValues"})
            assert got.status_code == 200, got.text
            assert got.json()["counter"] == counter_of(t.entities[entity_id][2])


def test_killed_servers_keep_every_acknowledged_write_and_nothing_half_written(
    server: ServerProcess,
) -> None:
    rng = random.Random()
    seed = rng.randrange(1 << 30)
    rng.seed(seed)
    ledger = Ledger()
    clients = [Client(n, ledger, random.Random(seed + n)) for n in range(CLIENTS)]
    server.start()
    acknowledged = 0
    for kill in range(KILLS):
        asyncio.run(_stream_then_kill(server, clients, rng))
        assert not ledger.errors, f"seed {seed}: writes refused: {ledger.errors[:5]}"
        server.start()  # on the same database, after the crash
        tables = read_tables(server.database_url)
        count = check_acknowledged(ledger, tables)
        assert count > acknowledged + 50, f"seed {seed}: round {kill} wrote too little"
        acknowledged = count
        check_history_and_audit(ledger, tables)
        check_indexes(tables)
        check_served(server, tables)
    lost = sum(1 for ops in ledger.ops.values() for op in ops if op.acked is False)
    assert lost > 0, "no write was in flight when the server died: the kill proved nothing"
