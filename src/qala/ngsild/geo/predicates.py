"""Exact evaluation of NGSI-LD geo-queries against entity geometries.

Clause 4.10 of ETSI GS CIM 009 states every relationship with the entity's geometry
(the *target* T) as the subject and the query geometry (the *reference* R) as the
object, with the meanings of the OGC Simple Features relations (DE-9IM):

===============  ====================================================================
``within``       T is within R: every point of T is in R and their interiors meet
                 (a point on R's boundary only is *not* within R)
``contains``     T contains R (R is within T)
``intersects``   T and R share at least one point
``disjoint``     T and R share no point
``equals``       T and R are the same point set (vertex order and duplicates aside)
``overlaps``     T and R have the same dimension, their interiors meet, and neither
                 contains the other
``near``         ``maxDistance==d``: the distance between T and R is at most d metres;
                 ``minDistance==d``: the distance is at least d metres
===============  ====================================================================

The topological relations are evaluated by GEOS in the longitude/latitude plane, as
RFC 7946 defines GeoJSON edges; R is prepared once per query.  Distances are
great-circle distances, see :mod:`qala.ngsild.geo.distance`.

About ``near``: the clause words it with the buffer of R, "within" the buffer for
maxDistance and "disjoint" with it for minDistance.  This module reads both as
conditions on the *shortest* distance between T and R, which is the same for Point
entities; for an extended entity it means "some part of T is within d" and "all of T is
at least d away".  That is also how the common brokers and databases evaluate it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import shapely
from shapely.errors import GEOSException

from .bbox import bboxes_intersect, query_bbox
from .distance import geometry_distance_m, point_distance_m
from .geometry import BBox, Geometry, InvalidGeometry, parse_geojson
from .query import GeoQuery

__all__ = [
    "GeoMatcher",
    "PointsMatcher",
    "compile_geo_matcher",
    "compile_geometry_predicate",
    "compile_points_matcher",
    "to_geometry",
]

#: Accepts a GeoJSON geometry (mapping or JSON text), a ``GeoProperty`` attribute
#: ``{"type": "GeoProperty", "value": {...}}`` or a :class:`Geometry`.
GeoMatcher = Callable[[Any], bool]
GeometryPredicate = Callable[[Geometry], bool]
#: Tests many points at once: longitudes, latitudes -> one verdict per point.
PointsMatcher = Callable[[Sequence[float], Sequence[float]], list[bool]]


def to_geometry(value: Any) -> Geometry | None:
    """The entity's geometry from a stored value, or ``None`` if it is unusable.

    Stored values were validated when written, so only the structure is checked here
    (no GEOS validity check).
    """
    if isinstance(value, Geometry):
        return value
    if isinstance(value, Mapping) and value.get("type") == "GeoProperty":
        value = value.get("value")
    if not isinstance(value, (Mapping, str, bytes)):
        return None
    try:
        return parse_geojson(value, validate=False)
    except InvalidGeometry:
        return None


def _inside(inner: BBox, outer: BBox) -> bool:
    return (
        outer[0] <= inner[0]
        and outer[1] <= inner[1]
        and inner[2] <= outer[2]
        and inner[3] <= outer[3]
    )


def _compile_near(geoquery: GeoQuery) -> GeometryPredicate:
    reference = geoquery.geometry
    gate = query_bbox(geoquery)
    if reference.type == "Point":
        lon, lat = reference.point

        def distance(target: Geometry) -> float:
            return point_distance_m(lon, lat, target)

    else:
        shapely.prepare(reference.shape)

        def distance(target: Geometry) -> float:
            if target.type == "Point":
                tlon, tlat = target.point
                return point_distance_m(tlon, tlat, reference)
            return geometry_distance_m(reference, target)

    if geoquery.max_distance is not None:
        limit = geoquery.max_distance

        def near_max(target: Geometry) -> bool:
            if gate is not None and not bboxes_intersect(target.bbox, gate):
                return False
            return distance(target) <= limit

        return near_max

    if geoquery.min_distance is None:  # pragma: no cover - GeoQuery guarantees one
        raise ValueError("a near geo-query needs maxDistance or minDistance")
    floor = geoquery.min_distance

    def near_min(target: Geometry) -> bool:
        return distance(target) >= floor

    return near_min


def compile_geometry_predicate(geoquery: GeoQuery) -> GeometryPredicate:
    """Like :func:`compile_geo_matcher`, for callers that already hold a
    :class:`Geometry` (no coercion, no error handling)."""
    if geoquery.georel == "near":
        return _compile_near(geoquery)

    reference = geoquery.geometry
    ref = reference.shape
    shapely.prepare(ref)
    rbox = reference.bbox
    ref_point = reference.point if reference.type == "Point" else None
    relation = geoquery.georel

    if relation == "within":

        def within(target: Geometry) -> bool:
            if not _inside(target.bbox, rbox):
                return False
            if target.type == "Point":
                x, y = target.point
                return bool(shapely.contains_xy(ref, x, y))
            return bool(shapely.contains(ref, target.shape))

        return within

    if relation == "contains":

        def contains(target: Geometry) -> bool:
            if not _inside(rbox, target.bbox):
                return False
            if target.type == "Point" and ref_point is not None:
                return target.point == ref_point
            # T contains R exactly when R is within T; R is the prepared one.
            return bool(shapely.within(ref, target.shape))

        return contains

    if relation in ("intersects", "disjoint"):

        def intersects(target: Geometry) -> bool:
            if not bboxes_intersect(target.bbox, rbox):
                return False
            if target.type == "Point":
                x, y = target.point
                return bool(shapely.intersects_xy(ref, x, y))
            return bool(shapely.intersects(ref, target.shape))

        if relation == "intersects":
            return intersects

        def disjoint(target: Geometry) -> bool:
            return not intersects(target)

        return disjoint

    if relation == "equals":

        def equals(target: Geometry) -> bool:
            if target.bbox != rbox:
                return False
            if target.type == "Point" and ref_point is not None:
                return target.point == ref_point
            return bool(shapely.equals(ref, target.shape))

        return equals

    if relation == "overlaps":

        def overlaps(target: Geometry) -> bool:
            if target.type == "Point" or not bboxes_intersect(target.bbox, rbox):
                return False
            return bool(shapely.overlaps(ref, target.shape))

        return overlaps

    raise ValueError(f"unknown georel {relation!r}")  # pragma: no cover


def compile_geo_matcher(geoquery: GeoQuery) -> GeoMatcher:
    """A function telling whether an entity's GeoProperty value matches ``geoquery``.

    The function takes the GeoJSON geometry (a mapping or its JSON text), the whole
    ``GeoProperty`` attribute, or a :class:`Geometry`.  A missing or malformed value
    does not match (clause 4.10: entities without the target GeoProperty are
    non-matching); it never raises for bad data.
    """
    predicate = compile_geometry_predicate(geoquery)

    def match(value: Any) -> bool:
        target = to_geometry(value)
        if target is None:
            return False
        try:
            return predicate(target)
        except (GEOSException, ValueError):
            return False

    return match


def compile_points_matcher(geoquery: GeoQuery) -> PointsMatcher | None:
    """For ``within``, ``intersects`` and ``disjoint``: the test of many points at once, in one
    vectorised GEOS call — the verdicts :func:`compile_geo_matcher` gives each of them as a
    ``Point`` (a point is within R when R contains it, boundary excluded; it intersects R when
    it lies in R or on its boundary). ``None`` for the other relations. A store deciding a
    geo-query from its spatial index (where a point's box is the point) tests every candidate
    point with one call instead of one geometry each."""
    relation = geoquery.georel
    if relation not in ("within", "intersects", "disjoint"):
        return None
    ref = geoquery.geometry.shape
    shapely.prepare(ref)
    test = shapely.contains_xy if relation == "within" else shapely.intersects_xy

    def match(xs: Sequence[float], ys: Sequence[float]) -> list[bool]:
        if not xs:
            return []
        found = test(ref, np.asarray(xs, dtype=float), np.asarray(ys, dtype=float))
        verdicts: list[bool] = (~found if relation == "disjoint" else found).tolist()
        return verdicts

    return match
