"""Deterministic demo data: NGSI-LD entities and their history for the five cities.

Entities are **normalized** NGSI-LD, in compact form with the Smart Data Models terms (expand
them with :data:`CONTEXT`). Identifiers look like ``urn:ngsi-ld:Streetlight:astana:000123``.
The same ``seed`` always gives the same output; nothing depends on the clock unless the caller
passes one.
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from qala.demo import profiles
from qala.demo.cities import CITY_KEYS, City, city, points_near, random_points
from qala.sdm.contexts import SDM_CONTEXT_URL

#: the @context the generated entities are written in (the broker adds the core context)
CONTEXT: tuple[str, ...] = (SDM_CONTEXT_URL,)

#: the moment the demo's "current" values describe when the caller gives none
DEFAULT_OBSERVED_AT = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)

ENTITY_TYPES: tuple[str, ...] = (
    "AirQualityObserved",
    "Streetlight",
    "WasteContainer",
    "OffStreetParking",
    "ParkingSpot",
    "TrafficFlowObserved",
    "EVChargingStation",
    "PublicTransportStop",
)

# Demo counts for Astana (1.64 M people); the other cities scale by population.
_ASTANA_PLAN: dict[str, int] = {
    "AirQualityObserved": 40,
    "Streetlight": 2000,
    "WasteContainer": 1200,
    "OffStreetParking": 30,
    "ParkingSpot": 300,  # 10 monitored spots in each car park
    "TrafficFlowObserved": 60,
    "EVChargingStation": 25,
    "PublicTransportStop": 600,
}
_SPOTS_PER_CAR_PARK = 10
_REFERENCE_POPULATION = 1_638_233  # Astana, 2026-01-01

#: suggested history windows for a seeded demo: type -> (length, step)
DEMO_HISTORY: dict[str, tuple[timedelta, timedelta]] = {
    "AirQualityObserved": (timedelta(days=7), timedelta(hours=1)),
    "TrafficFlowObserved": (timedelta(days=2), timedelta(minutes=15)),
    "OffStreetParking": (timedelta(days=7), timedelta(hours=1)),
    "WasteContainer": (timedelta(days=3), timedelta(hours=2)),
    "EVChargingStation": (timedelta(days=3), timedelta(hours=1)),
    "PublicTransportStop": (timedelta(days=2), timedelta(hours=1)),
}

HistoryPoint = tuple[str, str, Any]


def demo_plan(city_key: str, scale: float = 1.0) -> dict[str, int]:
    """How many entities of each type the demo creates for a city (scaled by population)."""
    factor = city(city_key).population / _REFERENCE_POPULATION * scale
    plan: dict[str, int] = {}
    for entity_type, astana_count in _ASTANA_PLAN.items():
        if entity_type == "ParkingSpot":
            continue
        plan[entity_type] = max(1, round(astana_count * factor))
    plan["ParkingSpot"] = plan["OffStreetParking"] * _SPOTS_PER_CAR_PARK
    return {t: plan[t] for t in ENTITY_TYPES}


# --- small helpers ---------------------------------------------------------------------------
def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _entity_id(entity_type: str, city_key: str, number: int) -> str:
    return f"urn:ngsi-ld:{entity_type}:{city_key}:{number:06d}"


def _prop(value: Any, observed_at: str | None = None, unit: str | None = None) -> dict[str, Any]:
    attribute: dict[str, Any] = {"type": "Property", "value": value}
    if observed_at is not None:
        attribute["observedAt"] = observed_at
    if unit is not None:
        attribute["unitCode"] = unit
    return attribute


def _rel(target: str) -> dict[str, Any]:
    return {"type": "Relationship", "object": target}


def _point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}


def _address(c: City) -> dict[str, Any]:
    return _prop({"addressLocality": c.name["en"], "addressCountry": "KZ"})


def _stable_random(*parts: object) -> random.Random:
    """A generator seeded from stable text (``hash()`` differs between processes)."""
    text = "|".join(map(str, parts)).encode()
    return random.Random(zlib.crc32(text) * 2654435761 % 2**63 + len(text))


def _city_of(entity_id: str) -> str:
    parts = entity_id.split(":")
    if len(parts) < 5 or parts[3] not in CITY_KEYS:
        raise ValueError(f"not a demo entity id: {entity_id!r}")
    return parts[3]


def _local_offset(city_key: str, moment: datetime) -> timedelta:
    offset = moment.astimezone(ZoneInfo(city(city_key).time_zone)).utcoffset()
    return offset if offset is not None else timedelta(hours=5)


# --- current state models (shared by entities and history) ---------------------------------
def _air(
    city_key: str, doy: int, hour: int, station: float, noise: random.Random
) -> dict[str, float]:
    air = profiles.AIR[city_key]
    clim = profiles.CLIMATE[city_key]
    w = profiles.winterness(doy)
    pm25 = (air.pm25_summer + (air.pm25_winter - air.pm25_summer) * w) * station
    pm25 *= profiles.PM_HOURLY[hour] * noise.lognormvariate(0.0, 0.25)
    pm10 = pm25 * air.pm10_ratio * noise.uniform(0.9, 1.15)
    traffic = profiles.TRAFFIC_HOURLY[hour]
    no2 = air.no2 * (0.55 + 0.45 * traffic) * (0.85 + 0.3 * w) * noise.lognormvariate(0.0, 0.2)
    so2 = (air.so2_summer + (air.so2_winter - air.so2_summer) * w) * station
    so2 *= (0.8 + 0.2 * profiles.PM_HOURLY[hour]) * noise.lognormvariate(0.0, 0.3)
    co = (0.3 + 1.2 * w) * (0.6 + 0.4 * profiles.PM_HOURLY[hour]) * station
    co *= noise.lognormvariate(0.0, 0.25)
    o3 = (25.0 + 55.0 * (1.0 - w)) * profiles.O3_HOURLY[hour] * noise.lognormvariate(0.0, 0.15)
    temperature = (
        clim.mean_temp
        - clim.temp_amplitude * math.cos(2 * math.pi * (doy - 15) / 365.25)
        + clim.daily_range * profiles.TEMP_HOURLY[hour]
        + noise.gauss(0.0, 1.5)
    )
    humidity = 0.42 + 0.36 * w - 0.18 * profiles.TEMP_HOURLY[hour] + noise.gauss(0.0, 0.04)
    return {
        "pm25": round(max(1.0, pm25), 1),
        "pm10": round(max(2.0, pm10), 1),
        "no2": round(max(2.0, no2), 1),
        "so2": round(max(0.5, so2), 1),
        "co": round(max(0.05, co), 2),
        "o3": round(max(2.0, o3), 1),
        "temperature": round(temperature, 1),
        "relativeHumidity": round(min(0.98, max(0.12, humidity)), 2),
    }


_AIR_UNITS = {
    "pm25": "GQ",  # microgram per cubic metre
    "pm10": "GQ",
    "no2": "GQ",
    "so2": "GQ",
    "co": "GP",  # milligram per cubic metre
    "o3": "GQ",
    "temperature": "CEL",
    "relativeHumidity": "C62",  # a fraction (0..1): unit "one"
}


def _is_dark(c: City, moment: datetime) -> bool:
    doy = moment.timetuple().tm_yday
    sunrise, sunset = profiles.daylight_hours_utc(c.lat, c.lon, doy)
    hour = moment.hour + moment.minute / 60.0
    # lights switch on 15 min after sunset and off 15 min before sunrise
    on, off = (sunset + 0.25) % 24.0, (sunrise - 0.25) % 24.0
    return hour >= on or hour < off if on > off else off > hour >= on


def _light_state(c: City, moment: datetime, status: str) -> tuple[str, float]:
    if status != "ok" and status != "columnIssue":
        return "off", 0.0
    if not _is_dark(c, moment):
        return "off", 0.0
    local_hour = (moment + _local_offset(c.key, moment)).hour
    return ("low", 0.6) if 1 <= local_hour < 5 else ("on", 1.0)


def _occupancy(local: datetime) -> float:
    table = profiles.PARKING_WEEKEND if local.weekday() >= 5 else profiles.PARKING_WEEKDAY
    return table[local.hour]


def _traffic(local: datetime, capacity: float, noise: random.Random) -> tuple[int, float, float]:
    """Vehicles in 15 minutes, mean speed (km/h) and lane occupancy for one lane."""
    level = profiles.TRAFFIC_HOURLY[local.hour] * (
        profiles.TRAFFIC_WEEKEND if local.weekday() >= 5 else 1.0
    )
    flow = capacity * 0.42 * level * noise.uniform(0.85, 1.15)
    saturation = min(1.0, flow / capacity)
    speed = 62.0 * (1.0 - 0.75 * saturation**2.2) * noise.uniform(0.92, 1.08)
    occupancy = min(0.95, 0.06 + 0.6 * saturation**1.6 + noise.uniform(0.0, 0.03))
    return max(0, round(flow)), round(max(5.0, speed), 1), round(occupancy, 3)


# --- entity builders -----------------------------------------------------------------------
def _air_quality(
    c: City, number: int, lon: float, lat: float, when: datetime, rng: random.Random
) -> dict[str, Any]:
    eid = _entity_id("AirQualityObserved", c.key, number)
    local = when + _local_offset(c.key, when)
    station = _station_factor(eid)
    values = _air(c.key, local.timetuple().tm_yday, local.hour, station, rng)
    at = _iso(when)
    entity: dict[str, Any] = {
        "id": eid,
        "type": "AirQualityObserved",
        "name": _prop(f"{c.name['en']} air quality station {number}"),
        "location": _point(lon, lat),
        "address": _address(c),
        "dateObserved": _prop(at),
        "typeofLocation": _prop("outdoor"),
        "reliability": _prop(round(rng.uniform(0.8, 0.98), 2)),
    }
    for term, value in values.items():
        entity[term] = _prop(value, at, _AIR_UNITS[term])
    return entity


def _station_factor(entity_id: str) -> float:
    # stations near the centre, industry or main roads read higher than those in parks
    return _stable_random("station", entity_id).uniform(0.7, 1.35)


def _streetlight(
    c: City, number: int, lon: float, lat: float, when: datetime, rng: random.Random
) -> dict[str, Any]:
    status = rng.choices(["ok", "defectiveLamp", "brokenLantern", "columnIssue"], [95, 3, 1, 1])[0]
    power_state, level = _light_state(c, when, status)
    category = rng.choices(
        ["road", "sidewalk", "park", "pedestrianPath", "parking"], [55, 20, 10, 10, 5]
    )[0]
    service_year = rng.randint(2008, 2025)
    entity: dict[str, Any] = {
        "id": _entity_id("Streetlight", c.key, number),
        "type": "Streetlight",
        "location": _point(lon, lat),
        "address": _address(c),
        "status": _prop(status, _iso(when)),
        "powerState": _prop(power_state, _iso(when)),
        "illuminanceLevel": _prop(level, _iso(when)),
        "locationCategory": _prop(category),
        "lanternHeight": _prop(rng.choice([6.0, 8.0, 9.0, 10.0, 12.0]), unit="MTR"),
        "powerRating": _prop(
            rng.choice([60, 90, 120, 150]) if service_year >= 2016 else 250, unit="WTT"
        ),
        "controllingMethod": _prop(rng.choices(["group", "individual"], [80, 20])[0]),
        "dateServiceStarted": _prop(f"{service_year}-{rng.randint(1, 12):02d}-01T00:00:00Z"),
    }
    return entity


_WASTE_KINDS = (["inorganic", "organic", "plastic", "paper", "glass"], [55, 15, 15, 10, 5])


def _waste_state(entity_id: str, when: datetime) -> tuple[float, datetime]:
    """Filling level at ``when`` and the last emptying, from a per-container schedule."""
    params = _stable_random("bin", entity_id)
    rate = params.uniform(0.008, 0.03)  # share of volume per hour, on average
    period_days = params.choice([1, 1, 2, 2, 3])
    collection_hour_utc = params.choice([1, 2, 3, 4])  # 06:00-09:00 local
    phase = params.randrange(period_days)
    day_start = datetime(when.year, when.month, when.day, tzinfo=UTC)
    last = day_start + timedelta(hours=collection_hour_utc)
    if last > when:
        last -= timedelta(days=1)
    while (last.toordinal() + phase) % period_days:
        last -= timedelta(days=1)
    hours = (when - last).total_seconds() / 3600.0
    level = min(1.0, 0.02 + rate * hours)
    return round(level, 3), last


def _waste(
    c: City, number: int, lon: float, lat: float, when: datetime, rng: random.Random
) -> dict[str, Any]:
    eid = _entity_id("WasteContainer", c.key, number)
    level, emptied = _waste_state(eid, when)
    status = "ok" if level < 0.995 else "lidOpen"
    if rng.random() < 0.01:
        status = rng.choice(["dropped", "moved", "vandalized"])
    return {
        "id": eid,
        "type": "WasteContainer",
        "location": _point(lon, lat),
        "address": _address(c),
        "fillingLevel": _prop(level, _iso(when)),
        "status": _prop(status, _iso(when)),
        "storedWasteKind": _prop(rng.choices(*_WASTE_KINDS)[0]),
        "storedWasteOrigin": _prop("household"),
        "category": _prop([rng.choices(["fixed", "ground", "underground"], [30, 60, 10])[0]]),
        "binCapacity": _prop(rng.choice([0.66, 1.1, 1.1, 3.0]), unit="MTQ"),
        "dateLastEmptying": _prop(_iso(emptied)),
    }


def _car_park(
    c: City, number: int, lon: float, lat: float, when: datetime, rng: random.Random
) -> dict[str, Any]:
    eid = _entity_id("OffStreetParking", c.key, number)
    total = _car_park_size(eid)
    local = when + _local_offset(c.key, when)
    occupied = min(total, round(total * _occupancy(local) * rng.uniform(0.9, 1.1)))
    available = total - occupied
    garage = total > 250
    return {
        "id": eid,
        "type": "OffStreetParking",
        "name": {
            "type": "LanguageProperty",
            "languageMap": {
                "en": f"Car park {number}",
                "ru": f"Парковка {number}",
                "kk": f"Автотұрақ {number}",
            },
        },
        "location": _point(lon, lat),
        "address": _address(c),
        "category": _prop(["public", "feeCharged", "parkingGarage" if garage else "parkingLot"]),
        "allowedVehicleType": _prop(["car"]),
        "totalSpotNumber": _prop(total),
        "availableSpotNumber": _prop(available, _iso(when)),
        "occupancy": _prop(round(occupied / total, 3), _iso(when)),
        "status": _prop([_car_park_status(available, total)], _iso(when)),
        "priceCurrency": _prop("KZT"),
        "priceRatePerMinute": _prop(rng.choice([2.5, 3.3, 5.0])),
        "layout": _prop(["multiStorey" if garage else "openSpace"]),
    }


def _car_park_size(entity_id: str) -> int:
    return _stable_random("car-park", entity_id).choice([40, 60, 80, 120, 150, 200, 300, 450, 600])


def _car_park_status(available: int, total: int) -> str:
    if available == 0:
        return "full"
    return "almostFull" if available / total < 0.1 else "spacesAvailable"


def _traffic_entity(
    c: City, number: int, lon: float, lat: float, when: datetime, rng: random.Random
) -> dict[str, Any]:
    eid = _entity_id("TrafficFlowObserved", c.key, number)
    lane, capacity = _lane(eid)
    local = when + _local_offset(c.key, when)
    intensity, speed, occupancy = _traffic(local, capacity, rng)
    start = when - timedelta(minutes=15)
    at = _iso(when)
    return {
        "id": eid,
        "type": "TrafficFlowObserved",
        "location": _point(lon, lat),
        "address": _address(c),
        "laneId": _prop(lane),
        "laneDirection": _prop("forward" if lane % 2 else "backward"),
        "dateObserved": _prop(at),
        "dateObservedFrom": _prop(_iso(start)),
        "dateObservedTo": _prop(at),
        "intensity": _prop(intensity, at),
        "averageVehicleSpeed": _prop(speed, at, "KMH"),
        "occupancy": _prop(occupancy, at),
        "congested": _prop(speed < 20.0, at),
    }


def _lane(entity_id: str) -> tuple[int, float]:
    params = _stable_random("lane", entity_id)
    return params.randint(1, 3), params.choice([300.0, 400.0, 450.0])  # vehicles / 15 min


def _ev(
    c: City, number: int, lon: float, lat: float, when: datetime, rng: random.Random
) -> dict[str, Any]:
    eid = _entity_id("EVChargingStation", c.key, number)
    capacity, sockets = _ev_station(eid)
    local = when + _local_offset(c.key, when)
    available, status = _ev_state(eid, capacity, local, rng)
    return {
        "id": eid,
        "type": "EVChargingStation",
        "name": _prop(f"{c.name['en']} EV charging {number}"),
        "location": _point(lon, lat),
        "address": _address(c),
        "capacity": _prop(capacity),
        "socketNumber": _prop(capacity * len(sockets)),
        "availableCapacity": _prop(available, _iso(when)),
        "status": _prop(status, _iso(when)),
        "socketType": _prop(sockets),
        "allowedVehicleType": _prop(["car"]),
        "openingHours": _prop("Mo-Su 00:00-24:00"),
        "amperage": _prop(32 if "Type2" in sockets else 125, unit="AMP"),
        "voltage": _prop(400, unit="VLT"),
        "acceptedPaymentMethod": _prop(
            ["ByInvoice", "Cash"] if rng.random() < 0.2 else ["ByInvoice"]
        ),
    }


def _ev_station(entity_id: str) -> tuple[int, list[str]]:
    params = _stable_random("ev", entity_id)
    capacity = params.choice([1, 2, 2, 2, 4, 4, 6])
    # GB/T connectors, common on Chinese-made cars in Kazakhstan, are not in the SDM enumeration
    sockets = params.choice(
        [["Type2"], ["Type2", "CCS/SAE"], ["CCS/SAE", "CHAdeMO"], ["Type2", "Other"]]
    )
    return capacity, sockets


def _ev_state(
    entity_id: str, capacity: int, local: datetime, noise: random.Random
) -> tuple[int, str]:
    if _stable_random("ev-out", entity_id).random() < 0.05:
        return 0, "outOfService"
    busy = sum(noise.random() < profiles.EV_HOURLY[local.hour] for _ in range(capacity))
    available = capacity - busy
    if available == 0:
        return 0, "full"
    if available == capacity:
        return available, "working" if capacity > 1 else "empty"
    return available, "almostFull" if available == 1 else "working"


def _stop(
    c: City, number: int, lon: float, lat: float, when: datetime, rng: random.Random
) -> dict[str, Any]:
    eid = _entity_id("PublicTransportStop", c.key, number)
    local = when + _local_offset(c.key, when)
    busy = _stop_busyness(eid)
    return {
        "id": eid,
        "type": "PublicTransportStop",
        "name": {
            "type": "LanguageProperty",
            "languageMap": {
                "en": f"Stop {number}",
                "ru": f"Остановка {number}",
                "kk": f"Аялдама {number}",
            },
        },
        "stopCode": _prop(f"{c.key[:3].upper()}{number:05d}"),
        "location": _point(lon, lat),
        "address": _address(c),
        "transportationType": _prop([3]),  # GTFS route_type 3: bus
        "wheelChairAccessible": _prop(rng.choices(["0", "1", "2"], [20, 45, 35])[0]),
        "peopleCount": _prop(
            round(busy * profiles.STOP_HOURLY[local.hour] * rng.uniform(0.6, 1.4)), _iso(when)
        ),
    }


def _stop_busyness(entity_id: str) -> float:
    return _stable_random("stop", entity_id).choice([2.0, 3.0, 5.0, 8.0, 12.0, 20.0])


_BUILDERS = {
    "AirQualityObserved": _air_quality,
    "Streetlight": _streetlight,
    "WasteContainer": _waste,
    "OffStreetParking": _car_park,
    "TrafficFlowObserved": _traffic_entity,
    "EVChargingStation": _ev,
    "PublicTransportStop": _stop,
}


def _spots(
    c: City, car_parks: list[dict[str, Any]], when: datetime, rng: random.Random
) -> Iterator[dict[str, Any]]:
    number = 0
    for car_park in car_parks:
        lon, lat = car_park["location"]["value"]["coordinates"]
        occupancy = car_park["occupancy"]["value"]
        for x, y in points_near(c.key, lon, lat, _SPOTS_PER_CAR_PARK, 40.0, rng):
            number += 1
            yield {
                "id": _entity_id("ParkingSpot", c.key, number),
                "type": "ParkingSpot",
                "location": _point(x, y),
                "status": _prop("occupied" if rng.random() < occupancy else "free", _iso(when)),
                "category": _prop(["offStreet"]),
                "refParkingSite": _rel(car_park["id"]),
                "width": _prop(2.5, unit="MTR"),
                "length": _prop(5.0, unit="MTR"),
            }


def generate_entities(
    city_key: str,
    entity_type: str,
    count: int,
    seed: int,
    observed_at: datetime | None = None,
) -> list[dict[str, Any]]:
    """``count`` entities of one type for one city (numbered 1..count).

    ``ParkingSpot`` entities need their car parks: ``count`` spots are spread over
    ``ceil(count / 10)`` car parks generated with the same seed (not returned).
    """
    c = city(city_key)
    when = (observed_at or DEFAULT_OBSERVED_AT).astimezone(UTC).replace(microsecond=0)
    rng = random.Random(f"{seed}:{city_key}:{entity_type}")
    if entity_type == "ParkingSpot":
        car_parks = generate_entities(
            city_key, "OffStreetParking", math.ceil(count / _SPOTS_PER_CAR_PARK), seed, when
        )
        return list(_spots(c, car_parks, when, rng))[:count]
    try:
        build = _BUILDERS[entity_type]
    except KeyError:
        raise ValueError(f"no demo generator for {entity_type!r}") from None
    points = random_points(city_key, count, rng)
    return [build(c, n, lon, lat, when, rng) for n, (lon, lat) in enumerate(points, start=1)]


def generate_city(
    city_key: str, seed: int, scale: float = 1.0, observed_at: datetime | None = None
) -> Iterator[dict[str, Any]]:
    """Every demo entity of a city, type by type (car parks before their spots)."""
    plan = demo_plan(city_key, scale)
    when = observed_at or DEFAULT_OBSERVED_AT
    car_parks: list[dict[str, Any]] = []
    for entity_type in ENTITY_TYPES:
        if entity_type == "ParkingSpot":
            rng = random.Random(f"{seed}:{city_key}:ParkingSpot")
            yield from _spots(city(city_key), car_parks, when.astimezone(UTC), rng)
            continue
        entities = generate_entities(city_key, entity_type, plan[entity_type], seed, when)
        if entity_type == "OffStreetParking":
            car_parks = entities
        yield from entities


# --- history ---------------------------------------------------------------------------------
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
