"""GeoJSON geometries as GeoProperty values: what is accepted, what is refused and why."""

from __future__ import annotations

import json
from typing import Any

import pytest
import shapely

from qala.ngsild.geo import Geometry, InvalidGeometry, parse_geojson

ASTANA = [71.4491, 51.1694]
ALMATY = [76.8897, 43.2389]
SHYMKENT = [69.5901, 42.3417]
AKTOBE = [57.1670, 50.2839]
KARAGANDA = [73.1094, 49.8047]

# A square around central Astana (about 2.8 km x 4.5 km), counter-clockwise.
ASTANA_SQUARE = [[71.43, 51.15], [71.47, 51.15], [71.47, 51.19], [71.43, 51.19], [71.43, 51.15]]
# A hole in it (clockwise, as RFC 7946 recommends for holes).
ASTANA_HOLE = [[71.44, 51.16], [71.44, 51.17], [71.45, 51.17], [71.45, 51.16], [71.44, 51.16]]


class TestValidGeometries:
    def test_a_point_is_read_without_building_a_shapely_object(self) -> None:
        geometry = parse_geojson({"type": "Point", "coordinates": ASTANA})
        assert geometry.type == "Point"
        assert geometry.point == (71.4491, 51.1694)
        assert geometry.bbox == (71.4491, 51.1694, 71.4491, 51.1694)
        assert geometry._shape is None  # the fast path did not touch GEOS
        assert geometry.shape.equals(shapely.Point(71.4491, 51.1694))

    def test_integer_coordinates_and_an_altitude_are_accepted(self) -> None:
        assert parse_geojson({"type": "Point", "coordinates": [71, 51]}).point == (71.0, 51.0)
        point = parse_geojson({"type": "Point", "coordinates": [71.4491, 51.1694, 347.0]})
        assert point.point == (71.4491, 51.1694)  # relations are 2D
        assert point.to_geojson()["coordinates"] == [71.4491, 51.1694, 347.0]

    def test_the_extreme_longitudes_and_latitudes_are_valid(self) -> None:
        for position in ([180, 90], [-180, -90], [180.0, -90.0], [0, 0]):
            assert parse_geojson({"type": "Point", "coordinates": position}).point == tuple(
                map(float, position)
            )

    def test_json_text_is_accepted(self) -> None:
        text = json.dumps({"type": "Point", "coordinates": ALMATY})
        assert parse_geojson(text).point == tuple(ALMATY)

    def test_foreign_members_are_kept_and_ignored(self) -> None:
        value = {"type": "Point", "coordinates": SHYMKENT, "bbox": [1, 2, 3, 4], "x-note": "a"}
        geometry = parse_geojson(value)
        assert geometry.bbox == (69.5901, 42.3417, 69.5901, 42.3417)
        assert geometry.to_geojson() == value

    def test_multipoint_of_the_five_cities(self) -> None:
        cities = [ASTANA, ALMATY, SHYMKENT, AKTOBE, KARAGANDA]
        geometry = parse_geojson({"type": "MultiPoint", "coordinates": cities})
        assert geometry.bbox == (57.1670, 42.3417, 76.8897, 51.1694)
        assert len(geometry.shape.geoms) == 5

    def test_linestring_astana_karaganda_almaty(self) -> None:
        road = parse_geojson({"type": "LineString", "coordinates": [ASTANA, KARAGANDA, ALMATY]})
        assert road.bbox == (71.4491, 43.2389, 76.8897, 51.1694)
        assert road.shape.geom_type == "LineString"

    def test_a_self_crossing_linestring_is_valid(self) -> None:
        # Simple Features allows non-simple lines (a bus route crossing itself).
        loop = [[0, 0], [2, 2], [2, 0], [0, 2]]
        assert parse_geojson({"type": "LineString", "coordinates": loop}).type == "LineString"

    def test_multilinestring(self) -> None:
        lines = [[ASTANA, KARAGANDA], [SHYMKENT, ALMATY]]
        geometry = parse_geojson({"type": "MultiLineString", "coordinates": lines})
        assert geometry.bbox == (69.5901, 42.3417, 76.8897, 51.1694)

    def test_polygon_with_a_hole(self) -> None:
        geometry = parse_geojson({"type": "Polygon", "coordinates": [ASTANA_SQUARE, ASTANA_HOLE]})
        assert geometry.bbox == (71.43, 51.15, 71.47, 51.19)
        assert len(geometry.shape.interiors) == 1
        assert not geometry.shape.contains(shapely.Point(71.445, 51.165))  # in the hole

    def test_either_ring_orientation_is_accepted(self) -> None:
        clockwise = list(reversed(ASTANA_SQUARE))
        counter = parse_geojson({"type": "Polygon", "coordinates": [ASTANA_SQUARE]})
        assert parse_geojson({"type": "Polygon", "coordinates": [clockwise]}) is not None
        assert counter.shape.area == pytest.approx(0.04 * 0.04)

    def test_multipolygon_whose_parts_touch_at_a_point(self) -> None:
        a = [[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]
        b = [[1, 1], [2, 1], [2, 2], [1, 2], [1, 1]]
        geometry = parse_geojson({"type": "MultiPolygon", "coordinates": [[a], [b]]})
        assert geometry.bbox == (0.0, 0.0, 2.0, 2.0)

    def test_geometry_collection(self) -> None:
        value = {
            "type": "GeometryCollection",
            "geometries": [
                {"type": "Point", "coordinates": ASTANA},
                {"type": "LineString", "coordinates": [SHYMKENT, ALMATY]},
            ],
        }
        geometry = parse_geojson(value)
        assert geometry.bbox == (69.5901, 42.3417, 76.8897, 51.1694)
        assert [g.type for g in geometry.geometries] == ["Point", "LineString"]
        assert geometry.shape.geom_type == "GeometryCollection"

    def test_a_geometry_object_passes_through(self) -> None:
        geometry = parse_geojson({"type": "Point", "coordinates": ASTANA})
        assert parse_geojson(geometry) is geometry

    def test_segments_cover_every_ring(self) -> None:
        geometry = parse_geojson({"type": "Polygon", "coordinates": [ASTANA_SQUARE, ASTANA_HOLE]})
        assert geometry.segments.shape == (8, 4)

    def test_equality(self) -> None:
        a = parse_geojson({"type": "Point", "coordinates": [71, 51]})
        b = parse_geojson({"type": "Point", "coordinates": [71.0, 51.0]})
        assert a == b
        assert hash(a) == hash(b)


SQUARE = [[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]

INVALID: list[tuple[str, Any, str]] = [
    ("not an object", [71.4, 51.1], "must be an object"),
    ("null", None, "must be an object"),
    ("no type", {"coordinates": [1, 2]}, "needs a string 'type'"),
    ("unknown type", {"type": "Circle", "coordinates": [1, 2]}, "unsupported geometry type"),
    ("lower-case type", {"type": "point", "coordinates": [1, 2]}, "did you mean 'Point'"),
    ("a Feature is not a geometry", {"type": "Feature", "geometry": None}, "unsupported"),
    ("no coordinates", {"type": "Point"}, "needs a 'coordinates' member"),
    ("coordinates null", {"type": "Point", "coordinates": None}, "must be an array"),
    ("one number", {"type": "Point", "coordinates": [71.4]}, "got 1 element"),
    ("four numbers", {"type": "Point", "coordinates": [1, 2, 3, 4]}, "got 4 element"),
    ("numbers as strings", {"type": "Point", "coordinates": ["71.4", "51.1"]}, "a number"),
    ("a boolean", {"type": "Point", "coordinates": [True, 51]}, "got a boolean"),
    ("NaN", {"type": "Point", "coordinates": [float("nan"), 51]}, "finite"),
    ("infinity", {"type": "Point", "coordinates": [71, float("inf")]}, "finite"),
    ("huge integer", {"type": "Point", "coordinates": [10**400, 1]}, "out of range"),
    ("longitude 180.5", {"type": "Point", "coordinates": [180.5, 51]}, "longitude 180.5"),
    ("longitude -181", {"type": "Point", "coordinates": [-181, 51]}, "longitude -181"),
    ("latitude 91", {"type": "Point", "coordinates": [10, 91]}, "latitude 91"),
    ("swapped lat/lon", {"type": "Point", "coordinates": [51.1694, 171.4491]}, "latitude"),
    ("empty MultiPoint", {"type": "MultiPoint", "coordinates": []}, "at least 1"),
    ("MultiPoint of numbers", {"type": "MultiPoint", "coordinates": [1, 2]}, "position"),
    ("LineString of one", {"type": "LineString", "coordinates": [[1, 2]]}, "at least 2"),
    ("LineString collapsed", {"type": "LineString", "coordinates": [[1, 2], [1, 2]]}, "distinct"),
    ("empty MultiLineString", {"type": "MultiLineString", "coordinates": []}, "at least one"),
    (
        "MultiLineString with a short line",
        {"type": "MultiLineString", "coordinates": [[[1, 2], [3, 4]], [[5, 6]]]},
        "coordinates[1]: a LineString needs at least 2",
    ),
    ("Polygon without rings", {"type": "Polygon", "coordinates": []}, "exterior ring"),
    (
        "ring of three positions",
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]},
        "at least 4 positions",
    ),
    (
        "ring not closed",
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]},
        "must be closed",
    ),
    (
        "ring closed in 2D but not in altitude",
        {"type": "Polygon", "coordinates": [[[0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 0, 2]]]},
        "must be closed",
    ),
    (
        "self-intersecting bow tie",
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
        "self-intersection at or near [0.5, 0.5]",
    ),
    (
        "hole outside the shell",
        {
            "type": "Polygon",
            "coordinates": [SQUARE, [[5, 5], [6, 5], [6, 6], [5, 5]]],
        },
        "hole lies outside shell",
    ),
    (
        "zero-area ring",
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [2, 2], [0, 0]]]},
        "invalid Polygon",
    ),
    (
        "overlapping MultiPolygon parts",
        {
            "type": "MultiPolygon",
            "coordinates": [[SQUARE], [[[0.5, 0.5], [2, 0.5], [2, 2], [0.5, 2], [0.5, 0.5]]]],
        },
        "must not overlap",
    ),
    ("empty MultiPolygon", {"type": "MultiPolygon", "coordinates": []}, "at least one"),
    (
        "bad position deep in a MultiPolygon",
        {"type": "MultiPolygon", "coordinates": [[SQUARE], [[[0, 0], [1, 0], [1, "x"], [0, 0]]]]},
        "coordinates[1][0][2][1]: expected a number",
    ),
    ("empty collection", {"type": "GeometryCollection", "geometries": []}, "must not be empty"),
    ("collection without members", {"type": "GeometryCollection"}, "'geometries' array"),
    (
        "nested collection",
        {
            "type": "GeometryCollection",
            "geometries": [{"type": "GeometryCollection", "geometries": []}],
        },
        "nested",
    ),
    (
        "invalid member of a collection",
        {"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [0, 99]}]},
        "geometries[0].coordinates: latitude 99",
    ),
    ("invalid JSON text", '{"type": "Point", "coordinates": [1, 2}', "not valid JSON"),
]


@pytest.mark.parametrize(
    ("value", "message"), [(v, m) for _, v, m in INVALID], ids=[i for i, _, _ in INVALID]
)
def test_invalid_geometries_are_refused_with_a_clear_message(value: Any, message: str) -> None:
    with pytest.raises(InvalidGeometry) as caught:
        parse_geojson(value)
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_allowed_types_can_be_narrowed() -> None:
    collection = {
        "type": "GeometryCollection",
        "geometries": [{"type": "Point", "coordinates": [0, 0]}],
    }
    with pytest.raises(InvalidGeometry, match="not allowed here"):
        parse_geojson(collection, allowed=("Point", "Polygon"))
    with pytest.raises(InvalidGeometry, match="not allowed here"):
        parse_geojson(parse_geojson(collection), allowed=("Point",))


def test_validate_false_skips_only_the_geos_check() -> None:
    bow_tie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    assert parse_geojson(bow_tie, validate=False).type == "Polygon"
    with pytest.raises(InvalidGeometry, match="latitude"):
        parse_geojson(
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 95], [1, 0], [0, 0]]]}, validate=False
        )


def test_repair_accepts_a_self_intersecting_polygon_and_evaluates_its_repaired_form() -> None:
    bow_tie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    geometry = parse_geojson(bow_tie, repair=True)
    assert geometry.shape.is_valid
    assert geometry.shape.area == pytest.approx(0.5)  # the two triangles of the bow tie
    assert geometry.to_geojson() == bow_tie
    # Structural errors are never repaired.
    with pytest.raises(InvalidGeometry, match="must be closed"):
        parse_geojson(
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}, repair=True
        )


def test_geometry_repr_names_type_and_bbox() -> None:
    geometry: Geometry = parse_geojson({"type": "Point", "coordinates": [1, 2]})
    assert repr(geometry) == "Geometry(Point, bbox=(1.0, 2.0, 1.0, 2.0))"
    with pytest.raises(ValueError, match="not a Point"):
        _ = parse_geojson({"type": "MultiPoint", "coordinates": [[1, 2]]}).point
