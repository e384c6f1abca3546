"""The hub's entities -> NGSI-LD response bodies (normalized, concise, keyValues, GeoJSON)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from qala.hub.attributes import is_sub_attribute
from qala.hub.model import Entity, Instance, instances_of, us_to_iso
from qala.jsonld.compiled import CompiledContext
from qala.jsonld.core import NGSI_LD

Format = Literal["normalized", "concise", "keyValues"]
_SYS = ("createdAt", "modifiedAt")
_KEY_VALUE_MEMBER = {
    "Property": "value",
    "GeoProperty": "value",
    "Relationship": "object",
    "ListRelationship": "objectList",
    "ListProperty": "valueList",
}
_CONCISE_MEMBER = {
    "Relationship": "object",
    "ListRelationship": "objectList",
    "LanguageProperty": "languageMap",
    "JsonProperty": "json",
    "VocabProperty": "vocab",
    "ListProperty": "valueList",
}
DEFAULT_GEOMETRY_PROPERTY = NGSI_LD + "location"


@dataclass(slots=True)
class RenderOptions:
    format: Format = "normalized"
    sys_attrs: bool = False
    #: Only these attributes (expanded IRIs), if set (``attrs`` / ``pick``).
    pick: frozenset[str] | None = None
    #: Never these attributes (``omit``).
    omit: frozenset[str] | None = None
    #: Also project entity members: id/type may be omitted or picked in v1.8.
    pick_members: frozenset[str] | None = None
    lang: str | None = None
    #: Only the attribute instances with these datasetIds (``@none``: the default instance).
    datasets: frozenset[str] | None = None
    #: The pick and omit expressions as given (compact names), with the projections of
    #: linked entities (``join``).
    pick_tree: dict[str, Any] | None = None
    omit_tree: dict[str, Any] | None = None


def render_entity(entity: Entity, ctx: CompiledContext, opts: RenderOptions) -> dict[str, Any]:
    out: dict[str, Any] = {}
    members = opts.pick_members
    if members is None or "id" in members:
        out["id"] = entity.id
    if members is None or "type" in members:
        types = [ctx.compact(t) for t in entity.types]
        out["type"] = types[0] if len(types) == 1 else types
    if entity.scope and (members is None or "scope" in members):
        out["scope"] = entity.scope[0] if len(entity.scope) == 1 else entity.scope
    if opts.sys_attrs:  # in every format: they are the entity's members, not attributes
        out["createdAt"] = us_to_iso(entity.created_at)
        out["modifiedAt"] = us_to_iso(entity.modified_at)
    names = ctx.for_types(entity.types)
    for iri, value in entity.attrs.items():
        if opts.pick is not None and iri not in opts.pick:
            continue
        if opts.omit is not None and iri in opts.omit:
            continue
        if opts.datasets is not None:
            kept = [i for i in instances_of(value) if i.get("datasetId", "@none") in opts.datasets]
            if not kept:
                continue
            value = kept[0] if len(kept) == 1 else kept
        out[names.compact(iri)] = render_attribute(value, ctx, opts)
    return out


def render_attribute(value: Any, ctx: CompiledContext, opts: RenderOptions) -> Any:
    if opts.format == "keyValues":
        render = _key_value
    elif opts.format == "concise":
        render = _concise
    else:
        render = _normalized
    if value.__class__ is dict:
        return render(value, ctx, opts)
    rendered = [render(i, ctx, opts) for i in value]
    return rendered[0] if len(rendered) == 1 else rendered


_SPECIAL = frozenset({"createdAt", "modifiedAt", "vocab", "previousVocab", "objectType"})


def _normalized(instance: Instance, ctx: CompiledContext, opts: RenderOptions) -> dict[str, Any]:
    out: dict[str, Any] = {}
    sys_attrs = opts.sys_attrs
    for key, member in instance.items():
        if key in _SPECIAL:
            if key == "vocab" or key == "previousVocab":
                out[key] = _compact_vocab(member, ctx)
            elif key == "objectType":
                out[key] = ctx.compact(member) if isinstance(member, str) else member
            elif sys_attrs:
                out[key] = member
        elif member.__class__ is dict and ":" in key:  # a sub-attribute (expanded name)
            out[ctx.compact(key)] = _normalized(member, ctx, opts)
        else:
            out[key] = member
    if opts.lang is not None and instance.get("type") == "LanguageProperty":
        return _language_as_property(out, opts.lang)
    return out


def _concise(instance: Instance, ctx: CompiledContext, opts: RenderOptions) -> Any:
    kind = instance.get("type")
    out: dict[str, Any] = {}
    for key, member in instance.items():
        if key == "type" or (key in _SYS and not opts.sys_attrs):
            continue
        if is_sub_attribute(key) and isinstance(member, dict):
            out[ctx.compact(key)] = _concise(member, ctx, opts)
        elif key == "vocab" or key == "previousVocab":
            out[key] = _compact_vocab(member, ctx)
        elif key == "objectType":
            out[key] = ctx.compact(member) if isinstance(member, str) else member
        else:
            out[key] = member
    if kind == "LanguageProperty" and opts.lang is not None:
        converted = _language_as_property(out, opts.lang)
        if converted.get("type") == "Property":
            converted.pop("type")
        else:
            converted.pop("type", None)
        return converted
    if kind in ("Property", "GeoProperty") and list(out) == ["value"]:
        value = out["value"]
        if kind == "GeoProperty" or not isinstance(value, dict | list):
            return value
    return out


def _key_value(instance: Instance, ctx: CompiledContext, opts: RenderOptions) -> Any:
    kind = instance.get("type", "Property")
    if kind == "LanguageProperty":
        language_map = instance.get("languageMap", {})
        if opts.lang is not None:
            return _pick_language(language_map, opts.lang)[1]
        return {"languageMap": language_map}
    if kind == "VocabProperty":
        return {"vocab": _compact_vocab(instance.get("vocab"), ctx)}
    if kind == "JsonProperty":
        return {"json": instance.get("json")}
    return instance.get(_KEY_VALUE_MEMBER.get(kind, "value"))


def _compact_vocab(value: Any, ctx: CompiledContext) -> Any:
    if isinstance(value, list):
        return [ctx.compact(v) if isinstance(v, str) else v for v in value]
    return ctx.compact(value) if isinstance(value, str) else value


def _pick_language(language_map: dict[str, Any], lang: str) -> tuple[str, Any]:
    """The best text for ``lang`` (a tag, a comma list with q-values, or ``*``)."""
    if not language_map:
        return "@none", None
    for tag in _ranked_languages(lang):
        if tag == "*":
            break
        if tag in language_map:
            return tag, language_map[tag]
        prefix = tag.split("-")[0]
        for key, text in language_map.items():
            if key.split("-")[0] == prefix:
                return key, text
    if "@none" in language_map:
        return "@none", language_map["@none"]
    key = next(iter(language_map))
    return key, language_map[key]


def _ranked_languages(lang: str) -> list[str]:
    """The tags of ``lang`` (like Accept-Language) by weight, then position; q=0 drops one."""
    ranked = []
    for position, part in enumerate(lang.split(",")):
        tag, *params = (piece.strip() for piece in part.split(";"))
        weight = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    weight = float(param[2:])
                except ValueError:
                    weight = 0.0
        if tag and weight > 0:
            ranked.append((-weight, position, tag))
    return [tag for _, _, tag in sorted(ranked)]


def _language_as_property(out: dict[str, Any], lang: str) -> dict[str, Any]:
    """A LanguageProperty as the Property of the best language for ``lang`` (4.15)."""
    language_map = out.pop("languageMap", {})
    tag, text = _pick_language(language_map, lang)
    converted: dict[str, Any] = {"type": "Property", "value": text, "lang": tag}
    for key, member in out.items():
        if key != "type":
            converted[key] = member
    return converted


def render_geojson_feature(
    entity: Entity,
    ctx: CompiledContext,
    opts: RenderOptions,
    geometry_property: str = DEFAULT_GEOMETRY_PROPERTY,
) -> dict[str, Any]:
    body = render_entity(entity, ctx, opts)
    geometry = None
    # The default instance (no datasetId) gives the geometry, else the first GeoProperty.
    for instance in sorted(entity.instances(geometry_property), key=lambda i: "datasetId" in i):
        if instance.get("type") == "GeoProperty":
            geometry = instance.get("value")
            break
    feature: dict[str, Any] = {"id": body.pop("id", entity.id), "type": "Feature"}
    feature["geometry"] = geometry
    feature["properties"] = body
    return feature
