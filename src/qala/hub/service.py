"""The hub: the one way to read and change city data.

Every write is a *planner* run by the store inside a transaction (see ``qala.store.base``): it
computes the new state of the entities it touches, records :class:`Change` objects, and lets
every participant (history, notifications, audit) add its rows to the same transaction.
Protocol layers (NGSI-LD, IoT ingestion, Open311, …) call these methods with plain Python
objects; none of them writes to the store directly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from qala.auth import policy
from qala.hub import attributes as attrs_ops
from qala.hub.changes import Actor, Change, Participant, WriteContext
from qala.hub.errors import (
    AlreadyExists,
    BadRequestData,
    HubError,
    NotFound,
    UnknownTenant,
)
from qala.hub.model import (
    DEFAULT_TENANT,
    Entity,
    Instance,
    instances_of,
    now_us,
    valid_tenant_name,
)
from qala.hub.query import AttributeInfo, EntityQuery, QueryResult, TypeInfo
from qala.store.base import EntityWrite, RowBatch, Statement, Store, Tenant, WritePlan

log = logging.getLogger("qala.hub")

#: Checks an entity before it is written (Smart Data Models validation, …); raises HubError.
EntityValidator = Callable[[Tenant, Entity], None]


@dataclass(slots=True)
class AttributeOutcome:
    """Per-attribute result of append/update: what was updated, what was not and why."""

    updated: list[str] = field(default_factory=list)
    not_updated: list[tuple[str, str]] = field(default_factory=list)


@dataclass(slots=True)
class BatchOutcome:
    """Per-entity result of a batch operation."""

    success: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    errors: list[tuple[str, HubError]] = field(default_factory=list)


UpsertMode = Literal["replace", "update"]


class Plan:
    """Accumulates the entity writes and changes of one transaction."""

    def __init__(self, current: dict[str, Entity], actor: Actor | None = None) -> None:
        self.actor = actor
        self.state: dict[str, Entity | None] = dict(current)
        self.original: dict[str, Entity] = dict(current)
        self.changes: list[Change] = []
        #: Rows and statements for capabilities' own tables (e.g. temporal writes that add
        #: history without changing the entity), written in the same transaction.
        self.batches: list[RowBatch] = []
        self.statements: list[Statement] = []

    def get(self, entity_id: str) -> Entity | None:
        return self.state.get(entity_id)

    def put(self, change: Change) -> None:
        if self.actor is not None:
            policy.check_entity_write(self.actor, change.before)
        self.changes.append(change)
        self.state[change.entity_id] = change.after

    def entity_writes(self) -> list[EntityWrite]:
        writes: list[EntityWrite] = []
        for entity_id, entity in self.state.items():
            before = self.original.get(entity_id)
            if entity is None:
                if before is not None:
                    writes.append(EntityWrite("delete", before))
                continue
            if before is None:
                writes.append(EntityWrite("insert", entity, True, attrs_ops.geo_rows(entity)))
                continue
            if entity is before:
                continue
            entity.pk = before.pk
            geo_after = attrs_ops.geo_values(entity)
            geo = (
                attrs_ops.geo_rows(entity, geo_after)
                if geo_after != attrs_ops.geo_values(before)
                else None
            )
            writes.append(EntityWrite("update", entity, entity.types != before.types, geo))
        return writes


class Hub:
    def __init__(
        self,
        store: Store,
        *,
        participants: Sequence[Participant] = (),
        validators: Sequence[EntityValidator] = (),
    ) -> None:
        self.store = store
        self.participants: list[Participant] = list(participants)
        self.validators: list[EntityValidator] = list(validators)

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

    async def reader(self, tenant: str | None, actor: Actor | None) -> tuple[Tenant, Any]:
        """The tenant to read, after the access checks, and the actor's read scope in it."""
        if actor is not None:
            policy.check_tenant(actor, tenant)
        ten = await self.tenant(tenant)
        return ten, policy.read_scope(actor, ten) if actor is not None else None

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

    async def write(
        self,
        tenant: str | None,
        entity_ids: Sequence[str],
        operation: str,
        actor: Actor,
        apply: Callable[[Plan, WriteContext, Tenant], Any],
        *,
        create_tenant: bool = True,
    ) -> Any:
        name = self.check_tenant_name(tenant)
        policy.check_write(actor, name)
        ctx = WriteContext(operation=operation, actor=actor, now_us=now_us())
        committed: dict[str, Any] = {}

        def planner(ten: Tenant, current: dict[str, Entity]) -> WritePlan:
            plan = Plan(current, actor)
            result = apply(plan, ctx, ten)
            if plan.batches or plan.statements:
                # Rows a capability writes about these entities (e.g. their history) need the
                # same right as changing the entities.
                for entity_id in entity_ids:
                    policy.check_entity_write(actor, current.get(entity_id))
            batches: list[RowBatch] = list(plan.batches)
            # Participants see every write that changed something: entity changes, or rows
            # a capability wrote directly (then ``changes`` is empty; see ctx.operation).
            touched = bool(plan.changes or plan.batches or plan.statements)
            if touched:
                for participant in self.participants:
                    batches.extend(participant.rows_for(ten, plan.changes, ctx))
            committed["tenant"] = ten
            committed["changes"] = plan.changes
            committed["touched"] = touched
            return WritePlan(
                writes=plan.entity_writes(),
                batches=batches,
                statements=list(plan.statements),
                result=result,
            )

        write_plan = await self.store.write(name, entity_ids, planner, create_tenant=create_tenant)
        changes: list[Change] = committed.get("changes", [])
        if committed.get("touched"):
            for participant in self.participants:
                try:
                    await participant.after_commit(committed["tenant"], changes, ctx)
                except Exception:  # the write is committed; a participant's hiccup is logged
                    log.exception("after-commit hook of %r failed", participant)
        return write_plan.result

    def _validate(self, tenant: Tenant, entity: Entity) -> None:
        for validator in self.validators:
            validator(tenant, entity)

    # -- entity operations ------------------------------------------------------------------

    async def create_entity(self, tenant: str | None, entity: Entity, actor: Actor) -> Entity:
        def apply(plan: Plan, ctx: WriteContext, ten: Tenant) -> Entity:
            if plan.get(entity.id) is not None:
                raise AlreadyExists(f"entity {entity.id!r} already exists")
            created = self._new_entity(entity, ctx, actor)
            self._validate(ten, created)
            plan.put(
                Change(
                    "create",
                    created.id,
                    None,
                    created,
                    set(created.attrs),
                    set(),
                    set(created.attrs),
                )
            )
            return created

        result: Entity = await self.write(tenant, [entity.id], "entity.create", actor, apply)
        return result

    @staticmethod
    def _new_entity(entity: Entity, ctx: WriteContext, actor: Actor) -> Entity:
        """The stored form of a new entity. The hub takes ownership of ``entity``'s attribute
        instances (freshly parsed by the caller) and stamps them in place."""
        now_iso = ctx.now_iso
        stamp = attrs_ops.stamp
        for value in entity.attrs.values():
            if value.__class__ is dict:
                stamp(value, None, now_iso)
            else:
                for instance in value:
                    stamp(instance, None, now_iso)
        types = entity.types if len(entity.types) < 2 else list(dict.fromkeys(entity.types))
        return Entity(
            id=entity.id,
            types=types,
            attrs=dict(entity.attrs),
            scope=entity.scope,
            created_at=ctx.now_us,
            modified_at=ctx.now_us,
            owner=entity.owner or actor.id,
        )

    async def replace_entity(self, tenant: str | None, entity: Entity, actor: Actor) -> None:
        def apply(plan: Plan, ctx: WriteContext, ten: Tenant) -> None:
            before = plan.get(entity.id)
            if before is None:
                raise NotFound(f"entity {entity.id!r} was not found")
            plan.put(self._replace(before, entity, ctx, ten))

        await self.write(tenant, [entity.id], "entity.replace", actor, apply, create_tenant=False)

    def _replace(self, before: Entity, entity: Entity, ctx: WriteContext, ten: Tenant) -> Change:
        after = self._new_entity(entity, ctx, Actor(id=before.owner or "system"))
        after.created_at = before.created_at
        after.owner = before.owner
        if not entity.types:
            after.types = list(before.types)
        self._validate(ten, after)
        removed = set(before.attrs) - set(after.attrs)
        return Change(
            "replace",
            after.id,
            before,
            after,
            set(after.attrs),
            removed,
            set(after.attrs) - set(before.attrs),
        )

    async def merge_entity(self, tenant: str | None, fragment: Entity, actor: Actor) -> None:
        """PATCH /entities/{id}: merge attributes, delete those set to the null marker."""

        def apply(plan: Plan, ctx: WriteContext, ten: Tenant) -> None:
            before = plan.get(fragment.id)
            if before is None:
                raise NotFound(f"entity {fragment.id!r} was not found")
            plan.put(self._merge(before, fragment, ctx, ten))

        await self.write(tenant, [fragment.id], "entity.merge", actor, apply, create_tenant=False)

    def _merge(self, before: Entity, fragment: Entity, ctx: WriteContext, ten: Tenant) -> Change:
        now_iso = ctx.now_iso
        after = before.copy()
        after.modified_at = ctx.now_us
        if fragment.types:
            after.types = list(dict.fromkeys([*before.types, *fragment.types]))
        if fragment.scope is not None:
            after.scope = fragment.scope
        updated: set[str] = set()
        deleted: set[str] = set()
        created: set[str] = set()
        for iri, value in fragment.attrs.items():
            for patch in instances_of(value):
                dataset = attrs_ops.dataset_of(patch)
                current = attrs_ops.find_instance(after.attrs.get(iri), dataset)
                if attrs_ops.is_null_instance(patch):
                    if current is not None:
                        remaining = attrs_ops.remove_instance(after.attrs.get(iri), dataset)
                        if remaining is None:
                            after.attrs.pop(iri, None)
                        else:
                            after.attrs[iri] = remaining
                        deleted.add(iri)
                    continue
                if current is None:
                    new = attrs_ops.stamp(dict(patch), None, now_iso)
                    if iri not in after.attrs:
                        created.add(iri)
                else:
                    new = attrs_ops.merge_instance(current, patch, now_iso)
                after.attrs[iri] = attrs_ops.put_instance(after.attrs.get(iri), new)
                updated.add(iri)
        self._validate(ten, after)
        return Change("update", after.id, before, after, updated, deleted, created)

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

        def apply(plan: Plan, ctx: WriteContext, ten: Tenant) -> AttributeOutcome:
            before = plan.get(fragment.id)
            if before is None:
                raise NotFound(f"entity {fragment.id!r} was not found")
            change, outcome = self._append(before, fragment, ctx, ten, no_overwrite, False)
            if change is not None:
                plan.put(change)
            return outcome

        result: AttributeOutcome = await self.write(
            tenant, [fragment.id], "attrs.append", actor, apply, create_tenant=False
        )
        return result

    async def update_attributes(
        self, tenant: str | None, fragment: Entity, actor: Actor
    ) -> AttributeOutcome:
        """PATCH /entities/{id}/attrs: replace existing attributes only."""

        def apply(plan: Plan, ctx: WriteContext, ten: Tenant) -> AttributeOutcome:
            before = plan.get(fragment.id)
            if before is None:
                raise NotFound(f"entity {fragment.id!r} was not found")
            change, outcome = self._append(before, fragment, ctx, ten, False, True)
            if change is not None:
                plan.put(change)
            return outcome

        result: AttributeOutcome = await self.write(
            tenant, [fragment.id], "attrs.update", actor, apply, create_tenant=False
        )
        return result

    def _append(
        self,
        before: Entity,
        fragment: Entity,
        ctx: WriteContext,
        ten: Tenant,
        no_overwrite: bool,
        existing_only: bool,
    ) -> tuple[Change | None, AttributeOutcome]:
        now_iso = ctx.now_iso
        outcome = AttributeOutcome()
        after = before.copy()
        after.modified_at = ctx.now_us
        if fragment.types:  # types are always added (4.16), by append and update alike
            after.types = list(dict.fromkeys([*before.types, *fragment.types]))
        if fragment.scope is not None:
            # Append replaces the scope (noOverwrite: adds to it); update only replaces one.
            if existing_only and before.scope is None:
                outcome.not_updated.append(("scope", "the entity has no scope to update"))
            elif no_overwrite and not existing_only:
                after.scope = list(dict.fromkeys([*(before.scope or []), *fragment.scope]))
            else:
                after.scope = fragment.scope
        updated: set[str] = set()
        deleted: set[str] = set()
        created: set[str] = set()
        for iri, value in fragment.attrs.items():
            done = False
            for instance in instances_of(value):
                dataset = attrs_ops.dataset_of(instance)
                current = attrs_ops.find_instance(after.attrs.get(iri), dataset)
                if attrs_ops.is_null_instance(instance):
                    if current is None:
                        outcome.not_updated.append((iri, "attribute does not exist"))
                        continue
                    remaining = attrs_ops.remove_instance(after.attrs.get(iri), dataset)
                    if remaining is None:
                        after.attrs.pop(iri, None)
                    else:
                        after.attrs[iri] = remaining
                    deleted.add(iri)
                    done = True
                    continue
                if current is None and existing_only:
                    reason = (
                        "attribute does not exist"
                        if dataset is None
                        else f"attribute instance with datasetId {dataset!r} does not exist"
                    )
                    outcome.not_updated.append((iri, reason))
                    continue
                if current is not None and no_overwrite:
                    outcome.not_updated.append((iri, "attribute exists and noOverwrite is set"))
                    continue
                if iri not in after.attrs:
                    created.add(iri)
                new = attrs_ops.stamp(dict(instance), current, now_iso)
                after.attrs[iri] = attrs_ops.put_instance(after.attrs.get(iri), new)
                updated.add(iri)
                done = True
            if done:
                outcome.updated.append(iri)
        if not (updated or deleted or after.types != before.types or after.scope != before.scope):
            return None, outcome
        self._validate(ten, after)
        return Change("update", after.id, before, after, updated, deleted, created), outcome

    async def update_attribute(
        self,
        tenant: str | None,
        entity_id: str,
        attr: str,
        patch: Instance,
        actor: Actor,
    ) -> None:
        """PATCH /entities/{id}/attrs/{attr}: merge members into one attribute instance."""

        def apply(plan: Plan, ctx: WriteContext, ten: Tenant) -> None:
            before = plan.get(entity_id)
            if before is None:
                raise NotFound(f"entity {entity_id!r} was not found")
            dataset = attrs_ops.dataset_of(patch)
            current = attrs_ops.find_instance(before.attrs.get(attr), dataset)
            if current is None:
                what = "" if dataset is None else f" with datasetId {dataset!r}"
                raise NotFound(f"attribute {attr!r}{what} was not found in {entity_id!r}")
            kind = patch.get("type")
            if kind is not None and kind != current.get("type"):
                raise BadRequestData(
                    f"attribute {attr!r} is a {current.get('type')}; a partial update cannot "
                    f"make it a {kind} (replace the attribute instead)"
                )
            after = before.copy()
            after.modified_at = ctx.now_us
            if attrs_ops.is_null_instance(patch):
                remaining = attrs_ops.remove_instance(after.attrs.get(attr), dataset)
                if remaining is None:
                    after.attrs.pop(attr, None)
                else:
                    after.attrs[attr] = remaining
                self._validate(ten, after)
                plan.put(Change("update", entity_id, before, after, set(), {attr}, set()))
                return
            new = attrs_ops.merge_instance(current, patch, ctx.now_iso)
            after.attrs[attr] = attrs_ops.put_instance(after.attrs.get(attr), new)
            self._validate(ten, after)
            plan.put(Change("update", entity_id, before, after, {attr}, set(), set()))

        await self.write(tenant, [entity_id], "attrs.patch", actor, apply, create_tenant=False)

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
        def apply(plan: Plan, ctx: WriteContext, ten: Tenant) -> None:
            before = plan.get(entity_id)
            if before is None:
                raise NotFound(f"entity {entity_id!r} was not found")
            value = before.attrs.get(attr)
            if value is None:
                raise NotFound(f"attribute {attr!r} was not found in {entity_id!r}")
            after = before.copy()
            after.modified_at = ctx.now_us
            if delete_all:
                after.attrs.pop(attr)
            else:
                if attrs_ops.find_instance(value, dataset_id) is None:
                    what = "default instance" if dataset_id is None else f"datasetId {dataset_id!r}"
                    raise NotFound(f"attribute {attr!r} has no {what} in {entity_id!r}")
                remaining = attrs_ops.remove_instance(value, dataset_id)
                if remaining is None:
                    after.attrs.pop(attr)
                else:
                    after.attrs[attr] = remaining
            self._validate(ten, after)
            plan.put(Change("update", entity_id, before, after, set(), {attr}, set()))

        await self.write(tenant, [entity_id], "attrs.delete", actor, apply, create_tenant=False)

    async def delete_scope(self, tenant: str | None, entity_id: str, actor: Actor) -> None:
        """DELETE /entities/{id}/attrs/scope: the entity no longer has a scope."""

        def apply(plan: Plan, ctx: WriteContext, ten: Tenant) -> None:
            before = plan.get(entity_id)
            if before is None:
                raise NotFound(f"entity {entity_id!r} was not found")
            if before.scope is None:
                raise NotFound(f"entity {entity_id!r} has no scope")
            after = before.copy()
            after.modified_at = ctx.now_us
            after.scope = None
            self._validate(ten, after)
            plan.put(Change("update", entity_id, before, after, set(), set(), set()))

        await self.write(tenant, [entity_id], "scope.delete", actor, apply, create_tenant=False)

    async def delete_entity(self, tenant: str | None, entity_id: str, actor: Actor) -> None:
        def apply(plan: Plan, ctx: WriteContext, ten: Tenant) -> None:
            before = plan.get(entity_id)
            if before is None:
                raise NotFound(f"entity {entity_id!r} was not found")
            plan.put(Change("delete", entity_id, before, None, set(), set(before.attrs), set()))

        await self.write(tenant, [entity_id], "entity.delete", actor, apply, create_tenant=False)

    # -- batch operations -------------------------------------------------------------------

    async def _batch(
        self,
        tenant: str | None,
        ids: Sequence[str],
        operation: str,
        actor: Actor,
        each: Callable[[Plan, WriteContext, Tenant, int], str | None],
        *,
        create_tenant: bool,
    ) -> BatchOutcome:
        def apply(plan: Plan, ctx: WriteContext, ten: Tenant) -> BatchOutcome:
            outcome = BatchOutcome()
            for index, entity_id in enumerate(ids):
                try:
                    created = each(plan, ctx, ten, index)
                except HubError as exc:
                    outcome.errors.append((entity_id, exc))
                    continue
                outcome.success.append(entity_id)
                if created:
                    outcome.created.append(created)
            return outcome

        try:
            result: BatchOutcome = await self.write(
                tenant, ids, operation, actor, apply, create_tenant=create_tenant
            )
        except UnknownTenant as exc:
            result = BatchOutcome(errors=[(i, exc) for i in ids])
        return result

    async def batch_create(
        self, tenant: str | None, entities: Sequence[Entity], actor: Actor
    ) -> BatchOutcome:
        def each(plan: Plan, ctx: WriteContext, ten: Tenant, index: int) -> str:
            entity = entities[index]
            if plan.get(entity.id) is not None:
                raise AlreadyExists(f"entity {entity.id!r} already exists")
            created = self._new_entity(entity, ctx, actor)
            self._validate(ten, created)
            plan.put(
                Change(
                    "create",
                    created.id,
                    None,
                    created,
                    set(created.attrs),
                    set(),
                    set(created.attrs),
                )
            )
            return created.id

        return await self._batch(
            tenant, [e.id for e in entities], "batch.create", actor, each, create_tenant=True
        )

    async def batch_upsert(
        self,
        tenant: str | None,
        entities: Sequence[Entity],
        actor: Actor,
        *,
        mode: UpsertMode = "replace",
    ) -> BatchOutcome:
        def each(plan: Plan, ctx: WriteContext, ten: Tenant, index: int) -> str | None:
            entity = entities[index]
            before = plan.get(entity.id)
            if before is None:
                created = self._new_entity(entity, ctx, actor)
                self._validate(ten, created)
                plan.put(
                    Change(
                        "create",
                        created.id,
                        None,
                        created,
                        set(created.attrs),
                        set(),
                        set(created.attrs),
                    )
                )
                return created.id
            if mode == "replace":
                plan.put(self._replace(before, entity, ctx, ten))
            else:
                change, _ = self._append(before, entity, ctx, ten, False, False)
                if change is not None:
                    plan.put(change)
            return None

        return await self._batch(
            tenant, [e.id for e in entities], "batch.upsert", actor, each, create_tenant=True
        )

    async def batch_update(
        self,
        tenant: str | None,
        entities: Sequence[Entity],
        actor: Actor,
        *,
        no_overwrite: bool = False,
    ) -> BatchOutcome:
        def each(plan: Plan, ctx: WriteContext, ten: Tenant, index: int) -> None:
            entity = entities[index]
            before = plan.get(entity.id)
            if before is None:
                raise NotFound(f"entity {entity.id!r} was not found")
            change, outcome = self._append(before, entity, ctx, ten, no_overwrite, False)
            if change is not None:
                plan.put(change)
            if outcome.not_updated:
                # The rest of the entity is updated; it is reported as an error all the same.
                kept = ", ".join(f"{name} ({reason})" for name, reason in outcome.not_updated)
                raise BadRequestData(f"some attributes of {entity.id!r} were not updated: {kept}")

        return await self._batch(
            tenant, [e.id for e in entities], "batch.update", actor, each, create_tenant=False
        )

    async def batch_merge(
        self, tenant: str | None, fragments: Sequence[Entity], actor: Actor
    ) -> BatchOutcome:
        def each(plan: Plan, ctx: WriteContext, ten: Tenant, index: int) -> None:
            fragment = fragments[index]
            before = plan.get(fragment.id)
            if before is None:
                raise NotFound(f"entity {fragment.id!r} was not found")
            plan.put(self._merge(before, fragment, ctx, ten))

        return await self._batch(
            tenant, [e.id for e in fragments], "batch.merge", actor, each, create_tenant=False
        )

    async def batch_delete(
        self, tenant: str | None, entity_ids: Sequence[str], actor: Actor
    ) -> BatchOutcome:
        def each(plan: Plan, ctx: WriteContext, ten: Tenant, index: int) -> None:
            entity_id = entity_ids[index]
            before = plan.get(entity_id)
            if before is None:
                raise NotFound(f"entity {entity_id!r} was not found")
            plan.put(Change("delete", entity_id, before, None, set(), set(before.attrs), set()))

        return await self._batch(
            tenant, entity_ids, "batch.delete", actor, each, create_tenant=False
        )
