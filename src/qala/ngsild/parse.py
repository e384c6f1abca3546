"""NGSI-LD request bodies -> the hub's entities (normalized or concise input).

Everything a request says is checked here, at the edge: identifiers, names, attribute kinds,
date-times, geometries. The hub receives only well-formed entities with expanded names.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from qala.hub.attributes import is_null_instance
from qala.hub.errors import BadRequestData, InvalidRequest
from qala.hub.model import (
    AttrValue,
    Entity,
    Instance,
    instances_of,
    pack_instances,
    parse_datetime,
)
from qala.jsonld.compiled import CompiledContext
from qala.jsonld.core import ATTRIBUTE_MEMBERS, ATTRIBUTE_TYPES, CORE_GEO_PROPERTIES

_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]+$")
_FORBIDDEN_NAME = re.compile(r"[<>\"'=;()\s\x00-\x1f\x7f]")
_LANG = re.compile(r"^([A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*|@none)$")
_SCOPE = re.compile(r"^/[^\s/#+]+(/[^\s/#+]+)*$")
_GEO_TYPES = frozenset(
    {
        "Point",
        "MultiPoint",
        "LineString",
        "MultiLineString",
        "Polygon",
        "MultiPolygon",
        "GeometryCollection",
    }
)
_VALUE_MEMBER = {
    "Property": "value",
    "GeoProperty": "value",
    "Relationship": "object",
    "ListRelationship": "objectList",
    "LanguageProperty": "languageMap",
    "JsonProperty": "json",
    "VocabProperty": "vocab",
    "ListProperty": "valueList",
}
_ALL_VALUE_MEMBERS = frozenset(_VALUE_MEMBER.values())
#: For each kind, the value members it must not have.
_FOREIGN_MEMBERS = {kind: _ALL_VALUE_MEMBERS - {m} for kind, m in _VALUE_MEMBER.items()}
_IGNORED_MEMBERS = frozenset(
    {"createdAt", "modifiedAt", "deletedAt", "instanceId", "lang", "@context"}
)
_ENTITY_IGNORED = frozenset({"createdAt", "modifiedAt", "deletedAt", "@context"})
_PLAIN_PROPERTY_MEMBERS = frozenset({"type", "value", "observedAt", "unitCode", "datasetId"})
_ENTITY_SKIPPED = frozenset({"id", "@id", "type", "@type"}) | _ENTITY_IGNORED
MAX_ID_LENGTH = 2048
MAX_NESTING = 8


# Code points that render as nothing (or as blank) or reorder text: an identifier holding one
# looks like a different identifier in logs and user interfaces. RFC 3987 lets some of them into
# IRIs; NGSI-LD identifiers refuse them. Default_Ignorable_Code_Point ranges (Unicode 15), the
# Braille blank and the noncharacters; control, format, private-use, surrogate, unassigned and
# separator characters are refused by category.
_INVISIBLE_RANGES = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x2800, 0x2800),
    (0x3164, 0x3164),
    (0xFDD0, 0xFDEF),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zs", "Zl", "Zp"})


def _visible_iri_char(char: str) -> bool:
    code = ord(char)
    if code & 0xFFFE == 0xFFFE:  # U+xxFFFE and U+xxFFFF: noncharacters in every plane
        return False
    if any(low <= code <= high for low, high in _INVISIBLE_RANGES):
        return False
    return unicodedata.category(char) not in _REFUSED_CATEGORIES


def is_uri(value: object) -> bool:
    if not isinstance(value, str) or len(value) > MAX_ID_LENGTH or not _URI.match(value):
        return False
    return value.isascii() or all(_visible_iri_char(c) for c in value if not c.isascii())


def check_entity_id(value: object, what: str = "entity id") -> str:
    if not isinstance(value, str) or not value:
        raise BadRequestData(f"{what} must be a non-empty string (a URI)")
    if not is_uri(value):
        raise BadRequestData(
            f"{what} {value!r} is not a valid URI (expected e.g. urn:ngsi-ld:Type:1)"
        )
    return value


# Names and date-times repeat across a batch: remember the ones already checked.
_VALID_NAMES: set[str] = set()
_VALID_DATETIMES: set[str] = set()
_MEMO_LIMIT = 8192


def _remember(memo: set[str], value: str) -> None:
    if len(memo) >= _MEMO_LIMIT:
        memo.clear()
    memo.add(value)


def check_name(value: object, what: str) -> str:
    if value.__class__ is str and value in _VALID_NAMES:
        return value  # type: ignore[return-value]
    if not isinstance(value, str) or not value:
        raise BadRequestData(f"{what} must be a non-empty string")
    if len(value) > 512 or _FORBIDDEN_NAME.search(value):
        raise BadRequestData(
            f"{what} {value!r} is not valid: names may not contain spaces, control characters "
            "or any of < > \" ' = ; ( )"
        )
    _remember(_VALID_NAMES, value)
    return value


def _types(value: Any, ctx: CompiledContext) -> list[str]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise BadRequestData("entity type must not be an empty list")
    types = []
    for item in items:
        check_name(item, "entity type")
        if ctx.keyword(item) is not None:
            raise BadRequestData(f"{item!r} is a JSON-LD keyword, not an entity type")
        types.append(ctx.expand(item))
    return types


def _scope(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    for item in items:
        if not isinstance(item, str) or not _SCOPE.match(item):
            raise BadRequestData(f"scope {item!r} is not valid: scopes look like /Astana/Esil")
    return list(dict.fromkeys(items))


def parse_entity(
    body: Any,
    ctx: CompiledContext,
    *,
    entity_id: str | None = None,
    require_type: bool = True,
) -> Entity:
    """A full entity (create, replace, batch). ``entity_id`` comes from the URL, if any."""
    if not isinstance(body, dict):
        raise InvalidRequest("the entity must be a JSON object")
    raw_id = body.get("id", body.get("@id"))
    if entity_id is not None:
        if raw_id is not None and raw_id != entity_id:
            raise BadRequestData(f"the id in the body ({raw_id!r}) differs from the URL's")
        raw_id = entity_id
    if raw_id is None:
        raise BadRequestData("the entity has no id")
    eid = check_entity_id(raw_id)
    raw_type = body.get("type", body.get("@type"))
    if raw_type is None and require_type:
        raise BadRequestData(f"entity {eid!r} has no type")
    entity = Entity(id=eid, types=_types(raw_type, ctx) if raw_type is not None else [])
    _parse_members(body, ctx, entity, ctx.for_types(entity.types))
    return entity


def reject_null_markers(entity: Entity) -> Entity:
    """A new entity cannot hold the NGSI-LD Null (``urn:ngsi-ld:null``): it only deletes."""

    def check(instance: Instance, name: str) -> None:
        if is_null_instance(instance):
            raise BadRequestData(
                f"attribute {name!r} is the NGSI-LD Null (urn:ngsi-ld:null), which only deletes "
                "attributes in updates; leave the attribute out instead"
            )
        for key, sub in instance.items():
            if sub.__class__ is dict and ":" in key:
                check(sub, key)

    for iri, value in entity.attrs.items():
        for instance in instances_of(value):
            check(instance, iri)
    return entity


def parse_fragment(
    body: Any, ctx: CompiledContext, entity_id: str, known_types: list[str] | None = None
) -> Entity:
    """Attributes to merge, append or update (PATCH/POST on an existing entity).

    ``known_types``: the stored entity's types, whose type-scoped contexts (if the @context
    has any) apply to the attribute names.
    """
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object of attributes")
    raw_id = body.get("id", body.get("@id"))
    if raw_id is not None and raw_id != entity_id:
        raise BadRequestData(f"the id in the body ({raw_id!r}) differs from the URL's")
    raw_type = body.get("type", body.get("@type"))
    entity = Entity(id=entity_id, types=_types(raw_type, ctx) if raw_type is not None else [])
    _parse_members(body, ctx, entity, ctx.for_types([*entity.types, *(known_types or [])]))
    return entity


def _parse_members(
    body: dict[str, Any], ctx: CompiledContext, entity: Entity, names: CompiledContext
) -> None:
    """Attributes of an entity; ``names`` (the type-scoped context) expands their names."""
    for key, value in body.items():
        if key in _ENTITY_SKIPPED:
            continue
        if key == "scope":
            entity.scope = _scope(value)
            continue
        if key in ATTRIBUTE_MEMBERS:
            raise BadRequestData(
                f"{key!r} is a member of NGSI-LD attributes and cannot name an attribute"
            )
        iri = names.expand(check_name(key, "attribute name"))
        entity.attrs[iri] = parse_attribute(value, ctx, key, iri)


def parse_attribute(value: Any, ctx: CompiledContext, name: str, iri: str) -> AttrValue:
    """One attribute's value: an instance, or a list of instances with datasetIds."""
    if isinstance(value, list) and value and all(_looks_like_instance(v) for v in value):
        instances = [parse_instance(v, ctx, name, iri) for v in value]
        datasets = [i.get("datasetId") for i in instances]
        if len(set(datasets)) != len(datasets):
            raise BadRequestData(
                f"attribute {name!r} has two instances with the same datasetId "
                "(at most one instance may omit datasetId)"
            )
        packed = pack_instances(instances)
        assert packed is not None
        return packed
    return parse_instance(value, ctx, name, iri)


def _looks_like_instance(value: Any) -> bool:
    return isinstance(value, dict) and (
        value.get("type") in ATTRIBUTE_TYPES or any(m in value for m in _ALL_VALUE_MEMBERS)
    )


def _is_geojson(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and value.get("type") in _GEO_TYPES
        and ("coordinates" in value or "geometries" in value)
    )


def _infer_kind(value: dict[str, Any], iri: str) -> str:
    if "object" in value:
        return "Relationship"
    if "objectList" in value:
        return "ListRelationship"
    if "languageMap" in value:
        return "LanguageProperty"
    if "json" in value:
        return "JsonProperty"
    if "vocab" in value:
        return "VocabProperty"
    if "valueList" in value:
        return "ListProperty"
    if "value" in value and (_is_geojson(value["value"]) and iri in CORE_GEO_PROPERTIES):
        return "GeoProperty"
    return "Property"


def parse_instance(
    value: Any, ctx: CompiledContext, name: str, iri: str, depth: int = 0
) -> Instance:
    """One attribute instance, normalized or concise, validated, with expanded sub-attributes."""
    if (
        value.__class__ is dict
        and value.get("type") == "Property"
        and value.keys() <= _PLAIN_PROPERTY_MEMBERS
        and iri not in CORE_GEO_PROPERTIES
        and value.get("value") is not None
    ):
        # The common case, checked quickly: a Property without sub-attributes.
        instance = dict(value)
        _check_metadata(instance, name)
        return instance
    if depth > MAX_NESTING:
        raise BadRequestData(f"attribute {name!r} nests sub-attributes too deeply")
    if value is None:
        raise BadRequestData(
            f"attribute {name!r} is null; to delete an attribute use the value urn:ngsi-ld:null"
        )
    if not isinstance(value, dict) or (
        "type" in value and value["type"] not in ATTRIBUTE_TYPES and _is_geojson(value)
    ):
        # Concise/keyValues input: a bare value (or a bare GeoJSON geometry).
        if _is_geojson(value):
            instance: Instance = {"type": "GeoProperty", "value": value}
        else:
            instance = {"type": "Property", "value": value}
        return _check_instance(instance, ctx, name, iri)
    kind = value.get("type")
    if kind is None:
        if not any(m in value for m in _ALL_VALUE_MEMBERS):
            # A concise Property whose value is a JSON object.
            return _check_instance({"type": "Property", "value": value}, ctx, name, iri)
        kind = _infer_kind(value, iri)
    elif kind not in ATTRIBUTE_TYPES:
        raise BadRequestData(
            f"attribute {name!r} has type {kind!r}; expected one of {', '.join(ATTRIBUTE_TYPES)}"
        )
    instance = {"type": kind}
    for key, member in value.items():
        if key == "type" or key in _IGNORED_MEMBERS:
            continue
        if key in _ALL_VALUE_MEMBERS or key in (
            "datasetId",
            "observedAt",
            "unitCode",
            "objectType",
        ):
            instance[key] = member
            continue
        sub_iri = ctx.expand(check_name(key, f"sub-attribute of {name!r}"))
        instance[sub_iri] = parse_instance(member, ctx, key, sub_iri, depth + 1)
    return _check_instance(instance, ctx, name, iri)


_PATCH_METADATA = frozenset({"datasetId", "observedAt", "unitCode", "objectType"})


def parse_partial_instance(body: Any, ctx: CompiledContext, name: str, iri: str) -> Instance:
    """The members of a partial attribute update (PATCH …/attrs/{attr}): only those given.

    With a value member or a type it is an instance as usual (the type inferred only to
    validate it is dropped: the stored attribute keeps its kind); without, the body holds only
    metadata (``observedAt``, ``unitCode``…) and sub-attributes to merge.
    """
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object of attribute members")
    clean = {k: v for k, v in body.items() if k != "@context"}
    if not clean:
        raise BadRequestData("the request body has no attribute members to update")
    if "type" in clean or not _ALL_VALUE_MEMBERS.isdisjoint(clean):
        instance = parse_instance(clean, ctx, name, iri)
        if "type" not in clean:
            instance.pop("type", None)
        return instance
    instance = {}
    for key, member in clean.items():
        if key in _IGNORED_MEMBERS:
            continue
        if key in _PATCH_METADATA:
            instance[key] = member
            continue
        sub_iri = ctx.expand(check_name(key, f"sub-attribute of {name!r}"))
        instance[sub_iri] = parse_instance(member, ctx, key, sub_iri, 1)
    _check_metadata(instance, name)
    return instance


def _check_instance(instance: Instance, ctx: CompiledContext, name: str, iri: str) -> Instance:
    kind = instance["type"]
    member = _VALUE_MEMBER[kind]
    if member not in instance:
        raise BadRequestData(f"attribute {name!r} of type {kind} needs a {member!r} member")
    if not _FOREIGN_MEMBERS[kind].isdisjoint(instance):
        other = sorted(_FOREIGN_MEMBERS[kind].intersection(instance))[0]
        raise BadRequestData(f"attribute {name!r} of type {kind} cannot have a {other!r} member")
    value = instance[member]
    if value is None:
        raise BadRequestData(
            f"attribute {name!r} has a null {member}; to delete it use urn:ngsi-ld:null"
        )
    if kind == "GeoProperty":
        instance["value"] = check_geometry(value, name)
    elif kind == "Relationship":
        targets = value if isinstance(value, list) else [value]
        for target in targets:
            if not is_uri(target) and target != "urn:ngsi-ld:null":
                raise BadRequestData(f"relationship {name!r} must point at a URI, not {target!r}")
    elif kind == "ListRelationship":
        if not isinstance(value, list):
            raise BadRequestData(f"attribute {name!r}: objectList must be an array")
        for item in value:
            target = item.get("object") if isinstance(item, dict) else item
            if not is_uri(target) and target != "urn:ngsi-ld:null":
                raise BadRequestData(f"attribute {name!r}: {target!r} in objectList is not a URI")
        # Entries are {"object": uri}; a bare URI is accepted for one (4.5.2.2).
        instance["objectList"] = [i if isinstance(i, dict) else {"object": i} for i in value]
    elif kind == "LanguageProperty":
        if value != "urn:ngsi-ld:null":
            _check_language_map(value, name)
    elif kind == "VocabProperty":
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) and v for v in items):
            raise BadRequestData(f"attribute {name!r}: vocab must be a string or strings")
        expanded = [v if v == "urn:ngsi-ld:null" else ctx.expand(v) for v in items]
        instance["vocab"] = expanded if isinstance(value, list) else expanded[0]
    elif kind == "ListProperty":
        if not isinstance(value, list) and value != "urn:ngsi-ld:null":
            raise BadRequestData(f"attribute {name!r}: valueList must be an array")
    elif kind == "JsonProperty":
        if not isinstance(value, dict | list) and value != "urn:ngsi-ld:null":
            raise BadRequestData(f"attribute {name!r}: json must be a JSON object or array")
    elif kind == "Property" and iri in CORE_GEO_PROPERTIES and value != "urn:ngsi-ld:null":
        raise BadRequestData(
            f"{name!r} is a GeoProperty: give it type GeoProperty and a GeoJSON value"
        )
    _check_metadata(instance, name)
    return instance


def _check_language_map(value: Any, name: str) -> None:
    if not isinstance(value, dict) or not value:
        raise BadRequestData(
            f"attribute {name!r}: languageMap must be an object of language -> text"
        )
    for lang, text in value.items():
        if not _LANG.match(lang):
            raise BadRequestData(f"attribute {name!r}: {lang!r} is not a language tag")
        texts = text if isinstance(text, list) else [text]
        if not all(isinstance(t, str) for t in texts):
            raise BadRequestData(f"attribute {name!r}: languageMap values must be strings")


def _check_metadata(instance: Instance, name: str) -> None:
    observed = instance.get("observedAt")
    if observed is not None and not (observed.__class__ is str and observed in _VALID_DATETIMES):
        try:
            parse_datetime(observed)
        except ValueError as exc:
            raise BadRequestData(f"attribute {name!r}: observedAt {exc}") from None
        _remember(_VALID_DATETIMES, observed)
    dataset = instance.get("datasetId")
    if dataset == "@none":  # the default instance, named explicitly
        del instance["datasetId"]
    elif dataset is not None and not is_uri(dataset):
        raise BadRequestData(f"attribute {name!r}: datasetId {dataset!r} is not a URI")
    unit = instance.get("unitCode")
    if unit is not None and not isinstance(unit, str):
        raise BadRequestData(f"attribute {name!r}: unitCode must be a string")


def check_geometry(value: Any, name: str) -> dict[str, Any]:
    """Validate a GeoJSON geometry for a GeoProperty (delegates to the geo module)."""
    if value == "urn:ngsi-ld:null":
        return value  # type: ignore[no-any-return]
    from qala.ngsild.geo.geometry import InvalidGeometry, parse_geojson

    try:
        parse_geojson(value)
    except InvalidGeometry as exc:
        raise BadRequestData(f"attribute {name!r} has an invalid geometry: {exc}") from None
    return value  # type: ignore[no-any-return]
