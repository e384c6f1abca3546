"""NGSI-LD geographic queries and GeoJSON handling (ETSI GS CIM 009 clauses 4.7.1, 4.10).

* :mod:`.geometry`: GeoJSON validation (:func:`parse_geojson`, :class:`Geometry`);
* :mod:`.query`: geo-query parsing (:func:`parse_geoquery`, :func:`geoquery_from_json`);
* :mod:`.predicates`: exact evaluation (:func:`compile_geo_matcher`);
* :mod:`.bbox`: spatial-index prefilter boxes (:func:`geometry_bbox`, :func:`query_bbox`);
* :mod:`.distance`: great-circle distances (:func:`distance_m`, :func:`haversine_m`).
"""

from .bbox import bboxes_intersect, geometry_bbox, query_bbox, query_bboxes
from .distance import EARTH_RADIUS_M, distance_m, geometry_distance_m, haversine_m
from .geometry import BBox, Geometry, InvalidGeometry, parse_geojson
from .predicates import (
    GeoMatcher,
    PointsMatcher,
    compile_geo_matcher,
    compile_geometry_predicate,
    compile_points_matcher,
)
from .query import GeoQuery, InvalidGeoQuery, geoquery_from_json, parse_geoquery

__all__ = [
    "EARTH_RADIUS_M",
    "BBox",
    "GeoMatcher",
    "GeoQuery",
    "Geometry",
    "InvalidGeoQuery",
    "InvalidGeometry",
    "PointsMatcher",
    "bboxes_intersect",
    "compile_geo_matcher",
    "compile_geometry_predicate",
    "compile_points_matcher",
    "distance_m",
    "geometry_bbox",
    "geometry_distance_m",
    "geoquery_from_json",
    "haversine_m",
    "parse_geojson",
    "parse_geoquery",
    "query_bbox",
    "query_bboxes",
]
