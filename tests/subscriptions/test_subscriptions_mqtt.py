"""Notifications to MQTT endpoints, received from the real Mosquitto broker."""

from __future__ import annotations

import json
import queue
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from subscriptions_support import (
    MQTT_HOST,
    MQTT_PORT,
    get_subscription,
    subscribe,
    subscription,
    wait_for,
)

from ngsi import BASE, CORE, headers, link, prop, streetlight

pytestmark = pytest.mark.mqtt


class Listener:
    """An MQTT client subscribed to one fresh topic, collecting the messages."""

    def __init__(self) -> None:
        self.topic = f"qala/test/{uuid.uuid4().hex}"
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        subscribed = queue.Queue[bool]()
        self.client.on_message = lambda _c, _u, msg: self.messages.put(json.loads(msg.payload))
        self.client.on_subscribe = lambda *_args: subscribed.put(True)
        self.client.connect(MQTT_HOST, MQTT_PORT)
        self.client.loop_start()
        self.client.subscribe(self.topic, qos=1)
        subscribed.get(timeout=5)

    def next(self, timeout: float = 10.0) -> dict[str, Any]:
        return self.messages.get(timeout=timeout)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def listener(mqtt_broker: str) -> Iterator[Listener]:
    listener = Listener()
    yield listener
    listener.close()


def test_notifications_are_published_with_metadata_and_body(
    client: TestClient, listener: Listener
) -> None:
    endpoint = {
        "uri": f"mqtt://{MQTT_HOST}:{MQTT_PORT}/{listener.topic}",
        "receiverInfo": [{"key": "X-City", "value": "astana"}],
    }
    sub_id = subscribe(
        client, subscription("", notification={"endpoint": endpoint}), tenant="astana"
    )
    response = client.post(f"{BASE}/entities", json=streetlight(1), headers=headers("astana"))
    assert response.status_code == 201
    message = listener.next()
    assert message["metadata"] == {
        "Content-Type": "application/json",
        "Link": link(CORE),
        "NGSILD-Tenant": "astana",
        "X-City": "astana",
    }
    body = message["body"]
    assert body["type"] == "Notification" and body["subscriptionId"] == sub_id
    assert body["data"][0]["id"] == "urn:ngsi-ld:Streetlight:1"
    assert body["data"][0]["status"] == {"type": "Property", "value": "ok"}
    wait_for(
        lambda: get_subscription(client, sub_id, tenant="astana")["notification"]["timesSent"] == 1,
        what="the delivery to be recorded",
    )


def test_mqtt5_and_qos_are_chosen_with_notifier_info(
    client: TestClient, listener: Listener
) -> None:
    endpoint = {
        "uri": f"mqtt://{MQTT_HOST}:{MQTT_PORT}/{listener.topic}",
        "accept": "application/ld+json",
        "notifierInfo": [
            {"key": "MQTT-Version", "value": "mqtt5.0"},
            {"key": "MQTT-QoS", "value": "0"},
        ],
    }
    subscribe(client, subscription("", notification={"endpoint": endpoint}))
    client.post(f"{BASE}/entities", json=streetlight(1))
    for n in range(3):
        client.patch(
            f"{BASE}/entities/urn:ngsi-ld:Streetlight:1/attrs", json={"status": prop(f"s{n}")}
        )
    seen = []
    while len(seen) < 4:
        message = listener.next()
        assert message["metadata"]["Content-Type"] == "application/ld+json"
        assert message["body"]["@context"] == CORE
        seen.extend(item["status"]["value"] for item in message["body"]["data"])
    assert seen == ["ok", "s0", "s1", "s2"]


def test_an_unreachable_broker_is_reported_as_a_failure(client: TestClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # a port nothing listens on once closed
    sub_id = subscribe(client, subscription(f"mqtt://127.0.0.1:{port}/city/lights"))
    client.post(f"{BASE}/entities", json=streetlight(1))
    wait_for(
        lambda: get_subscription(client, sub_id)["status"] == "failed", what="a failed attempt"
    )
    reason = get_subscription(client, sub_id)["notification"]["lastFailureReason"]
    assert reason.startswith("MQTT"), reason
