"""Geo-query parameters (ETSI GS CIM 009 clause 4.10): parsing and refusals."""

from __future__ import annotations

from typing import Any

import pytest

from qala.ngsild.geo import GeoQuery, InvalidGeoQuery, geoquery_from_json, parse_geoquery

ASTANA = "[71.4491,51.1694]"
# Central Astana, counter-clockwise.
ASTANA_SQUARE = "[[[71.43,51.15],[71.47,51.15],[71.47,51.19],[71.43,51.19],[71.43,51.15]]]"


class TestFromQueryParameters:
    def test_no_geo_parameters_means_no_geo_query(self) -> None:
        assert parse_geoquery(None, None, None, None) is None

    def test_a_lone_geoproperty_selects_nothing(self) -> None:
        assert parse_geoquery(None, None, None, "observationSpace") is None

    def test_near_max_distance(self) -> None:
        query = parse_geoquery("near;maxDistance==2000", "Point", ASTANA, None)
        assert query is not None
        assert query.georel == "near"
        assert query.max_distance == 2000.0
        assert query.min_distance is None
        assert query.geometry_type == "Point"
        assert query.geometry.point == (71.4491, 51.1694)
        assert query.geoproperty == "location"  # the default, compact
        assert query.georel_text == "near;maxDistance==2000"

    def test_near_min_distance_with_a_fraction_and_an_exponent(self) -> None:
        query = parse_geoquery("near;minDistance==1.5e2", "Point", ASTANA, "observationSpace")
        assert query is not None
        assert query.min_distance == 150.0
        assert query.max_distance is None
        assert query.geoproperty == "observationSpace"
        assert query.georel_text == "near;minDistance==150"

    @pytest.mark.parametrize(
        "georel", ["within", "contains", "intersects", "equals", "disjoint", "overlaps"]
    )
    def test_every_topological_relationship(self, georel: str) -> None:
        query = parse_geoquery(georel, "Polygon", ASTANA_SQUARE, "location")
        assert query is not None
        assert query.georel == georel
        assert query.georel_text == georel
        assert query.geometry.bbox == (71.43, 51.15, 71.47, 51.19)

    @pytest.mark.parametrize(
        ("geometry", "coordinates"),
        [
            ("Point", "[76.8897,43.2389]"),
            ("MultiPoint", "[[76.8897,43.2389],[69.5901,42.3417]]"),
            ("LineString", "[[71.4491,51.1694],[73.1094,49.8047]]"),
            (
                "MultiLineString",
                "[[[71.4491,51.1694],[73.1094,49.8047]],[[57.167,50.2839],[60,50]]]",
            ),
            ("Polygon", ASTANA_SQUARE),
            ("MultiPolygon", f"[{ASTANA_SQUARE}]"),
        ],
    )
    def test_every_reference_geometry_type(self, geometry: str, coordinates: str) -> None:
        query = parse_geoquery("intersects", geometry, coordinates, None)
        assert query is not None
        assert query.geometry_type == geometry

    def test_abnf_literals_are_case_insensitive(self) -> None:
        # RFC 5234 section 2.3: quoted ABNF strings match either case.
        query = parse_geoquery("NEAR;MAXDISTANCE==500", "Point", ASTANA, None)
        assert query is not None
        assert query.georel_text == "near;maxDistance==500"
        within = parse_geoquery("Within", "Polygon", ASTANA_SQUARE, None)
        assert within is not None and within.georel == "within"

    def test_url_encoded_coordinates_are_decoded_once_more(self) -> None:
        query = parse_geoquery("near;maxDistance==500", "Point", "%5B71.4491%2C51.1694%5D", None)
        assert query is not None
        assert query.geometry.point == (71.4491, 51.1694)

    def test_whitespace_inside_the_json_array_is_fine(self) -> None:
        query = parse_geoquery("equals", "Point", " [ 71.4491 , 51.1694 ] ", None)
        assert query is not None and query.coordinates == [71.4491, 51.1694]

    def test_near_takes_any_reference_geometry(self) -> None:
        # Clause 4.10 defines near through the buffer of the reference geometry, so a
        # street (LineString) or a district (Polygon) can be the reference.
        street = parse_geoquery(
            "near;maxDistance==50", "LineString", "[[71.43,51.16],[71.47,51.17]]", None
        )
        district = parse_geoquery("near;minDistance==1000", "Polygon", ASTANA_SQUARE, None)
        assert street is not None and street.geometry_type == "LineString"
        assert district is not None and district.min_distance == 1000.0

    def test_round_trip_through_query_parameters(self) -> None:
        query = parse_geoquery("near;maxDistance==2000", "Point", ASTANA, "location")
        assert query is not None
        params = query.to_query_params()
        assert params == {
            "georel": "near;maxDistance==2000",
            "geometry": "Point",
            "coordinates": "[71.4491,51.1694]",
            "geoproperty": "location",
        }
        again = parse_geoquery(
            params["georel"], params["geometry"], params["coordinates"], params["geoproperty"]
        )
        assert again == query

    def test_the_query_is_immutable(self) -> None:
        query = parse_geoquery("within", "Polygon", ASTANA_SQUARE, None)
        with pytest.raises(AttributeError):
            query.georel = "contains"  # type: ignore[misc,union-attr]

    def test_repair_admits_a_slightly_self_intersecting_reference(self) -> None:
        # The reference polygon of ETSI test 019_11_06: its first edge doubles back.
        spike = (
            "[[[13.3023834,52.4903066],[13.3027267,52.4905156],[13.2745743,52.465632],"
            "[13.3343124,52.4185447],[13.4311295,52.47107],[13.3023834,52.4903066]]]"
        )
        with pytest.raises(InvalidGeoQuery, match="self-intersection"):
            parse_geoquery("within", "Polygon", spike, None)
        query = parse_geoquery("within", "Polygon", spike, None, repair=True)
        assert query is not None and query.geometry.shape.is_valid


class TestFromGeoQObject:
    def test_post_query_body(self) -> None:
        query = geoquery_from_json(
            {
                "geometry": "Point",
                "coordinates": [71.4491, 51.1694],
                "georel": "near;maxDistance==2000",
                "geoproperty": "location",
            }
        )
        assert isinstance(query, GeoQuery)
        assert query.max_distance == 2000.0
        assert query.to_json() == {
            "geometry": "Point",
            "coordinates": [71.4491, 51.1694],
            "georel": "near;maxDistance==2000",
            "geoproperty": "location",
        }

    def test_geoproperty_defaults_to_location(self) -> None:
        query = geoquery_from_json(
            {
                "geometry": "Polygon",
                "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]],
                "georel": "within",
            }
        )
        assert query.geoproperty == "location"

    def test_coordinates_may_be_json_text(self) -> None:
        query = geoquery_from_json(
            {"geometry": "Point", "coordinates": "[76.8897, 43.2389]", "georel": "equals"}
        )
        assert query.geometry.point == (76.8897, 43.2389)

    def test_none_is_no_geo_query(self) -> None:
        assert geoquery_from_json(None) is None


BAD_PARAMETERS: list[tuple[str, tuple[Any, Any, Any, Any], str, str | None]] = [
    ("georel alone", ("within", None, None, None), "missing geometry, coordinates", None),
    ("no georel", (None, "Point", ASTANA, None), "missing georel", "georel"),
    (
        "no coordinates",
        ("near;maxDistance==5", "Point", None, None),
        "missing coordinates",
        "coordinates",
    ),
    ("no geometry", ("within", None, ASTANA_SQUARE, None), "missing geometry", "geometry"),
    ("empty georel", ("", "Point", ASTANA, None), "georel is empty", "georel"),
    (
        "unknown georel",
        ("touches", "Point", ASTANA, None),
        "unknown relationship 'touches'",
        "georel",
    ),
    (
        "NGSIv2 coveredBy",
        ("coveredBy", "Polygon", ASTANA_SQUARE, None),
        "unknown relationship",
        "georel",
    ),
    ("near without distance", ("near", "Point", ASTANA, None), "'near' needs a distance", "georel"),
    (
        "near with empty modifier",
        ("near;", "Point", ASTANA, None),
        "'near' needs a distance",
        "georel",
    ),
    (
        "two distance modifiers",
        ("near;maxDistance==5000;minDistance==100", "Point", ASTANA, None),
        "exactly one distance modifier",
        "georel",
    ),
    ("zero distance", ("near;maxDistance==0", "Point", ASTANA, None), "greater than 0", "georel"),
    (
        "zero as a decimal",
        ("near;minDistance==0.0", "Point", ASTANA, None),
        "greater than 0",
        "georel",
    ),
    (
        "negative distance",
        ("near;maxDistance==-100", "Point", ASTANA, None),
        "positive number",
        "georel",
    ),
    ("plus sign", ("near;maxDistance==+100", "Point", ASTANA, None), "positive number", "georel"),
    (
        "leading zero",
        ("near;maxDistance==0100", "Point", ASTANA, None),
        "positive number",
        "georel",
    ),
    ("inf", ("near;maxDistance==inf", "Point", ASTANA, None), "positive number", "georel"),
    ("nan", ("near;maxDistance==nan", "Point", ASTANA, None), "positive number", "georel"),
    (
        "overflow",
        ("near;maxDistance==1e400", "Point", ASTANA, None),
        "not a finite number",
        "georel",
    ),
    ("unit suffix", ("near;maxDistance==2km", "Point", ASTANA, None), "positive number", "georel"),
    ("no value", ("near;maxDistance==", "Point", ASTANA, None), "positive number", "georel"),
    (
        "single equals sign",
        ("near;maxDistance=2000", "Point", ASTANA, None),
        "operator is '=='",
        "georel",
    ),
    (
        "NGSIv2 colon syntax",
        ("near;maxDistance:2000", "Point", ASTANA, None),
        "operator is '=='",
        "georel",
    ),
    (
        "unknown modifier",
        ("near;distance==5", "Point", ASTANA, None),
        "unknown distance modifier",
        "georel",
    ),
    (
        "modifier on within",
        ("within;maxDistance==5", "Polygon", ASTANA_SQUARE, None),
        "takes no modifier",
        "georel",
    ),
    (
        "lower-case geometry",
        ("within", "polygon", ASTANA_SQUARE, None),
        "did you mean 'Polygon'",
        "geometry",
    ),
    ("unknown geometry", ("within", "Box", ASTANA_SQUARE, None), "not supported", "geometry"),
    (
        "GeometryCollection",
        ("intersects", "GeometryCollection", "[]", None),
        "not allowed in a geo-query",
        "geometry",
    ),
    (
        "coordinates not JSON",
        ("near;maxDistance==5", "Point", "71.4491,51.1694", None),
        "not a valid JSON array",
        "coordinates",
    ),
    (
        "coordinates an object",
        ("near;maxDistance==5", "Point", '{"lon": 71}', None),
        "must be a JSON array",
        "coordinates",
    ),
    (
        "empty coordinates",
        ("near;maxDistance==5", "Point", "", None),
        "coordinates is empty",
        "coordinates",
    ),
    (
        "NGSIv2 lat,lon list",
        ("near;maxDistance==5", "Point", "51.1694,71.4491", None),
        "JSON array",
        "coordinates",
    ),
    (
        "Point with 3 numbers too many",
        ("equals", "Point", "[1,2,3,4,5]", None),
        "valid Point",
        "coordinates",
    ),
    (
        "Point given polygon coordinates",
        ("within", "Point", ASTANA_SQUARE, None),
        "valid Point",
        "coordinates",
    ),
    ("Polygon given a point", ("within", "Polygon", ASTANA, None), "valid Polygon", "coordinates"),
    (
        "latitude out of range",
        ("near;maxDistance==5", "Point", "[71.4491,151.1694]", None),
        "latitude",
        "coordinates",
    ),
    (
        "open ring",
        ("within", "Polygon", "[[[71.43,51.15],[71.47,51.15],[71.47,51.19],[71.43,51.19]]]", None),
        "must be closed",
        "coordinates",
    ),
    (
        "bow tie",
        ("within", "Polygon", "[[[0,0],[1,1],[1,0],[0,1],[0,0]]]", None),
        "self-intersection",
        "coordinates",
    ),
    ("empty geoproperty", ("within", "Polygon", ASTANA_SQUARE, "  "), "geoproperty", "geoproperty"),
]


@pytest.mark.parametrize(
    ("args", "message", "parameter"),
    [(a, m, p) for _, a, m, p in BAD_PARAMETERS],
    ids=[i for i, _, _, _ in BAD_PARAMETERS],
)
def test_bad_geo_queries_are_refused(
    args: tuple[Any, Any, Any, Any], message: str, parameter: str | None
) -> None:
    with pytest.raises(InvalidGeoQuery) as caught:
        parse_geoquery(*args)
    assert message in str(caught.value)
    assert caught.value.parameter == parameter
    assert isinstance(caught.value, ValueError)


BAD_GEOQ: list[tuple[str, Any, str]] = [
    ("not an object", ["near;maxDistance==5", "Point", [0, 0]], "must be a JSON object"),
    ("empty object", {}, "missing georel, geometry, coordinates"),
    ("no georel", {"geometry": "Point", "coordinates": [0, 0]}, "missing georel"),
    (
        "georel not a string",
        {"georel": 5, "geometry": "Point", "coordinates": [0, 0]},
        "georel must be a string",
    ),
    (
        "geometry not a string",
        {"georel": "equals", "geometry": ["Point"], "coordinates": [0, 0]},
        "geometry must be a string",
    ),
    (
        "coordinates a number",
        {"georel": "equals", "geometry": "Point", "coordinates": 5},
        "must be a JSON array",
    ),
    (
        "geoproperty not a string",
        {"georel": "equals", "geometry": "Point", "coordinates": [0, 0], "geoproperty": 7},
        "geoproperty",
    ),
    (
        "near without distance",
        {"georel": "near", "geometry": "Point", "coordinates": [0, 0]},
        "needs a distance",
    ),
]


@pytest.mark.parametrize(
    ("obj", "message"), [(o, m) for _, o, m in BAD_GEOQ], ids=[i for i, _, _ in BAD_GEOQ]
)
def test_bad_geoq_objects_are_refused(obj: Any, message: str) -> None:
    with pytest.raises(InvalidGeoQuery, match=message):
        geoquery_from_json(obj)
