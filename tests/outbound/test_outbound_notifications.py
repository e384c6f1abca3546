"""Notifications through the guard: HTTP and MQTT endpoints are dialled at checked addresses,
redirects are not followed, answers are capped in size and time, and each refusal is the
subscription's lastFailureReason with nothing delivered."""

from __future__ import annotations

import asyncio
import json
import queue
import socket
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from outbound_support import (
    PUBLIC,
    FakeDNS,
    LocalServer,
    Switchboard,
    dribble,
    large,
    redirect,
)

from ngsi import BASE, headers, streetlight
from qala.app import create_app
from qala.config import Settings
from qala.jsonld.resolver import ContextResolver
from qala.outbound import Outbound
from qala.subscriptions.engine import SubscriptionEngine
from qala.subscriptions.model import CompiledSubscription, compile_subscription, validate
from qala.subscriptions.senders import Outcome, Senders
from testkit import ADMIN_KEY, require_service

MQTT_HOST, MQTT_PORT = "127.0.0.1", 1883
BODY = {"id": "urn:ngsi-ld:Notification:1", "type": "Notification", "data": []}
JSON = {"Content-Type": "application/json"}


def accepted(h: BaseHTTPRequestHandler) -> None:
    h.send_response(204)
    h.send_header("Content-Length", "0")
    h.end_headers()


def accepted_and_close(h: BaseHTTPRequestHandler) -> None:
    """204, and the connection closed: the next notification opens a new one."""
    h.send_response(204)
    h.send_header("Content-Length", "0")
    h.send_header("Connection", "close")
    h.end_headers()
    h.close_connection = True


@pytest.fixture
def server() -> Iterator[LocalServer]:
    server = LocalServer()
    yield server
    server.close()


def compiled(uri: str) -> CompiledSubscription:
    core = ContextResolver().core
    body = {
        "id": f"urn:ngsi-ld:Subscription:{uuid.uuid4().hex[:8]}",
        "type": "Subscription",
        "entities": [{"type": "Streetlight"}],
        "notification": {"endpoint": {"uri": uri}},
    }
    doc = validate(body, core, max_terms=64, creating=True)
    return compile_subscription(1, "", doc, core, core, max_terms=64)


def send_all(senders: Senders, sub: CompiledSubscription, times: int) -> list[Outcome]:
    async def run() -> list[Outcome]:
        try:
            return [await senders.send(sub, BODY, dict(JSON)) for _ in range(times)]
        finally:
            await senders.close()

    return asyncio.run(run())


def test_a_notification_endpoint_rebinding_to_loopback_is_refused_at_the_next_connection(
    server: LocalServer,
) -> None:
    dns = FakeDNS({"notify.city.example": [[PUBLIC], ["127.0.0.1"]]})
    board = Switchboard()
    board.connect(PUBLIC, server)
    server.answers["/notify"] = accepted_and_close
    senders = Senders(
        timeout=2.0,
        allow_local=False,
        concurrency=1,
        outbound=Outbound(allow_local=False, resolve=dns, route=board),
    )
    first, second = send_all(senders, compiled("http://notify.city.example/notify"), 2)
    assert first == Outcome(True)
    assert not second.ok and second.reason.startswith("endpoint refused: ")
    assert "resolves to 127.0.0.1" in second.reason
    assert board.dialled == [(PUBLIC, 80)]  # never dialled the second answer
    assert [(s.method, s.host) for s in server.seen] == [("POST", "notify.city.example")]


def test_a_kept_connection_stays_on_the_address_it_was_opened_to(server: LocalServer) -> None:
    dns = FakeDNS({"notify.city.example": [[PUBLIC], ["127.0.0.1"]]})
    board = Switchboard()
    board.connect(PUBLIC, server)
    server.answers["/notify"] = accepted
    senders = Senders(
        timeout=2.0,
        allow_local=False,
        concurrency=1,
        outbound=Outbound(allow_local=False, resolve=dns, route=board),
    )
    outcomes = send_all(senders, compiled("http://notify.city.example/notify"), 3)
    assert outcomes == [Outcome(True)] * 3
    assert dns.calls == ["notify.city.example"] and board.dialled == [(PUBLIC, 80)]
    assert len(server.seen) == 3


# -- MQTT -----------------------------------------------------------------------------------------


def test_an_mqtt_endpoint_on_an_internal_address_is_refused_without_dialling() -> None:
    dns = FakeDNS({"broker.city.example": [["10.20.30.40"]]})
    board = Switchboard()
    senders = Senders(
        timeout=2.0,
        allow_local=False,
        concurrency=1,
        outbound=Outbound(allow_local=False, resolve=dns, route=board),
    )
    [outcome] = send_all(senders, compiled("mqtt://broker.city.example/city/lights"), 1)
    assert not outcome.ok and outcome.reason.startswith("endpoint refused: ")
    assert "10.20.30.40" in outcome.reason and board.dialled == []


@pytest.fixture
def broker() -> None:
    try:
        with socket.create_connection((MQTT_HOST, MQTT_PORT), timeout=2):
            pass
    except OSError as exc:
        require_service(f"the MQTT broker is not reachable at {MQTT_HOST}:{MQTT_PORT}: {exc}")


@pytest.mark.mqtt
def test_an_mqtt_broker_is_dialled_at_the_checked_address_and_a_rebinding_refused(
    broker: None,
) -> None:
    topic = f"qala/test/{uuid.uuid4().hex}"
    messages: queue.Queue[dict[str, Any]] = queue.Queue()
    subscribed: queue.Queue[bool] = queue.Queue()
    listener = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    listener.on_message = lambda _c, _u, msg: messages.put(json.loads(msg.payload))
    listener.on_subscribe = lambda *_args: subscribed.put(True)
    listener.connect(MQTT_HOST, MQTT_PORT)
    listener.loop_start()
    try:
        listener.subscribe(topic, qos=1)
        subscribed.get(timeout=5)
        dns = FakeDNS({"broker.city.example": [[PUBLIC], ["127.0.0.1"]]})
        board = Switchboard(lines={PUBLIC: MQTT_PORT})
        outbound = Outbound(allow_local=False, resolve=dns, route=board)
        sub = compiled(f"mqtt://broker.city.example:{MQTT_PORT}/{topic}")
        first = Senders(timeout=3.0, allow_local=False, concurrency=1, outbound=outbound)
        assert send_all(first, sub, 1) == [Outcome(True)]
        assert messages.get(timeout=5)["body"] == BODY
        assert board.dialled == [(PUBLIC, MQTT_PORT)]
        # A new connection resolves again: the name now answers loopback and is refused.
        again = Senders(timeout=3.0, allow_local=False, concurrency=1, outbound=outbound)
        [refused] = send_all(again, sub, 1)
        assert refused.reason.startswith("endpoint refused: ") and "127.0.0.1" in refused.reason
        assert board.dialled == [(PUBLIC, MQTT_PORT)]
        with pytest.raises(queue.Empty):
            messages.get(timeout=0.5)
    finally:
        listener.loop_stop()
        listener.disconnect()


# -- through the API ----------------------------------------------------------------------------


@pytest.fixture
def guarded(database_url: str, server: LocalServer) -> Iterator[TestClient]:
    """A server with the default guard whose notifications to PUBLIC reach ``server``."""
    settings = Settings(
        database_url=database_url,
        allow_local_endpoints=False,
        mqtt_url="",
        notification_retry_base=0.2,
        notification_retry_max=1.0,
        notification_poll_interval=0.1,
        notification_timeout=1.0,
    )
    with TestClient(
        create_app(settings), headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    ) as client:
        engine = client.app.state.services.state.get(SubscriptionEngine)  # type: ignore[attr-defined]
        board = Switchboard()
        board.connect(PUBLIC, server)
        engine.senders.outbound.route = board
        yield client


def failed_reason(client: TestClient, path: str) -> tuple[dict[str, Any], str]:
    body = {
        "type": "Subscription",
        "entities": [{"type": "Streetlight"}],
        "notification": {"endpoint": {"uri": f"http://{PUBLIC}:8080{path}"}},
    }
    created = client.post(f"{BASE}/subscriptions", json=body, headers=headers())
    assert created.status_code == 201, created.text
    sub_url = created.headers["location"]
    response = client.post(f"{BASE}/entities", json=streetlight(1), headers=headers())
    assert response.status_code == 201, response.text
    for _ in range(200):
        sub = client.get(sub_url).json()
        if sub["notification"].get("timesFailed", 0) >= 1:
            return sub, sub["notification"]["lastFailureReason"]
        time.sleep(0.05)
    raise AssertionError(f"no failed attempt: {sub}")


def test_over_the_api_an_endpoint_that_redirects_is_not_followed_and_nothing_is_delivered(
    guarded: TestClient, server: LocalServer
) -> None:
    server.answers["/notify"] = redirect(f"http://127.0.0.1:{server.port}/internal", 307)
    server.answers["/internal"] = accepted_and_close
    sub, reason = failed_reason(guarded, "/notify")
    assert reason == "HTTP 307 from the endpoint: redirects are not followed"
    assert sub["notification"]["status"] == "failed"
    assert sub["notification"].get("timesSent", 0) == 0
    assert "/internal" not in server.paths()


def test_over_the_api_an_endpoint_answering_more_than_64_kib_fails_the_attempt(
    guarded: TestClient, server: LocalServer
) -> None:
    server.answers["/notify"] = large(1024 * 1024, announced=False)
    sub, reason = failed_reason(guarded, "/notify")
    assert reason == "the answer is larger than 64 KiB; cut"
    assert sub["notification"].get("timesSent", 0) == 0


def test_over_the_api_an_endpoint_that_trickles_its_answer_times_out(
    guarded: TestClient, server: LocalServer
) -> None:
    server.answers["/notify"] = dribble(100, every=0.2)
    sub, reason = failed_reason(guarded, "/notify")
    assert reason == "timed out after 1 s"
    assert sub["notification"]["status"] == "failed"
