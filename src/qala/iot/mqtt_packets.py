"""MQTT 5 packets on the wire: the encoding of what the client sends and the decoding of what
the broker sends (packet framing, variable byte integers, strings, properties, reason codes).

Only what Qala needs of MQTT 5 is here: CONNECT/CONNACK (username, password, clean start,
session expiry, receive maximum, maximum packet size), SUBSCRIBE/SUBACK, PUBLISH at QoS 0 and 1
in both directions, PUBACK, PINGREQ/PINGRESP and DISCONNECT. The connection itself is
:class:`qala.iot.mqtt.MQTTClient`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

CONNECT, CONNACK, PUBLISH, PUBACK = 1, 2, 3, 4
PUBREC, PUBREL, PUBCOMP = 5, 6, 7
SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 12, 13, 14

PINGREQ_PACKET = b"\xc0\x00"
DISCONNECT_PACKET = b"\xe0\x00"

# MQTT 5 property identifiers and how their values are encoded.
_BYTE, _INT2, _INT4, _VARINT, _STR, _BIN, _PAIR = range(7)
PROPERTY_KINDS: dict[int, int] = {
    0x01: _BYTE,  # payload format indicator
    0x02: _INT4,  # message expiry interval
    0x03: _STR,  # content type
    0x08: _STR,  # response topic
    0x09: _BIN,  # correlation data
    0x0B: _VARINT,  # subscription identifier
    0x11: _INT4,  # session expiry interval
    0x12: _STR,  # assigned client identifier
    0x13: _INT2,  # server keep alive
    0x15: _STR,  # authentication method
    0x16: _BIN,  # authentication data
    0x17: _BYTE,  # request problem information
    0x18: _INT4,  # will delay interval
    0x19: _BYTE,  # request response information
    0x1A: _STR,  # response information
    0x1C: _STR,  # server reference
    0x1F: _STR,  # reason string
    0x21: _INT2,  # receive maximum
    0x22: _INT2,  # topic alias maximum
    0x23: _INT2,  # topic alias
    0x24: _BYTE,  # maximum QoS
    0x25: _BYTE,  # retain available
    0x26: _PAIR,  # user property
    0x27: _INT4,  # maximum packet size
    0x28: _BYTE,  # wildcard subscription available
    0x29: _BYTE,  # subscription identifiers available
    0x2A: _BYTE,  # shared subscription available
}
SESSION_EXPIRY, ASSIGNED_CLIENT_ID, SERVER_KEEP_ALIVE = 0x11, 0x12, 0x13
REASON_STRING, RECEIVE_MAXIMUM, MAXIMUM_PACKET_SIZE = 0x1F, 0x21, 0x27

REASONS: dict[int, str] = {
    0x00: "success",
    0x10: "no matching subscribers",
    0x80: "unspecified error",
    0x81: "malformed packet",
    0x82: "protocol error",
    0x83: "implementation specific error",
    0x84: "unsupported protocol version",
    0x85: "client identifier not valid",
    0x86: "bad user name or password",
    0x87: "not authorized",
    0x88: "server unavailable",
    0x89: "server busy",
    0x8A: "banned",
    0x8B: "server shutting down",
    0x8C: "bad authentication method",
    0x8D: "keep alive timeout",
    0x8E: "session taken over",
    0x8F: "topic filter invalid",
    0x90: "topic name invalid",
    0x93: "receive maximum exceeded",
    0x95: "packet too large",
    0x97: "quota exceeded",
    0x99: "payload format invalid",
    0x9A: "retain not supported",
    0x9B: "QoS not supported",
    0x9C: "use another server",
    0x9D: "server moved",
    0x9F: "connection rate exceeded",
}


class MQTTError(Exception):
    """A protocol, connection or broker-side failure."""


def reason_text(code: int) -> str:
    return f"{REASONS.get(code, 'reason')} (0x{code:02x})"


# -- encoding ----------------------------------------------------------------------------------


def encode_varint(value: int) -> bytes:
    if not 0 <= value <= 268_435_455:
        raise ValueError(f"{value} does not fit an MQTT variable byte integer")
    out = bytearray()
    while True:
        byte = value % 128
        value //= 128
        out.append(byte | 0x80 if value else byte)
        if not value:
            return bytes(out)


def decode_varint(data: bytes | bytearray, pos: int) -> tuple[int, int]:
    """The variable byte integer at ``pos`` and the position after it."""
    value = 0
    shift = 0
    for index in range(pos, min(pos + 4, len(data))):
        byte = data[index]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, index + 1
        shift += 7
    raise MQTTError("malformed packet: bad variable byte integer")


def encode_str(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    if len(raw) > 65535:
        raise ValueError("MQTT strings are at most 65535 bytes")
    return len(raw).to_bytes(2, "big") + raw


def encode_properties(props: dict[int, Any]) -> bytes:
    out = bytearray()
    for ident, value in props.items():
        kind = PROPERTY_KINDS[ident]
        out.append(ident)
        if kind == _BYTE:
            out.append(value)
        elif kind == _INT2:
            out += int(value).to_bytes(2, "big")
        elif kind == _INT4:
            out += int(value).to_bytes(4, "big")
        elif kind == _VARINT:
            out += encode_varint(value)
        elif kind in (_STR, _BIN):
            out += encode_str(value)
        else:  # user property: a list of (name, value) pairs
            out.pop()
            for name, text in value:
                out.append(ident)
                out += encode_str(name) + encode_str(text)
    return encode_varint(len(out)) + bytes(out)


def decode_properties(data: bytes, pos: int) -> tuple[dict[int, Any], int]:
    """The property set at ``pos`` (user properties as a list of pairs) and the end."""
    length, pos = decode_varint(data, pos)
    end = pos + length
    if end > len(data):
        raise MQTTError("malformed packet: properties overrun the packet")
    props: dict[int, Any] = {}
    while pos < end:
        ident = data[pos]
        pos += 1
        kind = PROPERTY_KINDS.get(ident)
        if kind is None:
            raise MQTTError(f"malformed packet: unknown property 0x{ident:02x}")
        value: Any
        if kind == _BYTE:
            value = data[pos]
            pos += 1
        elif kind == _INT2:
            value = int.from_bytes(data[pos : pos + 2], "big")
            pos += 2
        elif kind == _INT4:
            value = int.from_bytes(data[pos : pos + 4], "big")
            pos += 4
        elif kind == _VARINT:
            value, pos = decode_varint(data, pos)
        elif kind in (_STR, _BIN):
            size = int.from_bytes(data[pos : pos + 2], "big")
            raw = data[pos + 2 : pos + 2 + size]
            value = raw.decode("utf-8", "replace") if kind == _STR else bytes(raw)
            pos += 2 + size
        else:
            pairs = props.setdefault(ident, [])
            name_size = int.from_bytes(data[pos : pos + 2], "big")
            name = data[pos + 2 : pos + 2 + name_size].decode("utf-8", "replace")
            pos += 2 + name_size
            value_size = int.from_bytes(data[pos : pos + 2], "big")
            text = data[pos + 2 : pos + 2 + value_size].decode("utf-8", "replace")
            pos += 2 + value_size
            pairs.append((name, text))
            continue
        props[ident] = value
    if pos != end:
        raise MQTTError("malformed packet: properties overrun their length")
    return props, end


def packet(kind: int, flags: int, body: bytes) -> bytes:
    return bytes([(kind << 4) | flags]) + encode_varint(len(body)) + body


def connect_packet(
    client_id: str,
    *,
    keepalive: int,
    clean_start: bool,
    properties: dict[int, Any],
    username: str | None = None,
    password: str | None = None,
) -> bytes:
    flags = 0x02 if clean_start else 0
    tail = encode_str(client_id)
    if username is not None:
        flags |= 0x80
        tail += encode_str(username)
    if password is not None:
        flags |= 0x40
        tail += encode_str(password)
    head = encode_str("MQTT") + bytes([5, flags]) + keepalive.to_bytes(2, "big")
    return packet(CONNECT, 0, head + encode_properties(properties) + tail)


def subscribe_packet(packet_id: int, filters: Sequence[tuple[str, int]]) -> bytes:
    body = packet_id.to_bytes(2, "big") + b"\x00"
    for topic_filter, qos in filters:
        body += encode_str(topic_filter) + bytes([qos & 0x03])
    return packet(SUBSCRIBE, 0x02, body)


def publish_packet(topic: str, payload: bytes, qos: int, packet_id: int = 0) -> bytes:
    body = encode_str(topic)
    if qos:
        body += packet_id.to_bytes(2, "big")
    return packet(PUBLISH, qos << 1, body + b"\x00" + payload)


def puback_packet(packet_id: int) -> bytes:
    return b"\x40\x02" + packet_id.to_bytes(2, "big")


# -- decoding --------------------------------------------------------------------------------


class PacketReader:
    """Splits a byte stream into MQTT packets: ``(first byte, body)`` pairs."""

    def __init__(self, max_size: int = 268_435_455) -> None:
        self._buf = bytearray()
        self.max_size = max_size

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        buf = self._buf
        buf += data
        out: list[tuple[int, bytes]] = []
        pos = 0
        size = len(buf)
        while size - pos >= 2:
            length = 0
            shift = 0
            index = pos + 1
            while True:
                if index >= size:
                    length = -1
                    break
                byte = buf[index]
                length |= (byte & 0x7F) << shift
                index += 1
                if not byte & 0x80:
                    break
                shift += 7
                if shift > 21:
                    raise MQTTError("malformed packet: bad remaining length")
            if length < 0:
                break
            if length > self.max_size:
                raise MQTTError(f"packet of {length} bytes exceeds the limit of {self.max_size}")
            end = index + length
            if end > size:
                break
            out.append((buf[pos], bytes(buf[index:end])))
            pos = end
        if pos:
            del buf[:pos]
        return out


def decode_publish(first: int, body: bytes) -> tuple[str, int, int, bytes]:
    """``(topic, qos, packet id, payload)`` of a PUBLISH packet."""
    qos = (first >> 1) & 0x03
    if qos == 3:
        raise MQTTError("malformed packet: PUBLISH with QoS 3")
    size = int.from_bytes(body[0:2], "big")
    pos = 2 + size
    if pos > len(body):
        raise MQTTError("malformed packet: topic overruns the PUBLISH")
    try:
        topic = body[2:pos].decode("utf-8")
    except UnicodeDecodeError:
        raise MQTTError("malformed packet: the topic is not UTF-8") from None
    packet_id = 0
    if qos:
        packet_id = int.from_bytes(body[pos : pos + 2], "big")
        pos += 2
    props_len, pos = decode_varint(body, pos)
    return topic, qos, packet_id, body[pos + props_len :]
