"""Duplicate suggestion (same service, radius, time window) and +1 supporter keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from qala.open311.catalogue import load
from qala.open311.duplicates import (
    Candidate,
    bounding_box,
    distance_m,
    suggest,
    supporter_key,
)
from qala.open311.model import Personal

CITY = load().city("almaty")
POTHOLE = CITY.service("POTHOLE")  # 30 m, 14 days
LIFT = CITY.service("LIFT")  # 15 m, 3 days
AT = datetime(2026, 4, 10, 6, tzinfo=UTC)
LAT, LONG = 43.2380, 76.9450  # Abai avenue


def north(metres: float) -> float:
    return LAT + metres / 111_195


def candidate(rid: str, metres: float, hours: float, code: str = "POTHOLE",
              status: str = "open") -> Candidate:  # fmt: skip
    return Candidate(rid, code, status, AT - timedelta(hours=hours), north(metres), LONG)


def test_distance_is_great_circle_metres() -> None:
    assert abs(distance_m(LAT, LONG, north(100), LONG) - 100) < 0.5
    # Astana to Almaty, about 970 km
    assert 960_000 < distance_m(51.1694, 71.4491, 43.2389, 76.8897) < 980_000


def test_same_service_nearby_and_recent_is_suggested_nearest_first() -> None:
    found = suggest(POTHOLE, LAT, LONG, AT, [
        candidate("1", 25, 2),
        candidate("2", 5, 300),
        candidate("3", 40, 1),  # beyond 30 m
        candidate("4", 5, 400),  # beyond 14 days
        candidate("5", 5, 1, code="BIN"),  # another service
        candidate("6", 5, 1, status="closed"),
    ])  # fmt: skip
    assert [s.service_request_id for s in found] == ["2", "1"]
    assert round(found[0].distance_m) == 5 and found[0].hours_apart == 300


def test_each_service_has_its_own_radius_and_window() -> None:
    near = [candidate("1", 20, 10, "LIFT"), candidate("2", 10, 80, "LIFT"),
            candidate("3", 10, 10, "LIFT")]
    assert [s.service_request_id for s in suggest(LIFT, LAT, LONG, AT, near)] == ["3"]


def test_a_request_is_not_its_own_duplicate() -> None:
    assert suggest(POTHOLE, LAT, LONG, AT, [candidate("9", 0, 0)], exclude="9") == []


def test_the_bounding_box_contains_the_circle() -> None:
    lo_lat, lo_long, hi_lat, hi_long = bounding_box(LAT, LONG, 30)
    assert lo_lat < north(-29.9) and hi_lat > north(29.9)
    east = distance_m(LAT, LONG, LAT, hi_long)
    assert 29.9 < east < 30.1 and lo_long < LONG


def test_supporter_keys_count_a_person_once_without_keeping_who() -> None:
    me = Personal(email="Aigerim@Example.kz")
    key = supporter_key("almaty", me, b"secret")
    assert key == supporter_key("almaty", Personal(email="aigerim@example.kz "), b"secret")
    assert key is not None and "aigerim" not in key.lower()
    assert key != supporter_key("astana", me, b"secret")  # per city
    assert key != supporter_key("almaty", me, b"other")  # keyed
    assert supporter_key("almaty", Personal(account_id="1")).startswith("account:")
    assert supporter_key("almaty", Personal()) is None
