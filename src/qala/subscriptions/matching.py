"""Which subscriptions a change triggers, and what their notifications say about it.

Everything here runs inside the write transaction (see :class:`OutboxParticipant`), so it is
plain, fast Python over the in-memory :class:`SubscriptionIndex`: no I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from qala.hub import Change
from qala.hub.model import Entity, Instance, instances_of, us_to_iso
from qala.ngsild.linked import links_of
from qala.ngsild.render import render_entity
from qala.subscriptions.model import NULL, CompiledSubscription

#: The member that holds an attribute's value, and the member reporting its previous value.
_VALUE_MEMBERS = {
    "Property": ("value", "previousValue"),
    "GeoProperty": ("value", "previousValue"),
    "Relationship": ("object", "previousObject"),
    "LanguageProperty": ("languageMap", "previousLanguageMap"),
    "ListProperty": ("valueList", "previousValueList"),
    "ListRelationship": ("objectList", "previousObjectList"),
    "JsonProperty": ("json", "previousJson"),
    "VocabProperty": ("vocab", "previousVocab"),
}


@dataclass(slots=True)
class TenantIndex:
    """One tenant's subscriptions, filed by the entity types and ids they select."""

    subs: dict[str, CompiledSubscription] = field(default_factory=dict)
    by_type: dict[str, list[CompiledSubscription]] = field(default_factory=dict)
    by_id: dict[str, list[CompiledSubscription]] = field(default_factory=dict)
    anywhere: list[CompiledSubscription] = field(default_factory=list)

    @classmethod
    def build(cls, subs: Iterable[CompiledSubscription]) -> TenantIndex:
        index = cls()
        for sub in subs:
            index.subs[sub.id] = sub
            if sub.periodic:
                continue  # periodic subscriptions do not react to changes
            for type_iri in sub.index_types:
                index.by_type.setdefault(type_iri, []).append(sub)
            for entity_id in sub.index_ids:
                index.by_id.setdefault(entity_id, []).append(sub)
            if sub.index_any:
                index.anywhere.append(sub)
        return index

    @property
    def reacts(self) -> bool:
        return bool(self.by_type or self.by_id or self.anywhere)

    def candidates(self, change: Change) -> list[CompiledSubscription]:
        found: dict[str, CompiledSubscription] = {}
        for entity in (change.before, change.after):
            if entity is None:
                continue
            for type_iri in entity.types:
                for sub in self.by_type.get(type_iri, ()):
                    found.setdefault(sub.id, sub)
        for sub in self.by_id.get(change.entity_id, ()):
            found.setdefault(sub.id, sub)
        for sub in self.anywhere:
            found.setdefault(sub.id, sub)
        return list(found.values())


def collapse(changes: list[Change]) -> list[Change]:
    """One change per entity: a batch may touch an entity twice; notify its net effect."""
    if len({c.entity_id for c in changes}) == len(changes):
        return changes
    merged: dict[str, Change] = {}
    for change in changes:
        first = merged.get(change.entity_id)
        if first is None:
            merged[change.entity_id] = dataclasses.replace(
                change,
                updated=set(change.updated),
                deleted=set(change.deleted),
                created=set(change.created),
            )
            continue
        first.after = change.after
        first.updated |= change.updated
        first.deleted |= change.deleted
        first.created |= change.created
        if first.before is None and first.after is not None:
            first.kind = "create"
        elif first.after is None:
            first.kind = "delete"
        else:
            first.kind = "update"
            first.deleted -= set(first.after.attrs)
    return [c for c in merged.values() if c.before is not None or c.after is not None]


def triggered(sub: CompiledSubscription, change: Change) -> bool:
    """Whether ``change`` fires ``sub``'s notificationTrigger (selection not yet checked)."""
    triggers = sub.triggers
    watched = sub.watched
    if change.kind == "create":
        after = change.after
        assert after is not None
        attrs = set(after.attrs)
        if watched is not None:
            attrs &= watched
        if "entityCreated" in triggers and (watched is None or attrs):
            return True
        return "attributeCreated" in triggers and bool(attrs)
    if change.kind == "delete":
        before = change.before
        assert before is not None
        if "entityDeleted" not in triggers:
            return False
        return watched is None or bool(watched & set(before.attrs))
    created = change.created
    updated = change.updated - change.created
    deleted = change.deleted
    if watched is not None:
        created, updated, deleted = created & watched, updated & watched, deleted & watched
    whole = "entityUpdated" in triggers
    if created and (whole or "attributeCreated" in triggers):
        return True
    if updated and (whole or "attributeUpdated" in triggers):
        return True
    if deleted and (whole or "attributeDeleted" in triggers):
        return True
    if whole and watched is None and change.before is not None and change.after is not None:
        # Types or scope changed without any attribute changing.
        return (
            change.before.types != change.after.types or change.before.scope != change.after.scope
        )
    return False


def matches(sub: CompiledSubscription, change: Change) -> bool:
    if not triggered(sub, change):
        return False
    state = change.after if change.after is not None else change.before
    assert state is not None
    return sub.selects(state)


def notification_item(sub: CompiledSubscription, change: Change, now: int) -> dict[str, Any]:
    """The entity as the notification shows it: its state after ``change``."""
    if change.after is None:
        before = change.before
        assert before is not None
        # id, type and deletedAt (createdAt and modifiedAt with sysAttrs); with showChanges,
        # every attribute as deleted, with its previous value.
        gone = before.copy()
        gone.attrs = {}
        if sub.show_changes:
            deleted_at = us_to_iso(now)
            for iri, value in before.attrs.items():
                if sub.render.pick is not None and iri not in sub.render.pick:
                    continue
                shown = [_deleted_instance(sub, i, deleted_at) for i in instances_of(value)]
                gone.attrs[iri] = shown[0] if len(shown) == 1 else shown
        item = render_entity(gone, sub.notify_ctx, sub.render)
        item["deletedAt"] = us_to_iso(now)
        return item
    entity = change.after
    if sub.show_changes or change.deleted:
        entity = _with_changes(sub, change, now)
    return with_links(sub, entity, render_entity(entity, sub.notify_ctx, sub.render))


#: The member of an outbox item that lists the relationships to follow (``notification.join``):
#: ``[[compact name, target id], …]``. No attribute name holds a NUL; it is taken out before
#: the notification is sent, when the linked entities are fetched.
LINKS = "\u0000links"


def with_links(sub: CompiledSubscription, entity: Entity, item: dict[str, Any]) -> dict[str, Any]:
    """``item`` (the rendered ``entity``) with the relationships a joined notification
    follows, found here from the entity itself: rendered keyValues no longer tell them."""
    if sub.join is not None:
        found = links_of(entity, sub.notify_ctx, sub.render, item)
        if found:
            item[LINKS] = found
    return item


def _with_changes(sub: CompiledSubscription, change: Change, now: int) -> Entity:
    """A copy of the new state with previous values (showChanges) and deleted attributes."""
    after = change.after
    before = change.before
    assert after is not None
    shown = after.copy()
    pick = sub.render.pick
    if sub.show_changes and before is not None:
        for iri in change.updated:
            if iri not in after.attrs or iri not in before.attrs:
                continue
            old = {_dataset(i): i for i in instances_of(before.attrs[iri])}
            fresh = []
            for instance in instances_of(after.attrs[iri]):
                previous = old.get(_dataset(instance))
                copy = dict(instance)
                if previous is not None:
                    value_member, previous_member = _VALUE_MEMBERS.get(
                        str(previous.get("type")), ("value", "previousValue")
                    )
                    if value_member in previous:
                        copy[previous_member] = previous[value_member]
                fresh.append(copy)
            shown.attrs[iri] = fresh if isinstance(after.attrs[iri], list) else fresh[0]
    if before is not None:
        deleted_at = us_to_iso(now)
        for iri in change.deleted:
            if pick is not None and iri not in pick:
                continue
            remaining = {_dataset(i) for i in instances_of(after.attrs.get(iri))}
            gone = [
                _deleted_instance(sub, i, deleted_at)
                for i in instances_of(before.attrs.get(iri))
                if _dataset(i) not in remaining
            ]
            if not gone:
                continue
            current = instances_of(shown.attrs.get(iri))
            together = [*current, *gone]
            shown.attrs[iri] = (
                together[0] if len(together) == 1 and iri not in after.attrs else (together)
            )
    return shown


def _dataset(instance: Instance) -> str | None:
    dataset = instance.get("datasetId")
    return dataset if isinstance(dataset, str) else None


def _deleted_instance(sub: CompiledSubscription, instance: Instance, deleted_at: str) -> Instance:
    """A deleted attribute instance: its value is null (a LanguageProperty's is
    ``{"@none": null}``); previous value with showChanges; system times with sysAttrs."""
    kind = str(instance.get("type", "Property"))
    value_member, previous_member = _VALUE_MEMBERS.get(kind, ("value", "previousValue"))
    null: Any = {"@none": NULL} if kind == "LanguageProperty" else NULL
    out: Instance = {"type": kind, value_member: null}
    if "datasetId" in instance:
        out["datasetId"] = instance["datasetId"]
    if sub.show_changes and value_member in instance:
        out[previous_member] = instance[value_member]
    if sub.render.sys_attrs:
        for member in ("createdAt", "modifiedAt"):
            if member in instance:
                out[member] = instance[member]
        out["deletedAt"] = deleted_at
    return out
