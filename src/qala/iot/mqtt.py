"""A small MQTT 5 client on asyncio: subscribe with manual acknowledgements, publish QoS 0/1.

Why not a general-purpose library: ingestion must acknowledge a QoS 1 message only after the
measure it carries is committed, and must read tens of thousands of messages per second on one
core. Here every chunk the socket delivers is parsed in one pass (all the packets in it), the
messages of a chunk are handed over together, and their PUBACKs go out in one write once the
caller says so (:meth:`MQTTClient.ack`). The broker never has more than ``receive_maximum``
unacknowledged messages out to us (MQTT 5 flow control), which is also our backpressure.

The connection is kept up forever: on failure it reconnects with exponential backoff (with
jitter) and subscribes again. A broker that is down when the server starts, or that goes away
later, never raises out of the client; :meth:`MQTTClient.status` says what is going on.

Only what Qala needs of MQTT 5 is implemented (the packets are in
:mod:`qala.iot.mqtt_packets`). Subscriptions ask for QoS 1 at most, so the broker never sends
QoS 2; no topic aliases are allowed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import socket
import ssl
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from qala.iot.mqtt_packets import (
    ASSIGNED_CLIENT_ID,
    CONNACK,
    DISCONNECT,
    DISCONNECT_PACKET,
    MAXIMUM_PACKET_SIZE,
    PINGREQ_PACKET,
    PINGRESP,
    PUBACK,
    PUBLISH,
    RECEIVE_MAXIMUM,
    SERVER_KEEP_ALIVE,
    SESSION_EXPIRY,
    SUBACK,
    MQTTError,
    PacketReader,
    connect_packet,
    decode_properties,
    decode_publish,
    puback_packet,
    publish_packet,
    reason_text,
    subscribe_packet,
)

log = logging.getLogger("qala.iot.mqtt")


# -- the client --------------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError(f"MQTT URL {url!r}: use mqtt://host[:port] or mqtts://host[:port]")
        if not parts.hostname:
            raise ValueError(f"MQTT URL {url!r} has no host")
        tls = parts.scheme in ("mqtts", "ssl")
        try:
            port = parts.port or (8883 if tls else 1883)
        except ValueError:
            raise ValueError(f"MQTT URL {url!r} has an invalid port") from None
        return cls(
            parts.hostname,
            port,
            tls,
            unquote(parts.username) if parts.username else None,
            unquote(parts.password) if parts.password else None,
        )

    def display(self) -> str:
        """The URL without the password."""
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"


@dataclass(slots=True)
class Message:
    """A received PUBLISH. ``connection`` numbers the connection it came on (acks use it)."""

    topic: str
    payload: bytes
    qos: int
    packet_id: int
    received_us: int
    connection: int


MessageHandler = Callable[[list[Message]], None]


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


class MQTTClient:
    """One MQTT 5 connection, kept up forever. Start it with :meth:`start`."""

    def __init__(
        self,
        url: str,
        *,
        client_id: str | None = None,
        subscriptions: Sequence[tuple[str, int]] = (),
        on_messages: MessageHandler | None = None,
        session_expiry: int = 0,
        receive_maximum: int = 65535,
        keepalive: int = 30,
        max_packet_size: int = 1 << 20,
        backoff_min: float = 0.5,
        backoff_max: float = 30.0,
        connect_timeout: float = 10.0,
    ) -> None:
        self.address = BrokerAddress.parse(url)
        #: A named client keeps a persistent session; an anonymous one gets a random id.
        self.persistent = client_id is not None
        self.client_id = client_id or f"qala-{secrets.token_hex(6)}"
        self.subscriptions = list(subscriptions)
        self.on_messages = on_messages
        self.session_expiry = session_expiry if self.persistent else 0
        self.receive_maximum = max(1, min(65535, receive_maximum))
        self.keepalive = keepalive
        self.max_packet_size = max_packet_size
        self.backoff_min = backoff_min
        self.backoff_max = backoff_max
        self.connect_timeout = connect_timeout

        self.state = "stopped"
        self.connection = 0  # increases with every successful connection
        self.connected_since: float | None = None
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        self.attempts = 0
        self.connections = 0
        self.received = 0
        self.subscribed = False
        self.session_present = False

        self._task: asyncio.Task[None] | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._stopping = False
        self._connected = asyncio.Event()
        self._ready = asyncio.Event()  # connected and subscribed
        self._pending: dict[int, asyncio.Future[None]] = {}
        self._waiters: deque[asyncio.Future[None]] = deque()  # publishers waiting for a slot
        self._send_quota = 65535
        self._next_id = 0
        self._subscribe_id = 0
        self._last_received = 0.0
        self._last_warning = 0.0
        self._failures = 0

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self.state = "connecting"
            self._task = asyncio.create_task(self._run(), name=f"mqtt {self.client_id}")

    async def stop(self) -> None:
        """Disconnect cleanly (a named session stays on the broker) and stop reconnecting."""
        self._stopping = True
        writer = self._writer
        if writer is not None and not writer.is_closing():
            with contextlib.suppress(Exception):
                writer.write(DISCONNECT_PACKET)
                await asyncio.wait_for(writer.drain(), 2)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        self.state = "stopped"

    async def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until connected and subscribed; False on timeout."""
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            return False
        return True

    @property
    def is_connected(self) -> bool:
        return self.state == "connected"

    def status(self) -> dict[str, Any]:
        return {
            "url": self.address.display(),
            "client_id": self.client_id,
            "session": "persistent" if self.persistent else "clean",
            "state": self.state,
            "subscribed": self.subscribed,
            "connected_since": _iso(self.connected_since),
            "connections": self.connections,
            "failed_attempts": self.attempts,
            "last_error": self.last_error,
            "last_error_at": _iso(self.last_error_at),
            "received": self.received,
        }

    # -- the connection loop -----------------------------------------------------------------

    async def _run(self) -> None:
        while not self._stopping:
            before = self.connection
            try:
                await self._connection()
            except asyncio.CancelledError:
                raise
            except (OSError, TimeoutError, MQTTError, EOFError) as exc:
                self._failed(exc, self.connection != before)
            except Exception as exc:  # never let the loop die
                log.exception("MQTT client %s: unexpected failure", self.client_id)
                self._failed(exc, self.connection != before)
            finally:
                self._closed()
            if self._stopping:
                break
            delay = min(self.backoff_max, self.backoff_min * 2 ** min(self._failures, 16))
            await asyncio.sleep(delay * random.uniform(0.75, 1.25))

    def _failed(self, exc: BaseException, established: bool) -> None:
        if self._stopping:
            return
        message = str(exc) or type(exc).__name__
        if isinstance(exc, TimeoutError) and not str(exc):
            message = "timed out"
        self.last_error = message
        self.last_error_at = time.time()
        if established:
            self._failures = 0
            log.warning(
                "MQTT connection to %s lost (%s); reconnecting", self.address.display(), message
            )
            return
        self.attempts += 1
        self._failures += 1
        now = time.monotonic()
        if self._failures == 1 or now - self._last_warning > 60:
            self._last_warning = now
            log.warning(
                "MQTT broker %s is unreachable (%s); retrying with backoff up to %.0f s. "
                "HTTP ingestion keeps working meanwhile",
                self.address.display(),
                message,
                self.backoff_max,
            )

    def _closed(self) -> None:
        writer = self._writer
        self._writer = None
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()
        self._connected.clear()
        self._ready.clear()
        self.subscribed = False
        self.connected_since = None
        if not self._stopping:
            self.state = "connecting"
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(MQTTError("connection lost before the broker acknowledged"))
                future.exception()  # the publisher may have given up waiting: no warning
        self._wake(all_waiters=True)

    async def _connection(self) -> None:
        """Connect, subscribe and read until the connection ends (always with an error)."""
        addr = self.address
        context = ssl.create_default_context() if addr.tls else None
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                addr.host, addr.port, ssl=context, server_hostname=addr.host if addr.tls else None
            ),
            self.connect_timeout,
        )
        self._writer = writer
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        props: dict[int, Any] = {
            RECEIVE_MAXIMUM: self.receive_maximum,
            MAXIMUM_PACKET_SIZE: self.max_packet_size,
        }
        if self.session_expiry:
            props[SESSION_EXPIRY] = self.session_expiry
        writer.write(
            connect_packet(
                self.client_id,
                keepalive=self.keepalive,
                clean_start=not self.persistent,
                properties=props,
                username=addr.username,
                password=addr.password,
            )
        )
        parser = PacketReader(self.max_packet_size + 8)
        packets: list[tuple[int, bytes]] = []
        async with asyncio.timeout(self.connect_timeout):
            while not packets:
                data = await reader.read(65536)
                if not data:
                    raise MQTTError("the broker closed the connection during CONNECT")
                packets = parser.feed(data)
        first, body = packets.pop(0)
        if first >> 4 != CONNACK or len(body) < 2:
            raise MQTTError("protocol error: the broker did not answer CONNECT with CONNACK")
        if body[1] >= 0x80:
            raise MQTTError(f"the broker refused the connection: {reason_text(body[1])}")
        connack_props, _ = decode_properties(body, 2) if len(body) > 2 else ({}, 2)
        self.session_present = bool(body[0] & 0x01)
        if ASSIGNED_CLIENT_ID in connack_props:
            self.client_id = connack_props[ASSIGNED_CLIENT_ID]
        keepalive = connack_props.get(SERVER_KEEP_ALIVE, self.keepalive)
        self._send_quota = connack_props.get(RECEIVE_MAXIMUM, 65535)

        self.connection += 1
        self.connections += 1
        self.attempts = 0
        self._failures = 0
        self.state = "connected"
        self.connected_since = time.time()
        self.last_error = None
        self._last_received = time.monotonic()
        self._connected.set()
        self._wake(all_waiters=True)
        if self.connections == 1 or not self.subscriptions:
            log.info("MQTT connected to %s as %s", addr.display(), self.client_id)
        else:
            log.info("MQTT reconnected to %s as %s", addr.display(), self.client_id)
        if self.subscriptions:
            # Always subscribe again: harmless on a kept session, required on a new one.
            self._subscribe_id = self._packet_id()
            writer.write(subscribe_packet(self._subscribe_id, self.subscriptions))
        else:
            self._ready.set()
        pinger = asyncio.create_task(self._keepalive(writer, keepalive))
        try:
            if packets:
                self._dispatch(packets)
            while True:
                data = await reader.read(262144)
                if not data:
                    raise MQTTError("the broker closed the connection")
                self._last_received = time.monotonic()
                self._dispatch(parser.feed(data))
        except BaseException as exc:
            if isinstance(exc, MQTTError | OSError | TimeoutError):
                raise MQTTError(str(exc) or type(exc).__name__) from exc
            raise
        finally:
            pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pinger

    async def _keepalive(self, writer: asyncio.StreamWriter, keepalive: int) -> None:
        if keepalive <= 0:
            return
        interval = max(0.5, keepalive / 2)
        while True:
            await asyncio.sleep(interval)
            if time.monotonic() - self._last_received > keepalive * 1.5:
                log.warning("MQTT broker %s stopped answering", self.address.display())
                writer.close()  # the read loop ends with an error; the client reconnects
                return
            writer.write(PINGREQ_PACKET)

    def _dispatch(self, packets: list[tuple[int, bytes]]) -> None:
        messages: list[Message] = []
        now_us = int(time.time() * 1_000_000)
        connection = self.connection
        for first, body in packets:
            kind = first >> 4
            if kind == PUBLISH:
                topic, qos, packet_id, payload = decode_publish(first, body)
                if qos == 2:
                    raise MQTTError("protocol error: QoS 2 PUBLISH on a QoS 1 subscription")
                messages.append(Message(topic, payload, qos, packet_id, now_us, connection))
            elif kind == PUBACK:
                self._puback(body)
            elif kind == SUBACK:
                self._suback(body)
            elif kind == PINGRESP:
                pass
            elif kind == DISCONNECT:
                code = body[0] if body else 0
                raise MQTTError(f"the broker disconnected us: {reason_text(code)}")
            else:
                raise MQTTError(f"protocol error: unexpected packet type {kind}")
        if messages:
            self.received += len(messages)
            if self.on_messages is not None:
                self.on_messages(messages)
            else:
                self.ack(messages)

    def _suback(self, body: bytes) -> None:
        packet_id = int.from_bytes(body[0:2], "big")
        _, pos = decode_properties(body, 2)
        codes = list(body[pos:])
        if packet_id != self._subscribe_id:
            return
        refused = [
            f"{flt} ({reason_text(code)})"
            for (flt, _), code in zip(self.subscriptions, codes, strict=False)
            if code >= 0x80
        ]
        if refused:
            self.last_error = "subscription refused: " + ", ".join(refused)
            self.last_error_at = time.time()
            log.error("MQTT broker refused subscriptions: %s", ", ".join(refused))
        self.subscribed = len(refused) < len(self.subscriptions)
        self._ready.set()

    # -- acknowledgements --------------------------------------------------------------------

    def ack(self, messages: Iterable[Message]) -> int:
        """Send PUBACK for the QoS 1 messages (in order). Messages from an earlier connection
        are skipped: the broker sends those again on the new one. Returns how many were sent."""
        writer = self._writer
        if writer is None or writer.is_closing():
            return 0
        connection = self.connection
        acks = [
            puback_packet(m.packet_id)
            for m in messages
            if m.qos == 1 and m.connection == connection
        ]
        if acks:
            writer.write(b"".join(acks))
        return len(acks)

    # -- publishing --------------------------------------------------------------------------

    def _packet_id(self) -> int:
        for _ in range(65535):
            self._next_id = self._next_id % 65535 + 1
            if self._next_id not in self._pending and self._next_id != self._subscribe_id:
                return self._next_id
        raise MQTTError("no free packet identifier")

    def _puback(self, body: bytes) -> None:
        packet_id = int.from_bytes(body[0:2], "big")
        future = self._pending.pop(packet_id, None)
        self._wake()
        if future is None or future.done():
            return
        code = body[2] if len(body) > 2 else 0
        if code >= 0x80:
            future.set_exception(MQTTError(f"the broker rejected the message: {reason_text(code)}"))
        else:
            future.set_result(None)

    def _wake(self, *, all_waiters: bool = False) -> None:
        """Let one waiting publisher (or all) look for a free slot again."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                if not all_waiters:
                    return

    async def publish(
        self, topic: str, payload: bytes, qos: int = 1, *, timeout: float = 30.0
    ) -> None:
        """Publish and, at QoS 1, wait for the broker's PUBACK. Waits up to ``timeout`` for a
        connection; raises :class:`MQTTError` when the message was not (surely) delivered."""
        if qos not in (0, 1):
            raise ValueError("qos must be 0 or 1")
        async with asyncio.timeout(timeout):
            while True:
                await self._connected.wait()
                if len(self._pending) < self._send_quota:
                    break
                waiter = asyncio.get_running_loop().create_future()
                self._waiters.append(waiter)
                try:
                    await waiter
                finally:
                    if not waiter.done():
                        waiter.cancel()
            writer = self._writer
            if writer is None:
                raise MQTTError("not connected")
            if qos == 0:
                writer.write(publish_packet(topic, payload, 0))
                await writer.drain()
                return
            packet_id = self._packet_id()
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._pending[packet_id] = future
            writer.write(publish_packet(topic, payload, 1, packet_id))
            await writer.drain()
            await future
