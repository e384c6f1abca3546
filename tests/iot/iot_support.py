"""Helpers for device-ingestion tests: provisioning bodies, polling, an MQTT publisher."""

from __future__ import annotations

import queue
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import paho.mqtt.client as mqtt
from fastapi.testclient import TestClient

MQTT_HOST = "127.0.0.1"
MQTT_PORT = 1883
TENANT = "astana"
H = {"NGSILD-Tenant": TENANT}
BASE = "/ngsi-ld/v1"

T = TypeVar("T")


def unique_key(prefix: str = "key") -> str:
    """An apikey no other test (or concurrent test run on the broker) uses."""
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def thermometer_group(apikey: str, **extra: Any) -> dict[str, Any]:
    return {
        "apikey": apikey,
        "entity_type": "Thermometer",
        "attributes": [
            {
                "object_id": "t",
                "name": "temperature",
                "type": "Number",
                "metadata": {"unitCode": {"type": "Text", "value": "CEL"}},
            },
            {"object_id": "h", "name": "relativeHumidity", "type": "Number"},
            {"object_id": "s", "name": "status", "type": "Text"},
        ],
        **extra,
    }


def provision(
    client: TestClient,
    apikey: str,
    devices: list[dict[str, Any]],
    headers: dict[str, str] | None = None,
    **group: Any,
) -> None:
    hdrs = headers or H
    response = client.post(
        "/iot/services", json={"services": [thermometer_group(apikey, **group)]}, headers=hdrs
    )
    assert response.status_code == 201, response.text
    response = client.post("/iot/devices", json={"devices": devices}, headers=hdrs)
    assert response.status_code == 201, response.text


def entity(client: TestClient, entity_id: str, headers: dict[str, str] | None = None) -> Any:
    response = client.get(f"{BASE}/entities/{entity_id}", headers=headers or H)
    assert response.status_code == 200, response.text
    return response.json()


def device(client: TestClient, device_id: str, headers: dict[str, str] | None = None) -> Any:
    response = client.get(f"/iot/devices/{device_id}", headers=headers or H)
    assert response.status_code == 200, response.text
    return response.json()


def wait_for(probe: Callable[[], T | None], timeout: float = 10.0, what: str = "") -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or probe}")
        time.sleep(0.02)


def mqtt_ready(client: TestClient) -> bool:
    status = client.get("/iot/about").json()["mqtt"]
    return bool(status["state"] == "connected" and status["subscribed"])


class Publisher:
    """A plain MQTT client (paho) that publishes at QoS 1 and waits for the broker's ack."""

    def __init__(self, client_id: str | None = None) -> None:
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id or f"test-pub-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        connected: queue.Queue[bool] = queue.Queue()
        self.client.on_connect = lambda *_args: connected.put(True)
        self.client.connect(MQTT_HOST, MQTT_PORT)
        self.client.loop_start()
        connected.get(timeout=5)

    def publish(self, topic: str, payload: bytes | str, qos: int = 1) -> None:
        info = self.client.publish(topic, payload, qos=qos)
        info.wait_for_publish(timeout=5)
        assert info.is_published(), f"not published: {topic}"

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class Listener:
    """An MQTT client collecting the messages of a topic filter."""

    def __init__(self, topic_filter: str) -> None:
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-sub-{uuid.uuid4().hex[:8]}"
        )
        subscribed: queue.Queue[bool] = queue.Queue()
        self.client.on_message = lambda _c, _u, msg: self.messages.put((msg.topic, msg.payload))
        self.client.on_subscribe = lambda *_args: subscribed.put(True)
        self.client.connect(MQTT_HOST, MQTT_PORT)
        self.client.loop_start()
        self.client.subscribe(topic_filter, qos=1)
        subscribed.get(timeout=5)

    def drain(self) -> list[tuple[str, bytes]]:
        out = []
        while True:
            try:
                out.append(self.messages.get_nowait())
            except queue.Empty:
                return out

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
