"""SQL for entity queries, shared by both stores; database differences stay in :class:`EntitySQL`.

A query becomes one SELECT over ``entities e``. Conditions that SQL can decide exactly
(tenant, types, ids, attribute existence, most of the q language) go into the WHERE clause, so
``LIMIT``/``OFFSET``/``COUNT`` run in the database. Conditions SQL can only approximate (geo
relations, some regular expressions) contribute a superset filter; the store then streams the
candidates in entity order and applies the exact Python test, counting and paging itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from qala.hub.model import Entity
from qala.hub.query import EntityQuery, QueryResult, Selector

ENTITY_COLUMNS = "e.pk, e.entity_id, e.types, e.scope, e.created_at, e.modified_at, e.owner, e.data"


def row_to_entity(row: Sequence[Any]) -> Entity:
    """An entity from a row of :data:`ENTITY_COLUMNS`."""
    pk, entity_id, types, scope, created_at, modified_at, owner, data = row
    return Entity(
        id=entity_id,
        types=orjson.loads(types),
        attrs=orjson.loads(data),
        scope=orjson.loads(scope) if scope else None,
        created_at=created_at,
        modified_at=modified_at,
        owner=owner,
        pk=pk,
    )


class PageCollector:
    """Applies the exact Python checks to SQL candidates (in entity order) and pages them."""

    def __init__(self, checks: list[Any], query: EntityQuery) -> None:
        self.checks = checks
        self.query = query
        self.wanted = query.offset + query.limit
        self.page: list[Entity] = []
        self.matched = 0

    def feed(self, entity: Entity) -> bool:
        """Consider one candidate; True once nothing more is needed."""
        if all(check.matches(entity) for check in self.checks):
            if self.query.offset <= self.matched < self.wanted:
                self.page.append(entity)
            self.matched += 1
        return self.matched >= self.wanted and not self.query.count

    def result(self) -> QueryResult:
        return QueryResult(self.page, self.matched if self.query.count else None)


class Params:
    """Collects bound parameters and hands out the dialect's placeholders."""

    def __init__(self, numbered: bool) -> None:
        self.values: list[Any] = []
        self._numbered = numbered

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}" if self._numbered else "?"


@dataclass(slots=True)
class EntitySQL:
    """The pieces of entity-query SQL that differ by database: JSON operators, the
    spatial prefilter, regular expressions."""

    name: str  # the dialect: "sqlite" | "postgresql"

    @property
    def numbered(self) -> bool:
        return self.name == "postgresql"

    def json_path(self, iri: str) -> str:
        return '$."' + iri + '"'

    def has_attr(self, iri: str, p: Params) -> str:
        if self.name == "sqlite":
            return f"json_type(e.data, {p(self.json_path(iri))}) IS NOT NULL"
        return f"jsonb_exists(e.data, {p(iri)})"

    def id_pattern(self, pattern: str, p: Params) -> tuple[str, bool]:
        if self.name == "sqlite":  # REGEXP (RE2's search) is registered on each connection
            return f"e.entity_id REGEXP {p(pattern)}", True
        # PostgreSQL's POSIX expressions differ from Python's (the documented syntax) and may
        # reject some: leave idPattern to the exact Python test.
        return "1=1", False

    def geo_candidates(
        self, tenant_id: int, attr: str, bbox: tuple[float, float, float, float], p: Params
    ) -> str:
        minx, miny, maxx, maxy = bbox
        if self.name == "sqlite":
            return (
                "SELECT g.entity_pk AS pk, g.minx, g.miny, g.maxx, g.maxy "
                "FROM entity_geo g WHERE g.id IN "
                "(SELECT id FROM entity_geo_rtree WHERE "
                f"minx <= {p(maxx)} AND maxx >= {p(minx)} "
                f"AND miny <= {p(maxy)} AND maxy >= {p(miny)})"
                f" AND g.attr = {p(attr)} AND g.tenant_id = {p(tenant_id)}"
            )
        return (
            "SELECT g.entity_pk AS pk, g.minx, g.miny, g.maxx, g.maxy FROM entity_geo g WHERE "
            f"box(point(g.minx, g.miny), point(g.maxx, g.maxy)) && "
            f"box(point({p(minx)}, {p(miny)}), point({p(maxx)}, {p(maxy)}))"
            f" AND g.attr = {p(attr)} AND g.tenant_id = {p(tenant_id)}"
        )


class SelectorCheck:
    """The exact selector test, for selectors SQL could only approximate."""

    def __init__(self, selectors: list[Selector]) -> None:
        self.selectors = selectors

    def matches(self, entity: Entity) -> bool:
        return any(s.matches(entity) for s in self.selectors)


@dataclass(slots=True)
class EntitySelect:
    """A query compiled to SQL: FROM + WHERE, and whether SQL alone decides the result."""

    from_sql: str
    where: list[str]
    params: Params
    exact: bool
    order_by: str = "e.pk"
    python_checks: list[Any] = field(default_factory=list)

    def select(self, limit: int | None = None, offset: int = 0) -> tuple[str, list[Any]]:
        sql = f"{self.prefix}SELECT {ENTITY_COLUMNS} FROM {self.from_sql} "
        sql += f"WHERE {' AND '.join(self.where)} ORDER BY {self.order_by}"
        values = list(self.params.values)
        if limit is not None:
            sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
        return sql, values

    def count(self) -> tuple[str, list[Any]]:
        sql = f"{self.prefix}SELECT count(*) FROM {self.from_sql} WHERE {' AND '.join(self.where)}"
        return sql, list(self.params.values)

    #: Set for geo-queries: candidates come from the spatial index with their boxes.
    geo: Any = None
    #: A WITH clause the statements start with.
    prefix: str = ""

    def geo_candidates(self) -> tuple[str, list[Any]]:
        """(pk, minx, miny, maxx, maxy) of each candidate GeoProperty instance, in entity
        order, under every SQL condition — without reading the entities' documents."""
        sql = (
            f"{self.prefix}SELECT c.pk, c.minx, c.miny, c.maxx, c.maxy FROM {self.from_sql} "
            f"WHERE {' AND '.join(self.where)} ORDER BY c.pk"
        )
        return sql, list(self.params.values)


def by_pks(pks: list[int], numbered: bool) -> tuple[str, list[Any]]:
    """The entities with these primary keys, in key order."""
    p = Params(numbered)
    marks = ", ".join(p(pk) for pk in pks)
    return (
        f"SELECT {ENTITY_COLUMNS} FROM entities e WHERE e.pk IN ({marks}) ORDER BY e.pk",
        p.values,
    )


class GeoPlan:
    """A geo-query decided as far as possible from the spatial index alone.

    A candidate whose GeoProperty instances are all points is decided from the index rows
    (a point's box is the point itself), so only the page's entities are read. Candidates with
    other geometries, or queries with further Python checks, fall back to reading entities.
    """

    def __init__(self, select: EntitySelect, query: EntityQuery) -> None:
        self.select = select
        self.query = query
        self.other_checks = [c for c in select.python_checks if c is not query.geo]
        self._pending: tuple[list[int], int | None] = ([], None)

    def decide(self, rows: Sequence[Sequence[Any]]) -> tuple[list[int], list[int]]:
        """(pks decided to match, pks needing the entity) — both in entity order."""
        boxes: dict[int, list[tuple[float, float, float, float]]] = {}
        for pk, minx, miny, maxx, maxy in rows:
            boxes.setdefault(pk, []).append((minx, miny, maxx, maxy))
        matched: list[int] = []
        unknown: list[int] = []
        geo = self.query.geo
        assert geo is not None
        test = geo.matches_geometry
        many = geo.matches_points  # every candidate point in one call, where it can
        points: list[int] = []
        xs: list[float] = []
        ys: list[float] = []
        for pk, found in boxes.items():
            if all(b[0] == b[2] and b[1] == b[3] for b in found):
                if many is not None:
                    for b in found:
                        points.append(pk)
                        xs.append(b[0])
                        ys.append(b[1])
                elif any(test({"type": "Point", "coordinates": [b[0], b[1]]}) for b in found):
                    matched.append(pk)
            else:
                unknown.append(pk)
        if many is not None and points:
            hit = {pk for pk, ok in zip(points, many(xs, ys), strict=True) if ok}
            matched = [pk for pk in boxes if pk in hit]  # entity order, as the rows came
        return matched, unknown

    def page(self, matched: list[int]) -> list[int]:
        return matched[self.query.offset : self.query.offset + self.query.limit]

    def to_read(self, matched: list[int], unknown: list[int]) -> list[int]:
        """Entities to read before paging: the undecided ones (and, when other Python checks
        remain, every candidate)."""
        if self.other_checks:
            return sorted({*matched, *unknown})
        return unknown

    def result(
        self, matched: list[int], unknown: list[int], read: list[Entity]
    ) -> tuple[QueryResult | None, list[int], dict[int, Entity]]:
        """The result if complete, else the page's keys still to read (and what is read)."""
        known = {e.pk: e for e in read if e.pk is not None}
        if self.other_checks:
            collector = PageCollector(self.select.python_checks, self.query)
            for entity in read:
                if collector.feed(entity):
                    break
            return collector.result(), [], known
        resolved = [e.pk for e in read if e.pk is not None and self.query.geo.matches(e)]  # type: ignore[union-attr]
        everything = sorted({*matched, *resolved})
        page = self.page(everything)
        missing = [pk for pk in page if pk not in known]
        count = len(everything) if self.query.count else None
        if not missing:
            return QueryResult([known[pk] for pk in page], count), [], known
        self._pending = (page, count)
        return None, missing, known

    def finish(self, known: dict[int, Entity], read: list[Entity]) -> QueryResult:
        page, count = self._pending
        known.update({e.pk: e for e in read if e.pk is not None})
        return QueryResult([known[pk] for pk in page if pk in known], count)


def _type_condition(tenant_id: int, groups: list[list[str]], p: Params) -> str:
    ors = []
    for group in groups:
        ands = [
            "EXISTS (SELECT 1 FROM entity_types t2 WHERE t2.entity_pk = e.pk AND "
            f"t2.tenant_id = {p(tenant_id)} AND t2.type = {p(type_iri)})"
            for type_iri in group
        ]
        ors.append("(" + " AND ".join(ands) + ")")
    return "(" + " OR ".join(ors) + ")"


def _selector_condition(
    entity_sql: EntitySQL, tenant_id: int, selector: Selector, p: Params, with_types: bool
) -> tuple[str, bool]:
    parts: list[str] = []
    exact = True
    if with_types and selector.type_groups is not None:
        parts.append(_type_condition(tenant_id, selector.type_groups, p))
    if selector.ids:
        parts.append("e.entity_id IN (" + ", ".join(p(i) for i in selector.ids) + ")")
    if selector.id_pattern is not None:
        sql, is_exact = entity_sql.id_pattern(selector.id_pattern, p)
        parts.append(sql)
        exact = is_exact
    return ("(" + " AND ".join(parts) + ")" if parts else "1=1"), exact


def build_select(entity_sql: EntitySQL, tenant_id: int, query: EntityQuery) -> EntitySelect:
    p = Params(entity_sql.numbered)
    where: list[str] = []
    exact = True
    checks: list[Any] = []
    order_by = "e.pk"
    prefix = ""
    selectors = query.selectors
    single_type: str | None = None
    if len(selectors) == 1:
        groups = selectors[0].type_groups
        if groups is not None and len(groups) == 1 and len(groups[0]) == 1:
            single_type = groups[0][0]

    geo_indexed = query.geo is not None and query.geo.bbox is not None
    if geo_indexed:
        assert query.geo is not None and query.geo.bbox is not None
        candidates = entity_sql.geo_candidates(tenant_id, query.geo.attr, query.geo.bbox, p)
        # Materialised first, so the spatial index drives the query (a flattened plan would
        # scan every entity of the tenant).
        prefix = f"WITH c AS MATERIALIZED ({candidates}) "
        from_sql = "c JOIN entities e ON e.pk = c.pk"
        where.append(f"e.tenant_id = {p(tenant_id)}")
        single_type = None
    elif single_type is not None:
        # The common case: one type. Walk the (tenant, type, entity) index in entity order.
        from_sql = "entity_types t JOIN entities e ON e.pk = t.entity_pk"
        where.append(f"t.tenant_id = {p(tenant_id)}")
        where.append(f"t.type = {p(single_type)}")
        order_by = "t.entity_pk"
    else:
        from_sql = "entities e"
        where.append(f"e.tenant_id = {p(tenant_id)}")

    if selectors:
        alternatives = []
        selectors_exact = True
        for selector in selectors:
            sql, is_exact = _selector_condition(
                entity_sql, tenant_id, selector, p, with_types=single_type is None
            )
            alternatives.append(sql)
            selectors_exact = selectors_exact and is_exact
        where.append("(" + " OR ".join(alternatives) + ")")
        if not selectors_exact:
            exact = False
            checks.append(SelectorCheck(selectors))

    if query.attrs_any:
        where.append("(" + " OR ".join(entity_sql.has_attr(a, p) for a in query.attrs_any) + ")")
    for flt in query.filters:
        compiled = flt.sql(entity_sql.name, p)
        if compiled is None:
            exact = False
            checks.append(flt)
            continue
        sql, is_exact = compiled
        where.append(f"({sql})")
        if not is_exact:
            exact = False
            checks.append(flt)
    if query.geo is not None:
        exact = False
        checks.append(query.geo)
    select = EntitySelect(from_sql, where, p, exact, order_by, checks)
    select.prefix = prefix
    if geo_indexed:
        select.geo = query.geo
        select.order_by = "e.pk"
    return select
