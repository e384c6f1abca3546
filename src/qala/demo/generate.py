"""Deterministic demo data: NGSI-LD entities and their history for the five cities.

Entities are **normalized** NGSI-LD, in compact form with the Smart Data Models terms (expand
them with :data:`CONTEXT`). Identifiers look like ``urn:ngsi-ld:Streetlight:astana:000123``.
The same ``seed`` always gives the same output; nothing depends on the clock unless the caller
passes one (:func:`demo_anchor` turns "now" or a pinned date into the demo's moment).

Coverage differs by city (:data:`~qala.demo.profiles.COVERAGE`): only reference air stations
measure NO2 and SO2 (the others are low-cost particle sensors), only some streetlights are
controlled individually, some bins carry a fill sensor, some car parks report free spaces and
some bus stops have an ``ArrivalEstimation`` feed. The year of history is in
:mod:`qala.demo.year`.
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from qala.demo import profiles
from qala.demo.cities import CITY_KEYS, City, city, points_near, random_points
from qala.sdm.contexts import SDM_CONTEXT_URL

#: the @context the generated entities are written in (the broker adds the core context)
CONTEXT: tuple[str, ...] = (SDM_CONTEXT_URL,)

#: a fixed moment for code that wants one (tests); the seeded demo uses :func:`demo_anchor`
DEFAULT_OBSERVED_AT = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


def demo_anchor(until: datetime | date | None = None, now: datetime | None = None) -> datetime:
    """The moment the seeded demo's current values describe and its history ends at.

    By default the current time rounded down to the hour; ``until`` pins it: a date means
    00:00 UTC of that day, a datetime (naive means UTC) is rounded down to the hour.
    """
    if until is None:
        moment = now or datetime.now(UTC)
    elif isinstance(until, datetime):
        moment = until if until.tzinfo is not None else until.replace(tzinfo=UTC)
    else:
        moment = datetime(until.year, until.month, until.day, tzinfo=UTC)
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)

ENTITY_TYPES: tuple[str, ...] = (
    "AirQualityObserved",
    "Streetlight",
    "WasteContainer",
    "OffStreetParking",
    "ParkingSpot",
    "TrafficFlowObserved",
    "EVChargingStation",
    "PublicTransportStop",
    "ArrivalEstimation",
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



def demo_plan(city_key: str, scale: float = 1.0) -> dict[str, int]:
    """How many entities of each type the demo creates for a city (scaled by population)."""
    factor = city(city_key).population / _REFERENCE_POPULATION * scale
    plan: dict[str, int] = {}
    for entity_type, astana_count in _ASTANA_PLAN.items():
        if entity_type in ("ParkingSpot", "ArrivalEstimation"):
            continue
        plan[entity_type] = max(1, round(astana_count * factor))
    plan["ParkingSpot"] = plan["OffStreetParking"] * _SPOTS_PER_CAR_PARK
    live = profiles.COVERAGE[city_key].stops_live
    plan["ArrivalEstimation"] = sum(
        profiles.covered(n, live) for n in range(1, plan["PublicTransportStop"] + 1)
    )
    return {t: plan[t] for t in ENTITY_TYPES}


def is_reference_station(city_key: str, number: int) -> bool:
    """Reference stations measure every pollutant; the others are low-cost particle sensors."""
    full = max(1, round(_ASTANA_PLAN["AirQualityObserved"] * _population_factor(city_key)))
    share = min(1.0, profiles.COVERAGE[city_key].reference_stations / full)
    return profiles.covered(number, share)


def _population_factor(city_key: str) -> float:
    return city(city_key).population / _REFERENCE_POPULATION


def _number(entity_id: str) -> int:
    return int(entity_id.rsplit(":", 1)[1])


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
    reference = is_reference_station(c.key, number)
    for term, value in values.items():
        if reference or term in _LOW_COST_TERMS:
            entity[term] = _prop(value, at, _AIR_UNITS[term])
    return entity


#: what a low-cost particle sensor measures
_LOW_COST_TERMS = frozenset({"pm25", "pm10", "temperature", "relativeHumidity"})


def _station_factor(entity_id: str) -> float:
    # stations near the centre, industry or main roads read higher than those in parks
    return _stable_random("station", entity_id).uniform(0.7, 1.35)


def _streetlight(
    c: City, number: int, lon: float, lat: float, when: datetime, rng: random.Random
) -> dict[str, Any]:
    eid = _entity_id("Streetlight", c.key, number)
    status = rng.choices(["ok", "defectiveLamp", "brokenLantern", "columnIssue"], [95, 3, 1, 1])[0]
    individual = profiles.covered(number, profiles.COVERAGE[c.key].individual_lights)
    lost = link_lost_days(eid) if individual else None
    reported = when if lost is None else last_light_report(c.key, when - timedelta(days=lost))
    power_state, level = _light_state(c, reported, status)
    category = rng.choices(
        ["road", "sidewalk", "park", "pedestrianPath", "parking"], [55, 20, 10, 10, 5]
    )[0]
    service_year = rng.randint(2008, 2025)
    entity: dict[str, Any] = {
        "id": eid,
        "type": "Streetlight",
        "location": _point(lon, lat),
        "address": _address(c),
        "status": _prop(status, _iso(reported)),
        "powerState": _prop(power_state, _iso(reported)),
        "illuminanceLevel": _prop(level, _iso(reported)),
        "locationCategory": _prop(category),
        "lanternHeight": _prop(rng.choice([6.0, 8.0, 9.0, 10.0, 12.0]), unit="MTR"),
        "powerRating": _prop(
            rng.choice([60, 90, 120, 150]) if service_year >= 2016 else 250, unit="WTT"
        ),
        "controllingMethod": _prop("individual" if individual else "group"),
        "dateServiceStarted": _prop(f"{service_year}-{rng.randint(1, 12):02d}-01T00:00:00Z"),
    }
    return entity


#: the local hour at which individually controlled lights send their nightly report
LIGHT_REPORT_HOUR = 23


def link_lost_days(entity_id: str) -> int | None:
    """Days before the anchor an individually controlled light lost its network link (about
    3 % of them; they have sent nothing since), else None."""
    params = _stable_random("light-link", entity_id)
    return params.randint(4, 300) if params.random() < 0.03 else None


def last_light_report(city_key: str, moment: datetime) -> datetime:
    """The last nightly report at or before ``moment``."""
    offset = _local_offset(city_key, moment)
    local = (moment + offset).replace(minute=0, second=0, microsecond=0)
    report = local.replace(hour=LIGHT_REPORT_HOUR)
    if report > moment + offset:
        report -= timedelta(days=1)
    return report - offset


_WASTE_KINDS = (["inorganic", "organic", "plastic", "paper", "glass"], [55, 15, 15, 10, 5])


def bin_schedule(entity_id: str) -> tuple[float, int, int, int]:
    """A container's fill rate (share of its volume per hour), emptying period (days),
    emptying hour (UTC) and phase (emptied on days whose ordinal + phase is a multiple of the
    period). Rates are such that a bin is typically 45-105 % full when it is emptied."""
    params = _stable_random("bin", entity_id)
    period_days = params.choice([1, 1, 2, 2, 3])
    rate = params.uniform(0.45, 1.05) / (24.0 * period_days)
    collection_hour_utc = params.choice([1, 2, 3, 4])  # 06:00-09:00 local
    return rate, period_days, collection_hour_utc, params.randrange(period_days)


def _waste_state(entity_id: str, when: datetime) -> tuple[float, datetime]:
    """Filling level at ``when`` and the last emptying, from a per-container schedule."""
    rate, period_days, collection_hour_utc, phase = bin_schedule(entity_id)
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
    entity: dict[str, Any] = {
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
    if not profiles.covered(number, profiles.COVERAGE[c.key].fill_sensors):
        del entity["fillingLevel"]  # no fill sensor: emptyings are known from the schedule
    return entity


def _car_park(
    c: City, number: int, lon: float, lat: float, when: datetime, rng: random.Random
) -> dict[str, Any]:
    eid = _entity_id("OffStreetParking", c.key, number)
    total = _car_park_size(eid)
    local = when + _local_offset(c.key, when)
    occupied = min(total, round(total * _occupancy(local) * rng.uniform(0.9, 1.1)))
    available = total - occupied
    garage = total > 250
    entity: dict[str, Any] = {
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
    if not profiles.covered(number, profiles.COVERAGE[c.key].parking_live):
        for term in ("availableSpotNumber", "occupancy", "status"):
            del entity[term]  # no occupancy counting: the car park reports nothing
    return entity


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


def remaining_time(entity_id: str) -> tuple[int, float]:
    """An arrival feed's route number and its mean wait in seconds (headway / 2)."""
    params = _stable_random("arrival", entity_id)
    return params.randint(1, 99), params.choice([4.0, 6.0, 8.0, 10.0, 15.0]) * 30.0


def _arrivals(
    c: City, stops: list[dict[str, Any]], when: datetime, rng: random.Random
) -> Iterator[dict[str, Any]]:
    """One ``ArrivalEstimation`` (next bus, seconds to wait) per stop with a real-time feed."""
    live = profiles.COVERAGE[c.key].stops_live
    number = 0
    for stop in stops:
        if not profiles.covered(_number(stop["id"]), live):
            continue
        number += 1
        eid = _entity_id("ArrivalEstimation", c.key, number)
        route, wait = remaining_time(eid)
        yield {
            "id": eid,
            "type": "ArrivalEstimation",
            "location": stop["location"],
            "hasStop": _rel(stop["id"]),
            "headSign": _prop(f"{route}"),
            "remainingTime": _prop(round(rng.expovariate(1.0 / wait)), _iso(when), "SEC"),
        }


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
        counted = car_park.get("occupancy")  # car parks without counting: the usual share
        occupancy = counted["value"] if counted else _occupancy(when + _local_offset(c.key, when))
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
    if entity_type == "ArrivalEstimation":
        share = profiles.COVERAGE[city_key].stops_live
        stops = generate_entities(
            city_key, "PublicTransportStop", math.ceil(count / share) + 1, seed, when
        )
        return list(_arrivals(c, stops, when, rng))[:count]
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
    stops: list[dict[str, Any]] = []
    for entity_type in ENTITY_TYPES:
        if entity_type == "ParkingSpot":
            rng = random.Random(f"{seed}:{city_key}:ParkingSpot")
            yield from _spots(city(city_key), car_parks, when.astimezone(UTC), rng)
            continue
        if entity_type == "ArrivalEstimation":
            rng = random.Random(f"{seed}:{city_key}:ArrivalEstimation")
            yield from _arrivals(city(city_key), stops, when.astimezone(UTC), rng)
            continue
        entities = generate_entities(city_key, entity_type, plan[entity_type], seed, when)
        if entity_type == "OffStreetParking":
            car_parks = entities
        if entity_type == "PublicTransportStop":
            stops = entities
        yield from entities
