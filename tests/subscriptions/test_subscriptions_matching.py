"""Unit rules of matching: a batch's net effect per entity, and which changes fire which
triggers (the HTTP tests show the same rules end to end)."""

from __future__ import annotations

from typing import Any

from qala.hub import Change
from qala.hub.model import Entity
from qala.jsonld.resolver import ContextResolver
from qala.subscriptions.matching import collapse, matches, notification_item
from qala.subscriptions.model import compile_subscription, validate

VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
LIGHT = VOCAB + "Streetlight"
CORE = ContextResolver().core


def sub(**members: Any) -> Any:
    body = {
        "type": "Subscription",
        "id": "urn:ngsi-ld:Subscription:1",
        "entities": [{"type": "Streetlight"}],
        "notification": {"endpoint": {"uri": "http://example.org/notify"}},
        **members,
    }
    doc = validate(body, CORE, max_terms=64, creating=True)
    return compile_subscription(1, "astana", doc, CORE, CORE, max_terms=64)


def light(level: int | None = None, *, types: list[str] | None = None) -> Entity:
    attrs = {} if level is None else {VOCAB + "dimLevel": {"type": "Property", "value": level}}
    return Entity("urn:ngsi-ld:Streetlight:1", types or [LIGHT], attrs)


def test_a_batch_that_creates_then_updates_an_entity_notifies_one_creation() -> None:
    first = Change(
        "create", light().id, None, light(1), {VOCAB + "dimLevel"}, set(), {VOCAB + "dimLevel"}
    )
    second = Change("update", light().id, light(1), light(2), {VOCAB + "dimLevel"}, set(), set())
    [net] = collapse([first, second])
    assert net.kind == "create" and net.before is None
    assert net.after is not None and net.after.attrs[VOCAB + "dimLevel"]["value"] == 2


def test_a_batch_that_updates_then_deletes_an_entity_notifies_one_deletion() -> None:
    update = Change("update", light().id, light(1), light(2), {VOCAB + "dimLevel"}, set(), set())
    delete = Change("delete", light().id, light(2), None, set(), {VOCAB + "dimLevel"}, set())
    [net] = collapse([update, delete])
    assert net.kind == "delete" and net.before is not None
    assert net.before.attrs[VOCAB + "dimLevel"]["value"] == 1


def test_a_replace_that_drops_an_attribute_is_an_attribute_deletion() -> None:
    replace = Change("replace", light().id, light(1), light(), set(), {VOCAB + "dimLevel"}, set())
    assert matches(sub(notificationTrigger=["attributeDeleted"]), replace)
    assert not matches(sub(notificationTrigger=["attributeUpdated"]), replace)
    item = notification_item(sub(notificationTrigger=["attributeDeleted"]), replace, 0)
    assert item["dimLevel"]["value"] == "urn:ngsi-ld:null"


def test_a_type_change_alone_is_an_entity_update() -> None:
    before = light(1)
    after = light(1, types=[LIGHT, VOCAB + "Device"])
    retype = Change("update", before.id, before, after, set(), set(), set())
    assert matches(sub(notificationTrigger=["entityUpdated"]), retype)
    assert not matches(sub(), retype)


def test_watched_attributes_apply_to_creations_and_deletions() -> None:
    created = Change(
        "create", light().id, None, light(1), {VOCAB + "dimLevel"}, set(), {VOCAB + "dimLevel"}
    )
    deleted = Change("delete", light().id, light(1), None, set(), {VOCAB + "dimLevel"}, set())
    triggers = ["entityCreated", "entityDeleted"]
    assert matches(sub(notificationTrigger=triggers, watchedAttributes=["dimLevel"]), created)
    assert matches(sub(notificationTrigger=triggers, watchedAttributes=["dimLevel"]), deleted)
    assert not matches(sub(notificationTrigger=triggers, watchedAttributes=["status"]), created)
    assert not matches(sub(notificationTrigger=triggers, watchedAttributes=["status"]), deleted)


def test_q_is_evaluated_on_the_state_after_the_change() -> None:
    update = Change("update", light().id, light(10), light(90), {VOCAB + "dimLevel"}, set(), set())
    assert matches(sub(q="dimLevel>50"), update)
    assert not matches(sub(q="dimLevel<50"), update)
