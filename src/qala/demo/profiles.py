"""Climate, air-quality and activity profiles for the demo's synthetic measurements.

Figures are rounded, plausible orders of magnitude for each city, not measurements; they are
documented in docs/demo.md. Hour tables are indexed by *local* hour (0..23).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Climate:
    mean_temp: float  # annual mean air temperature, degC
    temp_amplitude: float  # half the difference between July and January means, degC
    daily_range: float  # typical day-night difference, degC


@dataclass(frozen=True)
class AirProfile:
    pm25_winter: float  # typical mid-January PM2.5, ug/m3
    pm25_summer: float  # typical mid-July PM2.5, ug/m3
    pm10_ratio: float  # PM10 / PM2.5
    no2: float  # typical NO2, ug/m3
    so2_winter: float  # typical winter SO2, ug/m3 (coal heating)
    so2_summer: float
    episodes: float = 1.0  # strength of multi-day inversion episodes (stagnant air)


CLIMATE: dict[str, Climate] = {
    "astana": Climate(mean_temp=3.5, temp_amplitude=17.5, daily_range=10.0),
    "almaty": Climate(mean_temp=10.0, temp_amplitude=14.0, daily_range=11.0),
    "shymkent": Climate(mean_temp=13.5, temp_amplitude=14.5, daily_range=13.0),
    "aktobe": Climate(mean_temp=5.5, temp_amplitude=18.0, daily_range=11.0),
    "karaganda": Climate(mean_temp=4.0, temp_amplitude=17.0, daily_range=10.0),
}

# Almaty's winter smog (coal heating, traffic, a temperature inversion in the mountain bowl)
# is by far the worst; Karaganda's coal heating comes next.
# Almaty lies in a bowl under the mountains, where inversions hold for days; the steppe winds
# of Astana and Aktobe clear the air sooner.
AIR: dict[str, AirProfile] = {
    "almaty": AirProfile(120.0, 18.0, 1.6, 48.0, 25.0, 6.0, episodes=1.3),
    "karaganda": AirProfile(70.0, 15.0, 1.7, 35.0, 45.0, 10.0),
    "shymkent": AirProfile(55.0, 25.0, 2.4, 38.0, 20.0, 8.0),
    "astana": AirProfile(40.0, 12.0, 1.7, 36.0, 25.0, 6.0, episodes=0.7),
    "aktobe": AirProfile(35.0, 12.0, 1.9, 30.0, 15.0, 5.0, episodes=0.8),
}


def _normalised(values: list[float]) -> tuple[float, ...]:
    mean = sum(values) / len(values)
    return tuple(v / mean for v in values)


# particulate matter: evening heating and the night inversion, a low in the afternoon
PM_HOURLY = _normalised(
    [
        1.30,
        1.30,
        1.25,
        1.15,
        1.05,
        1.00,
        1.00,
        1.10,
        1.15,
        1.00,
        0.85,
        0.75,
        0.70,
        0.65,
        0.65,
        0.70,
        0.80,
        0.95,
        1.10,
        1.25,
        1.35,
        1.40,
        1.40,
        1.35,
    ]
)
# road traffic (vehicles per hour, relative): morning and evening rush hours
TRAFFIC_HOURLY = _normalised(
    [
        0.20,
        0.12,
        0.08,
        0.07,
        0.10,
        0.30,
        0.80,
        1.55,
        1.80,
        1.50,
        1.25,
        1.20,
        1.25,
        1.25,
        1.30,
        1.40,
        1.60,
        1.85,
        1.90,
        1.55,
        1.10,
        0.80,
        0.55,
        0.35,
    ]
)
TRAFFIC_WEEKEND = 0.75
# ozone: photochemistry, afternoon peak
O3_HOURLY = _normalised(
    [
        0.55,
        0.50,
        0.48,
        0.45,
        0.45,
        0.50,
        0.60,
        0.75,
        0.95,
        1.15,
        1.35,
        1.55,
        1.70,
        1.80,
        1.80,
        1.70,
        1.50,
        1.25,
        1.00,
        0.85,
        0.75,
        0.68,
        0.62,
        0.58,
    ]
)
# share of spots occupied in a public off-street car park, weekday and weekend
PARKING_WEEKDAY = (
    0.15,
    0.12,
    0.10,
    0.10,
    0.10,
    0.12,
    0.20,
    0.40,
    0.65,
    0.80,
    0.86,
    0.88,
    0.88,
    0.86,
    0.85,
    0.84,
    0.82,
    0.78,
    0.70,
    0.60,
    0.48,
    0.35,
    0.25,
    0.18,
)
PARKING_WEEKEND = (
    0.15,
    0.12,
    0.10,
    0.10,
    0.10,
    0.10,
    0.12,
    0.18,
    0.28,
    0.42,
    0.58,
    0.70,
    0.76,
    0.78,
    0.78,
    0.76,
    0.72,
    0.66,
    0.60,
    0.52,
    0.42,
    0.32,
    0.24,
    0.18,
)
# share of an EV charging station's points in use
EV_HOURLY = (
    0.30,
    0.32,
    0.32,
    0.30,
    0.26,
    0.20,
    0.18,
    0.22,
    0.30,
    0.38,
    0.42,
    0.45,
    0.48,
    0.50,
    0.50,
    0.52,
    0.55,
    0.58,
    0.60,
    0.55,
    0.48,
    0.42,
    0.36,
    0.32,
)
# people waiting at a bus stop (relative to the stop's own busyness)
STOP_HOURLY = _normalised(
    [
        0.02,
        0.0,
        0.0,
        0.0,
        0.0,
        0.15,
        0.70,
        1.80,
        2.00,
        1.30,
        0.90,
        0.85,
        0.95,
        0.95,
        0.95,
        1.00,
        1.30,
        1.90,
        2.00,
        1.40,
        0.90,
        0.55,
        0.30,
        0.10,
    ]
)
# waste put into a container, relative, by hour (mornings and evenings at home)
WASTE_HOURLY = _normalised(
    [
        0.2,
        0.1,
        0.1,
        0.1,
        0.1,
        0.3,
        0.9,
        1.6,
        1.5,
        1.1,
        1.0,
        1.0,
        1.0,
        1.0,
        1.0,
        1.1,
        1.2,
        1.5,
        1.8,
        1.9,
        1.7,
        1.3,
        0.8,
        0.4,
    ]
)
# diurnal temperature shape: coldest near 05:00, warmest near 15:00 (-0.5 .. +0.5)
TEMP_HOURLY = tuple(0.5 * math.cos(2 * math.pi * (h - 15) / 24) for h in range(24))


def winterness(day_of_year: int) -> float:
    """1.0 in mid-January, 0.0 in mid-July."""
    return (1.0 + math.cos(2 * math.pi * (day_of_year - 15) / 365.25)) / 2.0


def daylight_hours_utc(lat: float, lon: float, day_of_year: int) -> tuple[float, float]:
    """Approximate sunrise and sunset (hours UTC) from the solar declination."""
    declination = -23.44 * math.cos(2 * math.pi * (day_of_year + 10) / 365.0)
    cos_h = -math.tan(math.radians(lat)) * math.tan(math.radians(declination))
    cos_h = max(-1.0, min(1.0, cos_h))
    half_day = math.degrees(math.acos(cos_h)) / 15.0
    solar_noon_utc = 12.0 - lon / 15.0
    return solar_noon_utc - half_day, solar_noon_utc + half_day


@dataclass(frozen=True)
class Coverage:
    """How much of a city's equipment is connected (illustrative shares, not inventories)."""

    reference_stations: int  # air stations measuring NO2 and SO2 as well (at the demo's scale)
    individual_lights: float  # streetlights controlled one by one over a network
    fill_sensors: float  # waste containers with a fill-level sensor
    parking_live: float  # car parks reporting their free spaces
    stops_live: float  # bus stops with real-time arrival estimates today
    stops_live_added: float  # share of those connected during the last year


# Astana's and Almaty's programmes went furthest; the regional centres have smaller networks.
COVERAGE: dict[str, Coverage] = {
    "astana": Coverage(8, 0.35, 0.50, 0.80, 0.70, 0.20),
    "almaty": Coverage(12, 0.25, 0.35, 0.70, 0.80, 0.15),
    "shymkent": Coverage(6, 0.15, 0.25, 0.50, 0.40, 0.50),
    "aktobe": Coverage(4, 0.10, 0.20, 0.40, 0.20, 0.40),
    "karaganda": Coverage(3, 0.08, 0.15, 0.30, 0.15, 0.60),
}


@dataclass(frozen=True)
class AirGaps:
    """Where a city's air-quality history is incomplete (days before the history's end)."""

    silent_from: int  # station 2 goes silent this many days before the end …
    silent_days: int  # … for this many days
    installed: int  # the city's last station was installed this many days before the end


AIR_GAPS: dict[str, AirGaps] = {
    "astana": AirGaps(silent_from=75, silent_days=21, installed=182),
    "almaty": AirGaps(silent_from=150, silent_days=35, installed=120),
    "shymkent": AirGaps(silent_from=220, silent_days=28, installed=240),
    "aktobe": AirGaps(silent_from=110, silent_days=42, installed=150),
    "karaganda": AirGaps(silent_from=12, silent_days=12, installed=200),  # silent until now
}


def covered(number: int, share: float) -> bool:
    """Whether entity ``number`` (1, 2, …) is among the covered ``share`` of its kind: spread
    evenly over the numbers, ``ceil(n * share)`` of the first ``n``, so at least the first one."""
    return math.ceil(number * share - 1e-9) > math.ceil((number - 1) * share - 1e-9)
