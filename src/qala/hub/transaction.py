"""One hub write from the inside: the named operations a writer composes.

:meth:`qala.hub.Hub.transact` runs a writer's function with a :class:`Transaction`: the
entities it named, loaded and locked, and the operations that change them —
:meth:`~Transaction.create`, :meth:`~Transaction.replace`, :meth:`~Transaction.merge`,
:meth:`~Transaction.append`, :meth:`~Transaction.update`, :meth:`~Transaction.delete` and the
attribute-level ones. Each operation stamps the times (``createdAt``/``modifiedAt``), runs the
hub's validators, applies the access rule (a partner changes only what it owns) and records
the :class:`~qala.hub.changes.Change` every participant (history, notifications, audit) sees.
Writers never build entities' stored form or changes by hand.

Rows for a capability's own tables that must commit with the entities (a temporal write's
history rows) are added with :meth:`~Transaction.add_rows` / :meth:`~Transaction.add_statements`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from qala.hub import access
from qala.hub import attributes as attrs_ops
from qala.hub.access import Actor
from qala.hub.changes import Change, WriteContext
from qala.hub.errors import AlreadyExists, BadRequestData, NotFound
from qala.hub.model import Entity, Instance, instances_of
from qala.hub.storage import EntityWrite, RowBatch, Statement, Tenant

#: What the undo log holds for an entity the transaction did not have before.
_ABSENT = object()

#: Checks an entity before it is written (Smart Data Models validation, …); raises HubError.
EntityValidator = Callable[[Tenant, Entity], None]


@dataclass(slots=True)
class AttributeOutcome:
    """Per-attribute result of append/update: what was updated, what was not and why."""

    updated: list[str] = field(default_factory=list)
    not_updated: list[tuple[str, str]] = field(default_factory=list)


class Transaction:
    """The entities of one write and the operations that change them (one DB transaction)."""

    def __init__(
        self,
        current: dict[str, Entity],
        *,
        tenant: Tenant,
        context: WriteContext,
        validators: Sequence[EntityValidator] = (),
    ) -> None:
        self.tenant = tenant
        self.context = context
        self.actor: Actor = context.actor
        self.validators = validators
        self.state: dict[str, Entity | None] = dict(current)
        self.original: dict[str, Entity] = dict(current)
        self.changes: list[Change] = []
        #: Rows and statements for capabilities' own tables, written in the same transaction.
        self.batches: list[RowBatch] = []
        self.statements: list[Statement] = []
        #: (entity id, its state before) for every change, so that atomic() can undo without
        #: copying the whole state (a batch of n entities would copy it n times).
        self._undo: list[tuple[str, Any]] = []

    # -- reading ----------------------------------------------------------------------------

    def get(self, entity_id: str) -> Entity | None:
        """The entity as this transaction has it so far (None: absent or deleted)."""
        return self.state.get(entity_id)

    def existing(self, entity_id: str) -> Entity:
        before = self.state.get(entity_id)
        if before is None:
            raise NotFound(f"entity {entity_id!r} was not found")
        return before

    # -- all or nothing ----------------------------------------------------------------------

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        """Operations inside take effect together or not at all (on any exception)."""
        changes, undo = len(self.changes), len(self._undo)
        batches, statements = len(self.batches), len(self.statements)
        try:
            yield
        except BaseException:
            del self.changes[changes:], self.batches[batches:], self.statements[statements:]
            state = self.state
            for entity_id, before in reversed(self._undo[undo:]):
                if before is _ABSENT:
                    state.pop(entity_id, None)
                else:
                    state[entity_id] = before
            del self._undo[undo:]
            raise

    # -- entity operations --------------------------------------------------------------------

    def create(self, entity: Entity, *, owner: str | None = None) -> Entity:
        """A new entity. The transaction takes ownership of ``entity``'s attribute instances
        (freshly parsed by the caller) and stamps them in place."""
        if self.get(entity.id) is not None:
            raise AlreadyExists(f"entity {entity.id!r} already exists")
        created = self._stored(entity, owner or entity.owner or self.actor.id)
        self._validate(created)
        names = set(created.attrs)
        self._record(
            Change(
                kind="create",
                entity_id=created.id,
                before=None,
                after=created,
                updated=names,
                deleted=set(),
                created=set(names),
            )
        )
        return created

    def replace(self, entity: Entity) -> Change:
        """Every attribute of the existing entity replaced by ``entity``'s."""
        before = self.existing(entity.id)
        after = self._stored(entity, before.owner)
        after.created_at = before.created_at
        if not entity.types:
            after.types = list(before.types)
        self._validate(after)
        return self._record(
            Change(
                kind="replace",
                entity_id=after.id,
                before=before,
                after=after,
                updated=set(after.attrs),
                deleted=set(before.attrs) - set(after.attrs),
                created=set(after.attrs) - set(before.attrs),
            )
        )

    def merge(self, fragment: Entity) -> Change:
        """Merge-patch: instances' members merged, attributes set to the null marker deleted."""
        before = self.existing(fragment.id)
        now_iso = self.context.now_iso
        after = self._touched(before, fragment)
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
                        self._remove(after, iri, dataset)
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
        self._validate(after)
        return self._record(self._update_change(before, after, updated, deleted, created))

    def append(
        self,
        fragment: Entity,
        *,
        no_overwrite: bool = False,
        existing_only: bool = False,
        existing_scope_only: bool | None = None,
    ) -> AttributeOutcome:
        """Add or replace attribute instances (``no_overwrite``: keep existing ones;
        ``existing_only``: replace existing ones only; ``existing_scope_only``: replace the
        scope only where there is one, by default as ``existing_only``). Types are always
        added (4.16)."""
        if existing_scope_only is None:
            existing_scope_only = existing_only
        before = self.existing(fragment.id)
        now_iso = self.context.now_iso
        outcome = AttributeOutcome()
        after = self._touched(before, fragment)
        if fragment.scope is not None:
            # Append replaces the scope (noOverwrite: adds to it); update only replaces one.
            if existing_scope_only and before.scope is None:
                outcome.not_updated.append(("scope", "the entity has no scope to update"))
            elif no_overwrite and not existing_scope_only:
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
                    self._remove(after, iri, dataset)
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
        if updated or deleted or after.types != before.types or after.scope != before.scope:
            self._validate(after)
            self._record(self._update_change(before, after, updated, deleted, created))
        return outcome

    def update(
        self,
        entity_id: str,
        *,
        attrs: Mapping[str, Instance] | None = None,
        delete: Iterable[str] = (),
        types: Iterable[str] = (),
    ) -> Change | None:
        """Set attributes' default instances (each stamped, ``createdAt`` kept from the one it
        replaces), delete attributes, add types. None when nothing changed."""
        before = self.existing(entity_id)
        now_iso = self.context.now_iso
        after = before.copy()
        after.modified_at = self.context.now_us
        added = [t for t in types if t not in before.types]
        if added:
            after.types = [*before.types, *added]
        updated: set[str] = set()
        deleted: set[str] = set()
        created: set[str] = set()
        for iri, instance in (attrs or {}).items():
            old = after.attrs.get(iri)
            if old is None:
                created.add(iri)
                after.attrs[iri] = attrs_ops.stamp(dict(instance), None, now_iso)
            else:
                previous = attrs_ops.find_instance(old, None)
                new = attrs_ops.stamp(dict(instance), previous, now_iso)
                after.attrs[iri] = attrs_ops.put_instance(old, new)
            updated.add(iri)
        for iri in delete:
            if after.attrs.pop(iri, None) is not None:
                deleted.add(iri)
        if not (updated or deleted or added):
            return None
        self._validate(after)
        return self._record(self._update_change(before, after, updated, deleted, created))

    def patch_attribute(self, entity_id: str, attr: str, patch: Instance) -> Change:
        """Merge members into one attribute instance (the null marker deletes it)."""
        before = self.existing(entity_id)
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
        after.modified_at = self.context.now_us
        if attrs_ops.is_null_instance(patch):
            self._remove(after, attr, dataset)
            self._validate(after)
            return self._record(self._update_change(before, after, set(), {attr}, set()))
        new = attrs_ops.merge_instance(current, patch, self.context.now_iso)
        after.attrs[attr] = attrs_ops.put_instance(after.attrs.get(attr), new)
        self._validate(after)
        return self._record(self._update_change(before, after, {attr}, set(), set()))

    def delete_attribute(
        self,
        entity_id: str,
        attr: str,
        *,
        dataset_id: str | None = None,
        delete_all: bool = False,
    ) -> Change:
        """Delete one instance of an attribute (the default one, or ``dataset_id``'s) or all."""
        before = self.existing(entity_id)
        value = before.attrs.get(attr)
        if value is None:
            raise NotFound(f"attribute {attr!r} was not found in {entity_id!r}")
        after = before.copy()
        after.modified_at = self.context.now_us
        if delete_all:
            after.attrs.pop(attr)
        else:
            if attrs_ops.find_instance(value, dataset_id) is None:
                what = "default instance" if dataset_id is None else f"datasetId {dataset_id!r}"
                raise NotFound(f"attribute {attr!r} has no {what} in {entity_id!r}")
            self._remove(after, attr, dataset_id)
        self._validate(after)
        return self._record(self._update_change(before, after, set(), {attr}, set()))

    def delete_scope(self, entity_id: str) -> Change:
        before = self.existing(entity_id)
        if before.scope is None:
            raise NotFound(f"entity {entity_id!r} has no scope")
        after = before.copy()
        after.modified_at = self.context.now_us
        after.scope = None
        self._validate(after)
        return self._record(self._update_change(before, after, set(), set(), set()))

    def delete(self, entity_id: str) -> Change:
        before = self.existing(entity_id)
        return self._record(
            Change(
                kind="delete",
                entity_id=entity_id,
                before=before,
                after=None,
                updated=set(),
                deleted=set(before.attrs),
                created=set(),
            )
        )

    # -- a capability's own rows ------------------------------------------------------------

    def add_rows(self, *batches: RowBatch) -> None:
        """Rows for a capability's own tables, committed with this write."""
        self.batches.extend(batches)

    def add_statements(self, statements: Iterable[Statement]) -> None:
        """Statements (``$1…`` placeholders) on a capability's own tables, run after the rows."""
        self.statements.extend(statements)

    # -- the store's side -------------------------------------------------------------------

    def entity_writes(self) -> list[EntityWrite]:
        """What the store must write for the entities: inserts, updates, deletes."""
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

    # -- inside -----------------------------------------------------------------------------

    def _record(self, change: Change) -> Change:
        access.check_entity_write(self.actor, change.before)
        self.changes.append(change)
        self._undo.append((change.entity_id, self.state.get(change.entity_id, _ABSENT)))
        self.state[change.entity_id] = change.after
        return change

    def _validate(self, entity: Entity) -> None:
        for validator in self.validators:
            validator(self.tenant, entity)

    def _stored(self, entity: Entity, owner: str | None) -> Entity:
        """The stored form of a new (or replacing) entity, its instances stamped in place."""
        now_iso = self.context.now_iso
        stamp = attrs_ops.stamp
        for value in entity.attrs.values():
            if value.__class__ is dict:
                stamp(value, None, now_iso)  # type: ignore[arg-type]
            else:
                for instance in value:
                    stamp(instance, None, now_iso)
        types = entity.types if len(entity.types) < 2 else list(dict.fromkeys(entity.types))
        now = self.context.now_us
        return Entity(
            id=entity.id,
            types=types,
            attrs=dict(entity.attrs),
            scope=entity.scope,
            created_at=now,
            modified_at=now,
            owner=owner,
        )

    def _touched(self, before: Entity, fragment: Entity) -> Entity:
        after = before.copy()
        after.modified_at = self.context.now_us
        if fragment.types:  # types are always added (4.16), by append, update and merge alike
            after.types = list(dict.fromkeys([*before.types, *fragment.types]))
        return after

    @staticmethod
    def _remove(entity: Entity, iri: str, dataset: str | None) -> None:
        remaining = attrs_ops.remove_instance(entity.attrs.get(iri), dataset)
        if remaining is None:
            entity.attrs.pop(iri, None)
        else:
            entity.attrs[iri] = remaining

    @staticmethod
    def _update_change(
        before: Entity, after: Entity, updated: set[str], deleted: set[str], created: set[str]
    ) -> Change:
        return Change(
            kind="update",
            entity_id=after.id,
            before=before,
            after=after,
            updated=updated,
            deleted=deleted,
            created=created,
        )
