"""GeoJSON geometries as NGSI-LD GeoProperty values.

ETSI GS CIM 009 clause 4.7.1 makes the value of a GeoProperty a GeoJSON geometry
(IETF RFC 7946 section 3.1).  :func:`parse_geojson` checks such a value and wraps it in a
:class:`Geometry`, which knows its bounding box and builds its shapely counterpart only
when something asks for it.

Conventions, all from RFC 7946:

* a position is ``[longitude, latitude]`` or ``[longitude, latitude, altitude]``
  (WGS 84 degrees); longitude must be in [-180, 180] and latitude in [-90, 90];
* a LineString has two or more positions, a linear ring four or more, with the first
  and the last identical;
* ring orientation (the right-hand rule) is recommended but not required, so either
  winding is accepted;
* lines between positions are straight in the (longitude, latitude) plane; geometries
  that cross the antimeridian are expected to be split there (RFC 7946 section 3.1.9).

Everything beyond structure (self-intersecting rings, holes outside their shell,
overlapping parts of a MultiPolygon, collapsed lines) is checked with GEOS through
shapely.  Points and MultiPoints have nothing of that kind to check, so they are
validated in pure Python and no shapely object is created for them unless asked for.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

__all__ = [
    "GEOMETRY_TYPES",
    "BBox",
    "Geometry",
    "InvalidGeometry",
    "Position",
    "parse_geojson",
]

#: A 2D position, ``(longitude, latitude)`` in degrees.
Position = tuple[float, float]
#: ``(min_lon, min_lat, max_lon, max_lat)`` in degrees.
BBox = tuple[float, float, float, float]

GEOMETRY_TYPES: Final = (
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
)
_LOWER_TYPES: Final = {name.lower(): name for name in GEOMETRY_TYPES}


class InvalidGeometry(ValueError):
    """A value is not a valid GeoJSON geometry for a GeoProperty (a 400 BadRequestData)."""


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {shown!r}"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple)):
        return f"an array of {len(value)}"
    return type(value).__name__


def _fmt(number: float) -> str:
    return str(int(number)) if number.is_integer() and abs(number) < 1e15 else repr(number)


class _Reader:
    """Walks the coordinates of one geometry, checking them and tracking the bbox."""

    __slots__ = ("check_ranges", "max_lat", "max_lon", "min_lat", "min_lon")

    def __init__(self, check_ranges: bool = True) -> None:
        self.check_ranges = check_ranges
        self.min_lon = math.inf
        self.min_lat = math.inf
        self.max_lon = -math.inf
        self.max_lat = -math.inf

    def position(self, value: Any, where: str) -> tuple[Position, tuple[float, ...]]:
        """Return the 2D position and the full numeric position (with altitude)."""
        if not isinstance(value, (list, tuple)):
            raise InvalidGeometry(
                f"{where}: a position must be an array [longitude, latitude], "
                f"got {_describe(value)}"
            )
        if len(value) not in (2, 3):
            raise InvalidGeometry(
                f"{where}: a position must have 2 numbers (longitude, latitude) or 3 "
                f"(with altitude), got {len(value)} element(s)"
            )
        numbers: list[float] = []
        for i, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, (int, float)):
                raise InvalidGeometry(f"{where}[{i}]: expected a number, got {_describe(item)}")
            try:
                number = float(item)
            except OverflowError:
                raise InvalidGeometry(f"{where}[{i}]: number out of range") from None
            if not math.isfinite(number):
                raise InvalidGeometry(f"{where}[{i}]: expected a finite number, got {item!r}")
            numbers.append(number)
        lon, lat = numbers[0], numbers[1]
        if self.check_ranges:
            if not -180.0 <= lon <= 180.0:
                raise InvalidGeometry(
                    f"{where}: longitude {_fmt(lon)} is outside [-180, 180] "
                    "(positions are [longitude, latitude])"
                )
            if not -90.0 <= lat <= 90.0:
                hint = (
                    " (positions are [longitude, latitude]; were they swapped?)"
                    if -90.0 <= lon <= 90.0 and -180.0 <= lat <= 180.0
                    else ""
                )
                raise InvalidGeometry(f"{where}: latitude {_fmt(lat)} is outside [-90, 90]{hint}")
        if lon < self.min_lon:
            self.min_lon = lon
        if lon > self.max_lon:
            self.max_lon = lon
        if lat < self.min_lat:
            self.min_lat = lat
        if lat > self.max_lat:
            self.max_lat = lat
        return (lon, lat), tuple(numbers)

    def array(self, value: Any, where: str, what: str) -> Sequence[Any]:
        if not isinstance(value, (list, tuple)):
            raise InvalidGeometry(f"{where}: expected an array of {what}, got {_describe(value)}")
        return value

    def positions(self, value: Any, where: str, minimum: int, what: str) -> list[Position]:
        items = self.array(value, where, "positions")
        if len(items) < minimum:
            raise InvalidGeometry(
                f"{where}: {what} needs at least {minimum} positions, got {len(items)}"
            )
        return [self.position(item, f"{where}[{i}]")[0] for i, item in enumerate(items)]

    def ring(self, value: Any, where: str) -> list[Position]:
        items = self.array(value, where, "positions")
        if len(items) < 4:
            raise InvalidGeometry(
                f"{where}: a linear ring needs at least 4 positions "
                f"(a closed triangle or more), got {len(items)}"
            )
        ring: list[Position] = []
        first_full: tuple[float, ...] = ()
        last_full: tuple[float, ...] = ()
        for i, item in enumerate(items):
            xy, full = self.position(item, f"{where}[{i}]")
            ring.append(xy)
            if i == 0:
                first_full = full
            last_full = full
        if first_full != last_full:
            raise InvalidGeometry(
                f"{where}: a linear ring must be closed (its last position must repeat the "
                f"first): first is {list(first_full)}, last is {list(last_full)}"
            )
        return ring

    def polygon(self, value: Any, where: str) -> list[list[Position]]:
        rings = self.array(value, where, "linear rings")
        if not rings:
            raise InvalidGeometry(f"{where}: a Polygon needs at least its exterior ring")
        return [self.ring(ring, f"{where}[{i}]") for i, ring in enumerate(rings)]

    def bbox(self) -> BBox:
        return (self.min_lon, self.min_lat, self.max_lon, self.max_lat)


class Geometry:
    """A checked GeoJSON geometry.

    ``coords`` holds the 2D coordinates (altitudes dropped, since every relation and
    distance here is 2D) as nested lists of ``(lon, lat)`` tuples following the GeoJSON
    nesting of ``type``; for a GeometryCollection it is ``None`` and ``geometries``
    holds the members.  ``value`` is the GeoJSON object as given.
    """

    __slots__ = ("_segments", "_shape", "bbox", "coords", "geometries", "type", "value")

    type: str
    coords: Any
    geometries: tuple[Geometry, ...]
    bbox: BBox
    value: Mapping[str, Any]

    def __init__(
        self,
        type_: str,
        coords: Any,
        bbox: BBox,
        value: Mapping[str, Any],
        geometries: tuple[Geometry, ...] = (),
        shape: BaseGeometry | None = None,
    ) -> None:
        self.type = type_
        self.coords = coords
        self.bbox = bbox
        self.value = value
        self.geometries = geometries
        self._shape = shape
        self._segments: Any = None

    @property
    def is_point(self) -> bool:
        return self.type == "Point"

    @property
    def point(self) -> Position:
        """``(lon, lat)`` of a Point; ``ValueError`` for any other type."""
        if self.type != "Point":
            raise ValueError(f"a {self.type} is not a Point")
        coords: Position = self.coords
        return coords

    @property
    def shape(self) -> BaseGeometry:
        """The shapely geometry (2D, lon/lat plane), built on first use."""
        if self._shape is None:
            self._shape = _build_shape(self)
        return self._shape

    @property
    def segments(self) -> np.ndarray:
        """All edges as an ``(n, 4)`` array of ``lon1, lat1, lon2, lat2`` (degrees).

        Points count as zero-length edges; polygon edges are those of every ring.
        """
        if self._segments is None:
            parts: list[np.ndarray] = []
            _collect_segments(self, parts)
            self._segments = np.vstack(parts)
        segments: np.ndarray = self._segments
        return segments

    def to_geojson(self) -> dict[str, Any]:
        """The GeoJSON object as given (altitudes and foreign members kept)."""
        return dict(self.value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Geometry):
            return NotImplemented
        return (
            self.type == other.type
            and self.coords == other.coords
            and self.geometries == other.geometries
        )

    def __hash__(self) -> int:
        return hash((self.type, self.bbox))

    def __repr__(self) -> str:
        return f"Geometry({self.type}, bbox={self.bbox})"


def _line_segments(coords: Sequence[Position]) -> np.ndarray:
    points = np.asarray(coords, dtype=float).reshape(-1, 2)
    if len(points) == 1:
        return np.hstack([points, points])
    return np.hstack([points[:-1], points[1:]])


def _collect_segments(geometry: Geometry, parts: list[np.ndarray]) -> None:
    kind = geometry.type
    coords = geometry.coords
    if kind == "Point":
        parts.append(_line_segments([coords]))
    elif kind == "MultiPoint":
        points = np.asarray(coords, dtype=float).reshape(-1, 2)
        parts.append(np.hstack([points, points]))
    elif kind == "LineString":
        parts.append(_line_segments(coords))
    elif kind in ("MultiLineString", "Polygon"):
        parts.extend(_line_segments(line) for line in coords)
    elif kind == "MultiPolygon":
        parts.extend(_line_segments(ring) for rings in coords for ring in rings)
    else:
        for member in geometry.geometries:
            _collect_segments(member, parts)


def _build_shape(geometry: Geometry) -> BaseGeometry:
    kind = geometry.type
    coords = geometry.coords
    if kind == "Point":
        return shapely.Point(coords)
    if kind == "MultiPoint":
        return shapely.MultiPoint(coords)
    if kind == "LineString":
        return shapely.LineString(coords)
    if kind == "MultiLineString":
        return shapely.MultiLineString(coords)
    if kind == "Polygon":
        return shapely.Polygon(coords[0], coords[1:])
    if kind == "MultiPolygon":
        return shapely.MultiPolygon([(rings[0], rings[1:]) for rings in coords])
    return shapely.GeometryCollection([member.shape for member in geometry.geometries])


def _read(
    value: Any,
    *,
    allowed: tuple[str, ...],
    validate: bool,
    repair: bool,
    where: str,
    depth: int = 0,
) -> Geometry:
    if not isinstance(value, Mapping):
        raise InvalidGeometry(
            f"{where}: a GeoJSON geometry must be an object with 'type' and 'coordinates', "
            f"got {_describe(value)}"
        )
    kind = value.get("type")
    if not isinstance(kind, str):
        raise InvalidGeometry(
            f"{where}: a GeoJSON geometry needs a string 'type' "
            f"(one of {', '.join(allowed)}), got {_describe(kind)}"
        )
    if kind not in allowed:
        proper = _LOWER_TYPES.get(kind.lower())
        if proper is not None and proper in allowed:
            raise InvalidGeometry(
                f"{where}: unknown geometry type {kind!r}; GeoJSON type names are "
                f"case-sensitive, did you mean {proper!r}?"
            )
        if kind in GEOMETRY_TYPES:
            raise InvalidGeometry(f"{where}: geometry type {kind!r} is not allowed here")
        raise InvalidGeometry(
            f"{where}: unsupported geometry type {kind!r}; expected one of {', '.join(allowed)}"
        )
    reader = _Reader(check_ranges=True)

    if kind == "GeometryCollection":
        if depth > 0:
            raise InvalidGeometry(f"{where}: nested GeometryCollections are not supported")
        members_raw = value.get("geometries")
        if not isinstance(members_raw, (list, tuple)):
            raise InvalidGeometry(
                f"{where}: a GeometryCollection needs a 'geometries' array, "
                f"got {_describe(members_raw)}"
            )
        if not members_raw:
            raise InvalidGeometry(f"{where}: a GeometryCollection must not be empty")
        members = tuple(
            _read(
                member,
                allowed=GEOMETRY_TYPES,
                validate=validate,
                repair=repair,
                where=f"{where}.geometries[{i}]",
                depth=depth + 1,
            )
            for i, member in enumerate(members_raw)
        )
        bbox = (
            min(m.bbox[0] for m in members),
            min(m.bbox[1] for m in members),
            max(m.bbox[2] for m in members),
            max(m.bbox[3] for m in members),
        )
        return Geometry(kind, None, bbox, value, members)

    if "coordinates" not in value:
        raise InvalidGeometry(f"{where}: a {kind} needs a 'coordinates' member")
    raw = value["coordinates"]
    here = f"{where}.coordinates" if where != "geometry" else "coordinates"
    coords: Any
    if kind == "Point":
        coords = reader.position(raw, here)[0]
        return Geometry(kind, coords, reader.bbox(), value)
    if kind == "MultiPoint":
        coords = reader.positions(raw, here, 1, "a MultiPoint")
        return Geometry(kind, coords, reader.bbox(), value)
    if kind == "LineString":
        coords = reader.positions(raw, here, 2, "a LineString")
    elif kind == "MultiLineString":
        lines = reader.array(raw, here, "LineString coordinate arrays")
        if not lines:
            raise InvalidGeometry(f"{here}: a MultiLineString needs at least one LineString")
        coords = [
            reader.positions(line, f"{here}[{i}]", 2, "a LineString")
            for i, line in enumerate(lines)
        ]
    elif kind == "Polygon":
        coords = reader.polygon(raw, here)
    else:  # MultiPolygon
        polygons = reader.array(raw, here, "Polygon coordinate arrays")
        if not polygons:
            raise InvalidGeometry(f"{here}: a MultiPolygon needs at least one Polygon")
        coords = [reader.polygon(polygon, f"{here}[{i}]") for i, polygon in enumerate(polygons)]
    geometry = Geometry(kind, coords, reader.bbox(), value)
    if validate:
        reason = shapely.is_valid_reason(geometry.shape)
        if reason != "Valid Geometry":
            if not repair:
                raise InvalidGeometry(f"{where}: invalid {kind}: {_explain(kind, reason)}")
            geometry._shape = shapely.make_valid(geometry.shape)
    return geometry


_GEOS_REASON = re.compile(r"^(?P<what>[^\[]+?)\s*\[(?P<x>\S+) (?P<y>\S+)\]$")


def _explain(kind: str, reason: str) -> str:
    """Turn a GEOS validity reason such as ``Self-intersection[0.5 0.5]`` into prose."""
    match = _GEOS_REASON.match(reason)
    if match is None:
        return reason
    what = match["what"].lower()
    where = f"at or near [{match['x']}, {match['y']}]"
    if what.startswith("too few points"):
        return f"it collapses to a single point {where} (positions must be distinct)"
    if what == "self-intersection" and kind == "MultiPolygon":
        return (
            f"self-intersection {where} (the Polygons of a MultiPolygon must not overlap "
            "and may touch only at points)"
        )
    return f"{what} {where}"


def parse_geojson(
    value: Any,
    *,
    allowed: Sequence[str] = GEOMETRY_TYPES,
    validate: bool = True,
    repair: bool = False,
) -> Geometry:
    """Check a GeoJSON geometry object and return it as a :class:`Geometry`.

    ``value`` is the decoded JSON object (a mapping) or its JSON text.  ``allowed``
    narrows the accepted types (geo-queries exclude GeometryCollection).  With
    ``validate=False`` the structure and coordinate ranges are still checked but the
    GEOS validity check (self-intersections and the like) is skipped; use it only for
    values that were validated when they were stored.  With ``repair=True`` a geometry
    that is well-formed but fails that check (a self-intersecting ring, say) is accepted
    and evaluated as :func:`shapely.make_valid` repairs it, while ``value`` keeps the
    GeoJSON as given.  RFC 7946 itself does not demand OGC validity, and some published
    data (including polygons in the ETSI NGSI-LD test suite) self-intersects slightly
    when read in the planar lon/lat sense.

    Raises :class:`InvalidGeometry` with a message naming the offending member.
    """
    if isinstance(value, Geometry):
        if value.type not in allowed:
            raise InvalidGeometry(f"geometry type {value.type!r} is not allowed here")
        return value
    if isinstance(value, (str, bytes)):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested too deeply
            raise InvalidGeometry(f"geometry is not valid JSON: {exc}") from None
    allowed_types = tuple(allowed)
    # Fast path: a well-formed Point needs nothing but a look at two numbers.
    if isinstance(value, Mapping) and value.get("type") == "Point" and "Point" in allowed_types:
        raw = value.get("coordinates")
        if (
            isinstance(raw, list)
            and len(raw) == 2
            and type(raw[0]) in (float, int)
            and type(raw[1]) in (float, int)
            and -180.0 <= raw[0] <= 180.0  # also rules out NaN
            and -90.0 <= raw[1] <= 90.0
        ):
            lon = float(raw[0])
            lat = float(raw[1])
            return Geometry("Point", (lon, lat), (lon, lat, lon, lat), value)
    return _read(value, allowed=allowed_types, validate=validate, repair=repair, where="geometry")
