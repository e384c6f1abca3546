"""Demo cities and generators: deterministic, inside the cities, valid, physically plausible."""

from __future__ import annotations

import itertools
import math
import socket
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import shapely

from qala.demo import (
    CITY_KEYS,
    DEFAULT_OBSERVED_AT,
    DEMO_HISTORY,
    ENTITY_TYPES,
    boundary,
    boundary_geojson,
    cities,
    demo_plan,
    generate_city,
    generate_entities,
    generate_history,
)
from qala.sdm import SmartDataModels, to_key_values


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the network was used")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(scope="module")
def everything() -> dict[str, list[dict]]:
    return {key: list(generate_city(key, seed=7)) for key in CITY_KEYS}


def test_city_facts() -> None:
    c = cities()
    assert list(c) == list(CITY_KEYS)
    assert c["astana"].population == 1_638_233 and c["astana"].area_km2 == 797.33
    assert c["almaty"].area_km2 is None  # only an unverified ~680 km2 is cited
    assert c["aktobe"].name["kk"] == "Ақтөбе" and c["karaganda"].name["kk"] == "Қарағанды"
    assert c["aktobe"].time_zone == "Asia/Aqtobe"
    assert {k for k, v in c.items() if v.boundary_approximate} == {"aktobe", "karaganda"}


def test_boundaries_are_real_extents_of_plausible_size() -> None:
    for key, c in cities().items():
        geometry = boundary(key)
        assert geometry.is_valid
        assert geometry.contains(shapely.Point(c.lon, c.lat)), key
        k = math.cos(math.radians(c.lat))
        km2 = shapely.transform(geometry, lambda a, k=k: a * [111.320 * k, 110.574]).area
        expected = c.area_km2 or 680
        assert abs(km2 - expected) / expected < 0.05, (key, km2)
    features = boundary_geojson()["features"]
    assert {f["properties"]["tenant"] for f in features} == set(CITY_KEYS)


def test_same_seed_same_output() -> None:
    first = list(generate_city("shymkent", seed=3, scale=0.2))
    again = list(generate_city("shymkent", seed=3, scale=0.2))
    other = list(generate_city("shymkent", seed=4, scale=0.2))
    assert first == again
    assert first != other
    assert generate_entities("aktobe", "Streetlight", 50, seed=1) == generate_entities(
        "aktobe", "Streetlight", 50, seed=1
    )


def test_ids_and_normalized_form(everything: dict[str, list[dict]]) -> None:
    for key, entities in everything.items():
        ids = [e["id"] for e in entities]
        assert len(ids) == len(set(ids))
        for entity in entities:
            _, _, entity_type, city_key, number = entity["id"].split(":")
            assert entity_type == entity["type"] and city_key == key and len(number) == 6
            for term, attribute in entity.items():
                if term not in ("id", "type"):
                    assert attribute["type"] in (
                        "Property",
                        "GeoProperty",
                        "Relationship",
                        "LanguageProperty",
                    ), (entity["id"], term)


def test_counts_follow_the_plan_and_scale_with_population(
    everything: dict[str, list[dict]],
) -> None:
    for key, entities in everything.items():
        assert Counter(e["type"] for e in entities) == Counter(demo_plan(key))
    plan = {key: demo_plan(key) for key in CITY_KEYS}
    assert plan["astana"]["Streetlight"] == 2000 and plan["astana"]["AirQualityObserved"] == 40
    by_population = sorted(CITY_KEYS, key=lambda k: cities()[k].population)
    for entity_type in ENTITY_TYPES:
        counts = [plan[k][entity_type] for k in by_population]
        assert counts == sorted(counts), entity_type
    total = sum(len(v) for v in everything.values())
    assert 10_000 <= total <= 20_000
    assert sum(demo_plan("almaty", scale=0.1).values()) < sum(demo_plan("almaty").values()) / 5


def test_every_point_lies_inside_its_city(everything: dict[str, list[dict]]) -> None:
    for key, entities in everything.items():
        xs = [e["location"]["value"]["coordinates"][0] for e in entities]
        ys = [e["location"]["value"]["coordinates"][1] for e in entities]
        assert all(shapely.contains_xy(boundary(key), xs, ys)), key


def test_generated_entities_validate_against_the_smart_data_models(
    everything: dict[str, list[dict]],
) -> None:
    sdm = SmartDataModels()
    unschemed = set()
    for entities in everything.values():
        for entity in entities:
            if not sdm.has_model(entity["type"]):
                unschemed.add(entity["type"])
                continue
            assert sdm.validate(entity["type"], to_key_values(entity)) == [], entity["id"]
    assert unschemed == {"ArrivalEstimation"}  # UrbanMobility: no schema is shipped


def test_spots_belong_to_generated_car_parks(everything: dict[str, list[dict]]) -> None:
    for entities in everything.values():
        car_parks = {e["id"] for e in entities if e["type"] == "OffStreetParking"}
        spots = [e for e in entities if e["type"] == "ParkingSpot"]
        assert spots and all(s["refParkingSite"]["object"] in car_parks for s in spots)


def test_current_values_are_plausible(everything: dict[str, list[dict]]) -> None:
    def mean_pm25(key: str) -> float:
        values = [e["pm25"]["value"] for e in everything[key] if e["type"] == "AirQualityObserved"]
        return sum(values) / len(values)

    # a January morning: Almaty's smog is the worst of the five
    assert mean_pm25("almaty") == max(mean_pm25(k) for k in CITY_KEYS)
    assert mean_pm25("almaty") > 60
    for entity in everything["astana"]:
        if entity["type"] == "AirQualityObserved":
            assert entity["temperature"]["value"] < 5  # mid-January
            assert entity["pm25"]["unitCode"] == "GQ"
            assert entity["pm25"]["observedAt"] == "2026-01-15T09:00:00Z"
        if entity["type"] == "OffStreetParking" and "availableSpotNumber" in entity:
            total = entity["totalSpotNumber"]["value"]
            assert 0 <= entity["availableSpotNumber"]["value"] <= total
        if entity["type"] == "EVChargingStation":
            assert 0 <= entity["availableCapacity"]["value"] <= entity["capacity"]["value"]


RANGES = {
    "pm25": (0, 1000),
    "pm10": (0, 2000),
    "no2": (0, 400),
    "so2": (0, 500),
    "co": (0, 30),
    "o3": (0, 300),
    "temperature": (-45, 45),
    "relativeHumidity": (0, 1),
    "intensity": (0, 600),
    "averageVehicleSpeed": (0, 130),
    "occupancy": (0, 1),
    "fillingLevel": (0, 1),
    "peopleCount": (0, 500),
    "illuminanceLevel": (0, 1),
}


def test_history_is_physical_and_deterministic(everything: dict[str, list[dict]]) -> None:
    end = DEFAULT_OBSERVED_AT
    for key in ("almaty", "aktobe"):
        sample: dict[str, dict] = {}
        for entity in everything[key]:
            sample.setdefault(entity["type"], entity)
        for entity_type, entity in sample.items():
            points = list(
                generate_history(entity, end - timedelta(days=3), end, timedelta(hours=1))
            )
            again = list(generate_history(entity, end - timedelta(days=3), end, timedelta(hours=1)))
            assert points == again
            for term, observed_at, value in points:
                datetime.strptime(observed_at, "%Y-%m-%dT%H:%M:%SZ")
                if term in RANGES:
                    low, high = RANGES[term]
                    assert low <= value <= high, (entity_type, term, value)
            if entity_type == "OffStreetParking":
                assert all(
                    0 <= v <= entity["totalSpotNumber"]["value"]
                    for t, _, v in points
                    if t == "availableSpotNumber"
                )


def test_history_shapes() -> None:
    start = datetime(2026, 1, 12, 19, 0, tzinfo=UTC)  # a Monday, 00:00 local
    one_day = (start, start + timedelta(days=1), timedelta(hours=1))
    (traffic,) = generate_entities("astana", "TrafficFlowObserved", 1, seed=1)
    flow = [v for t, _, v in generate_history(traffic, *one_day) if t == "intensity"]
    assert max(flow[7:10]) > 3 * max(flow[1:5])  # morning rush against the small hours

    (station,) = generate_entities("almaty", "AirQualityObserved", 1, seed=1)
    pm = [v for t, _, v in generate_history(station, *one_day) if t == "pm25"]
    assert sum(pm[19:24]) / 5 > sum(pm[12:16]) / 4  # evening smog above the afternoon

    (bin_,) = generate_entities("shymkent", "WasteContainer", 1, seed=1)
    week = (start, start + timedelta(days=7), timedelta(hours=1))
    levels = [v for _, _, v in generate_history(bin_, *week)]
    rises = sum(b > a for a, b in itertools.pairwise(levels))
    drops = [a - b for a, b in itertools.pairwise(levels) if b < a]
    assert rises > len(levels) / 2 and drops and max(drops) > 0.2  # fills, then is emptied

    (light,) = generate_entities("astana", "Streetlight", 1, seed=2)
    states = dict((at, v) for t, at, v in generate_history(light, *one_day) if t == "powerState")
    if light["status"]["value"] == "ok":
        assert states["2026-01-12T19:00:00Z"] in ("on", "low")  # midnight
        assert states["2026-01-13T07:00:00Z"] == "off"  # noon


def test_generation_speed(everything: dict[str, list[dict]]) -> None:
    started = time.perf_counter()
    entities = [e for key in CITY_KEYS for e in generate_city(key, seed=11)]
    took = time.perf_counter() - started
    started = time.perf_counter()
    points = 0
    for entity in entities:
        window = DEMO_HISTORY.get(entity["type"])
        if window:
            length, step = window
            points += sum(
                1
                for _ in generate_history(
                    entity, DEFAULT_OBSERVED_AT - length, DEFAULT_OBSERVED_AT, step
                )
            )
    history_took = time.perf_counter() - started
    print(
        f"\n{len(entities)} entities in {took:.2f}s; "
        f"{points} history points (DEMO_HISTORY windows) in {history_took:.2f}s"
    )
