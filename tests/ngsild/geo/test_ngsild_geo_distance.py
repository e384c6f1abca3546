"""Distances in metres: reference values, accuracy against brute force, edge cases."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from qala.ngsild.geo import (
    EARTH_RADIUS_M,
    distance_m,
    geometry_distance_m,
    haversine_m,
    parse_geojson,
)

ASTANA = (71.4491, 51.1694)
ALMATY = (76.8897, 43.2389)
SHYMKENT = (69.5901, 42.3417)
AKTOBE = (57.1670, 50.2839)
KARAGANDA = (73.1094, 49.8047)


def vincenty_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Geodesic distance on the WGS 84 ellipsoid (Vincenty's inverse formula), used here
    only as an independent reference."""
    a = 6_378_137.0
    f = 1 / 298.257223563
    b = a * (1 - f)
    u1 = math.atan((1 - f) * math.tan(math.radians(lat1)))
    u2 = math.atan((1 - f) * math.tan(math.radians(lat2)))
    big_l = math.radians(lon2 - lon1)
    lam = big_l
    sin_u1, cos_u1, sin_u2, cos_u2 = math.sin(u1), math.cos(u1), math.sin(u2), math.cos(u2)
    for _ in range(200):
        sin_lam, cos_lam = math.sin(lam), math.cos(lam)
        sin_sigma = math.hypot(cos_u2 * sin_lam, cos_u1 * sin_u2 - sin_u1 * cos_u2 * cos_lam)
        cos_sigma = sin_u1 * sin_u2 + cos_u1 * cos_u2 * cos_lam
        sigma = math.atan2(sin_sigma, cos_sigma)
        sin_alpha = cos_u1 * cos_u2 * sin_lam / sin_sigma
        cos2_alpha = 1 - sin_alpha**2
        cos_2sm = cos_sigma - 2 * sin_u1 * sin_u2 / cos2_alpha
        c = f / 16 * cos2_alpha * (4 + f * (4 - 3 * cos2_alpha))
        previous = lam
        lam = big_l + (1 - c) * f * sin_alpha * (
            sigma + c * sin_sigma * (cos_2sm + c * cos_sigma * (-1 + 2 * cos_2sm**2))
        )
        if abs(lam - previous) < 1e-13:
            break
    u_sq = cos2_alpha * (a * a - b * b) / (b * b)
    big_a = 1 + u_sq / 16384 * (4096 + u_sq * (-768 + u_sq * (320 - 175 * u_sq)))
    big_b = u_sq / 1024 * (256 + u_sq * (-128 + u_sq * (74 - 47 * u_sq)))
    delta_sigma = (
        big_b
        * sin_sigma
        * (
            cos_2sm
            + big_b
            / 4
            * (
                cos_sigma * (-1 + 2 * cos_2sm**2)
                - big_b / 6 * cos_2sm * (-3 + 4 * sin_sigma**2) * (-3 + 4 * cos_2sm**2)
            )
        )
    )
    return b * big_a * (sigma - delta_sigma)


class TestHaversine:
    def test_almaty_astana_is_about_972_km(self) -> None:
        assert haversine_m(*ALMATY, *ASTANA) == pytest.approx(972_251.5, abs=1.0)

    @pytest.mark.parametrize(
        ("a", "b"),
        [
            (ALMATY, ASTANA),
            (ASTANA, KARAGANDA),
            (ALMATY, SHYMKENT),
            (AKTOBE, ASTANA),
            (SHYMKENT, AKTOBE),
        ],
    )
    def test_within_half_a_percent_of_the_wgs84_geodesic(
        self, a: tuple[float, float], b: tuple[float, float]
    ) -> None:
        sphere = haversine_m(*a, *b)
        ellipsoid = vincenty_m(*a, *b)
        assert abs(sphere - ellipsoid) / ellipsoid < 0.005

    def test_vincenty_reference_itself(self) -> None:
        # Flinders Peak to Buninyong, the worked example of Vincenty (1975):
        # 54 972.271 m on the ellipsoid.
        flinders = (144.0 + 25 / 60 + 29.52440 / 3600, -(37 + 57 / 60 + 3.72030 / 3600))
        buninyong = (143.0 + 55 / 60 + 35.38390 / 3600, -(37 + 39 / 60 + 10.15610 / 3600))
        assert vincenty_m(*flinders, *buninyong) == pytest.approx(54_972.271, abs=0.001)

    def test_a_published_haversine_value(self) -> None:
        # Nashville (BNA) to Los Angeles (LAX): 2887.2599506 km with R = 6372.8 km, the
        # classic worked example; scaled to the mean radius used here.
        expected = 2_887_259.9506071106 * EARTH_RADIUS_M / 6_372_800.0
        assert haversine_m(-86.67, 36.12, -118.40, 33.94) == pytest.approx(expected, rel=1e-12)

    def test_a_degree_of_latitude_and_of_longitude(self) -> None:
        degree = math.pi / 180 * EARTH_RADIUS_M  # 111 195.08 m
        assert haversine_m(71.0, 51.0, 71.0, 52.0) == pytest.approx(degree, rel=1e-12)
        assert haversine_m(0.0, 0.0, 1.0, 0.0) == pytest.approx(degree, rel=1e-12)

    def test_symmetry_zero_and_antipodes(self) -> None:
        assert haversine_m(*ASTANA, *ALMATY) == haversine_m(*ALMATY, *ASTANA)
        assert haversine_m(*ASTANA, *ASTANA) == 0.0
        antipode = (ASTANA[0] - 180.0, -ASTANA[1])
        assert haversine_m(*ASTANA, *antipode) == pytest.approx(math.pi * EARTH_RADIUS_M)

    def test_the_antimeridian_is_not_a_wall(self) -> None:
        assert haversine_m(179.9995, 0.0, -179.9995, 0.0) == pytest.approx(111.195, rel=1e-6)
        assert haversine_m(180.0, 10.0, -180.0, 10.0) == pytest.approx(0.0, abs=1e-6)


def brute_force_m(lon: float, lat: float, coords: list[list[float]]) -> float:
    """Minimum great-circle distance from a point to a lon/lat polyline, by sampling each
    edge densely and then polishing the best sample."""
    best = math.inf
    for (x1, y1), (x2, y2) in itertools.pairwise(coords):

        def at(t: float, x1: float = x1, y1: float = y1, x2: float = x2, y2: float = y2) -> float:
            return haversine_m(lon, lat, x1 + (x2 - x1) * t, y1 + (y2 - y1) * t)

        samples = 400
        values = [at(i / samples) for i in range(samples + 1)]
        i = min(range(samples + 1), key=values.__getitem__)
        lo, hi = max(0.0, (i - 1) / samples), min(1.0, (i + 1) / samples)
        for _ in range(80):
            m1, m2 = lo + (hi - lo) / 3, hi - (hi - lo) / 3
            if at(m1) < at(m2):
                hi = m2
            else:
                lo = m1
        best = min(best, values[i], at((lo + hi) / 2))
    return best


class TestDistanceToGeometries:
    @pytest.mark.parametrize("latitude", [0.0, 43.2, 51.2, 70.0, 85.0])
    @pytest.mark.parametrize("scale_km", [0.5, 5.0, 50.0, 500.0])
    def test_point_to_line_matches_brute_force(self, latitude: float, scale_km: float) -> None:
        rng = random.Random(f"{latitude}/{scale_km}")
        spread = scale_km / 111.0
        for _ in range(15):
            lon0 = rng.uniform(-170.0, 170.0)
            stretch = 1.0 / max(0.1, math.cos(math.radians(latitude)))
            coords = [
                [
                    min(180.0, max(-180.0, lon0 + rng.uniform(-2.0, 2.0) * spread * stretch)),
                    min(89.9, max(-89.9, latitude + rng.uniform(-2.0, 2.0) * spread)),
                ]
                for _ in range(3)
            ]
            line = {"type": "LineString", "coordinates": coords}
            ours = distance_m((lon0, latitude), line)
            reference = brute_force_m(lon0, latitude, coords)
            # Never below the true minimum (it is the distance to an actual point of the
            # line), and within a micrometre (or 1e-11) of the best the sampling finds.
            tolerance = max(1e-6, 1e-11 * reference)
            assert ours <= reference + tolerance
            assert ours >= reference - tolerance

    def test_point_inside_a_polygon_is_at_zero(self) -> None:
        square = {
            "type": "Polygon",
            "coordinates": [[[71, 51], [72, 51], [72, 52], [71, 52], [71, 51]]],
        }
        assert distance_m(ASTANA, square) == 0.0
        assert distance_m((71.0, 51.5), square) == 0.0  # on the edge

    def test_point_north_of_a_polygon(self) -> None:
        square = {
            "type": "Polygon",
            "coordinates": [[[71, 50], [72, 50], [72, 51], [71, 51], [71, 50]]],
        }
        degree = math.pi / 180 * EARTH_RADIUS_M
        assert distance_m((71.5, 52.0), square) == pytest.approx(degree, rel=1e-9)

    def test_the_nearest_vertex_of_a_polygon(self) -> None:
        square = {
            "type": "Polygon",
            "coordinates": [[[71, 50], [72, 50], [72, 51], [71, 51], [71, 50]]],
        }
        assert distance_m((73.0, 52.0), square) == pytest.approx(
            haversine_m(73, 52, 72, 51), rel=1e-9
        )

    def test_line_across_the_antimeridian(self) -> None:
        line = {"type": "LineString", "coordinates": [[-179.99, -17.0], [-179.99, -16.0]]}
        expected = haversine_m(179.99, -16.5, -179.99, -16.5)
        assert distance_m((179.99, -16.5), line) == pytest.approx(expected, rel=1e-6)

    def test_multipoint_uses_the_nearest_member(self) -> None:
        cities = {
            "type": "MultiPoint",
            "coordinates": [list(ALMATY), list(KARAGANDA), list(AKTOBE)],
        }
        assert distance_m(ASTANA, cities) == pytest.approx(haversine_m(*ASTANA, *KARAGANDA))

    def test_geometry_collection(self) -> None:
        collection = {
            "type": "GeometryCollection",
            "geometries": [
                {"type": "Point", "coordinates": list(ALMATY)},
                {"type": "LineString", "coordinates": [list(KARAGANDA), list(SHYMKENT)]},
            ],
        }
        assert distance_m(KARAGANDA, collection) == 0.0
        assert distance_m(ASTANA, collection) == pytest.approx(
            brute_force_m(*ASTANA, [list(KARAGANDA), list(SHYMKENT)]), abs=1e-6
        )

    def test_between_two_polygons(self) -> None:
        west = parse_geojson(
            {"type": "Polygon", "coordinates": [[[70, 50], [71, 50], [71, 51], [70, 51], [70, 50]]]}
        )
        east = parse_geojson(
            {"type": "Polygon", "coordinates": [[[72, 50], [73, 50], [73, 51], [72, 51], [72, 50]]]}
        )
        # The closest points are on the facing edges at 51 N (a degree of longitude is
        # shortest at the highest latitude of the two squares).
        expected = brute_force_m(71.0, 51.0, [[72.0, 50.0], [72.0, 51.0]])
        assert geometry_distance_m(west, east) == pytest.approx(expected, abs=1e-3)
        assert geometry_distance_m(east, west) == pytest.approx(expected, abs=1e-3)
        overlapping = parse_geojson(
            {
                "type": "Polygon",
                "coordinates": [[[70.5, 50.5], [72.5, 50.5], [72.5, 51], [70.5, 50.5]]],
            }
        )
        assert geometry_distance_m(west, overlapping) == 0.0

    def test_lines_on_either_side_of_the_antimeridian(self) -> None:
        east = parse_geojson({"type": "LineString", "coordinates": [[179.9, 60.0], [179.9, 61.0]]})
        west = parse_geojson(
            {"type": "LineString", "coordinates": [[-179.9, 60.0], [-179.9, 61.0]]}
        )
        expected = haversine_m(179.9, 61.0, -179.9, 61.0)
        assert geometry_distance_m(east, west) == pytest.approx(expected, rel=1e-6)

    def test_accepts_json_text_and_geometry_objects(self) -> None:
        text = '{"type": "Point", "coordinates": [76.8897, 43.2389]}'
        assert distance_m(ASTANA, text) == distance_m(ASTANA, parse_geojson(text))
