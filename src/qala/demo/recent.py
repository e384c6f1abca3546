"""Point-by-point history of a demo entity: the recent days at full resolution, and the live
simulation's next values (``qala simulate`` asks for one moment at a time).

The year before is generated in bulk by :mod:`qala.demo.year`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from qala.demo import profiles
from qala.demo.cities import city
from qala.demo.generate import (
    _air,
    _car_park_size,
    _city_of,
    _ev_state,
    _ev_station,
    _iso,
    _lane,
    _light_state,
    _occupancy,
    _stable_random,
    _station_factor,
    _stop_busyness,
    _traffic,
    _waste_state,
)

HistoryPoint = tuple[str, str, Any]


@lru_cache(maxsize=64)
def _grid(
    city_key: str, start: datetime, end: datetime, step: timedelta
) -> tuple[tuple[datetime, datetime, str], ...]:
    """(utc, local, iso) for every step in [start, end)."""
    if step <= timedelta(0):
        raise ValueError("step must be positive")
    zone = ZoneInfo(city(city_key).time_zone)
    out = []
    moment = start.astimezone(UTC)
    stop = end.astimezone(UTC)
    while moment < stop:
        local = moment.astimezone(zone).replace(tzinfo=None)
        out.append((moment, local, _iso(moment)))
        moment += step
    return tuple(out)


def generate_history(
    entity: dict[str, Any], start: datetime, end: datetime, step: timedelta
) -> Iterator[HistoryPoint]:
    """Past values of an entity's measured attributes, as ``(term, observedAt, value)``.

    Covers ``[start, end)`` every ``step``. Deterministic for a given entity id and window.
    Types without measured attributes yield nothing.
    """
    entity_id: str = entity["id"]
    entity_type: str = entity["type"]
    city_key = _city_of(entity_id)
    grid = _grid(city_key, start, end, step)
    noise = _stable_random("history", entity_id, _iso(start), step.total_seconds())
    c = city(city_key)
    if entity_type == "AirQualityObserved":
        station = _station_factor(entity_id)
        for _, local, at in grid:
            values = _air(city_key, local.timetuple().tm_yday, local.hour, station, noise)
            for term, value in values.items():
                yield term, at, value
    elif entity_type == "TrafficFlowObserved":
        _, capacity = _lane(entity_id)
        for _, local, at in grid:
            intensity, speed, occupancy = _traffic(local, capacity, noise)
            yield "intensity", at, intensity
            yield "averageVehicleSpeed", at, speed
            yield "occupancy", at, occupancy
    elif entity_type == "OffStreetParking":
        total = _car_park_size(entity_id)
        for _, local, at in grid:
            occupied = min(total, round(total * _occupancy(local) * noise.uniform(0.9, 1.1)))
            yield "availableSpotNumber", at, total - occupied
            yield "occupancy", at, round(occupied / total, 3)
    elif entity_type == "ParkingSpot":
        for _, local, at in grid:
            yield "status", at, "occupied" if noise.random() < _occupancy(local) else "free"
    elif entity_type == "WasteContainer":
        for utc, _, at in grid:
            yield "fillingLevel", at, _waste_state(entity_id, utc)[0]
    elif entity_type == "EVChargingStation":
        capacity, _ = _ev_station(entity_id)
        for _, local, at in grid:
            available, status = _ev_state(entity_id, capacity, local, noise)
            yield "availableCapacity", at, available
            yield "status", at, status
    elif entity_type == "PublicTransportStop":
        busy = _stop_busyness(entity_id)
        for _, local, at in grid:
            yield (
                "peopleCount",
                at,
                round(busy * profiles.STOP_HOURLY[local.hour] * noise.uniform(0.6, 1.4)),
            )
    elif entity_type == "Streetlight":
        status = _attr_value(entity.get("status"), "ok")
        for utc, _, at in grid:
            power_state, level = _light_state(c, utc, status)
            yield "powerState", at, power_state
            yield "illuminanceLevel", at, level


def _attr_value(attribute: Any, default: Any) -> Any:
    if isinstance(attribute, dict):
        return attribute.get("value", default)
    return default if attribute is None else attribute
