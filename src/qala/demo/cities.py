"""The five cities of the demo: public facts and their extents, read from the package."""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import shapely
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

CITY_KEYS: tuple[str, ...] = ("astana", "almaty", "shymkent", "aktobe", "karaganda")


@dataclass(frozen=True)
class City:
    key: str
    name: dict[str, str]
    status: str
    lat: float
    lon: float
    population: int
    population_as_of: str
    population_source: str
    area_km2: float | None
    area_note: str
    time_zone: str
    boundary_approximate: bool
    boundary_source: str


def _read(name: str) -> Any:
    return json.loads((resources.files("qala.demo") / name).read_text(encoding="utf-8"))


@cache
def _boundaries() -> dict[str, tuple[BaseGeometry, dict[str, Any]]]:
    collection = _read("boundaries.geojson")
    out: dict[str, tuple[BaseGeometry, dict[str, Any]]] = {}
    for feature in collection["features"]:
        geometry = shape(feature["geometry"])
        shapely.prepare(geometry)
        out[feature["properties"]["tenant"]] = (geometry, feature["properties"])
    return out


@cache
def cities() -> dict[str, City]:
    """Every demo city by tenant key, in the order of :data:`CITY_KEYS`."""
    raw = {c["tenant"]: c for c in _read("cities.json")["cities"]}
    out: dict[str, City] = {}
    for key in CITY_KEYS:
        c = raw[key]
        area = c["area_km2"]
        _, props = _boundaries()[key]
        out[key] = City(
            key=key,
            name=dict(c["name"]),
            status=c["status"],
            lat=c["centre"]["lat"],
            lon=c["centre"]["lon"],
            population=c["population"]["value"],
            population_as_of=c["population"]["as_of"],
            population_source=c["population"]["source"],
            area_km2=area["value"],
            area_note=area.get("note", ""),
            time_zone=c["time_zone"],
            boundary_approximate=bool(props["approximate"]),
            boundary_source=props.get("source") or props.get("note", ""),
        )
    return out


def city(key: str) -> City:
    try:
        return cities()[key]
    except KeyError:
        raise KeyError(f"unknown demo city {key!r}; known: {', '.join(CITY_KEYS)}") from None


def boundary(key: str) -> BaseGeometry:
    """The city's extent (prepared shapely geometry, lon/lat)."""
    city(key)
    return _boundaries()[key][0]


def boundary_geojson() -> dict[str, Any]:
    """The shipped boundaries as a GeoJSON FeatureCollection."""
    collection: dict[str, Any] = _read("boundaries.geojson")
    return collection


def contains(key: str, lon: float, lat: float) -> bool:
    return bool(boundary(key).contains(Point(lon, lat)))


def random_points(key: str, count: int, rng: random.Random) -> list[tuple[float, float]]:
    """``count`` points (lon, lat) uniformly inside the city's extent, by rejection sampling.

    Candidates are drawn in batches and tested with vectorised shapely predicates on the
    prepared geometry. Coordinates are rounded to 6 decimals (about 0.1 m) and re-checked.
    """
    geometry = boundary(key)
    min_x, min_y, max_x, max_y = geometry.bounds
    points: list[tuple[float, float]] = []
    while len(points) < count:
        need = count - len(points)
        batch = max(16, int(need * 1.8))
        xs = [round(rng.uniform(min_x, max_x), 6) for _ in range(batch)]
        ys = [round(rng.uniform(min_y, max_y), 6) for _ in range(batch)]
        inside = shapely.contains_xy(geometry, xs, ys)
        for x, y, ok in zip(xs, ys, inside, strict=True):
            if ok:
                points.append((x, y))
                if len(points) == count:
                    break
    return points


def points_near(
    key: str, lon: float, lat: float, count: int, radius_m: float, rng: random.Random
) -> list[tuple[float, float]]:
    """``count`` points within ``radius_m`` of (lon, lat), all inside the city's extent."""
    geometry = boundary(key)
    dlat = radius_m / 110_574.0
    dlon = radius_m / (111_320.0 * max(0.2, abs(math.cos(math.radians(lat)))))
    points: list[tuple[float, float]] = []
    attempts = 0
    while len(points) < count:
        attempts += 1
        x = round(lon + rng.uniform(-dlon, dlon), 6)
        y = round(lat + rng.uniform(-dlat, dlat), 6)
        if shapely.contains_xy(geometry, x, y):
            points.append((x, y))
        elif attempts > count * 50:  # the centre sits on the edge: fall back to anywhere
            points.extend(random_points(key, count - len(points), rng))
    return points
