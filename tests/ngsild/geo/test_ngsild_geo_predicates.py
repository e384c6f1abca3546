"""Exact evaluation of each georel, with real places in Kazakhstan.

The entity's geometry is the subject of every relationship (clause 4.10): ``within``
matches entities inside the query geometry, ``contains`` entities that enclose it.
"""

from __future__ import annotations

import json
import math
from typing import Any, ClassVar

import pytest

from qala.ngsild.geo import (
    EARTH_RADIUS_M,
    compile_geo_matcher,
    distance_m,
    geoquery_from_json,
    parse_geojson,
    parse_geoquery,
)

ASTANA = (71.4491, 51.1694)
ALMATY = (76.8897, 43.2389)
SHYMKENT = (69.5901, 42.3417)
AKTOBE = (57.1670, 50.2839)
KARAGANDA = (73.1094, 49.8047)
CITIES = {
    "Astana": ASTANA,
    "Almaty": ALMATY,
    "Shymkent": SHYMKENT,
    "Aktobe": AKTOBE,
    "Karaganda": KARAGANDA,
}


def destination(origin: tuple[float, float], bearing: float, metres: float) -> list[float]:
    """The point ``metres`` away from ``origin`` along ``bearing`` (degrees from north),
    on the same sphere as the broker."""
    lon, lat = map(math.radians, origin)
    angle = metres / EARTH_RADIUS_M
    theta = math.radians(bearing)
    lat2 = math.asin(
        math.sin(lat) * math.cos(angle) + math.cos(lat) * math.sin(angle) * math.cos(theta)
    )
    lon2 = lon + math.atan2(
        math.sin(theta) * math.sin(angle) * math.cos(lat),
        math.cos(angle) - math.sin(lat) * math.sin(lat2),
    )
    return [(math.degrees(lon2) + 540.0) % 360.0 - 180.0, math.degrees(lat2)]


def point(position: tuple[float, float] | list[float]) -> dict[str, Any]:
    return {"type": "Point", "coordinates": list(position)}


def matches(georel: str, geometry: str, coordinates: Any, entity: Any) -> bool:
    query = parse_geoquery(georel, geometry, json.dumps(coordinates), None)
    assert query is not None
    return compile_geo_matcher(query)(entity)


# Central Astana (about 2.8 km x 4.5 km) with a closed zone cut out of it.
SHELL = [[71.43, 51.15], [71.47, 51.15], [71.47, 51.19], [71.43, 51.19], [71.43, 51.15]]
HOLE = [[71.44, 51.16], [71.44, 51.17], [71.45, 51.17], [71.45, 51.16], [71.44, 51.16]]
CENTRE_WITH_HOLE = [SHELL, HOLE]
IN_SHELL = [71.435, 51.155]
IN_HOLE = [71.445, 51.165]
ON_EDGE = [71.43, 51.17]
OUTSIDE = [71.50, 51.17]


class TestNear:
    def test_a_streetlight_500_m_away(self) -> None:
        streetlight = point(destination(ASTANA, 30.0, 500.0))
        assert matches("near;maxDistance==600", "Point", ASTANA, streetlight)
        assert not matches("near;maxDistance==400", "Point", ASTANA, streetlight)
        assert matches("near;minDistance==400", "Point", ASTANA, streetlight)
        assert not matches("near;minDistance==600", "Point", ASTANA, streetlight)

    @pytest.mark.parametrize("bearing", [0.0, 90.0, 180.0, 270.0, 123.0])
    def test_the_radius_is_metres_in_every_direction(self, bearing: float) -> None:
        # A degree of longitude is 70 km at Astana, of latitude 111 km: the test fails if
        # the radius were applied in degrees.
        inside = point(destination(ASTANA, bearing, 1990.0))
        outside = point(destination(ASTANA, bearing, 2010.0))
        assert matches("near;maxDistance==2000", "Point", ASTANA, inside)
        assert not matches("near;maxDistance==2000", "Point", ASTANA, outside)

    def test_which_cities_are_within_250_km_of_astana(self) -> None:
        query = parse_geoquery("near;maxDistance==250000", "Point", json.dumps(ASTANA), None)
        assert query is not None
        match = compile_geo_matcher(query)
        # Karaganda is 192 km away; Almaty 972 km, Shymkent 992 km, Aktobe 1008 km.
        assert [name for name, c in CITIES.items() if match(point(c))] == ["Astana", "Karaganda"]

    def test_cities_at_least_980_km_from_astana(self) -> None:
        query = parse_geoquery("near;minDistance==980000", "Point", json.dumps(ASTANA), None)
        assert query is not None
        match = compile_geo_matcher(query)
        assert [name for name, c in CITIES.items() if match(point(c))] == ["Shymkent", "Aktobe"]

    def test_a_street_is_as_near_as_its_nearest_point(self) -> None:
        # A north-south street 300 m east of the reference point, 2 km long.
        east = destination(ASTANA, 90.0, 300.0)
        street = {
            "type": "LineString",
            "coordinates": [
                destination(tuple(east), 0.0, 1000.0),
                destination(tuple(east), 180.0, 1000.0),
            ],
        }
        assert distance_m(ASTANA, street) == pytest.approx(300.0, abs=0.05)
        assert matches("near;maxDistance==310", "Point", ASTANA, street)
        assert not matches("near;maxDistance==290", "Point", ASTANA, street)
        assert matches("near;minDistance==290", "Point", ASTANA, street)

    def test_a_park_is_near_when_its_edge_is(self) -> None:
        # A 200 m x 200 m park whose nearest edge is 1 km north of the reference point.
        south = destination(ASTANA, 0.0, 1000.0)[1]
        north = destination(ASTANA, 0.0, 1200.0)[1]
        half = 0.0015  # ~100 m of longitude at this latitude
        lon = ASTANA[0]
        ring = [
            [lon - half, south],
            [lon + half, south],
            [lon + half, north],
            [lon - half, north],
            [lon - half, south],
        ]
        park = {"type": "Polygon", "coordinates": [ring]}
        assert matches("near;maxDistance==1001", "Point", ASTANA, park)
        assert not matches("near;maxDistance==999", "Point", ASTANA, park)
        assert matches("near;minDistance==999", "Point", ASTANA, park)
        assert not matches("near;minDistance==1001", "Point", ASTANA, park)

    def test_inside_a_polygon_the_distance_is_zero(self) -> None:
        district = {"type": "Polygon", "coordinates": CENTRE_WITH_HOLE}
        assert matches("near;maxDistance==1", "Point", IN_SHELL, district)
        assert not matches("near;minDistance==1", "Point", IN_SHELL, district)

    def test_in_a_hole_the_distance_is_to_the_hole_edge(self) -> None:
        district = {"type": "Polygon", "coordinates": CENTRE_WITH_HOLE}
        # IN_HOLE is 0.005 degrees of latitude (556 m) from the hole's south edge and
        # 0.005 degrees of longitude (348 m) from its east and west edges.
        expected = 0.005 * math.pi / 180.0 * EARTH_RADIUS_M * math.cos(math.radians(51.165))
        assert distance_m(IN_HOLE, district) == pytest.approx(expected, rel=1e-4)
        assert matches("near;minDistance==300", "Point", IN_HOLE, district)
        assert not matches("near;maxDistance==300", "Point", IN_HOLE, district)

    def test_a_multipoint_is_as_near_as_its_nearest_member(self) -> None:
        stops = {
            "type": "MultiPoint",
            "coordinates": [list(ALMATY), destination(ASTANA, 200.0, 700.0)],
        }
        assert matches("near;maxDistance==800", "Point", ASTANA, stops)
        assert not matches("near;maxDistance==600", "Point", ASTANA, stops)

    def test_near_a_road_astana_karaganda(self) -> None:
        # Reference geometry: the road (a LineString); a fuel station 1.5 km off its
        # middle, and Karaganda itself at its end.
        road = [list(ASTANA), list(KARAGANDA)]
        middle = ((ASTANA[0] + KARAGANDA[0]) / 2, (ASTANA[1] + KARAGANDA[1]) / 2)
        station = point(destination(middle, 90.0, 1500.0))
        assert matches("near;maxDistance==2000", "LineString", road, station)
        assert not matches("near;maxDistance==1000", "LineString", road, station)
        assert matches("near;maxDistance==1", "LineString", road, point(KARAGANDA))
        assert not matches("near;maxDistance==2000", "LineString", road, point(ALMATY))

    def test_near_a_district_polygon_reference(self) -> None:
        outside = point(destination((71.47, 51.17), 90.0, 500.0))
        assert matches("near;maxDistance==510", "Polygon", CENTRE_WITH_HOLE, outside)
        assert not matches("near;maxDistance==490", "Polygon", CENTRE_WITH_HOLE, outside)
        assert matches("near;maxDistance==1", "Polygon", CENTRE_WITH_HOLE, point(IN_SHELL))

    def test_two_extended_geometries(self) -> None:
        # A street 400 m east of the district edge, against the district as reference.
        east = destination((71.47, 51.17), 90.0, 400.0)
        street = {"type": "LineString", "coordinates": [[east[0], 51.16], [east[0], 51.18]]}
        assert matches("near;maxDistance==410", "Polygon", CENTRE_WITH_HOLE, street)
        assert not matches("near;maxDistance==390", "Polygon", CENTRE_WITH_HOLE, street)

    def test_high_latitude_nearest_point_is_chosen_in_metres(self) -> None:
        # ETSI-style probe: from [0,85] the line [[0,85.6],[1,85]] is about 9.6 km away
        # (near its [1,85] end, a degree of longitude being 9.7 km there), not 67 km.
        line = {"type": "LineString", "coordinates": [[0.0, 85.6], [1.0, 85.0]]}
        assert 9_500 < distance_m((0.0, 85.0), line) < 9_700
        assert matches("near;maxDistance==20000", "Point", [0, 85], line)
        assert not matches("near;maxDistance==5000", "Point", [0, 85], line)

    def test_across_the_antimeridian(self) -> None:
        # Two points on Taveuni, Fiji, 213 m apart on either side of the 180th meridian.
        east_side = [179.999, -16.8]
        west_side = point([-179.999, -16.8])
        assert matches("near;maxDistance==250", "Point", east_side, west_side)
        assert not matches("near;maxDistance==200", "Point", east_side, west_side)
        line = {"type": "LineString", "coordinates": [[-179.999, -16.9], [-179.999, -16.7]]}
        assert matches("near;maxDistance==250", "Point", east_side, line)
        assert not matches("near;minDistance==250", "Point", east_side, line)

    def test_near_the_north_pole(self) -> None:
        # Every meridian meets at the pole: 100 km from it is latitude 89.1 anywhere.
        ring_point = point([137.0, 90.0 - math.degrees(100_000 / EARTH_RADIUS_M) + 1e-6])
        assert matches("near;maxDistance==100000", "Point", [-45.0, 90.0], ring_point)
        assert not matches("near;maxDistance==99000", "Point", [-45.0, 90.0], ring_point)


class TestWithin:
    def test_a_point_in_the_shell_is_within(self) -> None:
        assert matches("within", "Polygon", CENTRE_WITH_HOLE, point(IN_SHELL))

    def test_a_point_in_the_hole_is_not_within(self) -> None:
        assert not matches("within", "Polygon", CENTRE_WITH_HOLE, point(IN_HOLE))

    def test_a_point_on_the_boundary_is_not_within(self) -> None:
        # Simple Features: within needs the interiors to meet; a boundary point has none.
        assert not matches("within", "Polygon", CENTRE_WITH_HOLE, point(ON_EDGE))

    def test_a_point_outside_is_not_within(self) -> None:
        assert not matches("within", "Polygon", CENTRE_WITH_HOLE, point(OUTSIDE))

    def test_a_street_inside_is_within_one_crossing_the_hole_is_not(self) -> None:
        inside = {"type": "LineString", "coordinates": [[71.432, 51.152], [71.468, 51.152]]}
        through_hole = {"type": "LineString", "coordinates": [[71.432, 51.165], [71.468, 51.165]]}
        assert matches("within", "Polygon", CENTRE_WITH_HOLE, inside)
        assert not matches("within", "Polygon", CENTRE_WITH_HOLE, through_hole)

    def test_a_building_partly_outside_is_not_within(self) -> None:
        ring = [
            [71.465, 51.18],
            [71.475, 51.18],
            [71.475, 51.185],
            [71.465, 51.185],
            [71.465, 51.18],
        ]
        assert not matches(
            "within", "Polygon", CENTRE_WITH_HOLE, {"type": "Polygon", "coordinates": [ring]}
        )

    def test_multipoint_within_only_if_every_member_is(self) -> None:
        both = {"type": "MultiPoint", "coordinates": [IN_SHELL, [71.46, 51.18]]}
        one_out = {"type": "MultiPoint", "coordinates": [IN_SHELL, OUTSIDE]}
        assert matches("within", "Polygon", CENTRE_WITH_HOLE, both)
        assert not matches("within", "Polygon", CENTRE_WITH_HOLE, one_out)

    def test_cities_within_a_multipolygon_of_two_regions(self) -> None:
        north = [[[70, 49], [75, 49], [75, 52], [70, 52], [70, 49]]]  # Astana, Karaganda
        south = [[[68, 41], [78, 41], [78, 44], [68, 44], [68, 41]]]  # Almaty, Shymkent
        query = parse_geoquery("within", "MultiPolygon", json.dumps([north, south]), None)
        assert query is not None
        match = compile_geo_matcher(query)
        inside = [name for name, c in CITIES.items() if match(point(c))]
        assert inside == ["Astana", "Almaty", "Shymkent", "Karaganda"]

    def test_a_point_is_within_an_equal_point(self) -> None:
        assert matches("within", "Point", ASTANA, point(ASTANA))
        assert not matches("within", "Point", ASTANA, point(KARAGANDA))


class TestContains:
    def test_the_district_contains_a_point_in_its_shell(self) -> None:
        district = {"type": "Polygon", "coordinates": CENTRE_WITH_HOLE}
        assert matches("contains", "Point", IN_SHELL, district)
        assert not matches("contains", "Point", IN_HOLE, district)
        assert not matches("contains", "Point", ON_EDGE, district)
        assert not matches("contains", "Point", OUTSIDE, district)

    def test_a_point_entity_contains_only_an_equal_point(self) -> None:
        assert matches("contains", "Point", ASTANA, point(ASTANA))
        assert not matches("contains", "Point", ASTANA, point(ALMATY))

    def test_a_point_entity_contains_no_polygon(self) -> None:
        assert not matches("contains", "Polygon", [SHELL], point(IN_SHELL))

    def test_a_region_contains_a_city_and_a_road(self) -> None:
        region = {
            "type": "Polygon",
            "coordinates": [[[70, 49], [75, 49], [75, 52], [70, 52], [70, 49]]],
        }
        assert matches("contains", "Point", ASTANA, region)
        assert matches("contains", "LineString", [ASTANA, KARAGANDA], region)
        assert not matches("contains", "LineString", [ASTANA, ALMATY], region)

    def test_a_multipolygon_contains_a_point_in_either_part(self) -> None:
        parts = {
            "type": "MultiPolygon",
            "coordinates": [
                [[[70, 49], [75, 49], [75, 52], [70, 52], [70, 49]]],
                [[[68, 41], [78, 41], [78, 44], [68, 44], [68, 41]]],
            ],
        }
        assert matches("contains", "Point", ALMATY, parts)
        assert not matches("contains", "Point", AKTOBE, parts)


class TestIntersects:
    def test_points(self) -> None:
        assert matches("intersects", "Polygon", CENTRE_WITH_HOLE, point(IN_SHELL))
        assert matches("intersects", "Polygon", CENTRE_WITH_HOLE, point(ON_EDGE))
        assert not matches("intersects", "Polygon", CENTRE_WITH_HOLE, point(IN_HOLE))
        assert not matches("intersects", "Polygon", CENTRE_WITH_HOLE, point(OUTSIDE))

    def test_a_road_crossing_the_district(self) -> None:
        road = {"type": "LineString", "coordinates": [[71.40, 51.155], [71.50, 51.155]]}
        assert matches("intersects", "Polygon", CENTRE_WITH_HOLE, road)
        ring_road = {"type": "LineString", "coordinates": [[71.40, 51.14], [71.50, 51.14]]}
        assert not matches("intersects", "Polygon", CENTRE_WITH_HOLE, ring_road)

    def test_multilinestring_intersects_if_any_line_does(self) -> None:
        lines = {
            "type": "MultiLineString",
            "coordinates": [[[71.40, 51.14], [71.50, 51.14]], [[71.455, 51.10], [71.455, 51.20]]],
        }
        assert matches("intersects", "Polygon", CENTRE_WITH_HOLE, lines)

    def test_a_line_query_against_polygon_entities(self) -> None:
        district = {"type": "Polygon", "coordinates": CENTRE_WITH_HOLE}
        assert matches("intersects", "LineString", [[71.40, 51.18], [71.50, 51.18]], district)
        # A line running entirely inside the hole does not intersect the district.
        assert not matches(
            "intersects", "LineString", [[71.442, 51.165], [71.448, 51.165]], district
        )


class TestDisjoint:
    def test_disjoint_is_the_opposite_of_intersects(self) -> None:
        for position in (IN_SHELL, ON_EDGE, IN_HOLE, OUTSIDE):
            entity = point(position)
            assert matches("disjoint", "Polygon", CENTRE_WITH_HOLE, entity) != matches(
                "intersects", "Polygon", CENTRE_WITH_HOLE, entity
            )

    def test_cities_disjoint_from_astana(self) -> None:
        query = parse_geoquery("disjoint", "Point", json.dumps(ASTANA), None)
        assert query is not None
        match = compile_geo_matcher(query)
        assert [n for n, c in CITIES.items() if match(point(c))] == [
            "Almaty",
            "Shymkent",
            "Aktobe",
            "Karaganda",
        ]


class TestEquals:
    def test_the_same_point(self) -> None:
        assert matches("equals", "Point", ASTANA, point(ASTANA))
        assert matches(
            "equals", "Point", ASTANA, {"type": "Point", "coordinates": [71.4491, 51.1694, 350]}
        )
        assert not matches("equals", "Point", ASTANA, point([71.4491, 51.16941]))

    def test_the_same_polygon_from_another_vertex_and_winding(self) -> None:
        rotated = SHELL[2:-1] + SHELL[:3]
        reversed_ring = list(reversed(SHELL))
        for ring in (SHELL, rotated, reversed_ring):
            assert matches("equals", "Polygon", [SHELL], {"type": "Polygon", "coordinates": [ring]})
        assert not matches(
            "equals", "Polygon", [SHELL], {"type": "Polygon", "coordinates": CENTRE_WITH_HOLE}
        )

    def test_a_multipoint_of_one_equals_the_point(self) -> None:
        assert matches(
            "equals", "Point", ALMATY, {"type": "MultiPoint", "coordinates": [list(ALMATY)]}
        )


class TestOverlaps:
    def test_two_districts_sharing_a_block(self) -> None:
        neighbour = [[71.46, 51.18], [71.49, 51.18], [71.49, 51.21], [71.46, 51.21], [71.46, 51.18]]
        assert matches(
            "overlaps", "Polygon", [SHELL], {"type": "Polygon", "coordinates": [neighbour]}
        )

    def test_a_contained_block_does_not_overlap(self) -> None:
        block = [[71.431, 51.151], [71.435, 51.151], [71.435, 51.155], [71.431, 51.151]]
        assert not matches(
            "overlaps", "Polygon", [SHELL], {"type": "Polygon", "coordinates": [block]}
        )

    def test_touching_or_disjoint_districts_do_not_overlap(self) -> None:
        touching = [[71.47, 51.15], [71.50, 51.15], [71.50, 51.19], [71.47, 51.19], [71.47, 51.15]]
        assert not matches(
            "overlaps", "Polygon", [SHELL], {"type": "Polygon", "coordinates": [touching]}
        )

    def test_different_dimensions_never_overlap(self) -> None:
        road = {"type": "LineString", "coordinates": [[71.40, 51.155], [71.50, 51.155]]}
        assert not matches("overlaps", "Polygon", [SHELL], road)
        assert not matches("overlaps", "Polygon", [SHELL], point(IN_SHELL))

    def test_two_bus_routes_sharing_a_stretch(self) -> None:
        route = [[71.40, 51.16], [71.45, 51.16]]
        other = {"type": "LineString", "coordinates": [[71.42, 51.16], [71.48, 51.16]]}
        assert matches("overlaps", "LineString", route, other)

    def test_multipoints_sharing_some_stops(self) -> None:
        stops = [list(ASTANA), list(KARAGANDA)]
        other = {"type": "MultiPoint", "coordinates": [list(KARAGANDA), list(ALMATY)]}
        assert matches("overlaps", "MultiPoint", stops, other)


class TestMatcherInput:
    QUERY = parse_geoquery("near;maxDistance==1000", "Point", json.dumps(ASTANA), None)

    def matcher(self) -> Any:
        assert self.QUERY is not None
        return compile_geo_matcher(self.QUERY)

    @pytest.mark.parametrize(
        "value",
        [
            None,
            {},
            {"type": "Point"},
            {"type": "Point", "coordinates": "71.4491,51.1694"},
            {"type": "Point", "coordinates": [71.4491, 95]},
            {"type": "Property", "value": 5},
            "not json",
            42,
        ],
    )
    def test_missing_or_malformed_values_do_not_match(self, value: Any) -> None:
        assert self.matcher()(value) is False

    def test_accepted_forms(self) -> None:
        match = self.matcher()
        geojson = point(ASTANA)
        assert match(geojson)
        assert match(json.dumps(geojson))
        assert match({"type": "GeoProperty", "value": geojson})
        assert match(parse_geojson(geojson))


class TestEtsiConformanceCases:
    """The geo-query cases of the ETSI NGSI-LD test suite (TP 019_10 and 019_11)."""

    BUILDINGS: ClassVar = [[13.3986, 52.5547], [13.509818, 52.363457], [13.215983, 52.470441]]
    BERLIN = "[[[13.1616211,52.5438124],[13.597641,52.4840224],[13.5948944,52.3402782],[13.142395,52.386428],[13.1616211,52.5438124]]]"  # noqa: E501

    @pytest.mark.parametrize(
        ("georel", "geometry", "coordinates", "count"),
        [
            ("equals", "Point", "[13.3986, 52.5547]", 1),
            ("near;maxDistance==15000", "Point", "[13.388930, 52.534473]", 2),
            ("near;minDistance==15000", "Point", "[13.388930, 52.534473]", 1),
            ("within", "Polygon", BERLIN, 2),
            ("disjoint", "Polygon", BERLIN, 1),
            ("disjoint", "Point", "[13.3986, 52.5547]", 2),
            ("contains", "Point", "[13.3986, 52.5547]", 1),
            ("intersects", "Point", "[13.3986, 52.5547]", 1),
        ],
    )
    def test_point_buildings(
        self, georel: str, geometry: str, coordinates: str, count: int
    ) -> None:
        query = parse_geoquery(georel, geometry, coordinates, None)
        assert query is not None
        match = compile_geo_matcher(query)
        assert sum(match(point(b)) for b in self.BUILDINGS) == count

    # The first building self-intersects slightly in the planar lon/lat reading (its
    # top edge doubles back), as does the reference polygon of 019_11_06; these cases
    # need repair=True to be accepted at all.
    POLYGONS: ClassVar = [
        [
            [
                [13.2865906, 52.5648645],
                [13.2879639, 52.5648645],
                [13.2797241, 52.4988679],
                [13.477478, 52.4712703],
                [13.5049438, 52.5373084],
                [13.2865906, 52.5648645],
            ]
        ],
        [
            [
                [13.315773, 52.4757209],
                [13.339119, 52.4443421],
                [13.3892441, 52.4669371],
                [13.315773, 52.4757209],
            ]
        ],
    ]
    SMALL = "[[[13.3456421,52.4794848],[13.3641815,52.4428773],[13.4177399,52.4730023],[13.3459854,52.479903],[13.3456421,52.4794848]]]"  # noqa: E501
    WEST = "[[[13.1369019,52.5198225],[13.1365585,52.5200314],[13.131752,52.4980907],[13.1832504,52.5026887],[13.1369019,52.5198225]]]"  # noqa: E501

    @pytest.mark.parametrize(
        ("georel", "geometry", "coordinates", "count"),
        [
            ("equals", "Polygon", json.dumps(POLYGONS[0]), 1),
            ("intersects", "Polygon", SMALL, 1),
            (
                "contains",
                "Polygon",
                "[[[13.3844376,52.5356966],[13.3844376,52.5356966],[13.381691,52.5123012],[13.4235764,52.5100027],[13.4331894,52.5273425],[13.3844376,52.5356966]]]",
                1,
            ),
            ("contains", "Polygon", WEST, 0),
            ("disjoint", "Polygon", WEST, 2),
            (
                "within",
                "Polygon",
                "[[[13.3023834,52.4903066],[13.3027267,52.4905156],[13.2745743,52.465632],[13.3343124,52.4185447],[13.4311295,52.47107],[13.3023834,52.4903066]]]",
                1,
            ),
            ("overlaps", "Polygon", SMALL, 1),
            ("contains", "Point", "[13.3442688,52.4650045]", 1),
        ],
    )
    def test_polygon_buildings(
        self, georel: str, geometry: str, coordinates: str, count: int
    ) -> None:
        query = parse_geoquery(georel, geometry, coordinates, None, repair=True)
        assert query is not None
        match = compile_geo_matcher(query)
        buildings = [
            parse_geojson({"type": "Polygon", "coordinates": p}, repair=True) for p in self.POLYGONS
        ]
        assert sum(match(b) for b in buildings) == count

    def test_geoq_of_a_subscription(self) -> None:
        query = geoquery_from_json(
            {"georel": "near;maxDistance==2000", "geometry": "Point", "coordinates": [-8.52, 41.2]}
        )
        match = compile_geo_matcher(query)
        assert match(point([-8.503, 41.202]))  # 1.4 km away, in Porto
        assert not match(point(ASTANA))


# -- many points at once: the store's decision from its spatial index -------------------------

SQUARE = "[[[71.0,51.0],[72.0,51.0],[72.0,52.0],[71.0,52.0],[71.0,51.0]]]"
NOTCHED = "[[[71.0,51.0],[72.0,51.0],[72.0,52.0],[71.5,51.5],[71.0,52.0],[71.0,51.0]]]"


@pytest.mark.parametrize("georel", ["within", "intersects", "disjoint"])
@pytest.mark.parametrize("polygon", [SQUARE, NOTCHED])
def test_many_points_get_the_verdicts_each_point_gets(georel: str, polygon: str) -> None:
    import random

    from qala.ngsild.geo import compile_points_matcher

    query = parse_geoquery(georel, "Polygon", polygon)
    one = compile_geo_matcher(query)
    many = compile_points_matcher(query)
    assert many is not None
    rng = random.Random(3)
    xs = [round(rng.uniform(70.8, 72.2), 2) for _ in range(2000)]
    ys = [round(rng.uniform(50.8, 52.2), 2) for _ in range(2000)]
    # vertices, edges and the notch's sides: where within and intersects differ
    xs += [71.0, 72.0, 71.5, 71.25, 71.0, 71.75]
    ys += [51.0, 52.0, 51.5, 51.75, 51.5, 51.75]
    expected = [one({"type": "Point", "coordinates": [x, y]}) for x, y in zip(xs, ys, strict=True)]
    assert many(xs, ys) == expected
    assert True in expected and False in expected
    assert many([], []) == []


@pytest.mark.parametrize(
    ("georel", "geometry", "coordinates"),
    [("near;maxDistance==500", "Point", "[71.4,51.1]"), ("contains", "Point", "[71.4,51.1]"),
     ("equals", "Point", "[71.4,51.1]"), ("overlaps", "Polygon", SQUARE)],
)  # fmt: skip
def test_other_relations_are_tested_point_by_point(
    georel: str, geometry: str, coordinates: str
) -> None:
    from qala.ngsild.geo import compile_points_matcher

    assert compile_points_matcher(parse_geoquery(georel, geometry, coordinates)) is None
