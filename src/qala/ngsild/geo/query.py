"""NGSI-LD geo-queries (ETSI GS CIM 009 clause 4.10) from HTTP parameters or JSON.

A geo-query has four parts:

* ``georel``: the relationship, with this grammar (clause 4.10)::

      georel   = nearRel / withinRel / containsRel / overlapsRel / intersectsRel
                 / equalsRel / disjointRel
      nearRel  = "near" ";" distance "==" PositiveNumber   ; metres
      distance = "maxDistance" / "minDistance"

  PositiveNumber is a JSON number (RFC 8259) without the minus sign and not 0.  ABNF
  literals are case-insensitive (RFC 5234 section 2.3), so ``NEAR;MaxDistance==5``
  is accepted and normalised.
* ``geometry`` and ``coordinates``: the reference geometry, a GeoJSON type (any but
  GeometryCollection, which the clause excludes; names are case-sensitive as in
  RFC 7946) and its coordinates array (as JSON text in a query string);
* ``geoproperty``: the GeoProperty of the entity to test, ``location`` by default.

``near`` takes any reference geometry: the clause defines it through the buffer of the
reference geometry, not only of a Point.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, overload
from urllib.parse import unquote

from .geometry import Geometry, InvalidGeometry, parse_geojson

__all__ = [
    "DEFAULT_GEOPROPERTY",
    "GEORELS",
    "QUERY_GEOMETRY_TYPES",
    "GeoQuery",
    "InvalidGeoQuery",
    "geoquery_from_json",
    "parse_geoquery",
]

GEORELS: Final = ("near", "within", "contains", "intersects", "equals", "disjoint", "overlaps")
QUERY_GEOMETRY_TYPES: Final = (
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
)
DEFAULT_GEOPROPERTY: Final = "location"

_GEOREL_HELP: Final = (
    "near;maxDistance==<metres>, near;minDistance==<metres>, within, contains, "
    "intersects, equals, disjoint or overlaps"
)
# RFC 8259 number without the leading minus sign.
_POSITIVE_NUMBER: Final = re.compile(r"(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


class InvalidGeoQuery(ValueError):
    """A geo-query is malformed (a 400 BadRequestData).

    ``parameter`` names the offending parameter (``georel``, ``geometry``,
    ``coordinates``, ``geoproperty``) when there is a single one.
    """

    def __init__(self, message: str, parameter: str | None = None) -> None:
        super().__init__(message)
        self.parameter = parameter


def _format_number(value: float) -> str:
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


@dataclass(frozen=True, slots=True)
class GeoQuery:
    """A checked geo-query.

    ``georel`` is the bare relationship (``near``, ``within``, ...); for ``near``
    exactly one of ``max_distance`` / ``min_distance`` (metres, > 0) is set.
    ``geometry`` is the reference geometry; ``geoproperty`` the name of the entity's
    GeoProperty as given (compact; expanding it is the caller's business).
    """

    georel: str
    geometry: Geometry
    geoproperty: str = DEFAULT_GEOPROPERTY
    max_distance: float | None = None
    min_distance: float | None = None

    @property
    def geometry_type(self) -> str:
        return self.geometry.type

    @property
    def coordinates(self) -> Any:
        """The reference coordinates exactly as given."""
        return self.geometry.value["coordinates"]

    @property
    def georel_text(self) -> str:
        """The georel in its canonical form, e.g. ``near;maxDistance==2000``."""
        if self.max_distance is not None:
            return f"near;maxDistance=={_format_number(self.max_distance)}"
        if self.min_distance is not None:
            return f"near;minDistance=={_format_number(self.min_distance)}"
        return self.georel

    def to_query_params(self) -> dict[str, str]:
        """HTTP query parameters that reproduce this query (not URL-encoded)."""
        return {
            "georel": self.georel_text,
            "geometry": self.geometry.type,
            "coordinates": json.dumps(self.coordinates, separators=(",", ":")),
            "geoproperty": self.geoproperty,
        }

    def to_json(self) -> dict[str, Any]:
        """The ``geoQ`` object of a query or subscription (clause 5.2.13)."""
        return {
            "geometry": self.geometry.type,
            "coordinates": self.coordinates,
            "georel": self.georel_text,
            "geoproperty": self.geoproperty,
        }


def _parse_distance(text: str, name: str) -> float:
    if not _POSITIVE_NUMBER.fullmatch(text):
        raise InvalidGeoQuery(
            f"georel: {name} must be a positive number of metres (a JSON number without "
            f"sign), got {text!r}",
            "georel",
        )
    value = float(text)
    if not math.isfinite(value):
        raise InvalidGeoQuery(f"georel: {name} {text!r} is not a finite number", "georel")
    if value <= 0.0:
        raise InvalidGeoQuery(f"georel: {name} must be greater than 0, got {text!r}", "georel")
    return value


def _parse_georel(georel: str) -> tuple[str, float | None, float | None]:
    text = georel.strip()
    if not text:
        raise InvalidGeoQuery(f"georel is empty; expected {_GEOREL_HELP}", "georel")
    parts = text.split(";")
    relation = parts[0].strip().lower()
    if relation not in GEORELS:
        raise InvalidGeoQuery(
            f"georel: unknown relationship {parts[0]!r}; expected {_GEOREL_HELP}", "georel"
        )
    if relation != "near":
        if len(parts) > 1:
            raise InvalidGeoQuery(f"georel: {relation!r} takes no modifier, got {text!r}", "georel")
        return relation, None, None
    if len(parts) == 1 or not parts[1].strip():
        raise InvalidGeoQuery(
            "georel: 'near' needs a distance, as near;maxDistance==<metres> or "
            "near;minDistance==<metres>",
            "georel",
        )
    if len(parts) > 2:
        raise InvalidGeoQuery(
            f"georel: 'near' takes exactly one distance modifier (maxDistance or "
            f"minDistance), got {text!r}",
            "georel",
        )
    modifier = parts[1]
    name, sep, value = modifier.partition("==")
    key = name.strip().lower()
    if not sep:
        hint = " (the operator is '==')" if "=" in modifier or ":" in modifier else ""
        raise InvalidGeoQuery(
            f"georel: expected maxDistance==<metres> or minDistance==<metres> after "
            f"'near;', got {modifier!r}{hint}",
            "georel",
        )
    if key == "maxdistance":
        return "near", _parse_distance(value.strip(), "maxDistance"), None
    if key == "mindistance":
        return "near", None, _parse_distance(value.strip(), "minDistance")
    raise InvalidGeoQuery(
        f"georel: unknown distance modifier {name.strip()!r}; expected maxDistance or minDistance",
        "georel",
    )


def _parse_coordinates(coordinates: str | list[Any] | tuple[Any, ...]) -> list[Any]:
    if isinstance(coordinates, (list, tuple)):
        return list(coordinates)
    if not isinstance(coordinates, str):
        raise InvalidGeoQuery(
            f"coordinates must be a JSON array, got {type(coordinates).__name__}",
            "coordinates",
        )
    text = coordinates.strip()
    if not text:
        raise InvalidGeoQuery("coordinates is empty; expected a JSON array", "coordinates")
    if not text.startswith("[") and "%" in text:
        text = unquote(text).strip()  # still URL-encoded
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deeply
        raise InvalidGeoQuery(
            f"coordinates is not a valid JSON array ({exc.args[0] if exc.args else exc}): "
            f"{text[:80]!r}",
            "coordinates",
        ) from None
    if not isinstance(value, list):
        raise InvalidGeoQuery(
            f"coordinates must be a JSON array such as [71.4491,51.1694], got {text[:80]!r}",
            "coordinates",
        )
    return value


def _build(
    georel: Any, geometry: Any, coordinates: Any, geoproperty: Any, where: str, repair: bool
) -> GeoQuery:
    missing = [
        name
        for name, value in (
            ("georel", georel),
            ("geometry", geometry),
            ("coordinates", coordinates),
        )
        if value is None
    ]
    if missing:
        raise InvalidGeoQuery(
            f"{where}: a geo-query needs georel, geometry and coordinates together; "
            f"missing {', '.join(missing)}",
            missing[0] if len(missing) == 1 else None,
        )
    if not isinstance(georel, str):
        raise InvalidGeoQuery(f"georel must be a string, got {type(georel).__name__}", "georel")
    relation, max_distance, min_distance = _parse_georel(georel)

    if not isinstance(geometry, str):
        raise InvalidGeoQuery(
            f"geometry must be a string, got {type(geometry).__name__}", "geometry"
        )
    kind = geometry.strip()
    if kind not in QUERY_GEOMETRY_TYPES:
        proper = next((t for t in QUERY_GEOMETRY_TYPES if t.lower() == kind.lower()), None)
        if proper is not None:
            message = (
                f"geometry {kind!r} is not supported; type names are case-sensitive, "
                f"did you mean {proper!r}?"
            )
        elif kind == "GeometryCollection":
            message = "geometry GeometryCollection is not allowed in a geo-query (clause 4.10)"
        else:
            message = (
                f"geometry {kind!r} is not supported; expected one of "
                f"{', '.join(QUERY_GEOMETRY_TYPES)}"
            )
        raise InvalidGeoQuery(message, "geometry")

    coords = _parse_coordinates(coordinates)
    try:
        reference = parse_geojson(
            {"type": kind, "coordinates": coords}, allowed=QUERY_GEOMETRY_TYPES, repair=repair
        )
    except InvalidGeometry as exc:
        detail = str(exc)
        if detail.startswith("geometry: "):
            detail = detail[len("geometry: ") :]
        raise InvalidGeoQuery(
            f"coordinates do not describe a valid {kind}: {detail}", "coordinates"
        ) from None

    if geoproperty is None:
        name = DEFAULT_GEOPROPERTY
    elif not isinstance(geoproperty, str) or not geoproperty.strip():
        raise InvalidGeoQuery("geoproperty must be a non-empty attribute name", "geoproperty")
    else:
        name = geoproperty.strip()

    return GeoQuery(
        georel=relation,
        geometry=reference,
        geoproperty=name,
        max_distance=max_distance,
        min_distance=min_distance,
    )


def parse_geoquery(
    georel: str | None,
    geometry: str | None,
    coordinates: str | list[Any] | None,
    geoproperty: str | None = None,
    *,
    repair: bool = False,
) -> GeoQuery | None:
    """Build a :class:`GeoQuery` from the ``georel``, ``geometry``, ``coordinates`` and
    ``geoproperty`` HTTP query parameters (already URL-decoded).

    Returns ``None`` when none of georel, geometry and coordinates is given (a lone
    ``geoproperty`` selects nothing and is ignored).  Raises :class:`InvalidGeoQuery`
    when only some are given or any is malformed.  ``repair`` is passed on to
    :func:`~qala.ngsild.geo.geometry.parse_geojson` for the reference geometry.
    """
    if georel is None and geometry is None and coordinates is None:
        return None
    return _build(georel, geometry, coordinates, geoproperty, "query parameters", repair)


@overload
def geoquery_from_json(obj: None, *, repair: bool = False) -> None: ...
@overload
def geoquery_from_json(obj: Mapping[str, Any], *, repair: bool = False) -> GeoQuery: ...
def geoquery_from_json(obj: Mapping[str, Any] | None, *, repair: bool = False) -> GeoQuery | None:
    """Build a :class:`GeoQuery` from a ``geoQ`` object (clause 5.2.13), as found in the
    body of POST /entityOperations/query and in subscriptions::

        {"geometry": "Point", "coordinates": [71.4491, 51.1694],
         "georel": "near;maxDistance==2000", "geoproperty": "location"}

    ``coordinates`` may also be the JSON text of the array.  ``None`` gives ``None``.
    """
    if obj is None:
        return None
    if not isinstance(obj, Mapping):
        raise InvalidGeoQuery(f"geoQ must be a JSON object, got {type(obj).__name__}")
    return _build(
        obj.get("georel"),
        obj.get("geometry"),
        obj.get("coordinates"),
        obj.get("geoproperty"),
        "geoQ",
        repair,
    )
