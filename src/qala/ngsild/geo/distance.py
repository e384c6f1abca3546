"""Distances in metres between geometries on the Earth.

Model
-----
The Earth is a sphere of radius :data:`EARTH_RADIUS_M` (the IUGG mean radius R1 of the
WGS 84 ellipsoid).  Against geodesics on the WGS 84 ellipsoid, spherical great-circle
distances are off by at most about 0.5 % (typically 0.1-0.3 % at mid latitudes), so a
500 m radius is honoured to within about +-2.5 m.  Every distance below, and the
``near`` bounding boxes of :mod:`qala.ngsild.geo.bbox`, use this same sphere, which is
what keeps the two consistent.

Edges are straight in the longitude/latitude plane, as RFC 7946 section 3.1.1 defines
them (not great-circle arcs).  The difference matters only for long edges: a 10 km edge
along a parallel at 51 degrees N bulges about 2.4 m from the great circle through its
ends, a 100 km edge about 240 m.

Method
------
* Point to Point (and MultiPoint): haversine, exact on the sphere.
* Point to anything else: 0 if the point lies in or on the geometry (planar lon/lat
  test); otherwise every edge is measured in a local equirectangular frame around the
  point (``x = dlon * cos(lat)``, ``y = dlat``), the few edges that can hold the minimum
  (allowing for the distortion of that frame) are kept, and along each the great-circle
  distance to the point is minimised by golden-section search.  The result is the
  great-circle distance from the point to an actual point of the geometry; against
  dense brute-force sampling it agrees to 1e-11 relative (micrometres) at any latitude
  and up to 1000 km.  The search assumes the distance along one edge has a single
  minimum, which holds for any edge shorter than a few thousand kilometres; beyond
  that the answer is still the distance to an actual point, only maybe not the nearest.
* Two extended geometries (only needed for ``near`` with a non-Point reference): 0 if
  they intersect; otherwise the shortest distance between polylines is reached at a
  vertex of one of them, so the vertices that GEOS, measuring in an equirectangular
  frame centred between the two, finds possibly closest are each measured exactly as
  above (the GEOS nearest pair, polished, is one more candidate).

Every non-zero answer is the true great-circle distance between an actual point of each
geometry, so it never underestimates the minimum; that is what makes the bounding-box
prefilter provably safe.  Candidate copies of the second geometry shifted by +-360
degrees are tried, so distances across the antimeridian are right.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

import numpy as np
import shapely

from .geometry import BBox, Geometry, Position, parse_geojson

__all__ = [
    "EARTH_RADIUS_M",
    "distance_m",
    "geometry_distance_m",
    "haversine_m",
    "point_distance_m",
]

#: Mean Earth radius R1 = (2a + b) / 3 of WGS 84, in metres.
EARTH_RADIUS_M: Final = 6_371_008.8

# cos(lat) is clamped to this near the poles so that frames stay invertible.
_MIN_COS: Final = 1e-3
# Golden-section iterations along one edge: 0.618**48 ~ 1e-10 of the edge length.
_GOLDEN_STEPS: Final = 48
_INV_PHI: Final = (math.sqrt(5.0) - 1.0) / 2.0
_LOG_INV_PHI: Final = math.log(_INV_PHI)
# At most this many edges are searched exactly for one point.
_MAX_CANDIDATES: Final = 16
# Geometries with at most this many edges are measured in plain Python, not numpy.
_SMALL: Final = 24


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres between two (lon, lat) points in degrees."""
    phi1 = math.radians(lat1)
    phi2 = math.radians(lat2)
    sin_dphi = math.sin((phi2 - phi1) * 0.5)
    sin_dlmb = math.sin(math.radians(lon2 - lon1) * 0.5)
    a = sin_dphi * sin_dphi + math.cos(phi1) * math.cos(phi2) * sin_dlmb * sin_dlmb
    return 2.0 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def _lon_shifts(a: BBox, b: BBox) -> Iterator[float]:
    """Shifts of ``b`` (0, +360, -360 degrees) that may hold the closest pair.

    The closest pair is at a wrapped longitude difference of at most 180 degrees, so a
    shifted copy is worth trying only if it brings the longitude ranges that close.
    """
    yield 0.0
    for shift in (360.0, -360.0):
        gap = max(b[0] + shift - a[2], a[0] - (b[2] + shift))
        if gap <= 180.0:
            yield shift


def _golden(
    lon: float, lat: float, seg: np.ndarray, t0: float, estimate_m: float
) -> tuple[float, Position]:
    """Minimum great-circle distance from (lon, lat) to the lon/lat-straight edge
    ``seg``; ``t0`` is the frame's guess of the parameter of the closest point and
    ``estimate_m`` the frame's guess of the distance.

    Golden-section search, first in a narrow bracket around ``t0`` (the frame is good
    to far better than that); if the minimum lands on the edge of that bracket, the
    search is redone over the whole edge.
    """
    x1, y1, x2, y2 = (float(v) for v in seg)
    dx = x2 - x1
    dy = y2 - y1
    phi1 = math.radians(lat)
    cos1 = math.cos(phi1)
    twice_r = 2.0 * EARTH_RADIUS_M
    radians = math.radians
    sin = math.sin

    def at(t: float) -> float:
        phi2 = radians(y1 + t * dy)
        s_phi = sin((phi2 - phi1) * 0.5)
        s_lmb = sin(radians(x1 + t * dx - lon) * 0.5)
        a = s_phi * s_phi + cos1 * math.cos(phi2) * s_lmb * s_lmb
        return twice_r * math.asin(min(1.0, math.sqrt(a)))

    best_t = min((0.0, 1.0, t0), key=at)
    best = at(best_t)
    if dx == 0.0 and dy == 0.0:
        return best, (x1, y1)
    # Pin the closest point along the edge to 1e-5 of the distance (at least 0.1 mm):
    # the error in the distance is second order, below 1e-10 of it.
    length = max(haversine_m(x1, y1, x2, y2), 1e-3)
    tolerance = max(1e-4, 1e-5 * estimate_m)

    def search(lo: float, hi: float) -> tuple[float, float]:
        span_m = (hi - lo) * length
        steps = _GOLDEN_STEPS
        if span_m < 1e6:
            needed = math.log(tolerance / max(span_m, tolerance)) / _LOG_INV_PHI
            steps = min(steps, max(4, math.ceil(needed)))
        c = hi - _INV_PHI * (hi - lo)
        d = lo + _INV_PHI * (hi - lo)
        fc = at(c)
        fd = at(d)
        for _ in range(steps):
            if fc < fd:
                hi, d, fd = d, c, fc
                c = hi - _INV_PHI * (hi - lo)
                fc = at(c)
            else:
                lo, c, fc = c, d, fd
                d = lo + _INV_PHI * (hi - lo)
                fd = at(d)
        return (c, fc) if fc < fd else (d, fd)

    width = 1e-2
    lo, hi = max(0.0, t0 - width), min(1.0, t0 + width)
    t, value = search(lo, hi)
    # For a unimodal function the minimum is inside the bracket exactly when the value
    # found is below the value at both ends; otherwise search the whole edge.
    if (lo > 0.0 and at(lo) <= value) or (hi < 1.0 and at(hi) <= value):
        t, value = search(0.0, 1.0)
    if value < best:
        best, best_t = value, t
    return best, (x1 + best_t * dx, y1 + best_t * dy)


def _frame_edges(
    lon: float, lat: float, segs: np.ndarray, shift: float
) -> tuple[list[float], list[float]]:
    """Distance (frame degrees) from (lon, lat) to each edge in the equirectangular frame
    at the point, and the parameter of the nearest point on each edge."""
    scale = max(math.cos(math.radians(lat)), _MIN_COS)
    if len(segs) <= _SMALL:
        frame: list[float] = []
        params: list[float] = []
        offset = shift - lon
        for ax, ay, bx, by in segs.tolist():
            x1 = (ax + offset) * scale
            y1 = ay - lat
            dx = (bx + offset) * scale - x1
            dy = by - lat - y1
            length2 = dx * dx + dy * dy
            t = 0.0 if length2 <= 0.0 else min(1.0, max(0.0, -(x1 * dx + y1 * dy) / length2))
            frame.append(math.hypot(x1 + t * dx, y1 + t * dy))
            params.append(t)
        return frame, params
    x1a = (segs[:, 0] + (shift - lon)) * scale
    y1a = segs[:, 1] - lat
    dxa = (segs[:, 2] + (shift - lon)) * scale - x1a
    dya = segs[:, 3] - lat - y1a
    length2a = dxa * dxa + dya * dya
    safe = np.where(length2a > 0.0, length2a, 1.0)
    ta = np.clip(np.where(length2a > 0.0, -(x1a * dxa + y1a * dya) / safe, 0.0), 0.0, 1.0)
    framea = np.hypot(x1a + ta * dxa, y1a + ta * dya)
    return framea.tolist(), ta.tolist()


def _closest_on(lon: float, lat: float, target: Geometry, shift: float) -> tuple[float, Position]:
    """Great-circle distance from (lon, lat) to the edges of ``target`` shifted by
    ``shift`` degrees of longitude, and the point of ``target`` (unshifted) reached."""
    segs = target.segments
    frame, params = _frame_edges(lon, lat, segs, shift)
    nearest = min(frame)
    # How far the frame may misjudge distances this far out: the x scale drifts by
    # about tan(lat) * dlat radians across the span.
    span = min(nearest, 90.0)
    drift = math.tan(math.radians(min(89.0, abs(lat) + span))) * math.radians(span)
    slack = min(1.0, 2.0 * drift)
    limit = nearest * (1.0 + 3.0 * slack) + 1e-12
    candidates = sorted((f, i) for i, f in enumerate(frame) if f <= limit)[:_MAX_CANDIDATES]
    # Frame distances in metres, discounted by the slack: a lower bound for each edge
    # as far as the frame can be trusted, used to skip edges that cannot do better.
    to_m = math.pi / 180.0 * EARTH_RADIUS_M
    discount = (1.0 - slack) * 0.5
    best = math.inf
    point: Position = (float(segs[0, 0]), float(segs[0, 1]))
    for f, i in candidates:
        if f * to_m * discount > best:
            break
        dist, reached = _golden(lon, lat, segs[i], params[i], f * to_m)
        if dist < best:
            best, point = dist, reached
    return best, point


def point_distance_m(lon: float, lat: float, target: Geometry) -> float:
    """Distance in metres from (lon, lat) to ``target`` (0 if in or on it)."""
    if target.type == "Point":
        tlon, tlat = target.point
        return haversine_m(lon, lat, tlon, tlat)
    if target.type == "MultiPoint":
        return min(haversine_m(lon, lat, x, y) for x, y in target.coords)
    best = math.inf
    for shift in _lon_shifts((lon, lat, lon, lat), target.bbox):
        if shapely.intersects_xy(target.shape, lon - shift, lat):
            return 0.0
        best = min(best, _closest_on(lon, lat, target, shift)[0])
    return best


def _vertices(geometry: Geometry) -> np.ndarray:
    """Every vertex as an ``(n, 2)`` array (edge starts plus the last edge's end)."""
    segs = geometry.segments
    return np.vstack([segs[:, :2], segs[-1:, 2:]])


def _extended_distance(a: Geometry, b: Geometry, shift: float) -> float:
    """Distance between two non-point geometries, ``b`` shifted by ``shift`` degrees.

    Between two polylines that do not meet, the shortest distance is reached at a vertex
    of one of them.  GEOS measures every vertex against the other geometry in an
    equirectangular frame centred between the two; the vertices that may be closest are
    then measured exactly with :func:`_closest_on`.  The GEOS nearest pair itself,
    improved by re-solving each side against the other, is a further candidate (for
    edges that are nearest somewhere in their middles).
    """
    moved = shapely.transform(b.shape, lambda xy: xy + np.array([shift, 0.0]))
    if shapely.intersects(a.shape, moved):
        return 0.0
    (xa, ya), (xb, yb) = shapely.shortest_line(a.shape, moved).coords
    lon0 = (xa + xb) * 0.5
    lat0 = (ya + yb) * 0.5
    scale = max(math.cos(math.radians(lat0)), _MIN_COS)
    origin = np.array([lon0, lat0])
    factor = np.array([scale, 1.0])
    fa = shapely.transform(a.shape, lambda xy: (xy - origin) * factor)
    fb = shapely.transform(moved, lambda xy: (xy - origin) * factor)
    shapely.prepare(fa)
    shapely.prepare(fb)

    verts_a = _vertices(a)
    verts_b = _vertices(b) + np.array([shift, 0.0])
    dist_a = shapely.distance(shapely.points((verts_a - origin) * factor), fb)
    dist_b = shapely.distance(shapely.points((verts_b - origin) * factor), fa)
    nearest = float(min(dist_a.min(), dist_b.min()))
    span = min(nearest, 90.0)
    drift = math.tan(math.radians(min(89.0, abs(lat0) + span))) * math.radians(span)
    limit = nearest * (1.0 + 3.0 * min(1.0, 2.0 * drift)) + 1e-12

    best = math.inf
    for dists, verts, other, other_shift in (
        (dist_a, verts_a, b, shift),
        (dist_b, verts_b - np.array([shift, 0.0]), a, -shift),
    ):
        chosen = np.flatnonzero(dists <= limit)
        if len(chosen) > _MAX_CANDIDATES:
            chosen = chosen[np.argsort(dists[chosen], kind="stable")[:_MAX_CANDIDATES]]
        for i in chosen:
            lon, lat = float(verts[i, 0]), float(verts[i, 1])
            best = min(best, _closest_on(lon, lat, other, other_shift)[0])

    # The GEOS pair in the frame, mapped back and polished.
    (xa, ya), (xb, yb) = shapely.shortest_line(fa, fb).coords
    pa = (xa / scale + lon0, min(90.0, max(-90.0, ya + lat0)))
    pb = (xb / scale + lon0 - shift, min(90.0, max(-90.0, yb + lat0)))
    best = min(best, haversine_m(pa[0], pa[1], pb[0], pb[1]))
    for _ in range(2):
        d_b, pb = _closest_on(pa[0], pa[1], b, shift)
        d_a, pa = _closest_on(pb[0], pb[1], a, -shift)
        best = min(best, d_b, d_a)
    return best


def geometry_distance_m(a: Geometry, b: Geometry) -> float:
    """Minimum distance in metres between two geometries (0 when they intersect)."""
    if a.type in ("Point", "MultiPoint"):
        points: Sequence[Position] = [a.point] if a.type == "Point" else a.coords
        return min(point_distance_m(lon, lat, b) for lon, lat in points)
    if b.type in ("Point", "MultiPoint"):
        return geometry_distance_m(b, a)
    return min(_extended_distance(a, b, shift) for shift in _lon_shifts(a.bbox, b.bbox))


def distance_m(
    point_lonlat: Sequence[float], geometry: Mapping[str, Any] | Geometry | str
) -> float:
    """Distance in metres from ``(lon, lat)`` to a GeoJSON geometry (0 if in or on it).

    Useful to sort the results of a ``near`` query.  The geometry may be a GeoJSON
    mapping, its JSON text or a :class:`Geometry`; a malformed one raises
    :class:`~qala.ngsild.geo.geometry.InvalidGeometry`.
    """
    target = parse_geojson(geometry, validate=False)
    return point_distance_m(float(point_lonlat[0]), float(point_lonlat[1]), target)
