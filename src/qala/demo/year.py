"""A year of demo history, generated in bulk with numpy: what the indicators read, per city.

:func:`city_year` yields :class:`Block` s, one per (entity type, attribute): every observation
of that attribute for the city's entities over ``[anchor - 365 days, anchor)``, as arrays
sorted by entity then time. The models are those of :mod:`qala.demo.generate` (same profiles,
same per-entity parameters), vectorised over entities and hours:

* ``AirQualityObserved``: ``pm25`` and ``pm10`` hourly at every station, ``no2`` and ``so2``
  at reference stations; the season, the city's multi-day inversion episodes (one random
  factor per day for the whole city, stronger in winter), the diurnal cycle; about 1 % of
  hours missing, station 2 silent for weeks and the last station installed during the year
  (:data:`~qala.demo.profiles.AIR_GAPS`);
* ``TrafficFlowObserved``: ``intensity`` counted every 15 minutes, detector 2 off for three
  weeks of roadworks;
* ``OffStreetParking``: ``availableSpotNumber`` hourly at the car parks that count;
* ``EVChargingStation``: ``availableCapacity`` every 3 hours;
* ``WasteContainer``: ``fillingLevel`` of bins with a sensor once a day (20:00) and around
  each emptying (30 minutes before and 40 minutes after);
* ``Streetlight``: ``illuminanceLevel`` of individually controlled lights in their nightly
  report (23:00); faulty lamps report 0 since they failed, lights whose link was lost stop;
* ``ArrivalEstimation``: ``remainingTime`` once a day (08:30) from the day the stop's
  feed was connected.

The same ``seed`` and ``anchor`` give the same arrays.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from qala.demo import profiles
from qala.demo.cities import city
from qala.demo.generate import (
    _car_park_size,
    _ev_station,
    _lane,
    _number,
    _stable_random,
    _station_factor,
    bin_schedule,
    is_reference_station,
    link_lost_days,
    remaining_time,
)

YEAR = timedelta(days=365)
HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Block:
    """Observations of one attribute of a city's entities of one type, sorted by entity and
    time: ``entity_ids[index[i]]`` observed ``value[i]`` at ``ts[i]`` (µs since the epoch)."""

    entity_type: str
    term: str
    entity_ids: tuple[str, ...]
    index: np.ndarray
    ts: np.ndarray
    value: np.ndarray
    integer: bool = False
    unit: str | None = None

    def __len__(self) -> int:
        return int(self.ts.size)


def history_start(anchor: datetime) -> datetime:
    return anchor - YEAR


def to_us(moment: datetime) -> int:
    return (moment.astimezone(UTC) - _EPOCH) // timedelta(microseconds=1)


@dataclass(frozen=True)
class _Hours:
    """The year's hours: UTC start (µs), local hour, day of year, weekday, local day index."""

    ts: np.ndarray
    hour: np.ndarray
    doy: np.ndarray
    weekend: np.ndarray
    day: np.ndarray


@lru_cache(maxsize=16)
def _hours(city_key: str, anchor: datetime) -> _Hours:
    zone = ZoneInfo(city(city_key).time_zone)
    start = history_start(anchor)
    count = int(YEAR / timedelta(hours=1))
    hour, doy, weekend, day = (np.empty(count, np.int64) for _ in range(4))
    first = start.astimezone(zone).date()
    for i in range(count):
        local = (start + timedelta(hours=i)).astimezone(zone)
        hour[i] = local.hour
        doy[i] = local.timetuple().tm_yday
        weekend[i] = local.weekday() >= 5
        day[i] = (local.date() - first).days
    ts = to_us(start) + np.arange(count, dtype=np.int64) * HOUR_US
    return _Hours(ts, hour, doy, weekend.astype(bool), day)


def _winterness(doy: np.ndarray) -> np.ndarray:
    return (1.0 + np.cos(2 * np.pi * (doy - 15) / 365.25)) / 2.0


def _rng(seed: int, city_key: str, kind: str, anchor: datetime) -> np.random.Generator:
    return np.random.default_rng(
        [seed & 0xFFFFFFFF, zlib.crc32(city_key.encode()), zlib.crc32(kind.encode()),
         to_us(anchor) // HOUR_US]
    )


def _block(
    entity_type: str,
    term: str,
    ids: Sequence[str],
    present: np.ndarray,
    ts: np.ndarray,
    values: np.ndarray,
    *,
    integer: bool = False,
    unit: str | None = None,
) -> Block:
    """A block from an (entities × times) grid: ``present`` masks the observations made."""
    rows, cols = np.nonzero(present)
    return Block(
        entity_type,
        term,
        tuple(ids),
        rows.astype(np.int64),
        ts[cols] if ts.ndim == 1 else ts[rows, cols],
        values[rows, cols],
        integer,
        unit,
    )


def _of_type(entities: Sequence[dict[str, Any]], entity_type: str) -> list[dict[str, Any]]:
    return [e for e in entities if e.get("type") == entity_type]


def _days_mask(count: int, hours: _Hours, days_before_end: int, length_days: int) -> np.ndarray:
    """Hours in ``[end - days_before_end, end - days_before_end + length_days)``."""
    total = hours.ts.size
    lo = max(0, total - days_before_end * 24)
    hi = min(total, lo + length_days * 24)
    mask = np.zeros(total, bool)
    mask[lo:hi] = True
    return mask


# ------------------------------------------------------------------------------- air quality
def _air(
    city_key: str, stations: list[dict[str, Any]], seed: int, anchor: datetime
) -> Iterator[Block]:
    if not stations:
        return
    hours = _hours(city_key, anchor)
    rng = _rng(seed, city_key, "air", anchor)
    air = profiles.AIR[city_key]
    ids = [s["id"] for s in stations]
    shape = (len(ids), hours.ts.size)
    w = _winterness(hours.doy)
    # inversion episodes: one factor per day for the whole city, persistent, stronger in winter
    days = int(hours.day.max()) + 1
    day_w = _winterness(np.bincount(hours.day, weights=hours.doy) / np.bincount(hours.day))
    sigma = (0.10 + 0.22 * day_w) * air.episodes
    episode = np.empty(days)
    level = 0.0
    shocks = rng.standard_normal(days)
    for d in range(days):
        level = 0.6 * level + math.sqrt(1 - 0.6**2) * shocks[d]
        episode[d] = math.exp(sigma[d] * level - sigma[d] ** 2 / 2)
    factor = episode[hours.day]
    pm_hour = np.asarray(profiles.PM_HOURLY)[hours.hour]
    traffic = np.asarray(profiles.TRAFFIC_HOURLY)[hours.hour]
    station = np.array([_station_factor(i) for i in ids])[:, None]
    pm25 = (air.pm25_summer + (air.pm25_winter - air.pm25_summer) * w) * pm_hour * factor
    pm25 = pm25 * station * rng.lognormal(0.0, 0.22, shape)
    pm10 = pm25 * air.pm10_ratio * rng.uniform(0.9, 1.15, shape)
    no2 = air.no2 * (0.55 + 0.45 * traffic) * (0.85 + 0.3 * w) * np.sqrt(factor)
    no2 = no2 * rng.lognormal(0.0, 0.2, shape)
    so2 = (air.so2_summer + (air.so2_winter - air.so2_summer) * w) * (0.8 + 0.2 * pm_hour)
    so2 = so2 * np.sqrt(factor) * station * rng.lognormal(0.0, 0.3, shape)

    present = rng.random(shape) > 0.012  # maintenance, transmission losses
    gaps = profiles.AIR_GAPS[city_key]
    numbers = [_number(i) for i in ids]
    for row, number in enumerate(numbers):
        if number == 2 and len(ids) >= 2:
            present[row] &= ~_days_mask(shape[1], hours, gaps.silent_from, gaps.silent_days)
        if number == len(ids) and len(ids) >= 3:
            present[row, : max(0, shape[1] - gaps.installed * 24)] = False
    reference = np.array([is_reference_station(city_key, n) for n in numbers])
    for term, values, low in (("pm25", pm25, 1.0), ("pm10", pm10, 2.0)):
        yield _block(
            "AirQualityObserved", term, ids, present, hours.ts,
            np.round(np.maximum(low, values), 1), unit="GQ",
        )
    ref_ids = [i for i, r in zip(ids, reference, strict=True) if r]
    for term, values, low in (("no2", no2, 2.0), ("so2", so2, 0.5)):
        yield _block(
            "AirQualityObserved", term, ref_ids, present[reference], hours.ts,
            np.round(np.maximum(low, values[reference]), 1), unit="GQ",
        )


# ----------------------------------------------------------------------------------- traffic
def _traffic(
    city_key: str, detectors: list[dict[str, Any]], seed: int, anchor: datetime
) -> Iterator[Block]:
    if not detectors:
        return
    hours = _hours(city_key, anchor)
    rng = _rng(seed, city_key, "traffic", anchor)
    ids = [d["id"] for d in detectors]
    quarter = np.repeat(np.arange(hours.ts.size), 4)
    ts = hours.ts[quarter] + np.tile(np.arange(1, 5, dtype=np.int64), hours.ts.size) * (
        HOUR_US // 4
    ) - 1_000_000  # counts close at :14:59, :29:59…: each quarter stays in its hour
    level = np.asarray(profiles.TRAFFIC_HOURLY)[hours.hour]
    level = level * np.where(hours.weekend, profiles.TRAFFIC_WEEKEND, 1.0)
    level = level * (1.0 - 0.06 * _winterness(hours.doy))
    capacity = np.array([_lane(i)[1] for i in ids])[:, None]
    flow = capacity * 0.42 * level[quarter] * rng.uniform(0.85, 1.15, (len(ids), ts.size))
    present = np.ones(flow.shape, bool)
    for row, entity_id in enumerate(ids):
        if _number(entity_id) == 2:  # roadworks: the detector is off for three weeks
            present[row] &= ~np.repeat(_days_mask(hours.ts.size, hours, 200, 21), 4)
    yield _block(
        "TrafficFlowObserved", "intensity", ids, present, ts, np.round(flow), integer=True
    )


# ----------------------------------------------------------------------- parking, EV charging
def _parking(
    city_key: str, car_parks: list[dict[str, Any]], seed: int, anchor: datetime
) -> Iterator[Block]:
    live = [p for p in car_parks if "availableSpotNumber" in p]
    if not live:
        return
    hours = _hours(city_key, anchor)
    rng = _rng(seed, city_key, "parking", anchor)
    ids = [p["id"] for p in live]
    table = np.where(
        hours.weekend,
        np.asarray(profiles.PARKING_WEEKEND)[hours.hour],
        np.asarray(profiles.PARKING_WEEKDAY)[hours.hour],
    ) * (1.0 + 0.05 * _winterness(hours.doy))
    total = np.array([_car_park_size(i) for i in ids], float)[:, None]
    occupied = np.minimum(total, np.round(total * table * rng.uniform(0.9, 1.1, (len(ids), 1))))
    occupied = np.minimum(total, np.round(occupied * rng.uniform(0.93, 1.07, occupied.shape)))
    yield _block(
        "OffStreetParking", "availableSpotNumber", ids, np.ones(occupied.shape, bool),
        hours.ts, total - occupied, integer=True,
    )


def _ev(
    city_key: str, stations: list[dict[str, Any]], seed: int, anchor: datetime
) -> Iterator[Block]:
    if not stations:
        return
    hours = _hours(city_key, anchor)
    rng = _rng(seed, city_key, "ev", anchor)
    ids = [s["id"] for s in stations]
    every = np.flatnonzero((hours.ts // HOUR_US) % 3 == 0)
    use = np.asarray(profiles.EV_HOURLY)[hours.hour[every]]
    capacity = np.array([_ev_station(i)[0] for i in ids])[:, None]
    busy = rng.binomial(np.broadcast_to(capacity, (len(ids), every.size)), use)
    out = np.array([_stable_random("ev-out", i).random() < 0.05 for i in ids])[:, None]
    available = np.where(out, 0, capacity - busy).astype(float)
    yield _block(
        "EVChargingStation", "availableCapacity", ids, np.ones(available.shape, bool),
        hours.ts[every], available, integer=True,
    )


# --------------------------------------------------------------------------------- waste
def _waste(
    city_key: str, bins: list[dict[str, Any]], seed: int, anchor: datetime
) -> Iterator[Block]:
    sensed = [b for b in bins if "fillingLevel" in b]
    if not sensed:
        return
    rng = _rng(seed, city_key, "waste", anchor)
    start, end = to_us(history_start(anchor)), to_us(anchor)
    first_day, last_day = start // DAY_US - 3, end // DAY_US + 1
    days = np.arange(first_day, last_day + 1, dtype=np.int64)
    ordinal = days + _EPOCH.date().toordinal()
    index, times, values = [], [], []
    evening = days * DAY_US + 15 * HOUR_US  # 20:00 local
    for row, entity in enumerate(sensed):
        rate, period, hour_utc, phase = bin_schedule(entity["id"])
        emptied = days[(ordinal + phase) % period == 0] * DAY_US + hour_utc * HOUR_US
        ts = np.concatenate([evening, emptied - HOUR_US // 2, emptied + 40 * 60_000_000])
        ts = np.sort(ts[(ts >= start) & (ts < end)])
        last = emptied[np.searchsorted(emptied, ts, "right") - 1]
        level = 0.02 + rate * (ts - last) / HOUR_US + rng.normal(0.0, 0.01, ts.size)
        index.append(np.full(ts.size, row, np.int64))
        times.append(ts)
        values.append(np.round(np.clip(level, 0.0, 1.0), 3))
    yield Block(
        "WasteContainer", "fillingLevel", tuple(b["id"] for b in sensed),
        np.concatenate(index), np.concatenate(times), np.concatenate(values),
    )


# ---------------------------------------------------------------------------- streetlights
def _lights(
    city_key: str, lights: list[dict[str, Any]], seed: int, anchor: datetime
) -> Iterator[Block]:
    managed = [e for e in lights if e["controllingMethod"]["value"] == "individual"]
    if not managed:
        return
    hours = _hours(city_key, anchor)
    rng = _rng(seed, city_key, "lights", anchor)
    nights = np.flatnonzero(hours.hour == 23)
    ts = hours.ts[nights]
    ids = [e["id"] for e in managed]
    shape = (len(ids), ts.size)
    level = np.ones(shape)
    present = rng.random(shape) > 0.01
    end = to_us(anchor)
    for row, entity in enumerate(managed):
        lost = link_lost_days(entity["id"])
        if lost is not None:
            present[row] &= ts < end - lost * DAY_US
        if entity["status"]["value"] in ("defectiveLamp", "brokenLantern"):
            failed = _stable_random("light-failed", entity["id"]).randint(3, 120)
            level[row, ts >= end - failed * DAY_US] = 0.0
    yield _block("Streetlight", "illuminanceLevel", ids, present, ts, level)


# ------------------------------------------------------------------------- real-time stops
def _arrivals(
    city_key: str, feeds: list[dict[str, Any]], seed: int, anchor: datetime
) -> Iterator[Block]:
    if not feeds:
        return
    hours = _hours(city_key, anchor)
    rng = _rng(seed, city_key, "arrivals", anchor)
    slots = np.flatnonzero(hours.hour == 8)
    ts = hours.ts[slots] + HOUR_US // 2
    ids = [f["id"] for f in feeds]
    wait = np.array([remaining_time(i)[1] for i in ids])[:, None]
    values = np.round(rng.exponential(1.0, (len(ids), ts.size)) * wait)
    added = profiles.COVERAGE[city_key].stops_live_added
    present = np.ones(values.shape, bool)
    end = to_us(anchor)
    for row, entity_id in enumerate(ids):
        params = _stable_random("arrival-connected", entity_id)
        if params.random() < added:  # the feed was connected during the year
            present[row] &= ts >= end - params.randint(20, 340) * DAY_US
    yield _block(
        "ArrivalEstimation", "remainingTime", ids, present, ts, values, integer=True, unit="SEC"
    )


_MODELS = {
    "AirQualityObserved": _air,
    "TrafficFlowObserved": _traffic,
    "OffStreetParking": _parking,
    "EVChargingStation": _ev,
    "WasteContainer": _waste,
    "Streetlight": _lights,
    "ArrivalEstimation": _arrivals,
}

#: the attributes the year covers, by entity type (the recent days of the others come from
#: :func:`qala.demo.recent.generate_history`)
YEAR_TERMS: dict[str, frozenset[str]] = {
    "AirQualityObserved": frozenset({"pm25", "pm10", "no2", "so2"}),
    "TrafficFlowObserved": frozenset({"intensity"}),
    "OffStreetParking": frozenset({"availableSpotNumber"}),
    "EVChargingStation": frozenset({"availableCapacity"}),
    "WasteContainer": frozenset({"fillingLevel"}),
    "Streetlight": frozenset({"illuminanceLevel"}),
    "ArrivalEstimation": frozenset({"remainingTime"}),
}


def city_year(
    city_key: str, entities: Sequence[dict[str, Any]], seed: int, anchor: datetime
) -> Iterator[Block]:
    """The year of history before ``anchor`` of a city's demo entities, block by block."""
    anchor = anchor.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    for entity_type, model in _MODELS.items():
        yield from model(city_key, _of_type(entities, entity_type), seed, anchor)
