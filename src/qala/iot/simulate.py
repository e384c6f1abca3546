"""Live measures for the demo: one simulated device per demo sensor entity.

Every demo sensor (air-quality stations, traffic counters, car parks, parking spots, waste
bins, EV chargers, bus stops) gets a provisioned device whose measures follow the demo's
models (:func:`qala.demo.generate_history`): diurnal air quality, traffic peaks, bins that fill
and are emptied on their collection days, car-park occupancy. ``qala simulate`` publishes them
over MQTT like real devices; without a broker the server can run the same simulation
in-process (``QALA_IOT_SIMULATE``), feeding its ingestor directly (the hub write path).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson

from qala.demo import CITY_KEYS, generate_history
from qala.hub import EntityQuery, Selector, Storage
from qala.iot.model import check_service
from qala.iot.registry import Registry
from qala.jsonld.resolver import ContextResolver
from qala.sdm.contexts import SDM_CONTEXT_URL

if TYPE_CHECKING:
    from qala.iot.runtime import IotServices
    from qala.services import Services

log = logging.getLogger("qala.iot.simulate")


@dataclass(frozen=True, slots=True)
class SensorKind:
    """How one demo entity type reports: its apikey suffix and object ids."""

    short: str
    #: (object_id, attribute, IoT Agent type, unitCode)
    objects: tuple[tuple[str, str, str, str | None], ...]


SENSORS: dict[str, SensorKind] = {
    "AirQualityObserved": SensorKind(
        "aq",
        (
            ("pm25", "pm25", "Number", "GQ"),
            ("pm10", "pm10", "Number", "GQ"),
            ("no2", "no2", "Number", "GQ"),
            ("so2", "so2", "Number", "GQ"),
            ("co", "co", "Number", "GP"),
            ("o3", "o3", "Number", "GQ"),
            ("t", "temperature", "Number", "CEL"),
            ("h", "relativeHumidity", "Number", "C62"),
        ),
    ),
    "TrafficFlowObserved": SensorKind(
        "traffic",
        (
            ("i", "intensity", "Integer", None),
            ("s", "averageVehicleSpeed", "Number", "KMH"),
            ("o", "occupancy", "Number", None),
        ),
    ),
    "OffStreetParking": SensorKind(
        "parking",
        (("a", "availableSpotNumber", "Integer", None), ("o", "occupancy", "Number", None)),
    ),
    "ParkingSpot": SensorKind("spot", (("s", "status", "Text", None),)),
    "WasteContainer": SensorKind("waste", (("f", "fillingLevel", "Number", None),)),
    "EVChargingStation": SensorKind(
        "ev", (("a", "availableCapacity", "Integer", None), ("s", "status", "Text", None))
    ),
    "PublicTransportStop": SensorKind("stop", (("p", "peopleCount", "Integer", None),)),
}


@dataclass(frozen=True, slots=True)
class DemoDevice:
    tenant: str
    apikey: str
    device_id: str
    entity_id: str
    entity_type: str

    @property
    def topic(self) -> str:
        return f"/{self.apikey}/{self.device_id}/attrs"


def demo_apikey(tenant: str, entity_type: str) -> str:
    return f"demo-{tenant}-{SENSORS[entity_type].short}"


def demo_device(tenant: str, entity_type: str, entity_id: str) -> DemoDevice:
    number = entity_id.rsplit(":", 1)[-1]
    device_id = f"{SENSORS[entity_type].short}-{number}"
    return DemoDevice(tenant, demo_apikey(tenant, entity_type), device_id, entity_id, entity_type)


def service_group(tenant: str, entity_type: str) -> dict[str, Any]:
    """The service group of one demo sensor type (its devices' mapping)."""
    kind = SENSORS[entity_type]
    attributes: list[dict[str, Any]] = []
    for object_id, name, type_name, unit in kind.objects:
        attribute: dict[str, Any] = {"object_id": object_id, "name": name, "type": type_name}
        if unit is not None:
            attribute["metadata"] = {"unitCode": {"type": "Text", "value": unit}}
        attributes.append(attribute)
    return check_service(
        {
            "apikey": demo_apikey(tenant, entity_type),
            "entity_type": entity_type,
            "@context": SDM_CONTEXT_URL,
            "attributes": attributes,
            "strict": True,
            "description": f"demo {entity_type} sensors",
        },
        0,
    )


def parse_tenants(spec: str | list[str] | None) -> list[str]:
    """``all``/empty -> the five demo cities; else the named tenants (comma-separated)."""
    items: list[str] = []
    for part in [spec] if isinstance(spec, str) or spec is None else spec:
        items.extend(p.strip() for p in (part or "").split(",") if p.strip())
    if not items or items == ["all"]:
        return list(CITY_KEYS)
    return list(dict.fromkeys(items))


async def ensure_demo_devices(
    store: Storage, contexts: ContextResolver, registry: Registry, tenants: list[str]
) -> list[DemoDevice]:
    """Provision (idempotently) a device for every demo sensor entity in ``tenants``; the
    devices, in a stable order. Tenants without demo sensors are skipped with a warning."""
    ctx = await contexts.compile(SDM_CONTEXT_URL)
    devices: list[DemoDevice] = []
    for tenant in tenants:
        ten = await store.tenant(tenant)
        if ten is None:
            log.warning("tenant %r does not exist: seed it first (qala demo --no-serve)", tenant)
            continue
        found: list[DemoDevice] = []
        for entity_type in SENSORS:
            query = EntityQuery(
                selectors=[Selector(type_groups=[[ctx.expand(entity_type)]])], limit=1_000_000
            )
            result = await store.query(ten.id, query)
            ids = sorted(e.id for e in result.entities)
            if not ids:
                continue
            apikey = demo_apikey(tenant, entity_type)
            if await registry.service(apikey) is None:
                await registry.insert_services(tenant, [service_group(tenant, entity_type)])
            kind_devices = [demo_device(tenant, entity_type, i) for i in ids]
            await registry.insert_missing_devices(
                tenant,
                [
                    {
                        "device_id": d.device_id,
                        "apikey": d.apikey,
                        "entity_name": d.entity_id,
                        "entity_type": entity_type,
                        "config": {"attributes": [], "static_attributes": []},
                    }
                    for d in kind_devices
                ],
            )
            found.extend(kind_devices)
        if not found:
            log.warning("tenant %r has no demo sensor entities: seed it first", tenant)
        devices.extend(found)
    return devices


def measure(device: DemoDevice, when: datetime) -> dict[str, Any]:
    """One message of a device at ``when``: its measures keyed by object id, and TimeInstant."""
    start = when.astimezone(UTC).replace(microsecond=0)
    stub = {"id": device.entity_id, "type": device.entity_type}
    values = {
        term: value
        for term, _, value in generate_history(stub, start, start + timedelta(seconds=1), _SECOND)
    }
    payload: dict[str, Any] = {
        object_id: values[name]
        for object_id, name, _, _ in SENSORS[device.entity_type].objects
        if name in values
    }
    payload["TimeInstant"] = start.strftime("%Y-%m-%dT%H:%M:%SZ")
    return payload


_SECOND = timedelta(seconds=1)
Send = Callable[[DemoDevice, bytes], Awaitable[bool]]


async def simulate(
    devices: list[DemoDevice],
    send: Send,
    *,
    rate: float,
    duration: float | None = None,
    seed: int = 2026,
) -> tuple[int, int]:
    """Send ``rate`` messages per second, cycling through ``devices`` in a shuffled order,
    for ``duration`` seconds (None: until cancelled). Returns (sent, failed)."""
    if not devices or rate <= 0:
        return 0, 0
    order = list(devices)
    random.Random(seed).shuffle(order)
    started = time.monotonic()
    sent = failed = index = 0
    while duration is None or time.monotonic() - started < duration:
        due = int((time.monotonic() - started) * rate) + 1  # messages due by now
        due = min(due, index + max(1, int(rate)))  # after a stall, catch up at most 1 s
        now = datetime.now(UTC)
        while index < due:
            device = order[index % len(order)]
            index += 1
            if await send(device, orjson.dumps(measure(device, now))):
                sent += 1
            else:
                failed += 1
        await asyncio.sleep(max(0.0, index / rate - (time.monotonic() - started)))
    return sent, failed


async def run_in_process(svc: Services, iot: IotServices, spec: str, rate: float) -> None:
    """The server's own simulation (no broker): measures go straight to the ingestor of the
    running IoT capability."""
    try:
        devices = await ensure_demo_devices(
            svc.store, svc.contexts, iot.registry, parse_tenants(spec)
        )
        log.info("simulating %d demo devices in-process at %.1f messages/s", len(devices), rate)

        async def send(device: DemoDevice, payload: bytes) -> bool:
            outcome = await iot.ingestor.submit(device.apikey, device.device_id, payload)
            return bool(outcome.accepted)

        await simulate(devices, send, rate=rate)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("the in-process IoT simulation stopped")
