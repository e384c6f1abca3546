"""A small city written both into a real hub (entities through ``Hub.transact``, history in
bulk) and into :class:`MemoryInputs`, so the two inputs can be compared on the same data.

January 2026 in Almaty (UTC+5). Air: ``aq:1`` reports pm25 every hour but a gap on 10 January
and has a short day on 20 January, ``aq:2`` comes into service on 15 January (``dateCreated``),
``aq:3`` is silent. Streetlights: two individually controlled (one reporting), one group
controlled, statuses. Waste: two containers filling up and emptied. Parking, traffic, EV
charging, stops with an arrival feed, the City entity with population and area, and citizen
requests as the Open311 capability publishes them (``Open311_ServiceRequest``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from qala.hub import Actor, Hub, Storage, iso_to_us
from qala.indicators.hub_inputs import REQUEST_TYPE, REQUEST_VOCAB
from qala.indicators.inputs import EntitySnapshot, MemoryInputs, ServiceRequestRecord, Statistic
from qala.jsonld.compiled import CompiledContext
from qala.ngsild.parse import parse_entity
from qala.store import open_store
from qala.temporal import HistoryRecorder, load_history

TENANT = "testcity"
OPERATOR = Actor(id="akimat", role="city-operator", tenant=TENANT)
START = datetime(2025, 12, 31, 19, tzinfo=UTC)  # 1 January 2026, 00:00 in Almaty
HOURS = 31 * 24
SINCE_2025 = datetime(2025, 6, 1, tzinfo=UTC)
AQ2_START = datetime(2026, 1, 14, 19, tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _prop(value: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value, **extra}


def city() -> tuple[list[dict[str, Any]], list[tuple[str, str, datetime, float]]]:
    """The entities (normalized NGSI-LD, Smart Data Models terms) and the observations
    ``(entity id, attribute term, moment, value)``."""
    entities: list[dict[str, Any]] = []
    points: list[tuple[str, str, datetime, float]] = []

    def add(entity_id: str, kind: str, since: datetime = SINCE_2025, **attrs: Any) -> None:
        body = {"id": entity_id, "type": kind, "dateCreated": _prop(_iso(since))}
        body.update({k: v if isinstance(v, dict) else _prop(v) for k, v in attrs.items()})
        entities.append(body)

    add("urn:ngsi-ld:AirQualityObserved:t:1", "AirQualityObserved")
    add("urn:ngsi-ld:AirQualityObserved:t:2", "AirQualityObserved", AQ2_START)
    add("urn:ngsi-ld:AirQualityObserved:t:3", "AirQualityObserved")
    for h in range(HOURS):
        moment = START + timedelta(hours=h)
        day = h // 24
        if day != 9 and not (day == 19 and h % 24 >= 10):
            points.append(("urn:ngsi-ld:AirQualityObserved:t:1", "pm25", moment, 20 + h % 17))
            points.append(("urn:ngsi-ld:AirQualityObserved:t:1", "pm10", moment, 40 + h % 11))
            points.append(("urn:ngsi-ld:AirQualityObserved:t:1", "no2", moment, 30 + h % 5))
        if moment >= AQ2_START:
            points.append(("urn:ngsi-ld:AirQualityObserved:t:2", "pm25", moment, 12 + h % 7))
            # two readings in one hour: the hour's mean is what counts
            points.append(
                ("urn:ngsi-ld:AirQualityObserved:t:2", "pm25", moment + timedelta(minutes=30),
                 14 + h % 7)
            )
    for i, method in enumerate(("individual", "individual", "group"), start=1):
        add(f"urn:ngsi-ld:Streetlight:t:{i}", "Streetlight", controllingMethod=method,
            status="ok" if i != 2 else "defectiveLamp")
    for h in range(0, HOURS, 6):
        points.append(("urn:ngsi-ld:Streetlight:t:1", "illuminanceLevel",
                       START + timedelta(hours=h), 0.5 + (h % 4) / 10))
    for i in (1, 2):
        add(f"urn:ngsi-ld:WasteContainer:t:{i}", "WasteContainer")
        level = 0.1
        for h in range(HOURS):
            level += 0.01 * i
            if level > 0.9:
                level = 0.05
            points.append((f"urn:ngsi-ld:WasteContainer:t:{i}", "fillingLevel",
                           START + timedelta(hours=h), round(level, 4)))
    add("urn:ngsi-ld:OffStreetParking:t:1", "OffStreetParking", totalSpotNumber=200)
    add("urn:ngsi-ld:OffStreetParking:t:2", "OffStreetParking", totalSpotNumber=50)
    for h in range(0, HOURS, 2):
        points.append(("urn:ngsi-ld:OffStreetParking:t:1", "availableSpotNumber",
                       START + timedelta(hours=h), 100 + h % 50))
    add("urn:ngsi-ld:TrafficFlowObserved:t:1", "TrafficFlowObserved")
    for h in range(HOURS):
        points.append(("urn:ngsi-ld:TrafficFlowObserved:t:1", "intensity",
                       START + timedelta(hours=h), 300 + 10 * (h % 24)))
    add("urn:ngsi-ld:EVChargingStation:t:1", "EVChargingStation", capacity=4)
    add("urn:ngsi-ld:EVChargingStation:t:2", "EVChargingStation", capacity=2)
    for i in (1, 2, 3, 4):
        add(f"urn:ngsi-ld:PublicTransportStop:t:{i}", "PublicTransportStop")
    add("urn:ngsi-ld:ArrivalEstimation:t:1", "ArrivalEstimation",
        hasStop={"type": "Relationship", "object": ["urn:ngsi-ld:PublicTransportStop:t:1",
                                                   "urn:ngsi-ld:PublicTransportStop:t:2"]})
    for h in range(HOURS):
        points.append(("urn:ngsi-ld:ArrivalEstimation:t:1", "remainingTime",
                       START + timedelta(hours=h), 120 + h % 9))
    entities.append(
        {
            "id": f"urn:ngsi-ld:City:{TENANT}",
            "type": "City",
            "population": _prop(250_000, observedAt="2025-01-01T00:00:00+05:00",
                                source=_prop("statistics bureau")),
            "areaKm2": _prop(500.0, observedAt="2025-01-01T00:00:00+05:00",
                             source=_prop("cadastre")),
        }
    )
    for record in REQUESTS:
        body = {
            "id": record.id,
            "type": REQUEST_TYPE,
            REQUEST_VOCAB + "service_code": _prop(record.service_code),
            REQUEST_VOCAB + "requested_datetime": _when(record.opened_at),
        }
        if record.closed_at is not None:
            body[REQUEST_VOCAB + "closed_datetime"] = _when(record.closed_at)
        if record.due_at is not None:
            body[REQUEST_VOCAB + "expected_datetime"] = _when(record.due_at)
        entities.append(body)
    return entities, points


def _when(moment: datetime) -> dict[str, Any]:
    return _prop({"@type": "DateTime", "@value": _iso(moment)})


def _request(n: int, opened: str, closed: str | None, due: str | None) -> ServiceRequestRecord:
    def at(text: str | None) -> datetime | None:
        return datetime.fromisoformat(text).replace(tzinfo=UTC) if text else None

    opened_at = at(opened)
    assert opened_at is not None
    return ServiceRequestRecord(
        f"urn:ngsi-ld:Open311_ServiceRequest:{TENANT}:{n}", "POTHOLE", opened_at, at(closed),
        due_at=at(due),
    )


#: Requests: one closed in time (24 h), one closed late (240 h), one open past its due time,
#: one open within it, one opened in December and closed in January, one without a due time.
REQUESTS = (
    _request(1, "2026-01-05T10:00", "2026-01-06T10:00", "2026-01-07T10:00"),
    _request(2, "2026-01-10T10:00", "2026-01-20T10:00", "2026-01-12T10:00"),
    _request(3, "2026-01-25T10:00", None, "2026-02-01T10:00"),
    _request(4, "2026-01-28T10:00", None, "2026-03-10T10:00"),
    _request(5, "2025-12-20T10:00", "2026-01-02T10:00", "2025-12-22T10:00"),
    _request(6, "2026-01-29T10:00", "2026-01-29T16:00", None),
)


def memory_inputs() -> MemoryInputs:
    """The same city as plain data."""
    entities, points = city()
    inputs = MemoryInputs()
    for record in REQUESTS:
        inputs.add_service_request(TENANT, record)
    for body in entities:
        if body["type"] == REQUEST_TYPE:
            continue
        attrs: dict[str, Any] = {}
        for key, value in body.items():
            if key in ("id", "type", "dateCreated", "population", "areaKm2"):
                continue
            attrs[key] = value.get("object", value.get("value"))
        created = body.get("dateCreated", {}).get("value")
        inputs.add_entity(
            TENANT,
            EntitySnapshot(
                id=body["id"],
                type=body["type"],
                attrs=attrs,
                created_at=datetime.fromisoformat(created) if created else None,
            ),
        )
    for entity_id, attr, moment, value in points:
        inputs.observe(TENANT, entity_id, attr, moment, value)
    inputs.add_statistic(
        Statistic(TENANT, "population", 250_000, "persons", "statistics bureau", date(2025, 1, 1))
    )
    inputs.add_statistic(Statistic(TENANT, "area_km2", 500.0, "km²", "cadastre", date(2025, 1, 1)))
    return inputs


async def seed_hub(hub: Hub, store: Storage, ctx: CompiledContext) -> None:
    """Write the city into the hub: entities through transactions, history in bulk."""
    entities, points = city()
    for body in entities:
        entity = parse_entity(body, ctx)
        await hub.transact(
            TENANT, OPERATOR, operation="test.create", entity_ids=[entity.id],
            body=lambda tx, e=entity: tx.create(e),
        )
    tenant = await hub.tenant(TENANT)
    types = {b["id"]: ctx.expand(b["type"]) for b in entities}
    rows = [
        (entity_id, ctx.for_types([types[entity_id]]).expand(attr),
         iso_to_us(_iso(moment)), value)
        for entity_id, attr, moment, value in points
    ]
    await load_history(store, tenant.id, rows)


async def with_hub(settings: Any, scenario: Callable[[Hub, Storage], Awaitable[None]]) -> None:
    store = open_store(settings)
    await store.open()
    try:
        hub = Hub(store)
        hub.add_participant(HistoryRecorder())
        await scenario(hub, store)
    finally:
        await store.close()
