"""Bounding boxes for a spatial-index prefilter of geo-queries.

Store :func:`geometry_bbox` of each entity's GeoProperty in a spatial index (an SQLite
R*Tree, a PostgreSQL ``box`` with a GiST index, ...).  For a query, fetch the rows whose
box intersects :func:`query_bbox` (or any box of :func:`query_bboxes`) and run the exact
matcher of :mod:`qala.ngsild.geo.predicates` on those rows only.

The prefilter is *safe*: whenever the exact matcher accepts a geometry, that geometry's
bounding box intersects the query box.  Why, per relationship (T is the entity's
geometry, R the reference geometry):

* ``within`` (T inside R), ``equals`` (T = R), ``intersects`` and ``overlaps`` (T and R
  share a point), ``contains`` (R inside T): in every case T and R share a point, and
  that point is in both boxes, so bbox(T) meets bbox(R).  All relations are planar in
  longitude/latitude (RFC 7946), exactly as the boxes are.
* ``near;maxDistance==d``: the matcher accepts T only when the great-circle distance
  between a point of T and a point of R is at most d (it always measures between actual
  points, see :mod:`qala.ngsild.geo.distance`).  The query box is bbox(R) grown by d on
  the same sphere: d/R radians of latitude, and of longitude the half-width of a
  spherical cap, ``asin(sin(d/R) / cos(lat))`` at the box's highest ``|lat|``.  If the
  grown box reaches a pole it spans all longitudes; if it crosses the antimeridian it
  spans all longitudes too (:func:`query_bboxes` splits it in two instead).
* ``disjoint`` and ``near;minDistance`` match what lies *away* from R: there is no
  useful box, and both functions return ``None`` (scan everything).

Boxes are ``(min_lon, min_lat, max_lon, max_lat)`` in degrees.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from .distance import EARTH_RADIUS_M
from .geometry import BBox, Geometry, parse_geojson
from .query import GeoQuery

__all__ = [
    "WORLD",
    "bboxes_intersect",
    "expand_bbox",
    "geometry_bbox",
    "query_bbox",
    "query_bboxes",
]

WORLD: Final[BBox] = (-180.0, -90.0, 180.0, 90.0)

# Relative and absolute (degrees, ~0.1 mm) margins that absorb rounding in the
# trigonometry; they only ever make a box larger.
_REL_MARGIN: Final = 1e-9
_ABS_MARGIN: Final = 1e-9


def geometry_bbox(geojson: Mapping[str, Any] | Geometry | str) -> BBox:
    """``(min_lon, min_lat, max_lon, max_lat)`` of a GeoJSON geometry.

    A geometry given as a mapping or JSON text is fully validated first; pass a
    :class:`Geometry` to skip that.  Raises
    :class:`~qala.ngsild.geo.geometry.InvalidGeometry` for an invalid geometry.
    """
    return parse_geojson(geojson).bbox


def bboxes_intersect(a: BBox, b: BBox) -> bool:
    """Whether two boxes share at least one point (touching counts)."""
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def _expand_parts(box: BBox, distance_m: float) -> tuple[float, float, float, float] | None:
    """``box`` grown by ``distance_m`` on the sphere, before any wrapping; longitudes
    may leave [-180, 180].  ``None`` when it covers the whole world."""
    delta = distance_m / EARTH_RADIUS_M * (1.0 + _REL_MARGIN)
    if delta >= math.pi:
        return None
    delta_deg = math.degrees(delta) + _ABS_MARGIN
    south = box[1] - delta_deg
    north = box[3] + delta_deg
    if south <= -90.0 or north >= 90.0:
        # A pole is within reach: every longitude is.
        if south <= -90.0 and north >= 90.0:
            return None
        return (-180.0, max(south, -90.0), 180.0, min(north, 90.0))
    widest = math.radians(max(abs(box[1]), abs(box[3])))
    ratio = math.sin(delta) / math.cos(widest)
    if ratio >= 1.0:
        return (-180.0, south, 180.0, north)
    dlon = math.degrees(math.asin(ratio)) * (1.0 + _REL_MARGIN) + _ABS_MARGIN
    west = box[0] - dlon
    east = box[2] + dlon
    if east - west >= 360.0:
        return (-180.0, south, 180.0, north)
    return (west, south, east, north)


def expand_bbox(box: BBox, distance_m: float) -> BBox | None:
    """A box holding every point within ``distance_m`` metres (great-circle, on the
    sphere of :mod:`qala.ngsild.geo.distance`) of some point of ``box``.

    Spans all longitudes when it reaches a pole or crosses the antimeridian; ``None``
    when it would be the whole world.
    """
    parts = _expand_parts(box, distance_m)
    if parts is None:
        return None
    west, south, east, north = parts
    if west < -180.0 or east > 180.0:
        return (-180.0, south, 180.0, north)
    return parts


def _query_parts(geoquery: GeoQuery) -> tuple[float, float, float, float] | None:
    if geoquery.georel == "disjoint":
        return None
    if geoquery.georel == "near":
        if geoquery.max_distance is None:
            return None  # minDistance alone: what matches is away from the reference
        return _expand_parts(geoquery.geometry.bbox, geoquery.max_distance)
    return geoquery.geometry.bbox


def query_bbox(geoquery: GeoQuery) -> BBox | None:
    """One box that every matching entity's bbox intersects, or ``None`` when there is
    no useful one (``disjoint``, ``near;minDistance``, or a distance covering the world).
    """
    parts = _query_parts(geoquery)
    if parts is None:
        return None
    west, south, east, north = parts
    if west < -180.0 or east > 180.0:
        return (-180.0, south, 180.0, north)
    return parts


def query_bboxes(geoquery: GeoQuery) -> list[BBox] | None:
    """Like :func:`query_bbox`, but a box crossing the antimeridian comes back as two
    boxes (one each side) instead of one spanning all longitudes.  Match rows whose
    bbox intersects any of them."""
    parts = _query_parts(geoquery)
    if parts is None:
        return None
    west, south, east, north = parts
    if west < -180.0:
        return [(west + 360.0, south, 180.0, north), (-180.0, south, east, north)]
    if east > 180.0:
        return [(west, south, 180.0, north), (-180.0, south, east - 360.0, north)]
    return [parts]
