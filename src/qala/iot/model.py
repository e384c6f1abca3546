"""Provisioning documents (FIWARE IoT Agent shape) and how measures become attribute instances.

A *service group* (``/iot/services``) holds an apikey and the defaults of its devices; a
*device* (``/iot/devices``) maps the object ids its measures use to NGSI-LD attributes of one
entity. Documents are checked here, strictly, and kept as the user wrote them (normalized) for
echoing back; :func:`converter` turns a mapped attribute type into the function that checks a
measured value and builds its attribute instance.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from qala.hub import BadRequestData, Instance, iso_to_us, parse_datetime, us_to_iso
from qala.jsonld.core import CORE_GEO_PROPERTIES
from qala.ngsild.parse import check_geometry, check_name, is_uri

DEFAULT_RESOURCE = "/iot/json"
DEFAULT_TIMESTAMP_ATTRIBUTE = "TimeInstant"
MAX_ID_LENGTH = 256

#: Error kinds of rejected messages (one counter each, see the ``iot`` migration).
ERROR_KINDS = (
    "invalid_json",
    "invalid_payload",
    "wrong_apikey",
    "type_mismatch",
    "unknown_attribute",
    "invalid_timestamp",
    "rejected",
)

# IoT Agent fields that Qala accepts and echoes but does not act upon.
_PASSIVE_FIELDS = frozenset(
    {
        "cbroker",
        "lazy",
        "commands",
        "internal_attributes",
        "ngsiVersion",
        "payloadType",
        "autoprovision",
        "polling",
        "endpoint",
        "transport",
        "protocol",
        "description",
        "trust",
        "token",
        "service",
        "subservice",
        "expressionLanguage",
        "defaultEntityNameConjunction",
        "timestamp",
    }
)
_SERVICE_FIELDS = frozenset(
    {
        "apikey",
        "resource",
        "entity_type",
        "attributes",
        "static_attributes",
        "@context",
        "context",
        "timestamp_attribute",
        "explicitAttrs",
        "strict",
        "timezone",
    }
)
_DEVICE_FIELDS = frozenset(
    {
        "device_id",
        "entity_name",
        "entity_type",
        "apikey",
        "attributes",
        "static_attributes",
        "timestamp_attribute",
        "explicitAttrs",
        "strict",
        "timezone",
    }
)
_ATTRIBUTE_FIELDS = frozenset({"object_id", "name", "type", "metadata", "unitCode"})
_STATIC_FIELDS = frozenset({"name", "type", "value", "metadata", "unitCode"})
_ID = re.compile(r"^[^\s/+#\x00-\x1f\x7f]+$")


class MeasureError(Exception):
    """A message that cannot be ingested: ``kind`` is one of :data:`ERROR_KINDS`."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


# -- attribute types ---------------------------------------------------------------------------

Converter = Callable[[Any], Instance]

_TYPE_GROUPS: dict[str, tuple[str, ...]] = {
    "number": ("Number", "Float", "Double", "Decimal", "Percentage"),
    "integer": ("Integer", "Int"),
    "text": ("Text", "String"),
    "boolean": ("Boolean", "Bool"),
    "datetime": ("DateTime", "Date", "ISO8601"),
    "geojson": ("geo:json", "GeoProperty"),
    "geopoint": ("geo:point",),
    "relationship": ("Relationship",),
    "structured": ("StructuredValue", "Object", "Array", "JSON"),
    "any": ("Property", "Any"),
}
_TYPE_KIND: dict[str, str] = {
    name.lower(): kind for kind, names in _TYPE_GROUPS.items() for name in names
}
ACCEPTED_TYPES = ", ".join(name for names in _TYPE_GROUPS.values() for name in names)


def type_kind(type_name: str | None, what: str) -> str:
    if type_name is None:
        return "any"
    if not isinstance(type_name, str):
        raise BadRequestData(f"{what}: type must be a string")
    kind = _TYPE_KIND.get(type_name.lower())
    if kind is None:
        raise BadRequestData(f"{what}: unsupported type {type_name!r}; use one of {ACCEPTED_TYPES}")
    return kind


def describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def _mismatch(name: str, expected: str, value: Any) -> MeasureError:
    return MeasureError(
        "type_mismatch", f"attribute {name!r} is mapped as {expected}; got {describe(value)}"
    )


def _geo_point(value: Any, name: str) -> dict[str, Any]:
    """IoT Agent geo:point: "lat, lon" text, or [lon, lat], or a GeoJSON Point."""
    if isinstance(value, str):
        parts = value.split(",")
        if len(parts) == 2:
            try:
                lat, lon = float(parts[0]), float(parts[1])
            except ValueError:
                pass
            else:
                return check_geometry({"type": "Point", "coordinates": [lon, lat]}, name)
    elif isinstance(value, list) and len(value) == 2:
        return check_geometry({"type": "Point", "coordinates": value}, name)
    elif isinstance(value, dict):
        return check_geometry(value, name)
    raise BadRequestData(f'{name!r} needs a point as "lat, lon" text or [lon, lat]')


def converter(type_name: str | None, unit: str | None, name: str) -> Converter:
    """The function that checks a measured value of ``name`` and builds its instance.

    It raises :class:`MeasureError` (``type_mismatch``) for a value of the wrong type.
    """
    kind = type_kind(type_name, f"attribute {name!r}")
    shown = type_name or "Property"

    def prop(value: Any) -> Instance:
        instance: Instance = {"type": "Property", "value": value}
        if unit is not None:
            instance["unitCode"] = unit
        return instance

    if kind == "number":

        def number(value: Any) -> Instance:
            if value.__class__ is float or value.__class__ is int:
                return prop(value)
            raise _mismatch(name, shown, value)

        return number
    if kind == "integer":

        def integer(value: Any) -> Instance:
            if value.__class__ is int:
                return prop(value)
            if value.__class__ is float and value.is_integer():
                return prop(int(value))
            raise _mismatch(name, shown, value)

        return integer
    if kind == "text":

        def text(value: Any) -> Instance:
            if isinstance(value, str):
                return prop(value)
            raise _mismatch(name, shown, value)

        return text
    if kind == "boolean":

        def boolean(value: Any) -> Instance:
            if value.__class__ is bool:
                return prop(value)
            raise _mismatch(name, shown, value)

        return boolean
    if kind == "datetime":

        def date_time(value: Any) -> Instance:
            try:
                parse_datetime(value)
            except ValueError:
                raise _mismatch(name, f"{shown} (ISO 8601 with a time zone)", value) from None
            return prop(value)

        return date_time
    if kind in ("geojson", "geopoint"):

        def geo(value: Any) -> Instance:
            try:
                if kind == "geopoint":
                    geometry = _geo_point(value, name)
                else:
                    if not isinstance(value, dict):
                        raise BadRequestData("not a GeoJSON geometry")
                    geometry = check_geometry(value, name)
            except BadRequestData as exc:
                raise MeasureError(
                    "type_mismatch",
                    f"attribute {name!r} is mapped as {shown}; {describe(value)} is not a "
                    f"valid geometry: {exc.detail}",
                ) from None
            return {"type": "GeoProperty", "value": geometry}

        return geo
    if kind == "relationship":

        def relationship(value: Any) -> Instance:
            if is_uri(value):
                return {"type": "Relationship", "object": value}
            raise _mismatch(name, f"{shown} (a URI)", value)

        return relationship
    if kind == "structured":

        def structured(value: Any) -> Instance:
            if isinstance(value, dict | list):
                return prop(value)
            raise _mismatch(name, shown, value)

        return structured

    def anything(value: Any) -> Instance:
        return prop(value)

    return anything


def infer_instance(value: Any, iri: str) -> Instance:
    """An unmapped measure (passed through under its object id): Property, or GeoProperty for
    a GeoJSON value of a geo attribute."""
    if iri in CORE_GEO_PROPERTIES:
        try:
            return {"type": "GeoProperty", "value": check_geometry(value, iri)}
        except BadRequestData as exc:
            raise MeasureError("type_mismatch", f"{iri!r} is a GeoProperty: {exc.detail}") from None
    return {"type": "Property", "value": value}


def parse_observed_at(value: Any, zone: str | None, what: str) -> str:
    """A measure's time as an NGSI-LD DateTime (UTC, ms). Zone-less times use ``zone``."""
    if isinstance(value, str):
        try:
            return us_to_iso(iso_to_us(value))
        except ValueError:
            pass
        if zone is not None:
            try:
                naive = datetime.fromisoformat(value)
            except ValueError:
                naive = None
            if naive is not None and naive.tzinfo is None:
                local = naive.replace(tzinfo=ZoneInfo(zone))
                return us_to_iso(int(local.timestamp() * 1_000_000))
    raise MeasureError(
        "invalid_timestamp",
        f"{what} {describe(value)} is not an ISO 8601 date-time with a time zone "
        "(e.g. 2026-01-15T09:00:00Z)",
    )


# -- provisioning documents --------------------------------------------------------------------


def _check_fields(doc: dict[str, Any], allowed: frozenset[str], what: str) -> None:
    unknown = sorted(set(doc) - allowed - _PASSIVE_FIELDS)
    if unknown:
        raise BadRequestData(
            f"{what}: unknown field(s) {', '.join(map(repr, unknown))}; accepted: "
            f"{', '.join(sorted(allowed))}"
        )


def check_identifier(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise BadRequestData(f"{what} must be a non-empty string")
    if len(value) > MAX_ID_LENGTH or not _ID.match(value):
        raise BadRequestData(
            f"{what} {value!r} is not valid: at most {MAX_ID_LENGTH} characters, without "
            "spaces, control characters, '/', '+' or '#' (it is part of MQTT topics)"
        )
    return value


def _unit(doc: dict[str, Any], what: str) -> str | None:
    unit = doc.get("unitCode")
    metadata = doc.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise BadRequestData(f"{what}: metadata must be an object")
        unsupported = sorted(set(metadata) - {"unitCode"})
        if unsupported:
            raise BadRequestData(
                f"{what}: metadata {', '.join(map(repr, unsupported))} is not supported "
                "(only unitCode)"
            )
        if "unitCode" in metadata:
            meta = metadata["unitCode"]
            unit = meta.get("value") if isinstance(meta, dict) else meta
    if unit is not None and (not isinstance(unit, str) or not unit):
        raise BadRequestData(f"{what}: unitCode must be a non-empty string (UN/CEFACT code)")
    return unit


def _check_attributes(value: Any, what: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRequestData(f"{what}: attributes must be an array")
    seen: set[str] = set()
    out = []
    for index, item in enumerate(value):
        where = f"{what}: attributes[{index}]"
        if not isinstance(item, dict):
            raise BadRequestData(f"{where} must be an object")
        if "expression" in item or "entity_name" in item or "entity_type" in item:
            raise BadRequestData(
                f"{where}: expressions and multi-entity attributes are not supported"
            )
        _check_fields(item, _ATTRIBUTE_FIELDS, where)
        name = check_name(item.get("name"), f"{where}.name")
        object_id = item.get("object_id", name)
        check_identifier(object_id, f"{where}.object_id")
        if object_id in seen:
            raise BadRequestData(f"{where}: object_id {object_id!r} is mapped twice")
        seen.add(object_id)
        type_kind(item.get("type"), where)
        _unit(item, where)
        out.append({**item, "object_id": object_id})
    return out


def _check_static(value: Any, what: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRequestData(f"{what}: static_attributes must be an array")
    out = []
    for index, item in enumerate(value):
        where = f"{what}: static_attributes[{index}]"
        if not isinstance(item, dict):
            raise BadRequestData(f"{where} must be an object")
        _check_fields(item, _STATIC_FIELDS, where)
        name = check_name(item.get("name"), f"{where}.name")
        if item.get("value") is None:
            raise BadRequestData(f"{where}: static attribute {name!r} needs a value")
        unit = _unit(item, where)
        try:
            converter(item.get("type"), unit, name)(item["value"])
        except MeasureError as exc:
            raise BadRequestData(f"{where}: {exc.message}") from None
        out.append(dict(item))
    return out


def _check_common(doc: dict[str, Any], what: str) -> dict[str, Any]:
    out = dict(doc)
    out.pop("service", None)
    out.pop("subservice", None)
    if "entity_type" in doc and doc["entity_type"] is not None:
        check_name(doc["entity_type"], f"{what}: entity_type")
    out["attributes"] = _check_attributes(doc.get("attributes"), what)
    out["static_attributes"] = _check_static(doc.get("static_attributes"), what)
    for flag in ("explicitAttrs", "strict"):
        if flag in doc and not isinstance(doc[flag], bool):
            raise BadRequestData(f"{what}: {flag} must be true or false")
    stamp = doc.get("timestamp_attribute")
    if stamp is not None:
        check_identifier(stamp, f"{what}: timestamp_attribute")
    zone = doc.get("timezone")
    if zone is not None:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise BadRequestData(
                f"{what}: timezone {zone!r} is not a time zone name (e.g. Asia/Almaty)"
            ) from None
    return out


def context_value(doc: dict[str, Any]) -> Any:
    """The group's JSON-LD @context (``@context`` or ``context``), None for the core only."""
    return doc.get("@context", doc.get("context"))


def check_service(doc: Any, index: int) -> dict[str, Any]:
    what = f"services[{index}]"
    if not isinstance(doc, dict):
        raise BadRequestData(f"{what} must be an object")
    _check_fields(doc, _SERVICE_FIELDS, what)
    check_identifier(doc.get("apikey"), f"{what}: apikey")
    resource = doc.get("resource", DEFAULT_RESOURCE)
    if not isinstance(resource, str) or not resource.startswith("/"):
        raise BadRequestData(f"{what}: resource must be a path such as /iot/json")
    out = _check_common(doc, what)
    out["resource"] = resource
    ctx = context_value(doc)
    if ctx is not None and not isinstance(ctx, str | list | dict):
        raise BadRequestData(f"{what}: @context must be a URL, an object or an array")
    return out


def check_device(doc: Any, index: int) -> dict[str, Any]:
    what = f"devices[{index}]"
    if not isinstance(doc, dict):
        raise BadRequestData(f"{what} must be an object")
    _check_fields(doc, _DEVICE_FIELDS, what)
    check_identifier(doc.get("device_id"), f"{what}: device_id")
    if doc.get("apikey") is not None:
        check_identifier(doc["apikey"], f"{what}: apikey")
    name = doc.get("entity_name")
    if name is not None and not is_uri(name):
        raise BadRequestData(
            f"{what}: entity_name {name!r} must be a URI such as urn:ngsi-ld:Thing:001"
        )
    return _check_common(doc, what)


def default_entity_name(entity_type: str, device_id: str) -> str:
    """The entity of a device without ``entity_name`` (the IoT Agent's NGSI-LD default)."""
    return f"urn:ngsi-ld:{entity_type}:{device_id}"


@dataclass(slots=True)
class Target:
    """Where one object id's measures go: an attribute (expanded) and its converter."""

    name: str
    iri: str
    convert: Converter
