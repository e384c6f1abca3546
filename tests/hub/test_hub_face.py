"""The hub's public face, driven directly (no HTTP), on SQLite and on PostgreSQL.

What every capability relies on: a write reaches every participant inside its transaction and
their rows commit with it; a write that fails anywhere — in the writer's own function, in a
validator, in a participant — leaves nothing behind; named operations stamp, validate and
record changes; reads apply the access rule.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from qala.config import Settings
from qala.hub import (
    Actor,
    AlreadyExists,
    BadRequestData,
    Change,
    Entity,
    Forbidden,
    Hub,
    NotFound,
    RowBatch,
    Tenant,
    Transaction,
    WriteContext,
    access,
)
from qala.jsonld.resolver import ContextResolver
from qala.ngsild.filters import q_filter
from qala.store import open_store

T = TypeVar("T")

SPEED = "https://example.org/speed"
STATUS = "https://example.org/status"
CAR = "https://example.org/Car"
LAMP = "https://example.org/Streetlight"
ADMIN = Actor(id="admin-1", role="admin")


class Spy:
    """A participant writing one row per change into a table of its own (``hub_spy``) and
    noting what it saw and what was committed."""

    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.seen: list[list[Change]] = []
        self.committed: list[list[str]] = []

    def rows_for(self, tenant: Tenant, changes: list[Change], ctx: WriteContext) -> list[RowBatch]:
        self.seen.append(list(changes))
        if self.fail:
            raise RuntimeError("participant failed")
        return [
            RowBatch(
                "hub_spy",
                ("tenant_id", "entity_id", "kind", "operation"),
                [(tenant.id, c.entity_id, c.kind, ctx.operation) for c in changes],
            )
        ]

    async def after_commit(self, tenant: Tenant, changes: list[Change], ctx: WriteContext) -> None:
        self.committed.append([c.entity_id for c in changes])


def car(n: int, speed: float = 50.0) -> Entity:
    return Entity(
        id=f"urn:ngsi-ld:Car:{n}",
        types=[CAR],
        attrs={SPEED: {"type": "Property", "value": speed}},
    )


def run(settings: Settings, scenario: Callable[[Hub, Any], Awaitable[T]]) -> T:
    """Run ``scenario(hub, store)`` on a fresh store with a spy table."""

    async def main() -> T:
        store = open_store(settings)
        await store.open()
        try:
            await store.execute(
                [
                    (
                        "CREATE TABLE IF NOT EXISTS hub_spy (tenant_id INTEGER, entity_id TEXT, "
                        "kind TEXT, operation TEXT)",
                        [],
                    ),
                    ("DELETE FROM hub_spy", []),
                ]
            )
            return await scenario(Hub(store), store)
        finally:
            # The spy table is the test's own: a store shared with later tests (PostgreSQL's
            # per-worker database) must not keep it, or a backup of that store would carry it.
            await store.execute([("DROP TABLE IF EXISTS hub_spy", [])])
            await store.close()

    return asyncio.run(main())


async def spy_rows(store: Any) -> list[tuple[Any, ...]]:
    return await store.fetch("SELECT entity_id, kind, operation FROM hub_spy ORDER BY entity_id")


def test_a_write_reaches_every_participant_inside_its_transaction(settings: Settings) -> None:
    async def scenario(hub: Hub, store: Any) -> None:
        first, second = Spy(), Spy()
        hub.add_participant(first)
        hub.add_participant(second)
        await hub.batch_create("astana", [car(1), car(2)], ADMIN)
        assert [[c.entity_id for c in changes] for changes in first.seen] == [
            ["urn:ngsi-ld:Car:1", "urn:ngsi-ld:Car:2"]
        ]
        assert first.committed == second.committed == [["urn:ngsi-ld:Car:1", "urn:ngsi-ld:Car:2"]]
        # both participants' rows are in the store, written with the entities
        assert await spy_rows(store) == [
            ("urn:ngsi-ld:Car:1", "create", "batch.create"),
            ("urn:ngsi-ld:Car:1", "create", "batch.create"),
            ("urn:ngsi-ld:Car:2", "create", "batch.create"),
            ("urn:ngsi-ld:Car:2", "create", "batch.create"),
        ]

    run(settings, scenario)


def test_a_failing_writer_leaves_nothing(settings: Settings) -> None:
    async def scenario(hub: Hub, store: Any) -> None:
        spy = Spy()
        hub.add_participant(spy)

        def body(tx: Transaction) -> None:
            tx.create(car(1))
            tx.create(car(2))
            raise BadRequestData("the writer changed its mind")

        with pytest.raises(BadRequestData):
            await hub.transact(
                "astana", ADMIN, operation="test.fail", entity_ids=[car(1).id, car(2).id], body=body
            )
        assert await spy_rows(store) == []
        assert spy.committed == []
        assert await store.tenant("astana") is None  # not even the tenant the write created

    run(settings, scenario)


def test_a_failing_participant_leaves_nothing(settings: Settings) -> None:
    async def scenario(hub: Hub, store: Any) -> None:
        good, bad = Spy(), Spy(fail=True)
        hub.add_participant(good)
        hub.add_participant(bad)
        with pytest.raises(RuntimeError):
            await hub.create_entity("astana", car(1), ADMIN)
        assert await spy_rows(store) == []
        assert good.committed == []
        await store.ensure_tenant("astana")
        with pytest.raises(NotFound):
            await hub.get_entity("astana", car(1).id, ADMIN)

    run(settings, scenario)


def test_a_validator_refusal_leaves_nothing_and_names_the_reason(settings: Settings) -> None:
    async def scenario(hub: Hub, store: Any) -> None:
        def no_negative_speed(tenant: Tenant, entity: Entity) -> None:
            for instance in entity.instances(SPEED):
                if instance.get("value", 0) < 0:
                    raise BadRequestData(f"{entity.id}: speed cannot be negative")

        hub.add_validator(no_negative_speed)
        hub.add_participant(Spy())
        await hub.create_entity("astana", car(1), ADMIN)
        with pytest.raises(BadRequestData, match="speed cannot be negative"):
            await hub.transact(
                "astana",
                ADMIN,
                operation="test.update",
                entity_ids=[car(1).id],
                body=lambda tx: tx.update(
                    car(1).id, attrs={SPEED: {"type": "Property", "value": -3}}
                ),
            )
        stored = await hub.get_entity("astana", car(1).id, ADMIN)
        assert stored.attrs[SPEED]["value"] == 50.0
        assert await spy_rows(store) == [("urn:ngsi-ld:Car:1", "create", "entity.create")]

    run(settings, scenario)


def test_named_operations_stamp_times_and_record_what_changed(settings: Settings) -> None:
    async def scenario(hub: Hub, store: Any) -> None:
        spy = Spy()
        hub.add_participant(spy)
        created = await hub.create_entity("astana", car(1), ADMIN)
        assert created.owner == "admin-1"
        assert created.created_at == created.modified_at > 0
        stamp = created.attrs[SPEED]["createdAt"]
        assert created.attrs[SPEED]["modifiedAt"] == stamp

        def body(tx: Transaction) -> Change | None:
            return tx.update(
                car(1).id,
                attrs={
                    SPEED: {"type": "Property", "value": 61.5},
                    STATUS: {"type": "Property", "value": "moving"},
                },
                types=["https://example.org/Vehicle"],
            )

        change = await hub.transact(
            "astana", ADMIN, operation="test.update", entity_ids=[car(1).id], body=body
        )
        assert change is not None and change.kind == "update"
        assert change.updated == {SPEED, STATUS} and change.created == {STATUS}
        assert change.deleted == set()
        after = await hub.get_entity("astana", car(1).id, ADMIN)
        assert after.types == [CAR, "https://example.org/Vehicle"]
        assert after.attrs[SPEED]["value"] == 61.5
        assert after.attrs[SPEED]["createdAt"] == stamp  # kept from the instance it replaced
        assert after.modified_at >= created.modified_at

        nothing = await hub.transact(
            "astana",
            ADMIN,
            operation="test.noop",
            entity_ids=[car(1).id],
            body=lambda tx: tx.update(car(1).id),
        )
        assert nothing is None
        deleted = await hub.transact(
            "astana",
            ADMIN,
            operation="test.delete-attr",
            entity_ids=[car(1).id],
            body=lambda tx: tx.update(car(1).id, delete=[STATUS]),
        )
        assert deleted is not None and deleted.deleted == {STATUS}
        assert [c.kind for changes in spy.seen for c in changes] == ["create", "update", "update"]

    run(settings, scenario)


def test_atomic_groups_inside_one_write_are_all_or_nothing(settings: Settings) -> None:
    async def scenario(hub: Hub, store: Any) -> None:
        await hub.create_entity("astana", car(1), ADMIN)

        def body(tx: Transaction) -> list[str]:
            outcomes = []
            for n in (1, 2):
                try:
                    with tx.atomic():
                        tx.create(car(10 + n))
                        tx.create(car(n))  # car 1 exists: the group with car 11 is undone
                    outcomes.append("ok")
                except AlreadyExists:
                    outcomes.append("refused")
            return outcomes

        ids = [car(n).id for n in (1, 2, 11, 12)]
        result = await hub.transact(
            "astana", ADMIN, operation="test.groups", entity_ids=ids, body=body
        )
        assert result == ["refused", "ok"]
        with pytest.raises(NotFound):
            await hub.get_entity("astana", car(11).id, ADMIN)
        assert (await hub.get_entity("astana", car(12).id, ADMIN)).id == car(12).id
        assert (await hub.get_entity("astana", car(2).id, ADMIN)).id == car(2).id

    run(settings, scenario)


def test_reads_apply_the_access_rule(settings: Settings) -> None:
    async def scenario(hub: Hub, store: Any) -> None:
        partner = Actor(id="lamps-llp", role="partner", tenant="astana")
        lamp = Entity(
            id="urn:ngsi-ld:Streetlight:1",
            types=[LAMP],
            attrs={STATUS: {"type": "Property", "value": "ok"}},
        )
        await hub.create_entity("astana", lamp, partner)
        await hub.create_entity("astana", car(1), ADMIN)
        found = [e.id async for e in hub.find("astana", partner, types=[LAMP, CAR])]
        assert found == [lamp.id]  # the car is not the partner's and not shared with partners
        with pytest.raises(NotFound):
            await hub.get_entity("astana", car(1).id, partner)
        with pytest.raises(Forbidden):
            await hub.get_entity("almaty", lamp.id, partner)
        with pytest.raises(Forbidden):  # a partner changes only what it owns
            await hub.transact(
                "astana",
                partner,
                operation="test.update",
                entity_ids=[car(1).id],
                body=lambda tx: tx.update(
                    car(1).id, attrs={SPEED: {"type": "Property", "value": 1}}
                ),
            )
        auditor = Actor(id="auditor-1", role=access.AUDITOR)
        with pytest.raises(Forbidden):
            await hub.create_entity("astana", car(2), auditor)

    run(settings, scenario)


def test_find_pages_through_every_match_with_a_q_filter(settings: Settings) -> None:
    async def scenario(hub: Hub, store: Any) -> None:
        await hub.batch_create("astana", [car(n, speed=float(n)) for n in range(1, 26)], ADMIN)
        ctx = await ContextResolver(repository=store).compile({"speed": SPEED})
        fast = q_filter("speed>=20", ctx, 50)
        found = [
            e.id async for e in hub.find("astana", ADMIN, types=[CAR], where=[fast], page_size=2)
        ]
        assert found == [f"urn:ngsi-ld:Car:{n}" for n in range(20, 26)]
        every = [e.id async for e in hub.find("astana", ADMIN, types=[CAR], page_size=7)]
        assert len(every) == 25

    run(settings, scenario)
