"""The ingestor: device messages (MQTT and HTTP) -> batched writes through the hub.

Messages queue up as they arrive. One loop takes up to ``iot_batch_max`` of them at a time
(waiting ``iot_batch_linger_ms`` for more when few are queued), finds their devices, decodes
them, and writes each tenant's readings in **one** :meth:`Hub.write`: inside it every message
becomes its own :class:`Change` (so history and subscriptions see every reading), applied
atomically — a message that the hub refuses (e.g. a validator) is rejected whole and the
others go on. Only after the commit are the MQTT messages acknowledged (PUBACK) and HTTP
callers answered; a rejected message is acknowledged too (it was handled: counted, logged).

If the store fails (connection lost, disk full…), the batch is retried with backoff until it
commits, unacknowledged meanwhile; a failure that is not transient is narrowed down to the
message that causes it, which alone is rejected. Nothing here ever stops the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from qala.hub import Actor, Entity, Hub, HubError, ServiceUnavailable, Transaction, now_us
from qala.iot.measures import Reading, decode, parse_topic
from qala.iot.model import MeasureError
from qala.iot.mqtt import Message, MQTTClient
from qala.iot.registry import DeviceDelta, Registry, ResolvedDevice, ServiceDelta, Unresolved

log = logging.getLogger("qala.iot")

ACTOR = Actor(id="qala-iot", role="admin")
OPERATION = "iot.measures"
#: The MQTT topic filters of the IoT Agent JSON protocol.
SUBSCRIPTIONS = (
    ("/+/+/attrs", 1),
    ("/+/+/attrs/+", 1),
    ("/json/+/+/attrs", 1),
    ("/json/+/+/attrs/+", 1),
)


@dataclass(slots=True)
class Outcome:
    """What became of one message. ``kind``: None (accepted), an error kind, or
    ``unavailable`` (not written: the server stopped while the store was failing)."""

    measures: int = 0
    kind: str | None = None
    message: str | None = None

    @property
    def accepted(self) -> bool:
        return self.kind is None


@dataclass(slots=True)
class Incoming:
    apikey: str
    device_id: str
    object_id: str | None
    payload: bytes
    received_us: int
    timestamp: str | None = None
    mqtt: Message | None = None
    future: asyncio.Future[Outcome] | None = None
    outcome: Outcome | None = None
    device: ResolvedDevice | None = None
    readings: list[Reading] = field(default_factory=list)


@dataclass(slots=True)
class Totals:
    received: int = 0
    accepted: int = 0
    rejected: int = 0
    measures: int = 0
    unattributed: int = 0
    batches: int = 0
    largest_batch: int = 0
    last_batch_ms: float = 0.0
    store_retries: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "measures": self.measures,
            "unattributed": self.unattributed,
            "batches": self.batches,
            "largest_batch": self.largest_batch,
            "last_batch_ms": round(self.last_batch_ms, 2),
            "store_retries": self.store_retries,
        }


def is_transient(exc: BaseException) -> bool:
    """Storage failures worth waiting out (the batch is retried, not rejected)."""
    if isinstance(exc, ServiceUnavailable | OSError | TimeoutError | ConnectionError):
        return True
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        return any(w in text for w in ("locked", "busy", "disk", "i/o", "full", "unable to open"))
    try:
        import asyncpg
    except ImportError:  # pragma: no cover
        return False
    return isinstance(
        exc,
        asyncpg.PostgresConnectionError
        | asyncpg.InterfaceError
        | asyncpg.CannotConnectNowError
        | asyncpg.TooManyConnectionsError
        | asyncpg.AdminShutdownError,
    )


class _WarningGate:
    """At most ``limit`` warnings per ``period`` seconds; reports how many it held back."""

    def __init__(self, limit: int = 20, period: float = 10.0) -> None:
        self.limit = limit
        self.period = period
        self._start = 0.0
        self._count = 0
        self._held = 0

    def warn(self, message: str, *args: Any) -> None:
        now = time.monotonic()
        if now - self._start > self.period:
            if self._held:
                log.warning("%d more rejected messages were not logged", self._held)
            self._start, self._count, self._held = now, 0, 0
        if self._count < self.limit:
            self._count += 1
            log.warning(message, *args)
        else:
            self._held += 1


class Ingestor:
    """Batches device messages into hub writes and keeps per-device counters."""

    def __init__(
        self,
        hub: Hub,
        registry: Registry,
        *,
        batch_max: int = 5000,
        linger: float = 0.002,
        flush_interval: float = 5.0,
    ) -> None:
        self.hub = hub
        self.registry = registry
        self.batch_max = max(1, batch_max)
        self.linger = max(0.0, linger)
        self.flush_interval = flush_interval
        self.client: MQTTClient | None = None
        self.totals = Totals()
        self.device_deltas: dict[int, DeviceDelta] = {}
        self.service_deltas: dict[int, ServiceDelta] = {}
        self._queue: deque[Incoming] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._gate = _WarningGate()
        #: Held while counters move from memory to the store, and by readers of the counters
        #: (stored + in memory), so that a count is never seen twice or not at all.
        self.stats_lock = asyncio.Lock()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(), name="iot ingestor"),
            asyncio.create_task(self._flusher(), name="iot counters"),
        ]

    async def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued (up to ``timeout``), save the counters, stop."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while self._queue or not self._idle.is_set():
                    self._wake.set()
                    await asyncio.sleep(0.01)
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        for item in self._queue:
            if item.future is not None and not item.future.done():
                item.future.set_result(Outcome(kind="unavailable", message="server stopping"))
        self._queue.clear()
        await self.flush()

    @property
    def queued(self) -> int:
        return len(self._queue)

    # -- input -------------------------------------------------------------------------------

    def on_mqtt(self, messages: list[Message]) -> None:
        """Called by the MQTT client with each chunk of received messages."""
        queue = self._queue
        for message in messages:
            topic = parse_topic(message.topic)
            if topic is None:  # not an attrs topic (cannot happen with our subscriptions)
                self.totals.received += 1
                self.totals.unattributed += 1
                if self.client is not None:
                    self.client.ack([message])
                continue
            queue.append(
                Incoming(
                    topic.apikey,
                    topic.device_id,
                    topic.object_id,
                    message.payload,
                    message.received_us,
                    mqtt=message,
                )
            )
        self._wake.set()

    async def submit(
        self,
        apikey: str,
        device_id: str,
        payload: bytes,
        *,
        object_id: str | None = None,
        timestamp: str | None = None,
        timeout: float | None = None,
    ) -> Outcome:
        """Ingest one message (HTTP, in-process simulation) and wait until it is committed."""
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._queue.append(
            Incoming(apikey, device_id, object_id, payload, now_us(), timestamp, future=future)
        )
        self._wake.set()
        return await asyncio.wait_for(asyncio.shield(future), timeout)

    # -- the loop ----------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                self._idle.clear()
                batch: list[Incoming] = []
                try:
                    if self.linger and len(self._queue) < self.batch_max:
                        await asyncio.sleep(self.linger)
                    count = min(len(self._queue), self.batch_max)
                    batch = [self._queue.popleft() for _ in range(count)]
                    await self._process(batch)
                except asyncio.CancelledError:
                    raise
                except Exception:  # a bug must not stop ingestion
                    log.exception("IoT ingestion batch failed unexpectedly")
                    for item in batch:  # MQTT ones stay unacknowledged: sent again later
                        if item.future is not None and not item.future.done():
                            item.future.set_result(
                                Outcome(kind="unavailable", message="internal error")
                            )
                finally:
                    self._idle.set()

    async def _process(self, batch: list[Incoming]) -> None:
        started = time.perf_counter()
        keys = {(i.apikey, i.device_id) for i in batch}
        attempt = 0
        while True:
            try:
                resolutions = await self.registry.resolve(keys)
                break
            except Exception as exc:
                if self._stopping or not is_transient(exc):
                    raise
                attempt += 1
                self.totals.store_retries += 1
                if attempt == 1 or attempt % 20 == 0:
                    log.warning("looking up devices failed (%s); retrying", exc)
                await asyncio.sleep(min(5.0, 0.05 * 2**attempt))
        by_tenant: dict[str, list[Incoming]] = {}
        for item in batch:
            resolution = resolutions[(item.apikey, item.device_id)]
            if isinstance(resolution, Unresolved):
                item.outcome = Outcome(kind=resolution.kind, message=resolution.message)
                continue
            try:
                item.readings = decode(
                    resolution, item.payload, item.object_id, item.received_us, item.timestamp
                )
            except MeasureError as exc:
                item.outcome = Outcome(kind=exc.kind, message=exc.message)
                item.device = resolution
                continue
            item.device = resolution
            if not item.readings:  # every measure dropped (explicitAttrs)
                item.outcome = Outcome()
                continue
            by_tenant.setdefault(resolution.tenant, []).append(item)
        if by_tenant:
            await asyncio.gather(*(self._write(t, items) for t, items in by_tenant.items()))
        self._finish(batch, resolutions)
        totals = self.totals
        totals.batches += 1
        totals.largest_batch = max(totals.largest_batch, len(batch))
        totals.last_batch_ms = (time.perf_counter() - started) * 1000

    def _finish(self, batch: list[Incoming], resolutions: dict[tuple[str, str], Any]) -> None:
        totals = self.totals
        acks: list[Message] = []
        for item in batch:
            outcome = item.outcome or Outcome(kind="unavailable", message="not written")
            totals.received += 1
            if outcome.kind == "unavailable":
                pass
            elif outcome.accepted:
                totals.accepted += 1
                totals.measures += outcome.measures
                if item.device is not None:
                    delta = self._device_delta(item.device.pk)
                    delta.messages += 1
                    delta.measures += outcome.measures
                    delta.last_measure_at = item.received_us
            else:
                totals.rejected += 1
                self._count_error(item, outcome, resolutions[(item.apikey, item.device_id)])
            if item.mqtt is not None and outcome.kind != "unavailable":
                acks.append(item.mqtt)
            if item.future is not None and not item.future.done():
                item.future.set_result(outcome)
        if acks and self.client is not None:
            self.client.ack(acks)

    def _device_delta(self, pk: int) -> DeviceDelta:
        delta = self.device_deltas.get(pk)
        if delta is None:
            delta = self.device_deltas[pk] = DeviceDelta()
        return delta

    def _count_error(self, item: Incoming, outcome: Outcome, resolution: Any) -> None:
        assert outcome.kind is not None
        stamp = now_us()
        where = "HTTP" if item.mqtt is None else f"MQTT {item.mqtt.topic}"
        device_pk = item.device.pk if item.device is not None else None
        if device_pk is None and isinstance(resolution, Unresolved):
            device_pk = resolution.device_pk
        if device_pk is not None:
            delta = self._device_delta(device_pk)
            delta.errors[outcome.kind] = delta.errors.get(outcome.kind, 0) + 1
            delta.last_error_kind = outcome.kind
            delta.last_error = outcome.message
            delta.last_error_at = stamp
        elif isinstance(resolution, Unresolved) and resolution.service_pk is not None:
            service = self.service_deltas.get(resolution.service_pk)
            if service is None:
                service = self.service_deltas[resolution.service_pk] = ServiceDelta()
            service.unknown_devices += 1
            service.last_error = f"{item.device_id}: {outcome.message}"
            service.last_error_at = stamp
        else:
            self.totals.unattributed += 1
        self._gate.warn(
            "rejected %s message for device %r (apikey %r): %s: %s",
            where,
            item.device_id,
            item.apikey,
            outcome.kind,
            outcome.message,
        )

    # -- writing -----------------------------------------------------------------------------

    async def _write(self, tenant: str, items: list[Incoming]) -> None:
        ids = list(dict.fromkeys(i.device.entity_id for i in items if i.device is not None))
        attempt = 0
        while True:
            try:
                results = await self.hub.transact(
                    tenant, ACTOR, operation=OPERATION, entity_ids=ids, body=self._planner(items)
                )
            except HubError as exc:  # the whole tenant refused (e.g. an invalid name)
                for item in items:
                    item.outcome = Outcome(kind="rejected", message=exc.detail)
                return
            except Exception as exc:
                if self._stopping:
                    return
                if is_transient(exc):
                    attempt += 1
                    self.totals.store_retries += 1
                    delay = min(5.0, 0.05 * 2**attempt)
                    if attempt == 1 or attempt % 20 == 0:
                        log.warning(
                            "storing %d device messages failed (%s: %s); retrying every "
                            "%.1f s until the store is back",
                            len(items),
                            type(exc).__name__,
                            exc,
                            delay,
                        )
                    await asyncio.sleep(delay)
                    continue
                if len(items) > 1:
                    log.exception(
                        "storing a batch of device messages failed; writing them one by one"
                    )
                    for item in items:
                        await self._write(tenant, [item])
                    return
                log.exception("storing a device message failed; it is rejected")
                items[0].outcome = Outcome(kind="rejected", message=f"internal error: {exc!r}")
                return
            for item, result in zip(items, results, strict=True):
                item.outcome = result
            return

    def _planner(self, items: list[Incoming]) -> Callable[[Transaction], list[Outcome]]:
        def apply(tx: Transaction) -> list[Outcome]:
            tx.context.extra["source"] = "iot"
            results: list[Outcome] = []
            for item in items:
                device = item.device
                assert device is not None
                try:
                    with tx.atomic():  # a message is stored whole or not at all
                        _record(tx, device, item.readings)
                except HubError as exc:
                    results.append(Outcome(kind="rejected", message=exc.detail))
                    continue
                results.append(Outcome(measures=sum(len(r) for r in item.readings)))
            return results

        return apply

    # -- counters ----------------------------------------------------------------------------

    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval)
            try:
                await self.flush()
            except Exception as exc:  # counters wait for the next round
                log.warning("saving IoT device counters failed: %s", exc)

    async def flush(self) -> None:
        async with self.stats_lock:
            devices, self.device_deltas = self.device_deltas, {}
            services, self.service_deltas = self.service_deltas, {}
            if not devices and not services:
                return
            try:
                await self.registry.flush(devices, services)
            except BaseException:
                # put them back (merged with anything counted meanwhile) for the next round
                for pk, delta in devices.items():
                    _merge_device(self.device_deltas.setdefault(pk, DeviceDelta()), delta)
                for pk, older in services.items():
                    current = self.service_deltas.setdefault(pk, ServiceDelta())
                    current.unknown_devices += older.unknown_devices
                    if current.last_error_at is None:
                        current.last_error = older.last_error
                        current.last_error_at = older.last_error_at
                raise


def _merge_device(into: DeviceDelta, older: DeviceDelta) -> None:
    into.messages += older.messages
    into.measures += older.measures
    if into.last_measure_at is None:
        into.last_measure_at = older.last_measure_at
    for kind, count in older.errors.items():
        into.errors[kind] = into.errors.get(kind, 0) + count
    if into.last_error_at is None:
        into.last_error_kind = older.last_error_kind
        into.last_error = older.last_error
        into.last_error_at = older.last_error_at


def _record(tx: Transaction, device: ResolvedDevice, readings: list[Reading]) -> None:
    """A message's readings, each a write of its own (so history keeps every one). A missing
    entity is created (the IoT Agent upserts): the device's type, static attributes, readings."""
    for reading in readings:
        if tx.get(device.entity_id) is None:
            attrs: dict[str, Any] = {iri: _copy(instance) for iri, instance in device.static}
            attrs.update(reading)
            tx.create(Entity(id=device.entity_id, types=[device.type_iri], attrs=attrs))
        else:
            tx.update(device.entity_id, attrs=reading)


def _copy(instance: dict[str, Any]) -> dict[str, Any]:
    return {k: _copy(v) if isinstance(v, dict) else v for k, v in instance.items()}
