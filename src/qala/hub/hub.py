"""The hub: the one way to read and change city data.

Every write is a transaction (:meth:`Hub.transact`): the store loads and locks the entities it
names, the writer's function changes them through the named operations of
:class:`~qala.hub.transaction.Transaction`, and every participant (history, notifications,
audit) adds its rows to the same database transaction. Protocol layers (NGSI-LD, IoT ingestion,
Open311, …) and capabilities call these methods with plain Python objects; none of them writes
to the store directly. Every read and write applies the access rule (:mod:`qala.hub.access`)
for the :class:`~qala.hub.access.Actor` it is given.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from qala.hub import access
from qala.hub.access import Actor, ReadScope
from qala.hub.changes import Participant, WriteContext
from qala.hub.errors import BadRequestData, HubError, NotFound, UnknownTenant
from qala.hub.model import DEFAULT_TENANT, Entity, Instance, now_us, valid_tenant_name
from qala.hub.query import (
    AttributeInfo,
    EntityFilter,
    EntityQuery,
    QueryResult,
    Selector,
    TypeInfo,
)
from qala.hub.storage import RowBatch, Storage, Tenant, WritePlan
from qala.hub.transaction import AttributeOutcome, EntityValidator, Transaction

log = logging.getLogger("qala.hub")

T = TypeVar("T")
UpsertMode = Literal["replace", "update"]


@dataclass(slots=True)
class BatchOutcome:
    """Per-entity result of a batch operation."""

    success: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    errors: list[tuple[str, HubError]] = field(default_factory=list)


class Hub:
    def __init__(
        self,
        store: Storage,
        *,
        participants: Sequence[Participant] = (),
        validators: Sequence[EntityValidator] = (),
    ) -> None:
        self.store = store
        self._participants: list[Participant] = list(participants)
        self._validators: list[EntityValidator] = list(validators)

    # -- what joins every write ---------------------------------------------------------------

    def add_participant(self, participant: Participant) -> None:
        """``participant`` adds its rows to every write from now on (history, outbox, audit)."""
        if participant not in self._participants:
            self._participants.append(participant)

    def remove_participant(self, participant: Participant) -> None:
        if participant in self._participants:
            self._participants.remove(participant)

    def add_validator(self, validator: EntityValidator) -> None:
        """``validator`` checks every entity a write creates or changes (raises HubError)."""
        self._validators.append(validator)

    @property
    def participants(self) -> tuple[Participant, ...]:
        return tuple(self._participants)

    @property
    def validators(self) -> tuple[EntityValidator, ...]:
        return tuple(self._validators)

    # -- tenants ----------------------------------------------------------------------------

    async def tenant(self, name: str | None) -> Tenant:
        """The tenant for a read; :class:`UnknownTenant` if it does not exist."""
        key = name or DEFAULT_TENANT
        tenant = await self.store.tenant(key)
        if tenant is None:
            if key == DEFAULT_TENANT:  # the default tenant always exists
                return await self.store.ensure_tenant(DEFAULT_TENANT)
            raise UnknownTenant(f"tenant {name!r} does not exist")
        return tenant

    async def tenants(self) -> list[str]:
        """The names of the tenants (cities) the hub holds, in name order."""
        return sorted(t.name for t in await self.store.tenants())

    @staticmethod
    def check_tenant_name(name: str | None) -> str:
        if not name:
            return DEFAULT_TENANT
        if not valid_tenant_name(name):
            raise BadRequestData(
                f"invalid tenant name {name!r}: use 1-63 letters, digits, '_', '.' or '-', "
                "starting with a letter or digit"
            )
        return name

    # -- reads ------------------------------------------------------------------------------

    async def reader(
        self, tenant: str | None, actor: Actor | None
    ) -> tuple[Tenant, ReadScope | None]:
        """The tenant to read, after the access checks, and the actor's read scope in it
        (None: the actor sees everything in the tenant)."""
        if actor is not None:
            access.check_tenant(actor, tenant)
        ten = await self.tenant(tenant)
        return ten, access.read_scope(actor, ten) if actor is not None else None

    async def get_entity(
        self, tenant: str | None, entity_id: str, actor: Actor | None = None
    ) -> Entity:
        ten, scope = await self.reader(tenant, actor)
        entity = await self.store.get_entity(ten.id, entity_id)
        if entity is None or (scope is not None and not scope.matches(entity)):
            raise NotFound(f"entity {entity_id!r} was not found")
        return entity

    async def query(
        self, tenant: str | None, query: EntityQuery, actor: Actor | None = None
    ) -> QueryResult:
        ten, scope = await self.reader(tenant, actor)
        if scope is not None:
            query.filters.append(scope)
        return await self.store.query(ten.id, query)

    async def find(
        self,
        tenant: str | None,
        actor: Actor,
        *,
        types: Sequence[str] | None = None,
        where: Sequence[EntityFilter] = (),
        attrs_any: Sequence[str] | None = None,
        page_size: int = 500,
    ) -> AsyncIterator[Entity]:
        """Every entity of ``types`` (expanded IRIs; any of them) in ``tenant`` that passes the
        filters ``where`` (e.g. an NGSI-LD ``q``: ``qala.ngsild.filters.q_filter``), as of now,
        in entity order, read page by page; what ``actor`` may not see is left out."""
        offset = 0
        selectors = [Selector(type_groups=[[t] for t in types])] if types else []
        while True:
            query = EntityQuery(
                selectors=list(selectors),
                attrs_any=list(attrs_any) if attrs_any else None,
                filters=list(where),
                limit=page_size,
                offset=offset,
            )
            page = (await self.query(tenant, query, actor)).entities
            for entity in page:
                yield entity
            if len(page) < page_size:
                return
            offset += page_size

    async def types(self, tenant: str | None, actor: Actor | None = None) -> list[str]:
        ten, scope = await self.reader(tenant, actor)
        found = await self.store.types(ten.id)
        return found if scope is None else [t for t in found if t in scope.types]

    async def type_details(
        self, tenant: str | None, types: list[str] | None, actor: Actor | None = None
    ) -> list[TypeInfo]:
        ten, scope = await self.reader(tenant, actor)
        if scope is not None:
            types = [t for t in (types or scope.types) if t in scope.types]
            if not types:
                return []
        return await self.store.type_details(ten.id, types)

    async def attribute_details(
        self, tenant: str | None, attrs: list[str] | None, actor: Actor | None = None
    ) -> list[AttributeInfo]:
        ten, scope = await self.reader(tenant, actor)
        if scope is not None:
            # Attributes of the types this actor may see only.
            infos = (
                await self.store.type_details(ten.id, sorted(scope.types)) if scope.types else []
            )
            visible = {a for info in infos for a in info.attributes}
            found = await self.store.attribute_details(ten.id, attrs)
            return [
                AttributeInfo(i.attr, i.count, i.types & scope.types, i.attribute_types)
                for i in found
                if i.attr in visible
            ]
        return await self.store.attribute_details(ten.id, attrs)

    # -- the write path ---------------------------------------------------------------------

    async def transact(
        self,
        tenant: str | None,
        actor: Actor,
        *,
        operation: str,
        entity_ids: Sequence[str],
        body: Callable[[Transaction], T],
        create_tenant: bool = True,
        extra: dict[str, Any] | None = None,
    ) -> T:
        """Run ``body`` on a :class:`Transaction` over ``entity_ids`` (loaded and locked) and
        commit what it did, with every participant's rows, atomically; ``body``'s result is
        returned. ``operation`` names the write in the audit log (``"entity.create"``…);
        ``extra`` is what participants may read of the request (``WriteContext.extra``)."""
        name = self.check_tenant_name(tenant)
        access.check_write(actor, name)
        ctx = WriteContext(operation=operation, actor=actor, now_us=now_us())
        if extra:
            ctx.extra.update(extra)
        committed: dict[str, Any] = {}
        participants = tuple(self._participants)
        validators = tuple(self._validators)

        def planner(ten: Tenant, current: dict[str, Entity]) -> WritePlan:
            tx = Transaction(current, tenant=ten, context=ctx, validators=validators)
            result = body(tx)
            if tx.batches or tx.statements:
                # Rows a capability writes about these entities (e.g. their history) need the
                # same right as changing the entities.
                for entity_id in entity_ids:
                    access.check_entity_write(actor, current.get(entity_id))
            batches: list[RowBatch] = list(tx.batches)
            # Participants see every write that changed something: entity changes, or rows
            # a capability wrote directly (then ``changes`` is empty; see ctx.operation).
            touched = bool(tx.changes or tx.batches or tx.statements)
            if touched:
                for participant in participants:
                    batches.extend(participant.rows_for(ten, tx.changes, ctx))
            committed["tenant"] = ten
            committed["changes"] = tx.changes
            committed["touched"] = touched
            return WritePlan(
                writes=tx.entity_writes(),
                batches=batches,
                statements=list(tx.statements),
                result=result,
            )

        plan = await self.store.write(name, entity_ids, planner, create_tenant=create_tenant)
        if committed.get("touched"):
            for participant in participants:
                try:
                    await participant.after_commit(
                        committed["tenant"], committed["changes"], ctx
                    )
                except Exception:  # the write is committed; a participant's hiccup is logged
                    log.exception("after-commit hook of %r failed", participant)
        result: T = plan.result
        return result

    # -- entity operations (the NGSI-LD API's, one transaction each) ------------------------

    async def create_entity(self, tenant: str | None, entity: Entity, actor: Actor) -> Entity:
        return await self.transact(
            tenant,
            actor,
            operation="entity.create",
            entity_ids=[entity.id],
            body=lambda tx: tx.create(entity),
        )

    async def replace_entity(self, tenant: str | None, entity: Entity, actor: Actor) -> None:
        await self.transact(
            tenant,
            actor,
            operation="entity.replace",
            entity_ids=[entity.id],
            body=lambda tx: tx.replace(entity),
            create_tenant=False,
        )

    async def merge_entity(self, tenant: str | None, fragment: Entity, actor: Actor) -> None:
        """PATCH /entities/{id}: merge attributes, delete those set to the null marker."""
        await self.transact(
            tenant,
            actor,
            operation="entity.merge",
            entity_ids=[fragment.id],
            body=lambda tx: tx.merge(fragment),
            create_tenant=False,
        )

    async def append_attributes(
        self,
        tenant: str | None,
        fragment: Entity,
        actor: Actor,
        *,
        no_overwrite: bool = False,
    ) -> AttributeOutcome:
        """POST /entities/{id}/attrs: add attributes, replacing existing ones unless
        ``no_overwrite``."""
        return await self.transact(
            tenant,
            actor,
            operation="attrs.append",
            entity_ids=[fragment.id],
            body=lambda tx: tx.append(fragment, no_overwrite=no_overwrite),
            create_tenant=False,
        )

    async def update_attributes(
        self, tenant: str | None, fragment: Entity, actor: Actor, *, append_missing: bool = False
    ) -> AttributeOutcome:
        """PATCH /entities/{id}/attrs/{attr}: replace existing attributes only;
        ``append_missing`` (PATCH /entities/{id}/attrs, GS CIM 009 5.6.2 as ETSI's TPs read it):
        attributes the entity does not have are appended. The scope is replaced only where
        there is one either way."""
        return await self.transact(
            tenant,
            actor,
            operation="attrs.update",
            entity_ids=[fragment.id],
            body=lambda tx: tx.append(
                fragment, existing_only=not append_missing, existing_scope_only=True
            ),
            create_tenant=False,
        )

    async def update_attribute(
        self,
        tenant: str | None,
        entity_id: str,
        attr: str,
        patch: Instance,
        actor: Actor,
    ) -> None:
        """PATCH /entities/{id}/attrs/{attr}: merge members into one attribute instance."""
        await self.transact(
            tenant,
            actor,
            operation="attrs.patch",
            entity_ids=[entity_id],
            body=lambda tx: tx.patch_attribute(entity_id, attr, patch),
            create_tenant=False,
        )

    async def delete_attribute(
        self,
        tenant: str | None,
        entity_id: str,
        attr: str,
        actor: Actor,
        *,
        dataset_id: str | None = None,
        delete_all: bool = False,
    ) -> None:
        await self.transact(
            tenant,
            actor,
            operation="attrs.delete",
            entity_ids=[entity_id],
            body=lambda tx: tx.delete_attribute(
                entity_id, attr, dataset_id=dataset_id, delete_all=delete_all
            ),
            create_tenant=False,
        )

    async def delete_scope(self, tenant: str | None, entity_id: str, actor: Actor) -> None:
        """DELETE /entities/{id}/attrs/scope: the entity no longer has a scope."""
        await self.transact(
            tenant,
            actor,
            operation="scope.delete",
            entity_ids=[entity_id],
            body=lambda tx: tx.delete_scope(entity_id),
            create_tenant=False,
        )

    async def delete_entity(self, tenant: str | None, entity_id: str, actor: Actor) -> None:
        await self.transact(
            tenant,
            actor,
            operation="entity.delete",
            entity_ids=[entity_id],
            body=lambda tx: tx.delete(entity_id),
            create_tenant=False,
        )

    # -- batch operations -------------------------------------------------------------------

    async def batch(
        self,
        tenant: str | None,
        actor: Actor,
        *,
        operation: str,
        entity_ids: Sequence[str],
        each: Callable[[Transaction, int], str | None],
        create_tenant: bool = True,
        all_or_nothing: bool = True,
    ) -> BatchOutcome:
        """One transaction over many entities: ``each(tx, i)`` does item ``i`` (returning the
        id of an entity it created, if any); an item that raises a HubError is reported in the
        outcome and, with ``all_or_nothing``, leaves nothing; the other items are written."""

        def body(tx: Transaction) -> BatchOutcome:
            outcome = BatchOutcome()
            for index, entity_id in enumerate(entity_ids):
                try:
                    if all_or_nothing:
                        with tx.atomic():
                            created = each(tx, index)
                    else:
                        created = each(tx, index)
                except HubError as exc:
                    outcome.errors.append((entity_id, exc))
                    continue
                outcome.success.append(entity_id)
                if created:
                    outcome.created.append(created)
            return outcome

        try:
            return await self.transact(
                tenant,
                actor,
                operation=operation,
                entity_ids=entity_ids,
                body=body,
                create_tenant=create_tenant,
            )
        except UnknownTenant as exc:
            return BatchOutcome(errors=[(i, exc) for i in entity_ids])

    async def batch_create(
        self, tenant: str | None, entities: Sequence[Entity], actor: Actor
    ) -> BatchOutcome:
        def each(tx: Transaction, index: int) -> str:
            return tx.create(entities[index]).id

        return await self.batch(
            tenant, actor, operation="batch.create", entity_ids=[e.id for e in entities], each=each
        )

    async def batch_upsert(
        self,
        tenant: str | None,
        entities: Sequence[Entity],
        actor: Actor,
        *,
        mode: UpsertMode = "replace",
    ) -> BatchOutcome:
        def each(tx: Transaction, index: int) -> str | None:
            entity = entities[index]
            if tx.get(entity.id) is None:
                return tx.create(entity).id
            if mode == "replace":
                tx.replace(entity)
            else:
                tx.append(entity)
            return None

        return await self.batch(
            tenant, actor, operation="batch.upsert", entity_ids=[e.id for e in entities], each=each
        )

    async def batch_update(
        self,
        tenant: str | None,
        entities: Sequence[Entity],
        actor: Actor,
        *,
        no_overwrite: bool = False,
    ) -> BatchOutcome:
        def each(tx: Transaction, index: int) -> None:
            entity = entities[index]
            outcome = tx.append(entity, no_overwrite=no_overwrite)
            if outcome.not_updated:
                # The rest of the entity is updated; it is reported as an error all the same.
                kept = ", ".join(f"{name} ({reason})" for name, reason in outcome.not_updated)
                raise BadRequestData(f"some attributes of {entity.id!r} were not updated: {kept}")

        return await self.batch(
            tenant,
            actor,
            operation="batch.update",
            entity_ids=[e.id for e in entities],
            each=each,
            create_tenant=False,
            all_or_nothing=False,  # what was updated stays, the rest is reported
        )

    async def batch_merge(
        self, tenant: str | None, fragments: Sequence[Entity], actor: Actor
    ) -> BatchOutcome:
        def each(tx: Transaction, index: int) -> None:
            tx.merge(fragments[index])

        return await self.batch(
            tenant,
            actor,
            operation="batch.merge",
            entity_ids=[e.id for e in fragments],
            each=each,
            create_tenant=False,
        )

    async def batch_delete(
        self, tenant: str | None, entity_ids: Sequence[str], actor: Actor
    ) -> BatchOutcome:
        def each(tx: Transaction, index: int) -> None:
            tx.delete(entity_ids[index])

        return await self.batch(
            tenant,
            actor,
            operation="batch.delete",
            entity_ids=entity_ids,
            each=each,
            create_tenant=False,
        )
