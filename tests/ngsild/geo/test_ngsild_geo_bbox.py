"""Index prefilter boxes: exact values, and (property-based) that they never lose a match."""

from __future__ import annotations

import json
import math
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from qala.ngsild.geo import (
    EARTH_RADIUS_M,
    Geometry,
    GeoQuery,
    InvalidGeometry,
    bboxes_intersect,
    compile_geo_matcher,
    distance_m,
    geometry_bbox,
    geometry_distance_m,
    haversine_m,
    parse_geojson,
    parse_geoquery,
    query_bbox,
    query_bboxes,
)
from qala.ngsild.geo.bbox import WORLD, expand_bbox

ASTANA = (71.4491, 51.1694)
ALMATY = (76.8897, 43.2389)
DEGREE_M = math.pi / 180.0 * EARTH_RADIUS_M


def destination(origin: tuple[float, float], bearing: float, metres: float) -> tuple[float, float]:
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
    return ((math.degrees(lon2) + 540.0) % 360.0 - 180.0, max(-90.0, min(90.0, math.degrees(lat2))))


def query(georel: str, geometry: str, coordinates: Any) -> GeoQuery:
    parsed = parse_geoquery(georel, geometry, json.dumps(coordinates), None)
    assert parsed is not None
    return parsed


def inside(point: tuple[float, float], box: tuple[float, float, float, float]) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


class TestGeometryBbox:
    def test_point(self) -> None:
        assert geometry_bbox({"type": "Point", "coordinates": list(ASTANA)}) == (*ASTANA, *ASTANA)

    def test_polygon_with_hole_uses_the_shell(self) -> None:
        shell = [[71.43, 51.15], [71.47, 51.15], [71.47, 51.19], [71.43, 51.19], [71.43, 51.15]]
        hole = [[71.44, 51.16], [71.44, 51.17], [71.45, 51.17], [71.45, 51.16], [71.44, 51.16]]
        box = geometry_bbox({"type": "Polygon", "coordinates": [shell, hole]})
        assert box == (71.43, 51.15, 71.47, 51.19)

    def test_multilinestring_and_collection(self) -> None:
        lines = {
            "type": "MultiLineString",
            "coordinates": [[list(ASTANA), [73, 50]], [list(ALMATY), [70, 42]]],
        }
        assert geometry_bbox(lines) == (70.0, 42.0, 76.8897, 51.1694)
        collection = {
            "type": "GeometryCollection",
            "geometries": [lines, {"type": "Point", "coordinates": [60, 55]}],
        }
        assert geometry_bbox(collection) == (60.0, 42.0, 76.8897, 55.0)

    def test_accepts_a_geometry_and_refuses_garbage(self) -> None:
        geometry = parse_geojson({"type": "Point", "coordinates": [1, 2]})
        assert geometry_bbox(geometry) == (1.0, 2.0, 1.0, 2.0)
        with pytest.raises(InvalidGeometry):
            geometry_bbox({"type": "Point", "coordinates": [1, 200]})


class TestQueryBbox:
    SQUARE: ClassVar = [
        [[71.43, 51.15], [71.47, 51.15], [71.47, 51.19], [71.43, 51.19], [71.43, 51.15]]
    ]

    @pytest.mark.parametrize("georel", ["within", "contains", "intersects", "equals", "overlaps"])
    def test_topological_relations_use_the_reference_box(self, georel: str) -> None:
        assert query_bbox(query(georel, "Polygon", self.SQUARE)) == (71.43, 51.15, 71.47, 51.19)

    def test_no_prefilter_for_disjoint_or_min_distance(self) -> None:
        assert query_bbox(query("disjoint", "Polygon", self.SQUARE)) is None
        assert query_bbox(query("near;minDistance==100", "Point", ASTANA)) is None
        assert query_bboxes(query("disjoint", "Polygon", self.SQUARE)) is None

    def test_near_a_point_at_astana(self) -> None:
        box = query_bbox(query("near;maxDistance==500", "Point", ASTANA))
        assert box is not None
        half_lat = 500.0 / DEGREE_M
        half_lon = math.degrees(
            math.asin(math.sin(500.0 / EARTH_RADIUS_M) / math.cos(math.radians(ASTANA[1])))
        )
        assert box == pytest.approx(
            (
                ASTANA[0] - half_lon,
                ASTANA[1] - half_lat,
                ASTANA[0] + half_lon,
                ASTANA[1] + half_lat,
            ),
            abs=1e-8,
        )
        # About 1.44 km by 1 km: a degree of longitude is 70 km here.
        assert (box[2] - box[0]) * DEGREE_M * math.cos(math.radians(ASTANA[1])) == pytest.approx(
            1000, rel=1e-3
        )

    @pytest.mark.parametrize("latitude", [0.0, 51.1694, 75.0, -60.0, 89.0, 89.7])
    def test_the_near_box_holds_the_whole_circle_and_little_more(self, latitude: float) -> None:
        centre = (20.0, latitude)
        radius = 50_000.0
        box = query_bbox(query(f"near;maxDistance=={int(radius)}", "Point", centre))
        assert box is not None
        rim = [destination(centre, bearing / 4.0, radius) for bearing in range(360 * 4)]
        assert all(inside(p, box) for p in rim)
        if latitude < 89.5:
            # The widest longitude and the southern edge are reached, to 1e-4 degrees.
            assert max(p[0] for p in rim) == pytest.approx(box[2], abs=1e-4)
            assert min(p[1] for p in rim) == pytest.approx(box[1], abs=1e-6)
        else:  # 50 km from 89.7 N reaches the pole: every longitude is in reach
            assert (box[0], box[2], box[3]) == (-180.0, 180.0, 90.0)

    def test_reaching_the_pole_spans_all_longitudes(self) -> None:
        box = query_bbox(query("near;maxDistance==200000", "Point", [30.0, 89.0]))
        assert box is not None
        assert box[0] == -180.0 and box[2] == 180.0 and box[3] == 90.0
        assert box[1] == pytest.approx(89.0 - 200_000 / DEGREE_M, abs=1e-6)

    def test_crossing_the_antimeridian(self) -> None:
        fiji = [179.999, -16.8]
        gq = query("near;maxDistance==1000", "Point", fiji)
        box = query_bbox(gq)
        assert box is not None and box[0] == -180.0 and box[2] == 180.0
        boxes = query_bboxes(gq)
        assert boxes is not None and len(boxes) == 2
        east, west = boxes
        assert east[0] < 179.999 and east[2] == 180.0
        assert west[0] == -180.0 and -180.0 < west[2] < -179.99
        across = (-179.9995, -16.8)
        assert any(inside(across, b) for b in boxes)

    def test_a_distance_covering_the_world_gives_no_box(self) -> None:
        assert query_bbox(query("near;maxDistance==20100000", "Point", ASTANA)) is None
        assert expand_bbox((*ASTANA, *ASTANA), 30_000_000) is None

    def test_near_a_line_grows_its_box(self) -> None:
        road = [list(ASTANA), [73.1094, 49.8047]]
        box = query_bbox(query("near;maxDistance==10000", "LineString", road))
        assert box is not None
        grow_lat = 10_000 / DEGREE_M
        assert box[1] == pytest.approx(49.8047 - grow_lat, abs=1e-8)
        assert box[3] == pytest.approx(51.1694 + grow_lat, abs=1e-8)
        # Longitude grows by the most it needs anywhere in the box: at 51.17 N.
        grow_lon = math.degrees(
            math.asin(math.sin(10_000 / EARTH_RADIUS_M) / math.cos(math.radians(51.1694)))
        )
        assert box[0] == pytest.approx(71.4491 - grow_lon, abs=1e-8)

    def test_intersection_helper(self) -> None:
        assert bboxes_intersect((0, 0, 1, 1), (1, 1, 2, 2))  # touching corners
        assert not bboxes_intersect((0, 0, 1, 1), (1.1, 0, 2, 1))
        assert bboxes_intersect(WORLD, (5, 5, 5, 5))


# --- property-based: the prefilter never loses a match ---------------------------------

LONGITUDES = st.one_of(
    st.floats(-180.0, 180.0),
    st.sampled_from([180.0, -180.0, 179.95, -179.95, 179.5, -179.5, 0.0]),
)
LATITUDES = st.one_of(
    st.floats(-90.0, 90.0),
    st.sampled_from([89.99, -89.99, 89.5, -89.5, 85.0, -85.0, 60.0, 51.1694, 0.0]),
)
GEOREL_TEXT = st.one_of(
    st.sampled_from(["within", "contains", "intersects", "equals", "overlaps", "disjoint"]),
    st.builds(
        lambda kind, metres: f"near;{kind}=={metres:.6g}",
        st.sampled_from(["maxDistance", "minDistance"]),
        st.floats(1.0, 2_000_000.0),
    ),
)


def _wrap(lon: float) -> float:
    return (lon + 180.0) % 360.0 - 180.0 if not -180.0 <= lon <= 180.0 else lon


def _clamp_lat(lat: float) -> float:
    return max(-90.0, min(90.0, lat))


@st.composite
def positions_near(draw: st.DrawFn, centre: tuple[float, float], spread: float) -> list[float]:
    """A position up to ``spread`` degrees from ``centre``, wrapped across the
    antimeridian (so it may land on the other side of it) and clamped at the poles."""
    dlon = draw(st.floats(-spread, spread))
    dlat = draw(st.floats(-spread, spread))
    return [_wrap(centre[0] + dlon), _clamp_lat(centre[1] + dlat)]


@st.composite
def geometries_near(
    draw: st.DrawFn, centre: tuple[float, float], spread: float, kinds: tuple[str, ...]
) -> Geometry:
    kind = draw(st.sampled_from(kinds))
    anchor = draw(positions_near(centre, spread))
    size = draw(st.floats(1e-4, max(1e-4, spread)))

    def near_anchor() -> list[float]:
        # Clamped, not wrapped: one geometry never straddles the antimeridian.
        return [
            max(-180.0, min(180.0, anchor[0] + draw(st.floats(-size, size)))),
            _clamp_lat(anchor[1] + draw(st.floats(-size, size))),
        ]

    if kind == "Point":
        value: dict[str, Any] = {"type": "Point", "coordinates": anchor}
    elif kind == "MultiPoint":
        value = {
            "type": "MultiPoint",
            "coordinates": [anchor] + [near_anchor() for _ in range(draw(st.integers(0, 3)))],
        }
    elif kind == "LineString":
        value = {
            "type": "LineString",
            "coordinates": [anchor] + [near_anchor() for _ in range(draw(st.integers(1, 3)))],
        }
    else:
        x0, y0 = anchor
        x1, y1 = near_anchor()
        assume(abs(x1 - x0) > 1e-9 and abs(y1 - y0) > 1e-9)
        if kind == "Polygon":
            ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
            value = {"type": "Polygon", "coordinates": [ring]}
        else:
            third = near_anchor()
            value = {
                "type": "MultiLineString",
                "coordinates": [[[x0, y0], [x1, y1]], [[x1, y0], third]],
            }
    try:
        return parse_geojson(value, repair=True)
    except InvalidGeometry:
        assume(False)
        raise


ALL_KINDS = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon")


def exact_match(gq: GeoQuery, target: Geometry) -> bool:
    """The matcher's verdict without its own bbox shortcut: for near;maxDistance the
    matcher rejects whatever lies outside query_bbox before measuring, which would make
    the safety property below hold trivially, so the distance is measured here."""
    if gq.georel == "near" and gq.max_distance is not None:
        return geometry_distance_m(gq.geometry, target) <= gq.max_distance
    return compile_geo_matcher(gq)(target)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[GeoQuery, Geometry]:
    centre = (draw(LONGITUDES), draw(LATITUDES))
    spread = draw(st.sampled_from([0.001, 0.05, 1.0, 10.0]))
    georel = draw(GEOREL_TEXT)
    kinds = ALL_KINDS[:-1] if georel.startswith("near") else ALL_KINDS
    reference = draw(geometries_near(centre, spread, kinds))
    if draw(st.booleans()):
        # Often make the entity the reference itself or a part of it, so that the
        # topological relations actually hold in a good share of the examples.
        target = (
            reference
            if draw(st.booleans())
            else parse_geojson({"type": "Point", "coordinates": list(reference.segments[0, :2])})
        )
    else:
        target = draw(geometries_near(centre, spread, ALL_KINDS))
    gq = parse_geoquery(
        georel, reference.type, json.dumps(reference.value["coordinates"]), None, repair=True
    )
    assert gq is not None
    return gq, target


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(scenarios())
def test_every_match_is_inside_the_prefilter(scenario: tuple[GeoQuery, Geometry]) -> None:
    gq, target = scenario
    if not exact_match(gq, target):
        return
    box = query_bbox(gq)
    boxes = query_bboxes(gq)
    if box is None:
        assert boxes is None
        assert gq.georel == "disjoint" or gq.min_distance is not None or gq.max_distance is not None
        return
    assert boxes is not None
    assert bboxes_intersect(target.bbox, box)
    assert any(bboxes_intersect(target.bbox, b) for b in boxes)


@st.composite
def near_points(draw: st.DrawFn) -> tuple[tuple[float, float], float, tuple[float, float]]:
    centre = (draw(LONGITUDES), draw(LATITUDES))
    radius = draw(st.floats(1.0, 3_000_000.0))
    target = destination(centre, draw(st.floats(0.0, 360.0)), radius * draw(st.floats(0.0, 1.5)))
    return centre, radius, target


@settings(max_examples=400, deadline=None)
@given(near_points())
def test_near_points_match_exactly_by_great_circle_distance(
    case: tuple[tuple[float, float], float, tuple[float, float]],
) -> None:
    centre, radius, target = case
    entity = {"type": "Point", "coordinates": list(target)}
    within = compile_geo_matcher(query(f"near;maxDistance=={radius!r}", "Point", list(centre)))
    beyond = compile_geo_matcher(query(f"near;minDistance=={radius!r}", "Point", list(centre)))
    distance = haversine_m(*centre, *target)
    assert within(entity) == (distance <= radius)
    if distance <= radius:  # measured independently of the matcher's box shortcut
        box = query_bbox(query(f"near;maxDistance=={radius!r}", "Point", list(centre)))
        assert box is None or inside(target, box)
    assert beyond(entity) == (distance >= radius)
    assert within(entity) or beyond(entity)  # the two modifiers complement each other
    if within(entity):
        boxes = query_bboxes(query(f"near;maxDistance=={radius!r}", "Point", list(centre)))
        assert boxes is None or any(inside(target, b) for b in boxes)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(scenarios())
def test_the_relations_are_consistent_with_each_other(scenario: tuple[GeoQuery, Geometry]) -> None:
    gq, target = scenario
    reference = gq.geometry

    def holds(georel: str) -> bool:
        return compile_geo_matcher(GeoQuery(georel, reference))(target)

    intersects = holds("intersects")
    assert holds("disjoint") == (not intersects)
    for implies_intersection in ("within", "contains", "equals", "overlaps"):
        if holds(implies_intersection):
            assert intersects
    if holds("equals"):
        assert holds("within") and holds("contains")
    if intersects:
        assert distance_m(reference.segments[0, :2], target) >= 0.0
        near = GeoQuery("near", reference, max_distance=1e-3)
        assert compile_geo_matcher(near)(target)


@st.composite
def near_boundary_scenarios(draw: st.DrawFn) -> tuple[GeoQuery, Geometry]:
    """An entity placed about maxDistance away from the reference, where the box edge
    is: any mistake in the box (poles, antimeridian, cos(lat)) shows up here."""
    centre = (draw(LONGITUDES), draw(LATITUDES))
    radius = draw(st.floats(10.0, 1_500_000.0))
    reference = draw(
        geometries_near(centre, radius / 400_000.0, ("Point", "LineString", "Polygon"))
    )
    anchor = reference.segments[0, :2]
    place = destination(
        (float(anchor[0]), float(anchor[1])),
        draw(st.floats(0.0, 360.0)),
        radius * draw(st.floats(0.9, 1.1)),
    )
    target = draw(geometries_near(place, radius / 2_000_000.0, ALL_KINDS))
    gq = GeoQuery("near", reference, max_distance=radius)
    return gq, target


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(near_boundary_scenarios())
def test_near_matches_at_the_edge_of_the_box_are_kept(scenario: tuple[GeoQuery, Geometry]) -> None:
    gq, target = scenario
    if exact_match(gq, target):
        assert compile_geo_matcher(gq)(target)
        boxes = query_bboxes(gq)
        box = query_bbox(gq)
        assert boxes is not None and box is not None
        assert bboxes_intersect(target.bbox, box)
        assert any(bboxes_intersect(target.bbox, b) for b in boxes)
