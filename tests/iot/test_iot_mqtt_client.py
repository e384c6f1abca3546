"""The MQTT 5 client: wire encoding (unit tests) and acknowledgement semantics (real broker)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from qala.iot.measures import parse_topic
from qala.iot.mqtt import BrokerAddress, Message, MQTTClient
from qala.iot.mqtt_packets import (
    MQTTError,
    PacketReader,
    decode_properties,
    decode_publish,
    decode_varint,
    encode_properties,
    encode_varint,
    puback_packet,
    publish_packet,
)


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, b"\x00"),
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (16_383, b"\xff\x7f"),
        (16_384, b"\x80\x80\x01"),
        (2_097_151, b"\xff\xff\x7f"),
        (2_097_152, b"\x80\x80\x80\x01"),
        (268_435_455, b"\xff\xff\xff\x7f"),
    ],
)
def test_variable_byte_integers_match_the_specification(value: int, encoded: bytes) -> None:
    assert encode_varint(value) == encoded
    assert decode_varint(b"\x99" + encoded, 1) == (value, 1 + len(encoded))


def test_out_of_range_and_malformed_integers_are_refused() -> None:
    with pytest.raises(ValueError):
        encode_varint(268_435_456)
    with pytest.raises(MQTTError):
        decode_varint(b"\xff\xff\xff\xff\x01", 0)


def test_properties_round_trip_including_user_properties() -> None:
    props = {0x11: 3600, 0x21: 500, 0x1F: "because", 0x26: [("a", "1"), ("b", "2")], 0x0B: 300}
    raw = encode_properties(props)
    assert decode_properties(raw, 0) == (props, len(raw))


def test_packets_are_split_the_same_whatever_the_chunking() -> None:
    stream = b"".join(
        publish_packet(f"/k/d{n}/attrs", b'{"t": %d}' % n * (1 + n * 40), 1, n + 1)
        for n in range(20)
    ) + puback_packet(7)
    whole = PacketReader().feed(stream)
    assert len(whole) == 21
    for size in (1, 2, 3, 7, 64, 1000):
        reader = PacketReader()
        pieces = []
        for start in range(0, len(stream), size):
            pieces.extend(reader.feed(stream[start : start + size]))
        assert pieces == whole
    topic, qos, packet_id, payload = decode_publish(*whole[3])
    assert (topic, qos, packet_id, payload) == ("/k/d3/attrs", 1, 4, b'{"t": 3}' * 121)


def test_oversized_packets_are_refused() -> None:
    with pytest.raises(MQTTError, match="exceeds"):
        PacketReader(max_size=100).feed(publish_packet("/k/d/attrs", b"x" * 200, 0))


def test_broker_urls() -> None:
    assert BrokerAddress.parse("mqtt://broker") == BrokerAddress("broker", 1883, False)
    assert BrokerAddress.parse("mqtts://broker") == BrokerAddress("broker", 8883, True)
    secret = BrokerAddress.parse("mqtt://qala:s%40cret@10.0.0.5:1884")
    assert (secret.username, secret.password, secret.port) == ("qala", "s@cret", 1884)
    assert secret.display() == "mqtt://qala@10.0.0.5:1884"
    for bad in ("http://broker", "mqtt://", "mqtt://h:port"):
        with pytest.raises(ValueError):
            BrokerAddress.parse(bad)


def test_topics_of_the_iot_agent_json_protocol() -> None:
    cases = {
        "/k1/d1/attrs": ("k1", "d1", None),
        "/k1/d1/attrs/t": ("k1", "d1", "t"),
        "/json/k1/d1/attrs": ("k1", "d1", None),
        "/json/k1/d1/attrs/t": ("k1", "d1", "t"),
        "/json/d1/attrs/t": ("json", "d1", "t"),
    }
    for topic, expected in cases.items():
        parsed = parse_topic(topic)
        assert parsed is not None, topic
        assert (parsed.apikey, parsed.device_id, parsed.object_id) == expected
    for topic in ("k1/d1/attrs", "/k1/d1/cmd", "//d1/attrs", "/k1/d1/attrs/", "/a/b/c/d/e/f"):
        assert parse_topic(topic) is None, topic


# -- against the broker ---------------------------------------------------------------------------


async def _collect(client_id: str, topic: str, ack: bool, wait: float = 0.5) -> list[Message]:
    received: list[Message] = []
    client: MQTTClient

    def on_messages(messages: list[Message]) -> None:
        received.extend(messages)
        if ack:
            client.ack(messages)

    client = MQTTClient(
        "mqtt://127.0.0.1:1883",
        client_id=client_id,
        subscriptions=[(topic, 1)],
        on_messages=on_messages,
        session_expiry=60,
    )
    await client.start()
    assert await client.wait_ready(5)
    await asyncio.sleep(wait)
    await client.stop()
    return received


@pytest.mark.mqtt
def test_unacknowledged_messages_come_again_acknowledged_ones_do_not(mqtt_broker: str) -> None:
    """What ingestion relies on: a message is only gone once its PUBACK is sent (after the
    write committed); until then the broker delivers it again on the next connection."""
    name = f"qala-test-{uuid.uuid4().hex[:8]}"
    topic = f"/test{uuid.uuid4().hex[:8]}/dev/attrs"

    async def scenario() -> tuple[list[Message], list[Message], list[Message]]:
        await _collect(name, topic, ack=False, wait=0.1)  # create the session
        publisher = MQTTClient(mqtt_broker)
        await publisher.start()
        await publisher.publish(topic, b'{"t": 1}')
        await publisher.stop()
        first = await _collect(name, topic, ack=False)
        second = await _collect(name, topic, ack=True)
        third = await _collect(name, topic, ack=True)
        cleaner = MQTTClient(mqtt_broker, client_id=name)
        cleaner.persistent = False  # a clean start discards the session on the broker
        await cleaner.start()
        await cleaner.wait_ready(5)
        await cleaner.stop()
        return first, second, third

    first, second, third = asyncio.run(scenario())
    assert [m.payload for m in first] == [b'{"t": 1}']
    assert [m.payload for m in second] == [b'{"t": 1}']
    assert third == []


def test_publishing_waits_for_the_broker_and_fails_cleanly_without_one() -> None:
    async def scenario() -> None:
        client = MQTTClient("mqtt://127.0.0.1:9", backoff_min=0.05, backoff_max=0.1)
        await client.start()
        with pytest.raises(TimeoutError):
            await client.publish("/k/d/attrs", b"{}", timeout=0.3)
        status = client.status()
        assert status["state"] == "connecting" and status["last_error"]
        assert status["failed_attempts"] >= 1
        await client.stop()
        assert client.status()["state"] == "stopped"

    asyncio.run(scenario())
