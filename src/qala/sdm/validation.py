"""Validate simplified (keyValues) entities against the shipped Smart Data Models schemas.

The schemas and the common definitions they ``$ref`` are loaded from ``data/schemas`` into a
:class:`referencing.Registry`; a reference the registry does not hold is an error, never a
download. Each model's validator is built once and reused.
"""

from __future__ import annotations

import json
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

try:  # optional: compiles the schemas to Python code, ~15x faster on valid entities
    import fastjsonschema
except ImportError:  # pragma: no cover - depends on the installation
    fastjsonschema = None
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT202012

_PAGES = "https://smart-data-models.github.io/"
_RAW = "https://raw.githubusercontent.com/smart-data-models/"

_SHARED_SCHEMAS = ("common-schema.json", "Environment-schema.json", "gtfs-schema.json")


class UnknownModelError(KeyError):
    """No Smart Data Model schema is shipped for this entity type."""


@dataclass(frozen=True)
class ModelInfo:
    type: str
    subject: str
    schema_id: str
    schema_version: str
    metadata_version: str
    source: str


def _raw_alias(schema_id: str) -> str | None:
    """``https://smart-data-models.github.io/<repo>/<path>`` -> the raw GitHub master URL."""
    if not schema_id.startswith(_PAGES):
        return None
    repo, _, path = schema_id[len(_PAGES) :].partition("/")
    return f"{_RAW}{repo}/master/{path}"


def _offline(uri: str) -> Resource[Any]:
    raise NoSuchResource(ref=uri)


# --- formats -------------------------------------------------------------------------------
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATE_TIME.match(value):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


def _is_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        time.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_uri(value: object) -> bool:
    return not isinstance(value, str) or bool(_URI.match(value))


def _is_email(value: object) -> bool:
    return not isinstance(value, str) or bool(_EMAIL.match(value))


#: the formats the SDM schemas use, checked the same way by both validator engines
_FORMATS = {
    "date-time": _is_date_time,
    "date": _is_date,
    "time": _is_time,
    "uri": _is_uri,
    "idn-email": _is_email,
}


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    for name, check in _FORMATS.items():
        checker.checks(name)(check)
    return checker


# --- error messages ------------------------------------------------------------------------
_JSON_TYPES = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
    type(None): "null",
}


def _json_type(value: object) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _short(value: object, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _path(parts: Iterable[Any]) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _describe(error: ValidationError) -> str:
    where = _path(error.absolute_path)
    kind, value, instance = error.validator, error.validator_value, error.instance
    if kind == "required":
        missing = re.match(r"^'(.*)' is a required property$", error.message)
        name = missing.group(1) if missing else error.message
        return f"{where}.{name}: required attribute is missing"
    if kind == "type":
        expected = " or ".join(value) if isinstance(value, list) else value
        return f"{where}: expected {expected}, got {_json_type(instance)} {_short(instance)}"
    if kind == "enum":
        allowed = ", ".join(_short(v) for v in value[:15]) + (", ..." if len(value) > 15 else "")
        return f"{where}: {_short(instance)} is not one of the allowed values ({allowed})"
    if kind in ("minimum", "exclusiveMinimum"):
        sign = ">=" if kind == "minimum" else ">"
        return f"{where}: {_short(instance)} is out of range (must be {sign} {value})"
    if kind in ("maximum", "exclusiveMaximum"):
        sign = "<=" if kind == "maximum" else "<"
        return f"{where}: {_short(instance)} is out of range (must be {sign} {value})"
    if kind == "format":
        return f"{where}: {_short(instance)} is not a valid {value}"
    if kind == "minItems":
        return f"{where}: needs at least {value} item(s), got {len(instance)}"
    if kind == "uniqueItems":
        return f"{where}: items must be unique"
    return f"{where}: {error.message}"


def _is_discriminator_miss(error: ValidationError) -> bool:
    # a oneOf branch whose own "type" member (GeoJSON geometry type, ...) does not match
    return error.validator in ("enum", "const") and list(error.relative_path)[-1:] == ["type"]


def _leaves(error: ValidationError) -> list[ValidationError]:
    """Replace an anyOf/oneOf failure by the errors of the branch the instance was aiming at."""
    if error.validator not in ("anyOf", "oneOf") or not error.context:
        return [error]
    branches: dict[Any, list[ValidationError]] = defaultdict(list)
    for sub in error.context:
        branches[sub.relative_schema_path[0]].append(sub)
    candidates = [errs for errs in branches.values() if not any(map(_is_discriminator_miss, errs))]
    if len(candidates) == 1:
        return [leaf for sub in candidates[0] for leaf in _leaves(sub)]
    if not candidates:
        return [error]
    best = best_match(error.context)
    if best is None:
        return [error]
    if best.validator in ("pattern", "format", "minLength", "maxLength"):
        return [error]  # e.g. an identifier that is neither an NGSI id nor a URI
    return _leaves(best)


def _message(error: ValidationError) -> str:
    if error.validator in ("anyOf", "oneOf"):
        where = _path(error.absolute_path)
        if error.validator == "oneOf" and not error.context:
            return f"{where}: matches more than one of the allowed forms"
        titles = [s.get("title") for s in error.validator_value if isinstance(s, Mapping)]
        titles = [t for t in titles if t]
        hint = f" (expected one of: {', '.join(titles)})" if titles else ""
        return f"{where}: {_short(error.instance)} has none of the allowed forms{hint}"
    return _describe(error)


# --- the catalogue -------------------------------------------------------------------------
_MODELS: dict[str, str] = {
    "AirQualityObserved": "dataModel.Environment",
    "Streetlight": "dataModel.Streetlighting",
    "WasteContainer": "dataModel.WasteManagement",
    "ParkingSpot": "dataModel.Parking",
    "OffStreetParking": "dataModel.Parking",
    "TrafficFlowObserved": "dataModel.Transportation",
    "EVChargingStation": "dataModel.Transportation",
    "GtfsStop": "dataModel.UrbanMobility",
    "PublicTransportStop": "dataModel.UrbanMobility",
    "Open311_ServiceRequest": "dataModel.IssueTracking",
}


def _load_schema(name: str) -> dict[str, Any]:
    text = (resources.files("qala.sdm") / "data" / "schemas" / name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _documents_by_uri() -> dict[str, dict[str, Any]]:
    documents: dict[str, dict[str, Any]] = {}
    for name in (*(f"{model}.json" for model in _MODELS), *_SHARED_SCHEMAS):
        schema = _load_schema(name)
        documents[schema["$id"]] = schema
        alias = _raw_alias(schema["$id"])
        if alias:
            documents[alias] = schema
    return documents


@cache
def _registry_and_schemas() -> tuple[Registry[Any], dict[str, dict[str, Any]]]:
    schemas = {model: _load_schema(f"{model}.json") for model in _MODELS}
    pairs: list[tuple[str, Resource[Any]]] = []
    for schema in [*schemas.values(), *(_load_schema(n) for n in _SHARED_SCHEMAS)]:
        resource = Resource.from_contents(schema, default_specification=DRAFT202012)
        pairs.append((schema["$id"], resource))
        alias = _raw_alias(schema["$id"])
        if alias:
            pairs.append((alias, resource))
    registry: Registry[Any] = Registry(retrieve=_offline).with_resources(pairs)
    return registry.crawl(), schemas


class SmartDataModels:
    """The shipped Smart Data Models: which types have one, and validation against it.

    Thread-safe; validators are compiled on first use and cached for the process.
    """

    def __init__(self) -> None:
        self._registry, self._schemas = _registry_and_schemas()
        self._validators: dict[str, Draft202012Validator] = {}
        self._fast: dict[str, Callable[[Any], Any] | None] = {}
        self._lock = threading.Lock()
        self._formats = _format_checker()

    def types(self) -> list[str]:
        return sorted(self._schemas)

    def has_model(self, type_term: str) -> bool:
        return type_term in self._schemas

    def info(self, type_term: str) -> ModelInfo:
        schema = self._schema(type_term)
        return ModelInfo(
            type=type_term,
            subject=_MODELS[type_term],
            schema_id=schema["$id"],
            schema_version=schema.get("$schemaVersion", ""),
            metadata_version=schema.get("x-qala-metadata-version", ""),
            source=schema.get("x-qala-source", ""),
        )

    def schema(self, type_term: str) -> dict[str, Any]:
        """The model's JSON Schema (a copy)."""
        return json.loads(json.dumps(self._schema(type_term)))  # type: ignore[no-any-return]

    def validate(self, type_term: str, key_values_entity: Mapping[str, Any]) -> list[str]:
        """Errors of a simplified (keyValues) entity against its model; ``[]`` when valid.

        Each message starts with the JSON path of the offending value, e.g.
        ``$.pm25: expected number, got string "high"``.
        """
        if self._fast_is_valid(type_term, key_values_entity):
            return []
        validator = self._validator(type_term)
        messages: list[str] = []
        errors = sorted(
            validator.iter_errors(key_values_entity), key=lambda e: list(map(str, e.path))
        )
        for error in errors:
            for leaf in _leaves(error):
                message = _message(leaf)
                if message not in messages:
                    messages.append(message)
        return messages

    def is_valid(self, type_term: str, key_values_entity: Mapping[str, Any]) -> bool:
        if self._fast_is_valid(type_term, key_values_entity):
            return True
        return self._validator(type_term).is_valid(key_values_entity)

    def _fast_is_valid(self, type_term: str, entity: Mapping[str, Any]) -> bool:
        """True only when the compiled fast validator accepts the entity.

        A rejection (or no fast validator) falls through to :mod:`jsonschema`, which gives
        the full list of messages; so the fast path can change speed, never the verdict on
        an invalid entity.
        """
        if type_term not in self._fast:
            self._fast[type_term] = self._compile_fast(type_term)
        fast = self._fast[type_term]
        if fast is None:
            return False
        try:
            fast(entity)
        except Exception:
            return False
        return True

    def _compile_fast(self, type_term: str) -> Callable[[Any], Any] | None:
        schema = self._schema(type_term)
        if fastjsonschema is None:
            return None
        documents = _documents_by_uri()

        def resolve(uri: str) -> Any:
            try:
                return documents[uri.split("#", 1)[0]]
            except KeyError:
                raise NoSuchResource(ref=uri) from None

        compiled: Callable[[Any], Any] = fastjsonschema.compile(
            schema, handlers={"https": resolve, "http": resolve}, formats=dict(_FORMATS)
        )
        return compiled

    def _schema(self, type_term: str) -> dict[str, Any]:
        try:
            return self._schemas[type_term]
        except KeyError:
            raise UnknownModelError(type_term) from None

    def _validator(self, type_term: str) -> Draft202012Validator:
        validator = self._validators.get(type_term)
        if validator is None:
            schema = self._schema(type_term)
            with self._lock:
                validator = self._validators.get(type_term)
                if validator is None:
                    validator = Draft202012Validator(
                        schema, registry=self._registry, format_checker=self._formats
                    )
                    self._validators[type_term] = validator
        return validator
