"""What a read asks of the store: plain objects, built by the protocol layer, run by the store."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from qala.hub import regex
from qala.hub.model import Entity

Param = Callable[[Any], str]


class EntityFilter(Protocol):
    """A condition on entities with an exact Python test and an optional SQL accelerator."""

    def matches(self, entity: Entity) -> bool: ...

    def sql(self, dialect: str, param: Param) -> tuple[str, bool] | None:
        """SQL over the aliases ``e`` (entities) for ``dialect``, and whether it is exact.

        None: no SQL form (the store filters in Python). Exact False: a superset.
        """
        ...


@dataclass(slots=True)
class GeoFilter:
    """A geo-query: the exact test, the prefilter box, and the GeoProperty it applies to."""

    attr: str  # expanded IRI of the GeoProperty
    matches_geometry: Callable[[dict[str, Any]], bool]
    bbox: tuple[float, float, float, float] | None  # minx, miny, maxx, maxy; None: no prefilter
    #: The same test for many points at once (longitudes, latitudes -> verdicts), where the
    #: relation allows it: what a store decides from its spatial index's point boxes.
    matches_points: Callable[[Sequence[float], Sequence[float]], list[bool]] | None = None

    def matches(self, entity: Entity) -> bool:
        for instance in entity.instances(self.attr):
            value = instance.get("value")
            if isinstance(value, dict) and self.matches_geometry(value):
                return True
        return False


@dataclass(slots=True)
class Selector:
    """Which entities: by type expression, ids and id pattern (all given must hold)."""

    #: Type expression in disjunctive normal form: any group matches when the entity has all
    #: of the group's (expanded) types. None: any type.
    type_groups: list[list[str]] | None = None
    ids: list[str] | None = None
    id_pattern: str | None = None

    def matches(self, entity: Entity) -> bool:
        if self.ids is not None and entity.id not in self.ids:
            return False
        if self.id_pattern is not None and not regex.search(self.id_pattern, entity.id):
            return False
        if self.type_groups is not None:
            types = set(entity.types)
            return any(all(t in types for t in group) for group in self.type_groups)
        return True


@dataclass(slots=True)
class EntityQuery:
    """A query over one tenant's entities (``GET /entities`` and its relatives)."""

    #: Any of these selectors must match (none: every entity).
    selectors: list[Selector] = field(default_factory=list)
    #: The entity must have at least one of these attributes (expanded IRIs).
    attrs_any: list[str] | None = None
    filters: list[EntityFilter] = field(default_factory=list)
    geo: GeoFilter | None = None
    limit: int = 20
    offset: int = 0
    count: bool = False


@dataclass(slots=True)
class QueryResult:
    entities: list[Entity]
    count: int | None = None


@dataclass(slots=True)
class TypeInfo:
    """Discovery: one entity type, its entity count and its attributes with their kinds."""

    type: str
    count: int
    attributes: dict[str, set[str]]  # attribute IRI -> attribute types (Property, …)


@dataclass(slots=True)
class AttributeInfo:
    """Discovery: one attribute, the types of entity that have it, its kinds and count."""

    attr: str
    count: int
    types: set[str]
    attribute_types: set[str]
