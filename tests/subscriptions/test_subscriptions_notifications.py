"""Notifications over HTTP: what triggers them, what they contain, and how they are delivered."""

from __future__ import annotations

import itertools
import time
from typing import Any

from fastapi.testclient import TestClient
from subscriptions_support import (
    Receiver,
    get_subscription,
    subscribe,
    subscription,
    wait_for,
)

from ngsi import BASE, CORE, headers, link, point, prop, rel, streetlight
from qala.app import create_app
from qala.config import Settings
from testkit import ADMIN_KEY

LIGHT = "urn:ngsi-ld:Streetlight:1"


def create(client: TestClient, entity: dict[str, Any], **kw: str) -> None:
    response = client.post(f"{BASE}/entities", json=entity, headers=headers(**kw))
    assert response.status_code == 201, response.text


def patch_attrs(client: TestClient, entity_id: str, attrs: dict[str, Any], **kw: str) -> None:
    response = client.patch(f"{BASE}/entities/{entity_id}/attrs", json=attrs, headers=headers(**kw))
    assert response.status_code == 204, response.text


def statuses(items: list[dict[str, Any]]) -> list[Any]:
    return [item["status"]["value"] for item in items]


# -- the notification document ---------------------------------------------------------------


def test_a_notification_carries_the_entity_as_it_is_after_the_change(
    client: TestClient, receiver: Receiver
) -> None:
    sub_id = subscribe(client, subscription(receiver.url()), tenant="astana")
    create(client, streetlight(1), tenant="astana")
    [received] = receiver.wait(1)
    body = received.body
    assert body["id"].startswith("urn:ngsi-ld:Notification:")
    assert body["type"] == "Notification"
    assert body["subscriptionId"] == sub_id
    assert body["notifiedAt"].endswith("Z")
    assert body["data"] == [
        {
            "id": LIGHT,
            "type": "Streetlight",
            "status": {"type": "Property", "value": "ok"},
            "location": point(71.4491, 51.1694),
        }
    ]
    assert received.headers["content-type"] == "application/json"
    assert received.headers["link"] == link(CORE)
    assert received.headers["ngsild-tenant"] == "astana"
    wait_for(
        lambda: get_subscription(client, sub_id, tenant="astana")["notification"]["timesSent"] == 1,
        what="the delivery to be recorded",
    )
    status = get_subscription(client, sub_id, tenant="astana")
    assert status["notification"]["lastSuccess"] == status["notification"]["lastNotification"]


def test_ld_json_endpoints_get_the_context_in_the_body_and_receiver_info_headers(
    client: TestClient, receiver: Receiver
) -> None:
    endpoint = {
        "uri": receiver.url(),
        "accept": "application/ld+json",
        "receiverInfo": [{"key": "X-Api-Key", "value": "s3cret"}],
    }
    subscribe(client, subscription(receiver.url(), notification={"endpoint": endpoint}))
    create(client, streetlight(1))
    [received] = receiver.wait(1)
    assert received.headers["content-type"] == "application/ld+json"
    assert received.headers["x-api-key"] == "s3cret"
    assert "link" not in received.headers
    assert "ngsild-tenant" not in received.headers  # the default tenant
    assert received.body["@context"] == CORE
    # each entity is a JSON-LD entity too (ETSI 046_14_01)
    assert received.body["data"][0]["@context"] == CORE


def test_a_dataset_id_member_keeps_only_those_instances(
    client: TestClient, receiver: Receiver
) -> None:
    # GS CIM 009 v1.8 4.5.5 (ETSI 028_06, 046_19): the notified attributes' instances are those
    # of the datasetIds named; @none names the default instance
    sub = subscription(receiver.url(), datasetId=["urn:ngsi-ld:Dataset:night"])
    sub_id = subscribe(client, sub)
    assert get_subscription(client, sub_id)["datasetId"] == ["urn:ngsi-ld:Dataset:night"]
    subscribe(client, subscription(receiver.url("/default"), datasetId=["@none"]))
    night = prop("dim", datasetId="urn:ngsi-ld:Dataset:night")
    create(client, {**streetlight(1), "status": [prop("ok"), night]})
    [received] = receiver.wait(1)
    assert received.body["data"][0]["status"] == night
    [default] = receiver.wait(1, "/default")
    assert default.body["data"][0]["status"] == prop("ok")
    for bad in ([], ["not a uri"], [3]):
        response = client.post(f"{BASE}/subscriptions", headers=headers(),
                               json=subscription(receiver.url(), datasetId=bad))  # fmt: skip
        assert response.status_code == 400, (bad, response.text)


def test_notifications_use_the_subscriptions_context(
    client: TestClient, receiver: Receiver
) -> None:
    context_url = receiver.base + "/lighting.jsonld"
    receiver.documents["/lighting.jsonld"] = {
        "@context": {
            "Lamp": "https://example.org/lighting/Lamp",
            "brightness": "https://example.org/lighting/brightness",
        }
    }
    body = subscription(
        receiver.url(), entities=[{"type": "Lamp"}], watchedAttributes=["brightness"]
    )
    subscribe(client, body, context=context_url)
    lamp = {"id": "urn:ngsi-ld:Lamp:1", "type": "Lamp", "brightness": prop(70)}
    create(client, lamp, context=context_url)
    [received] = receiver.wait(1)
    assert received.body["data"] == [lamp]
    assert received.headers["link"] == link(context_url)
    # The same name written without the context is a different attribute.
    response = client.post(
        f"{BASE}/entities/urn:ngsi-ld:Lamp:1/attrs", json={"brightness": prop(10)}
    )
    assert response.status_code == 204, response.text
    assert len(receiver.quiet_items()) == 1
    patch_attrs(client, "urn:ngsi-ld:Lamp:1", {"brightness": prop(20)}, context=context_url)
    assert receiver.wait(2)[1].body["data"][0]["brightness"]["value"] == 20


def test_a_jsonld_context_member_chooses_the_notification_context(
    client: TestClient, receiver: Receiver
) -> None:
    receiver.documents["/short.jsonld"] = {
        "@context": {"light": "https://uri.etsi.org/ngsi-ld/status"}
    }
    context_url = receiver.base + "/short.jsonld"
    subscribe(client, subscription(receiver.url(), jsonldContext=context_url))
    create(client, streetlight(1))
    [received] = receiver.wait(1)
    assert received.body["data"][0]["light"] == {"type": "Property", "value": "ok"}
    assert received.headers["link"] == link(context_url)


# -- triggers --------------------------------------------------------------------------------


def test_by_default_creations_and_updates_notify_deletions_do_not(
    client: TestClient, receiver: Receiver
) -> None:
    subscribe(client, subscription(receiver.url()))
    create(client, streetlight(1))
    patch_attrs(client, LIGHT, {"status": prop("broken")})
    assert statuses(receiver.wait_items(2)) == ["ok", "broken"]
    response = client.delete(f"{BASE}/entities/{LIGHT}/attrs/status")
    assert response.status_code == 204
    assert client.delete(f"{BASE}/entities/{LIGHT}").status_code == 204
    assert len(receiver.quiet_items()) == 2


def test_entity_created_fires_on_creation_only(client: TestClient, receiver: Receiver) -> None:
    subscribe(client, subscription(receiver.url(), notificationTrigger=["entityCreated"]))
    create(client, streetlight(1))
    receiver.wait(1)
    patch_attrs(client, LIGHT, {"status": prop("broken")})
    create(client, streetlight(2))
    items = receiver.wait_items(2)
    assert [i["id"] for i in items] == [LIGHT, "urn:ngsi-ld:Streetlight:2"]
    assert len(receiver.quiet_items(seconds=0.3)) == 2


def test_entity_deleted_reports_id_type_and_deletion_time(
    client: TestClient, receiver: Receiver
) -> None:
    subscribe(client, subscription(receiver.url(), notificationTrigger=["entityDeleted"]))
    create(client, streetlight(1))
    assert client.delete(f"{BASE}/entities/{LIGHT}").status_code == 204
    [received] = receiver.wait(1)
    [item] = received.data
    assert set(item) == {"id", "type", "deletedAt"}
    assert item["id"] == LIGHT and item["type"] == "Streetlight"
    assert item["deletedAt"].endswith("Z")


def test_attribute_triggers_distinguish_creation_update_and_deletion(
    client: TestClient, receiver: Receiver
) -> None:
    created = receiver.url("/created")
    updated = receiver.url("/updated")
    deleted = receiver.url("/deleted")
    whole = receiver.url("/entity")
    subscribe(client, subscription(created, notificationTrigger=["attributeCreated"]))
    subscribe(client, subscription(updated, notificationTrigger=["attributeUpdated"]))
    subscribe(client, subscription(deleted, notificationTrigger=["attributeDeleted"]))
    subscribe(client, subscription(whole, notificationTrigger=["entityUpdated"]))
    create(client, streetlight(1))  # creates status and location
    patch_attrs(client, LIGHT, {"status": prop("broken")})  # updates status
    response = client.post(f"{BASE}/entities/{LIGHT}/attrs", json={"powerState": prop("off")})
    assert response.status_code == 204  # creates powerState
    assert client.delete(f"{BASE}/entities/{LIGHT}/attrs/powerState").status_code == 204
    receiver.wait_items(2, "/created")
    receiver.wait_items(1, "/updated")
    receiver.wait_items(1, "/deleted")
    receiver.wait_items(3, "/entity")
    time.sleep(0.3)
    assert len(receiver.items("/created")) == 2
    assert len(receiver.items("/updated")) == 1
    assert len(receiver.items("/entity")) == 3
    [gone] = receiver.items("/deleted")
    assert gone["powerState"] == {"type": "Property", "value": "urn:ngsi-ld:null"}
    assert gone["status"] == {"type": "Property", "value": "broken"}


def test_watched_attributes_limit_what_triggers(client: TestClient, receiver: Receiver) -> None:
    subscribe(client, subscription(receiver.url(), watchedAttributes=["status"]))
    create(client, streetlight(1))
    receiver.wait(1)
    patch_attrs(client, LIGHT, {"location": point(71.5, 51.2)})
    patch_attrs(client, LIGHT, {"status": prop("broken")})
    items = receiver.wait_items(2)
    assert statuses(items) == ["ok", "broken"]
    assert items[1]["location"]["value"]["coordinates"] == [71.5, 51.2]
    assert len(receiver.quiet_items(seconds=0.3)) == 2


# -- filters ---------------------------------------------------------------------------------


def test_q_selects_the_entities_to_notify(client: TestClient, receiver: Receiver) -> None:
    subscribe(client, subscription(receiver.url(), q='status=="broken"'))
    create(client, streetlight(1))
    create(client, streetlight(2, status="broken"))
    patch_attrs(client, LIGHT, {"status": prop("broken")})
    items = receiver.wait_items(2)
    assert [i["id"] for i in items] == ["urn:ngsi-ld:Streetlight:2", LIGHT]
    assert len(receiver.quiet_items(seconds=0.3)) == 2


def test_geoq_selects_by_place(client: TestClient, receiver: Receiver) -> None:
    geo_q = {
        "geometry": "Point",
        "coordinates": [71.4491, 51.1694],
        "georel": "near;maxDistance==2000",
    }
    subscribe(client, subscription(receiver.url(), geoQ=geo_q))
    create(client, streetlight(1))  # in the centre of Astana
    create(client, streetlight(2, lon=76.9, lat=43.25))  # in Almaty
    [received] = receiver.wait(1)
    assert [i["id"] for i in received.data] == [LIGHT]
    patch_attrs(client, "urn:ngsi-ld:Streetlight:2", {"location": point(71.45, 51.17)})
    items = receiver.wait_items(2)
    assert items[1]["id"] == "urn:ngsi-ld:Streetlight:2"


def test_entity_selectors_by_id_and_id_pattern(client: TestClient, receiver: Receiver) -> None:
    subscribe(client, subscription(receiver.url("/id"), entities=[{"id": LIGHT}]))
    subscribe(
        client,
        subscription(
            receiver.url("/pattern"),
            entities=[{"idPattern": "^urn:ngsi-ld:Streetlight:2"}],
        ),
    )
    for number in (1, 2, 20, 3):
        create(client, streetlight(number))
    assert [i["id"] for i in receiver.wait_items(1, "/id")] == [LIGHT]
    pattern = receiver.wait_items(2, "/pattern")
    assert [i["id"] for i in pattern] == ["urn:ngsi-ld:Streetlight:2", "urn:ngsi-ld:Streetlight:20"]
    time.sleep(0.3)
    assert len(receiver.items("/id")) == 1 and len(receiver.items("/pattern")) == 2


# -- content options -------------------------------------------------------------------------


def test_attributes_format_and_sys_attrs_shape_the_content(
    client: TestClient, receiver: Receiver
) -> None:
    notification = {"attributes": ["status", "owner"], "format": "keyValues"}
    subscribe(client, subscription(receiver.url("/kv"), notification=notification))
    concise = {"format": "concise", "sysAttrs": True}
    subscribe(client, subscription(receiver.url("/concise"), notification=concise))
    create(client, streetlight(1, owner=rel("urn:ngsi-ld:Organization:akimat")))
    [kv] = receiver.wait_items(1, "/kv")
    assert kv == {
        "id": LIGHT,
        "type": "Streetlight",
        "status": "ok",
        "owner": "urn:ngsi-ld:Organization:akimat",
    }
    [short] = receiver.wait_items(1, "/concise")
    assert short["status"]["value"] == "ok"
    assert short["status"]["createdAt"] == short["createdAt"]
    assert short["owner"]["object"] == "urn:ngsi-ld:Organization:akimat"
    assert short["location"]["value"]["type"] == "Point"


def test_show_changes_adds_previous_values(client: TestClient, receiver: Receiver) -> None:
    subscribe(
        client,
        subscription(
            receiver.url(),
            notificationTrigger=["attributeUpdated", "attributeDeleted"],
            notification={"showChanges": True},
        ),
    )
    create(client, streetlight(1, owner=rel("urn:ngsi-ld:Organization:a")))
    patch_attrs(
        client, LIGHT, {"status": prop("broken"), "owner": rel("urn:ngsi-ld:Organization:b")}
    )
    [first] = receiver.wait_items(1)
    assert first["status"] == {"type": "Property", "value": "broken", "previousValue": "ok"}
    assert first["owner"]["previousObject"] == "urn:ngsi-ld:Organization:a"
    assert "previousValue" not in first["location"]  # not changed
    assert client.delete(f"{BASE}/entities/{LIGHT}/attrs/status").status_code == 204
    second = receiver.wait_items(2)[1]
    assert second["status"]["value"] == "urn:ngsi-ld:null"
    assert second["status"]["previousValue"] == "broken"


def test_deleted_attributes_show_system_times_only_with_sys_attrs(
    client: TestClient, receiver: Receiver
) -> None:
    plain = receiver.url("/plain")
    timed = receiver.url("/timed")
    triggers = ["attributeDeleted"]
    subscribe(client, subscription(plain, notificationTrigger=triggers))
    subscribe(
        client, subscription(timed, notificationTrigger=triggers, notification={"sysAttrs": True})
    )
    name = {"type": "LanguageProperty", "languageMap": {"kk": "Шам", "ru": "Фонарь"}}
    create(client, streetlight(1, name=name))
    assert client.delete(f"{BASE}/entities/{LIGHT}/attrs/status").status_code == 204
    assert client.delete(f"{BASE}/entities/{LIGHT}/attrs/name").status_code == 204
    first, second = receiver.wait_items(2, "/plain")
    assert first["status"] == {"type": "Property", "value": "urn:ngsi-ld:null"}
    # A LanguageProperty's null is a language map.
    assert second["name"] == {
        "type": "LanguageProperty",
        "languageMap": {"@none": "urn:ngsi-ld:null"},
    }
    first, _ = receiver.wait_items(2, "/timed")
    status = first["status"]
    assert status["value"] == "urn:ngsi-ld:null"
    assert {"createdAt", "modifiedAt", "deletedAt"} <= set(status)


def test_a_deleted_entity_shows_its_attributes_with_show_changes_and_times_with_sys_attrs(
    client: TestClient, receiver: Receiver
) -> None:
    changes = receiver.url("/changes")
    timed = receiver.url("/timed")
    triggers = ["entityDeleted"]
    subscribe(
        client,
        subscription(changes, notificationTrigger=triggers, notification={"showChanges": True}),
    )
    subscribe(
        client,
        subscription(
            timed,
            notificationTrigger=triggers,
            notification={"sysAttrs": True, "format": "keyValues"},
        ),
    )
    create(client, streetlight(1, owner=rel("urn:ngsi-ld:Organization:a")))
    assert client.delete(f"{BASE}/entities/{LIGHT}").status_code == 204
    [item] = receiver.wait_items(1, "/changes")
    assert item["deletedAt"].endswith("Z")
    assert item["status"] == {
        "type": "Property",
        "value": "urn:ngsi-ld:null",
        "previousValue": "ok",
    }
    assert item["owner"] == {
        "type": "Relationship",
        "object": "urn:ngsi-ld:null",
        "previousObject": "urn:ngsi-ld:Organization:a",
    }
    [item] = receiver.wait_items(1, "/timed")
    assert set(item) == {"id", "type", "createdAt", "modifiedAt", "deletedAt"}


def test_sys_attrs_gives_the_entity_times_in_simplified_notifications(
    client: TestClient, receiver: Receiver
) -> None:
    notification = {"sysAttrs": True, "format": "keyValues"}
    subscribe(client, subscription(receiver.url(), notification=notification))
    create(client, streetlight(1))
    [item] = receiver.wait_items(1)
    assert item["createdAt"].endswith("Z") and item["modifiedAt"].endswith("Z")
    assert item["status"] == "ok"


def test_show_changes_gives_the_previous_vocab_compacted(
    client: TestClient, receiver: Receiver
) -> None:
    subscribe(
        client,
        subscription(
            receiver.url(),
            notificationTrigger=["attributeUpdated"],
            notification={"showChanges": True},
        ),
    )
    create(client, streetlight(1, category={"type": "VocabProperty", "vocab": "street"}))
    patch_attrs(client, LIGHT, {"category": {"type": "VocabProperty", "vocab": "park"}})
    [item] = receiver.wait_items(1)
    assert item["category"] == {"type": "VocabProperty", "vocab": "park", "previousVocab": "street"}


def test_lang_picks_one_language_of_language_properties(
    client: TestClient, receiver: Receiver
) -> None:
    subscribe(client, subscription(receiver.url(), lang="kk"))
    name = {"type": "LanguageProperty", "languageMap": {"kk": "Шам", "ru": "Фонарь"}}
    create(client, streetlight(1, name=name))
    [item] = receiver.wait_items(1)
    assert item["name"] == {"type": "Property", "value": "Шам", "lang": "kk"}


# -- every write path ------------------------------------------------------------------------


def test_a_batch_write_notifies_once_with_every_matching_entity(
    client: TestClient, receiver: Receiver
) -> None:
    subscribe(client, subscription(receiver.url(), q='status!="ok"'))
    batch = [streetlight(1), streetlight(2, status="broken"), streetlight(3, status="dim")]
    response = client.post(f"{BASE}/entityOperations/create", json=batch)
    assert response.status_code == 201, response.text
    [received] = receiver.wait(1)
    assert [(i["id"], i["status"]["value"]) for i in received.data] == [
        ("urn:ngsi-ld:Streetlight:2", "broken"),
        ("urn:ngsi-ld:Streetlight:3", "dim"),
    ]
    upsert = [streetlight(1, status="broken"), streetlight(4, status="off")]
    response = client.post(f"{BASE}/entityOperations/upsert?options=update", json=upsert)
    assert response.status_code in (201, 204), response.text
    second = receiver.wait(2)[1]
    assert [(i["id"], i["status"]["value"]) for i in second.data] == [
        (LIGHT, "broken"),
        ("urn:ngsi-ld:Streetlight:4", "off"),
    ]


def test_merges_and_partial_updates_notify_the_full_new_state(
    client: TestClient, receiver: Receiver
) -> None:
    subscribe(client, subscription(receiver.url(), notificationTrigger=["entityUpdated"]))
    create(client, streetlight(1, powerState=prop("on"), dimLevel=prop(80, unitCode="P1")))
    # Merge: one attribute changed, one deleted with the null marker.
    merge = {"status": prop("broken"), "powerState": "urn:ngsi-ld:null"}
    response = client.patch(f"{BASE}/entities/{LIGHT}", json=merge)
    assert response.status_code == 204, response.text
    [merged] = receiver.wait_items(1)
    assert merged["status"]["value"] == "broken"
    assert merged["powerState"]["value"] == "urn:ngsi-ld:null"
    assert merged["dimLevel"] == {"type": "Property", "value": 80, "unitCode": "P1"}
    # Partial update of one attribute: the other members of that attribute stay.
    response = client.patch(f"{BASE}/entities/{LIGHT}/attrs/dimLevel", json={"value": 30})
    assert response.status_code == 204, response.text
    partial = receiver.wait_items(2)[1]
    assert partial["dimLevel"] == {"type": "Property", "value": 30, "unitCode": "P1"}
    assert partial["status"]["value"] == "broken"
    assert "powerState" not in partial
    # Batch merge and batch update.
    response = client.post(
        f"{BASE}/entityOperations/merge", json=[{"id": LIGHT, "status": prop("repaired")}]
    )
    assert response.status_code == 204, response.text
    assert receiver.wait_items(3)[2]["status"]["value"] == "repaired"
    response = client.post(
        f"{BASE}/entityOperations/update", json=[{"id": LIGHT, "status": prop("ok")}]
    )
    assert response.status_code == 204, response.text
    assert receiver.wait_items(4)[3]["status"]["value"] == "ok"


def test_each_update_of_a_stream_is_notified_in_order(
    client: TestClient, receiver: Receiver
) -> None:
    subscribe(client, subscription(receiver.url()))
    create(client, streetlight(1, dimLevel=prop(0)))
    for level in range(1, 41):
        patch_attrs(client, LIGHT, {"dimLevel": prop(level)})
    items = receiver.wait_items(41)
    assert [i["dimLevel"]["value"] for i in items] == list(range(41))


# -- throttling, periodic notifications, expiry, pause -----------------------------------------


def test_throttling_spaces_notifications_and_sends_the_latest_state(
    client: TestClient, receiver: Receiver
) -> None:
    subscribe(client, subscription(receiver.url(), throttling=2))
    create(client, streetlight(1))
    receiver.wait(1)
    for n in range(5):
        patch_attrs(client, LIGHT, {"status": prop(f"s{n}")})
    assert len(receiver.at("/notify")) == 1  # still inside the throttling window
    first, second = receiver.wait(2, timeout=5)
    assert statuses(second.data) == ["s4"]  # the latest state, once
    assert second.at - first.at >= 1.9
    assert len(receiver.quiet_items(seconds=0.5)) == 2


def test_time_interval_notifies_the_current_state_periodically(
    client: TestClient, receiver: Receiver
) -> None:
    create(client, streetlight(1))
    create(client, streetlight(2, status="broken"))
    sub_id = subscribe(client, subscription(receiver.url(), timeInterval=0.6))
    first, _, third = receiver.wait(3, timeout=5)[:3]
    assert sorted(i["id"] for i in first.data) == [LIGHT, "urn:ngsi-ld:Streetlight:2"]
    assert third.at - first.at >= 1.0  # two periods of 0.6 s
    patch_attrs(client, LIGHT, {"status": prop("dim")})
    latest = receiver.wait(5, timeout=5)[4]
    assert {i["id"]: i["status"]["value"] for i in latest.data}[LIGHT] == "dim"
    wait_for(
        lambda: get_subscription(client, sub_id)["notification"]["timesSent"] >= 5,
        what="the deliveries to be recorded",
    )


def test_expired_subscriptions_stop_and_say_so(client: TestClient, receiver: Receiver) -> None:
    expires = time.time() + 2.5
    stamp = (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(expires))
        + f".{int(expires % 1 * 1000):03d}Z"
    )
    sub_id = subscribe(client, subscription(receiver.url(), expiresAt=stamp))
    create(client, streetlight(1))
    receiver.wait(1)
    assert get_subscription(client, sub_id)["status"] == "active"
    time.sleep(max(0.0, expires - time.time()) + 0.1)
    patch_attrs(client, LIGHT, {"status": prop("broken")})
    assert len(receiver.quiet_items(seconds=0.4)) == 1
    assert get_subscription(client, sub_id)["status"] == "expired"


def test_paused_subscriptions_are_silent_until_resumed(
    client: TestClient, receiver: Receiver
) -> None:
    sub_id = subscribe(client, subscription(receiver.url()))
    client.patch(f"{BASE}/subscriptions/{sub_id}", json={"isActive": False})
    create(client, streetlight(1))
    assert receiver.quiet_items(seconds=0.4) == []
    client.patch(f"{BASE}/subscriptions/{sub_id}", json={"isActive": True})
    patch_attrs(client, LIGHT, {"status": prop("broken")})
    assert statuses(receiver.wait_items(1)) == ["broken"]


def test_a_deleted_subscription_stops_notifying(client: TestClient, receiver: Receiver) -> None:
    sub_id = subscribe(client, subscription(receiver.url()))
    create(client, streetlight(1))
    receiver.wait(1)
    assert client.delete(f"{BASE}/subscriptions/{sub_id}").status_code == 204
    patch_attrs(client, LIGHT, {"status": prop("broken")})
    assert len(receiver.quiet_items(seconds=0.4)) == 1


def test_a_subscription_deleted_while_its_notification_waits_sends_nothing(
    settings: Settings, receiver: Receiver
) -> None:
    # One sending slot, held by a slow endpoint: the other subscription's notification waits
    # for it, and the subscription is deleted meanwhile. Once DELETE has answered, nothing of
    # it starts (it used to be sent when the slot came free).
    receiver.delay["/slow"] = 1.0
    app = create_app(settings.model_copy(update={"notification_concurrency": 1}))
    with TestClient(app, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as one_slot:
        subscribe(one_slot, subscription(receiver.url("/slow")))
        create(one_slot, streetlight(1))
        wait_for(lambda: receiver.attempts.get("/slow"), what="the slow delivery to start")
        doomed = subscribe(one_slot, subscription(receiver.url("/doomed")))
        patch_attrs(one_slot, LIGHT, {"status": prop("broken")})  # queued behind the slow one
        assert one_slot.delete(f"{BASE}/subscriptions/{doomed}").status_code == 204
        receiver.wait(2, "/slow", timeout=5)
        assert receiver.quiet("/doomed", seconds=0.5) == []


# -- failures ----------------------------------------------------------------------------------


def test_a_failing_endpoint_is_retried_with_backoff_without_delaying_others(
    client: TestClient, receiver: Receiver
) -> None:
    receiver.status["/down"] = 503
    failing = subscribe(client, subscription(receiver.url("/down")))
    healthy = subscribe(client, subscription(receiver.url("/notify")))
    create(client, streetlight(1))
    for n in range(3):
        patch_attrs(client, LIGHT, {"status": prop(f"s{n}")})
    # The healthy subscription is served at once, whatever happens to the other.
    assert statuses(receiver.wait_items(4, timeout=2)) == ["ok", "s0", "s1", "s2"]
    wait_for(lambda: len(receiver.attempts.get("/down", [])) >= 4, timeout=5, what="4 attempts")
    tries = receiver.attempts["/down"][:4]
    gaps = [b - a for a, b in itertools.pairwise(tries)]
    # Exponential backoff: 0.2 s, 0.4 s, 0.8 s (±10 %; request times blur the first gap).
    assert gaps[2] > gaps[1] > gaps[0] and gaps[2] > 2 * gaps[0], gaps
    status = get_subscription(client, failing)
    assert status["status"] == "failed"
    assert status["notification"]["status"] == "failed"
    assert status["notification"]["timesFailed"] >= 3
    assert status["notification"]["timesSent"] == 0
    assert "HTTP 503" in status["notification"]["lastFailureReason"]
    assert get_subscription(client, healthy)["status"] == "active"
    # The endpoint recovers: everything pending arrives, in order, and the status clears.
    receiver.status["/down"] = 200
    items = receiver.wait_items(4, "/down", timeout=5)
    assert statuses(items) == ["ok", "s0", "s1", "s2"]
    wait_for(lambda: get_subscription(client, failing)["status"] == "active", what="recovery")
    assert "lastFailureReason" not in get_subscription(client, failing)["notification"]


def test_pointing_a_failing_subscription_elsewhere_delivers_its_backlog_at_once(
    slow_retry_client: TestClient, receiver: Receiver
) -> None:
    client = slow_retry_client
    receiver.status["/down"] = 500
    sub_id = subscribe(client, subscription(receiver.url("/down")))
    create(client, streetlight(1))
    patch_attrs(client, LIGHT, {"status": prop("broken")})
    wait_for(lambda: len(receiver.attempts.get("/down", [])) >= 1, what="an attempt")
    # The next retry is 5 s away; a new endpoint is tried at once.
    endpoint = {"endpoint": {"uri": receiver.url("/new")}}
    response = client.patch(f"{BASE}/subscriptions/{sub_id}", json={"notification": endpoint})
    assert response.status_code == 204, response.text
    assert statuses(receiver.wait_items(2, "/new", timeout=3.0)) == ["ok", "broken"]


def test_a_slow_endpoint_delays_neither_writes_nor_other_subscriptions(
    client: TestClient, receiver: Receiver
) -> None:
    receiver.delay["/slow"] = 3.0
    subscribe(client, subscription(receiver.url("/slow")))
    subscribe(client, subscription(receiver.url("/fast")))
    create(client, streetlight(1))
    started = time.monotonic()
    for n in range(5):
        patch_attrs(client, LIGHT, {"status": prop(f"s{n}")})
    assert time.monotonic() - started < 2.0
    items = receiver.wait_items(6, "/fast", timeout=2.0)
    assert statuses(items)[-1] == "s4"
    assert len(receiver.at("/slow")) == 0  # the first one is still being answered


def test_an_unreachable_endpoint_is_reported(client: TestClient, receiver: Receiver) -> None:
    receiver.server.server_address  # noqa: B018 - keeps the receiver alive for the fixture
    sub_id = subscribe(client, subscription("http://127.0.0.1:9/nothing-listens"))
    create(client, streetlight(1))
    wait_for(
        lambda: get_subscription(client, sub_id)["notification"]["timesFailed"] >= 1,
        what="a failed attempt",
    )
    body = get_subscription(client, sub_id)
    assert body["status"] == "failed"
    assert body["notification"]["lastFailureReason"]


# -- tenants ---------------------------------------------------------------------------------


def test_a_tenant_never_sees_another_tenants_changes(
    client: TestClient, receiver: Receiver
) -> None:
    everything = subscription(receiver.url("/astana"), entities=[{"idPattern": ".*"}])
    subscribe(client, everything, tenant="astana")
    watched = subscription(receiver.url("/astana-watch"), watchedAttributes=["status"])
    watched.pop("entities")
    subscribe(client, watched, tenant="astana")
    subscribe(client, subscription(receiver.url("/default")))
    create(client, streetlight(1), tenant="almaty")
    patch_attrs(client, LIGHT, {"status": prop("broken")}, tenant="almaty")
    response = client.post(
        f"{BASE}/entityOperations/upsert", json=[streetlight(2)], headers=headers("almaty")
    )
    assert response.status_code in (201, 204)
    create(client, streetlight(3), tenant="astana")
    [astana] = receiver.wait(1, "/astana")
    assert [i["id"] for i in astana.data] == ["urn:ngsi-ld:Streetlight:3"]
    assert astana.headers["ngsild-tenant"] == "astana"
    watch = receiver.wait_items(1, "/astana-watch")
    assert [i["id"] for i in watch] == ["urn:ngsi-ld:Streetlight:3"]
    time.sleep(0.3)
    assert len(receiver.items("/astana")) == 1 and len(receiver.items("/astana-watch")) == 1
    assert receiver.at("/default") == []


def test_notification_status_appears_with_the_first_attempt_and_is_active_only_as_given(
    client: TestClient, receiver: Receiver
) -> None:
    sub_id = subscribe(client, subscription(receiver.url()))
    before = get_subscription(client, sub_id)
    assert "isActive" not in before and "status" not in before["notification"]
    create(client, streetlight(1))
    receiver.wait_items(1)
    wait_for(lambda: "status" in get_subscription(client, sub_id)["notification"])
    assert get_subscription(client, sub_id)["notification"]["status"] == "ok"
    client.patch(f"{BASE}/subscriptions/{sub_id}", json={"isActive": False})
    assert get_subscription(client, sub_id)["isActive"] is False


# -- linked entities: notification.join (GS CIM 009 4.5.23, 5.8.6) ----------------------------

CABINET = "urn:ngsi-ld:Cabinet:7"
FEEDER = "urn:ngsi-ld:Feeder:1"


def _linked_setup(client: TestClient) -> None:
    create(client, {"id": FEEDER, "type": "Feeder", "voltage": prop(380)})
    create(client, {"id": CABINET, "type": "Cabinet", "name": prop("Esil 7"),
                    "feeds": rel(FEEDER)})  # fmt: skip


def test_join_flat_notifies_the_linked_entities_after_the_entity(
    client: TestClient, receiver: Receiver
) -> None:
    _linked_setup(client)
    notification = {"join": "flat", "joinLevel": 2, "attributes": ["servedBy"]}
    sub_id = subscribe(client, subscription(receiver.url(), notification=notification))
    assert get_subscription(client, sub_id)["notification"]["join"] == "flat"
    create(client, streetlight(1, servedBy=rel(CABINET)))
    [received] = receiver.wait(1)
    assert received.body["data"] == [
        {"id": LIGHT, "type": "Streetlight", "servedBy": rel(CABINET)},
        # the linked entities whole (attributes picks the light's only), two hops deep
        {"id": CABINET, "type": "Cabinet", "name": prop("Esil 7"), "feeds": rel(FEEDER)},
        {"id": FEEDER, "type": "Feeder", "voltage": prop(380)},
    ]


def test_join_inline_puts_the_linked_entity_in_its_relationship(
    client: TestClient, receiver: Receiver
) -> None:
    _linked_setup(client)
    subscribe(client, subscription(receiver.url(), notification={"join": "inline"}))
    simplified = {"join": "inline", "format": "keyValues"}
    subscribe(client, subscription(receiver.url("/kv"), notification=simplified))
    create(client, streetlight(1, servedBy=rel(CABINET)))
    [received] = receiver.wait(1)
    cabinet = {"id": CABINET, "type": "Cabinet", "name": prop("Esil 7"), "feeds": rel(FEEDER)}
    assert received.body["data"][0]["servedBy"] == {**rel(CABINET), "entity": cabinet}
    [simple] = receiver.wait(1, "/kv")
    assert simple.body["data"][0]["servedBy"] == {
        "id": CABINET, "type": "Cabinet", "name": "Esil 7", "feeds": FEEDER
    }


def test_join_members_are_checked(client: TestClient, receiver: Receiver) -> None:
    for notification in ({"join": "sideways"}, {"joinLevel": 2}, {"join": "flat", "joinLevel": 0},
                         {"join": "flat", "joinLevel": "2"}):  # fmt: skip
        body = subscription(receiver.url(), notification=notification)
        response = client.post(f"{BASE}/subscriptions", json=body, headers=headers())
        assert response.status_code == 400, (notification, response.text)


def test_a_subscription_with_several_contexts_gets_an_implicitly_created_one(
    client: TestClient, receiver: Receiver
) -> None:
    # GS CIM 009 5.13 (ETSI 050_03, 052_06): the @context is kept as a context of its own,
    # which the notifications name in their Link header
    inline = {"lamp": "https://example.org/lighting/lamp"}
    body = {**subscription(receiver.url()), "@context": [inline, CORE]}
    ld_json = {**headers(), "Content-Type": "application/ld+json"}
    response = client.post(f"{BASE}/subscriptions", json=body, headers=ld_json)
    assert response.status_code == 201, response.text
    sub_id = response.headers["location"].rsplit("/", 1)[1]
    url = get_subscription(client, sub_id)["jsonldContext"]
    assert "/ngsi-ld/v1/jsonldContexts/" in url
    listed = client.get(f"{BASE}/jsonldContexts", params={"kind": "ImplicitlyCreated",
                                                           "details": "true"}).json()  # fmt: skip
    assert [c["URL"] for c in listed] == [url] and listed[0]["kind"] == "ImplicitlyCreated"
    local = url.split("/ngsi-ld/v1")[1]
    assert client.get(f"{BASE}{local}").json() == {"@context": [inline]}  # the core is implied
    create(client, streetlight(1))
    [received] = receiver.wait(1)
    assert received.headers["link"] == link(url)
    # one URL needs no context of its own
    plain = subscribe(client, subscription(receiver.url("/plain")))
    assert "jsonldContext" not in get_subscription(client, plain)


def test_deleting_subscriptions_while_they_notify_never_fails(
    client: TestClient, receiver: Receiver
) -> None:
    # A delivery records its success (the subscription's row, the sent outbox rows) while a
    # DELETE removes both: the two took the rows in opposite orders and deadlocked on
    # PostgreSQL, a 500 to the DELETE (seen in the ETSI run, 046_22_09_02's teardown).
    create(client, streetlight(1))
    for round_ in range(6):
        subs = [subscribe(client, subscription(receiver.url())) for _ in range(8)]
        for n in range(4):
            patch_attrs(client, LIGHT, {"status": prop(f"r{round_}-{n}")})
        for sub_id in subs:
            response = client.delete(f"{BASE}/subscriptions/{sub_id}")
            assert response.status_code == 204, response.text
