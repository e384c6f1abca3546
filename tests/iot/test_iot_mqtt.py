"""MQTT ingestion end to end against the real Mosquitto broker: publish -> entity -> query,
bad payloads, broker outages (through a TCP proxy we can cut) and persistent sessions."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from iot_support import (
    BASE,
    MQTT_HOST,
    MQTT_PORT,
    H,
    Publisher,
    device,
    entity,
    mqtt_ready,
    provision,
    unique_key,
    wait_for,
)

from qala.app import create_app
from qala.config import Settings

pytestmark = pytest.mark.mqtt


@pytest.fixture
def settings(settings: Settings, mqtt_broker: str) -> Settings:
    return settings.model_copy(update={"mqtt_url": mqtt_broker, "mqtt_reconnect_max": 0.5})


def value_of(client: TestClient, entity_id: str, attr: str) -> Any:
    response = client.get(f"{BASE}/entities/{entity_id}", headers=H)
    if response.status_code != 200 or attr not in response.json():
        return None
    return response.json()[attr]["value"]


def test_published_measures_update_the_entity_and_are_queryable(
    client: TestClient, publisher: Publisher
) -> None:
    key = unique_key()
    provision(client, key, [{"device_id": "m1"}])
    wait_for(lambda: mqtt_ready(client), what="the MQTT subscription")
    publisher.publish(
        f"/{key}/m1/attrs", orjson.dumps({"t": 23.5, "TimeInstant": "2026-01-15T09:00:00Z"})
    )
    wait_for(lambda: value_of(client, "urn:ngsi-ld:Thermometer:m1", "temperature"), what="t")
    got = entity(client, "urn:ngsi-ld:Thermometer:m1")["temperature"]
    assert got == {
        "type": "Property",
        "value": 23.5,
        "unitCode": "CEL",
        "observedAt": "2026-01-15T09:00:00Z",
    }
    found = client.get(f"{BASE}/entities?type=Thermometer&q=temperature==23.5", headers=H)
    assert [e["id"] for e in found.json()] == ["urn:ngsi-ld:Thermometer:m1"]


def test_single_attribute_and_json_prefixed_topics(
    client: TestClient, publisher: Publisher
) -> None:
    key = unique_key()
    provision(client, key, [{"device_id": "m2"}])
    wait_for(lambda: mqtt_ready(client), what="the MQTT subscription")
    publisher.publish(f"/{key}/m2/attrs/t", "19.25")
    publisher.publish(f"/{key}/m2/attrs/s", "running")
    publisher.publish(f"/json/{key}/m2/attrs", orjson.dumps({"h": 0.55}))
    wait_for(lambda: value_of(client, "urn:ngsi-ld:Thermometer:m2", "relativeHumidity"))
    got = entity(client, "urn:ngsi-ld:Thermometer:m2")
    assert (got["temperature"]["value"], got["status"]["value"]) == (19.25, "running")
    assert device(client, "m2")["stats"]["messages"] == 3


def test_bad_messages_are_counted_and_the_ingestor_carries_on(
    client: TestClient, publisher: Publisher
) -> None:
    key = unique_key()
    provision(client, key, [{"device_id": "m3"}], strict=True)
    wait_for(lambda: mqtt_ready(client), what="the MQTT subscription")
    topic = f"/{key}/m3/attrs"
    publisher.publish(topic, b"{not json")
    publisher.publish(topic, orjson.dumps({"t": "warm", "h": 0.1}))
    publisher.publish(topic, orjson.dumps({"t": 1.0, "wind": 3}))
    publisher.publish(topic, orjson.dumps({"t": 1.0, "TimeInstant": "soon"}))
    publisher.publish(f"/{key}/ghost/attrs", orjson.dumps({"t": 1.0}))
    publisher.publish(f"/{unique_key()}/m3/attrs", orjson.dumps({"t": 1.0}))
    publisher.publish(topic, orjson.dumps({"t": 17.0}))
    wait_for(lambda: value_of(client, "urn:ngsi-ld:Thermometer:m3", "temperature"))

    def counted() -> dict[str, Any] | None:
        errors = device(client, "m3")["errors"]
        return errors if errors["total"] == 5 else None

    errors = wait_for(counted, what="5 errors on m3")
    assert errors["counts"] == {
        "invalid_json": 1,
        "type_mismatch": 1,
        "unknown_attribute": 1,
        "invalid_timestamp": 1,
        "wrong_apikey": 1,
    }
    got = entity(client, "urn:ngsi-ld:Thermometer:m3")
    assert got["temperature"]["value"] == 17.0 and "relativeHumidity" not in got
    group = client.get("/iot/services", headers=H).json()["services"][0]
    assert group["unknown_devices"] == 1


def test_a_burst_from_many_devices_is_stored_without_loss(
    client: TestClient, publisher: Publisher
) -> None:
    key = unique_key()
    provision(client, key, [{"device_id": f"b{n}"} for n in range(50)])
    wait_for(lambda: mqtt_ready(client), what="the MQTT subscription")
    for round_ in range(10):
        for n in range(50):
            publisher.client.publish(
                f"/{key}/b{n}/attrs", orjson.dumps({"t": round_ * 100 + n}), qos=1
            )
    for n in range(50):
        wait_for(
            lambda n=n: value_of(client, f"urn:ngsi-ld:Thermometer:b{n}", "temperature") == 900 + n,
            what=f"b{n}'s last measure",
        )
    stats = [device(client, f"b{n}")["stats"]["messages"] for n in range(50)]
    assert stats == [10] * 50


def test_the_ingestor_waits_out_a_failing_store_and_writes_later(
    client: TestClient, publisher: Publisher, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = unique_key()
    provision(client, key, [{"device_id": "m4"}])
    wait_for(lambda: mqtt_ready(client), what="the MQTT subscription")
    hub = client.app.state.services.hub  # type: ignore[attr-defined]
    real_write = hub.transact
    failures = {"left": 3}

    async def flaky_write(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("operation") == "iot.measures" and failures["left"] > 0:
            failures["left"] -= 1
            raise OSError("disk unplugged")
        return await real_write(*args, **kwargs)

    monkeypatch.setattr(hub, "transact", flaky_write)
    publisher.publish(f"/{key}/m4/attrs", orjson.dumps({"t": 8.0}))
    wait_for(lambda: value_of(client, "urn:ngsi-ld:Thermometer:m4", "temperature") == 8.0)
    assert failures["left"] == 0
    about = client.get("/iot/about").json()["ingestion"]
    assert about["store_retries"] == 3 and about["rejected"] == 0


# -- broker outages ------------------------------------------------------------------------------


class Proxy:
    """A TCP proxy to the broker whose connections we can cut, and that can refuse clients."""

    def __init__(self) -> None:
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._listener: socket.socket | None = None
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                downstream, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection((MQTT_HOST, MQTT_PORT))
            with self._lock:
                self._pairs.append((downstream, upstream))
            for a, b in ((downstream, upstream), (upstream, downstream)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Drop every connection (both sides see it closed)."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for s in pair:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self.cut()


@pytest.fixture
def proxy(mqtt_broker: str) -> Iterator[Proxy]:
    proxy = Proxy()
    yield proxy
    proxy.stop()


def test_ingestion_resumes_after_the_broker_connection_drops(
    settings: Settings, proxy: Proxy, publisher: Publisher, admin_headers: dict[str, str]
) -> None:
    proxy.start()
    app_settings = settings.model_copy(update={"mqtt_url": proxy.url})
    with TestClient(create_app(app_settings), headers=admin_headers) as server:
        key = unique_key()
        provision(server, key, [{"device_id": "r1"}])
        wait_for(lambda: mqtt_ready(server), what="the first connection")
        proxy.cut()
        wait_for(
            lambda: (
                server.get("/iot/about").json()["mqtt"]["connections"] == 2 and mqtt_ready(server)
            ),
            what="the reconnection",
        )
        publisher.publish(f"/{key}/r1/attrs", orjson.dumps({"t": 5.5}))
        wait_for(lambda: value_of(server, "urn:ngsi-ld:Thermometer:r1", "temperature") == 5.5)


def test_the_server_starts_without_a_broker_and_connects_when_it_appears(
    settings: Settings, proxy: Proxy, publisher: Publisher, admin_headers: dict[str, str]
) -> None:
    app_settings = settings.model_copy(update={"mqtt_url": proxy.url})
    with TestClient(create_app(app_settings), headers=admin_headers) as server:
        health = wait_for(
            lambda: (h := server.get("/health").json())["mqtt"]["last_error"] and h,
            what="a failed connection attempt",
        )
        assert health["status"] == "ok"  # the server is up; MQTT says what is wrong
        assert health["mqtt"]["state"] == "connecting"
        key = unique_key()
        provision(server, key, [{"device_id": "s1"}])
        response = server.post(f"/iot/json?k={key}&i=s1", json={"t": 1.0})
        assert response.status_code == 200  # HTTP ingestion works meanwhile
        proxy.start()
        wait_for(lambda: mqtt_ready(server), timeout=15, what="the connection")
        publisher.publish(f"/{key}/s1/attrs", orjson.dumps({"t": 2.0}))
        wait_for(lambda: value_of(server, "urn:ngsi-ld:Thermometer:s1", "temperature") == 2.0)


def test_a_named_client_gets_what_was_published_while_the_server_was_down(
    settings: Settings, publisher: Publisher, admin_headers: dict[str, str]
) -> None:
    named = settings.model_copy(update={"mqtt_client_id": f"qala-test-{uuid.uuid4().hex[:8]}"})
    key = unique_key()
    with TestClient(create_app(named), headers=admin_headers) as first:
        provision(first, key, [{"device_id": "p1"}])
        wait_for(lambda: mqtt_ready(first), what="the subscription")
    # the server is down: the broker keeps the session and queues the measures
    publisher.publish(f"/{key}/p1/attrs", orjson.dumps({"t": 31.0}))
    with TestClient(create_app(named), headers=admin_headers) as second:
        wait_for(lambda: value_of(second, "urn:ngsi-ld:Thermometer:p1", "temperature") == 31.0)
    forget_session(str(named.mqtt_client_id))


def forget_session(client_id: str) -> None:
    """Leave no session behind on the shared broker (a clean start discards it)."""
    cleaner = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
    )
    cleaner.connect(MQTT_HOST, MQTT_PORT, clean_start=True)
    cleaner.loop_start()
    cleaner.disconnect()
    cleaner.loop_stop()


def test_server_processes_in_a_shared_group_ingest_each_message_once(
    settings: Settings, publisher: Publisher, admin_headers: dict[str, str]
) -> None:
    group = settings.model_copy(update={"mqtt_shared_group": f"qala{uuid.uuid4().hex[:6]}"})
    key = unique_key()
    with (
        TestClient(create_app(group), headers=admin_headers) as one,
        TestClient(create_app(group), headers=admin_headers) as two,
    ):
        provision(one, key, [{"device_id": "g1"}])
        wait_for(lambda: mqtt_ready(one) and mqtt_ready(two), what="both subscriptions")
        for n in range(20):
            publisher.publish(f"/{key}/g1/attrs", orjson.dumps({"t": n}))
        wait_for(lambda: value_of(one, "urn:ngsi-ld:Thermometer:g1", "temperature") is not None)

        def handled() -> int:
            return sum(s.get("/iot/about").json()["ingestion"]["accepted"] for s in (one, two))

        wait_for(lambda: handled() >= 20, what="20 messages handled")
        time.sleep(0.5)  # time enough for a duplicate delivery to show
        assert handled() == 20
