"""``orderBy`` on entity queries (GS CIM 009 v1.9, 4.23 and 5.7.2).

``orderBy=key[;asc|desc],…`` orders the matching entities by each key in turn. A key is an
entity member (``id``, ``type``, ``createdAt``, ``modifiedAt``), an attribute (its default
instance's value: ``value``, ``object``, ``languageMap``…), a sub-attribute path
(``name.subProperty``) or a member of an attribute instance (``name.createdAt``,
``name.observedAt``, ``name.unitCode``…). Values compare within their kind — numbers with
numbers, strings with strings (code point order), booleans (false first), date-times as the
strings they are (ISO 8601 in UTC order); values of different kinds are ordered numbers,
strings, booleans, then anything else by its JSON text. An entity without the key comes after
every entity with it, in either direction; ties keep the broker's order (creation).

The order applies to every match, so ``limit``/``offset`` page the ordered list: the query
reads at most :data:`MAX_ORDERED` matches and refuses more (``TooManyResults``) rather than
order a part of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import orjson

from qala.hub import Actor, Entity, EntityQuery, Hub, QueryResult
from qala.hub.errors import BadRequestData, TooManyResults
from qala.jsonld.compiled import CompiledContext
from qala.ngsild.parse import check_name

#: The most matches a query with orderBy orders.
MAX_ORDERED = 10_000

_ENTITY_MEMBERS = {"id", "type", "createdAt", "modifiedAt"}
_INSTANCE_MEMBERS = {
    "createdAt",
    "modifiedAt",
    "observedAt",
    "unitCode",
    "datasetId",
    "deletedAt",
    "lang",
}
_VALUE_MEMBERS = ("value", "object", "objectList", "languageMap", "vocab", "json", "valueList")


@dataclass(frozen=True, slots=True)
class OrderKey:
    #: An entity member, or the expanded attribute IRI followed by sub-attribute IRIs and,
    #: last, possibly an instance member name.
    path: tuple[str, ...]
    entity_member: bool
    descending: bool


def parse_order_by(raw: str, ctx: CompiledContext) -> list[OrderKey]:
    """``orderBy``'s keys, names expanded with ``ctx``; BadRequestData when malformed."""
    keys: list[OrderKey] = []
    for item in raw.split(","):
        item = item.strip()
        if not item:
            raise BadRequestData(f"invalid orderBy {raw!r}: an empty key")
        name, _, direction = item.partition(";")
        direction = direction.strip().lower() or "asc"
        if direction not in ("asc", "desc"):
            raise BadRequestData(f"invalid orderBy {raw!r}: direction must be asc or desc")
        parts = [p.strip() for p in name.split(".")]
        if not all(parts):
            raise BadRequestData(f"invalid orderBy {raw!r}: {name!r} is not an attribute path")
        descending = direction == "desc"
        if len(parts) == 1 and parts[0] in _ENTITY_MEMBERS:
            keys.append(OrderKey((parts[0],), True, descending))
            continue
        path: list[str] = []
        for index, part in enumerate(parts):
            check_name(part, "orderBy")
            last = index == len(parts) - 1
            if index > 0 and last and part in _INSTANCE_MEMBERS:
                path.append(part)
            else:
                path.append(ctx.expand(part))
        keys.append(OrderKey(tuple(path), False, descending))
    return keys


def _default_instance(value: Any) -> dict[str, Any] | None:
    if isinstance(value, list):
        for instance in value:
            if isinstance(instance, dict) and "datasetId" not in instance:
                return instance
        return value[0] if value and isinstance(value[0], dict) else None
    return value if isinstance(value, dict) else None


def _target(instance: dict[str, Any]) -> Any:
    for member in _VALUE_MEMBERS:
        if member in instance:
            return instance[member]
    return None


def _value(entity: Entity, key: OrderKey, compact: Callable[[str], str]) -> Any:
    if key.entity_member:
        member = key.path[0]
        if member == "id":
            return entity.id
        if member == "type":
            return sorted(compact(t) for t in entity.types)
        return entity.created_at if member == "createdAt" else entity.modified_at
    instance = _default_instance(entity.attrs.get(key.path[0]))
    for step in key.path[1:]:
        if instance is None:
            return None
        if step in _INSTANCE_MEMBERS:
            return instance.get(step)
        instance = _default_instance(instance.get(step))
    return None if instance is None else _target(instance)


def _rank(value: Any) -> tuple[int, Any]:
    """A sort key for one value: its kind first, then the value within the kind."""
    if isinstance(value, bool):
        return (2, value)
    if isinstance(value, int | float):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return (1, ",".join(value))
    return (3, orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode())


def order_entities(
    entities: list[Entity], keys: list[OrderKey], compact: Callable[[str], str]
) -> list[Entity]:
    """``entities`` ordered by ``keys`` (a stable sort, last key first)."""
    ordered = list(entities)
    for key in reversed(keys):
        present = [(e, _value(e, key, compact)) for e in ordered]
        with_value = [(e, v) for e, v in present if v is not None]
        without = [e for e, v in present if v is None]
        with_value.sort(key=lambda pair: _rank(pair[1]), reverse=key.descending)
        ordered = [e for e, _ in with_value] + without
    return ordered


async def ordered_matches(
    hub: Hub,
    tenant: str | None,
    query: EntityQuery,
    actor: Actor,
    keys: list[OrderKey],
    compact: Callable[[str], str],
) -> QueryResult:
    """The page ``query`` asks for (its limit and offset) of every match ordered by ``keys``;
    the count of every match when the query asks for it."""
    matched: list[Entity] = []
    page = 1000
    while True:
        part = replace(query, filters=list(query.filters), limit=page, offset=len(matched))
        part.count = False
        found = (await hub.query(tenant, part, actor)).entities
        matched.extend(found)
        if len(matched) > MAX_ORDERED:
            raise TooManyResults(
                f"orderBy orders at most {MAX_ORDERED} entities; this query matches more: "
                "narrow it (type, q, a geo-query)"
            )
        if len(found) < page:
            break
    ordered = order_entities(matched, keys, compact)
    return QueryResult(
        entities=ordered[query.offset : query.offset + query.limit],
        count=len(ordered) if query.count else None,
    )
