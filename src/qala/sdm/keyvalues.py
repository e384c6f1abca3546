"""Normalized NGSI-LD entity -> simplified (keyValues) form, as the SDM schemas describe it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# NGSI-LD attribute type -> the member that carries its value in the simplified form
_VALUE_MEMBER = {
    "Property": "value",
    "GeoProperty": "value",
    "Relationship": "object",
    "ListProperty": "valueList",
    "ListRelationship": "objectList",
    "JsonProperty": "json",
    "VocabProperty": "vocab",
}
_SKIP = {"@context", "createdAt", "modifiedAt", "deletedAt", "scope"}


def _pick_language(language_map: Mapping[str, Any], languages: Sequence[str]) -> Any:
    for lang in languages:
        if lang in language_map:
            return language_map[lang]
    if "@none" in language_map:
        return language_map["@none"]
    return next(iter(language_map.values()), None)


def _plain(value: Any) -> Any:
    # JSON-LD value objects such as {"@type": "DateTime", "@value": "..."}
    if isinstance(value, Mapping) and "@value" in value:
        return value["@value"]
    return value


def _attribute_value(attribute: Any, languages: Sequence[str]) -> Any:
    if isinstance(attribute, list):
        # multi-attribute: the default instance (no datasetId) wins, else the first one
        default = next(
            (a for a in attribute if isinstance(a, Mapping) and "datasetId" not in a), None
        )
        chosen = default if default is not None else (attribute[0] if attribute else None)
        if isinstance(chosen, Mapping) and ("type" in chosen or "value" in chosen):
            return _attribute_value(chosen, languages)
        return attribute
    if not isinstance(attribute, Mapping):
        return attribute
    kind = attribute.get("type")
    if kind == "LanguageProperty" or ("languageMap" in attribute and "value" not in attribute):
        return _pick_language(attribute.get("languageMap") or {}, languages)
    member = _VALUE_MEMBER.get(kind) if isinstance(kind, str) else None
    if member is None:
        for candidate in ("value", "object", "valueList", "objectList", "json", "vocab"):
            if candidate in attribute:
                member = candidate
                break
    if member is None or member not in attribute:
        return attribute  # not an attribute object: a plain structured value
    return _plain(attribute[member])


def to_key_values(
    entity: Mapping[str, Any], languages: Sequence[str] = ("en", "ru", "kk")
) -> dict[str, Any]:
    """Convert a normalized NGSI-LD entity (compacted terms) to its simplified form.

    ``Property``/``GeoProperty`` become their ``value``, ``Relationship`` its ``object``, and
    a ``LanguageProperty`` the string of the first language of ``languages`` it has (the SDM
    schemas describe ``name`` and the like as plain strings). Input already in simplified form
    passes through unchanged.
    """
    out: dict[str, Any] = {}
    for key, attribute in entity.items():
        if key in _SKIP:
            continue
        if key in ("id", "type"):
            out[key] = attribute
            continue
        out[key] = _attribute_value(attribute, languages)
    return out
