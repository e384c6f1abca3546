"""Entity filters from NGSI-LD query parameters: ``q``, geo-queries and ``scopeQ``.

Each filter has an exact Python test (also used by subscriptions on every change) and, where
possible, an SQL form the store pushes into the database.
"""

from __future__ import annotations

import re
from typing import Any

from qala.hub.errors import BadRequestData, TooComplexQuery
from qala.hub.model import Entity
from qala.hub.query import GeoFilter, Param
from qala.jsonld.compiled import CompiledContext
from qala.ngsild import geo
from qala.ngsild.dnf import parse_dnf
from qala.ngsild.parse import check_name
from qala.ngsild.query import (
    QueryLimits,
    QuerySyntaxError,
    QueryTooComplex,
    compile_matcher,
    compile_sql,
    iter_terms,
    parse_query,
)


class QFilter:
    """The NGSI-LD query language (``q``)."""

    def __init__(self, text: str, ctx: CompiledContext, max_terms: int) -> None:
        try:
            self.ast = parse_query(text, limits=QueryLimits(max_terms=max_terms))
        except QueryTooComplex as exc:
            raise TooComplexQuery(f"q is too complex: {exc}") from None
        except QuerySyntaxError as exc:
            raise BadRequestData(f"invalid q: {exc}") from None
        self.text = text
        self._expand = _checked_expand(ctx)
        self._match = compile_matcher(self.ast, self._expand)

    def matches(self, entity: Entity) -> bool:
        return self._match(entity.attrs)

    def matches_attrs(self, attrs: dict[str, Any]) -> bool:
        return self._match(attrs)

    def attributes(self) -> set[str]:
        """The attributes (expanded IRIs) the query tests."""
        return {self._expand(term.path.attribute) for term in iter_terms(self.ast)}

    def sql(self, dialect: str, param: Param) -> tuple[str, bool] | None:
        if dialect not in ("sqlite", "postgresql"):
            return None
        try:
            compiled = compile_sql(self.ast, self._expand, dialect, "e.data", param)  # type: ignore[arg-type]
        except ValueError:
            # A member name SQL cannot address safely: the store filters in Python instead.
            return None
        return compiled.sql, compiled.exact


def _checked_expand(ctx: CompiledContext) -> Any:
    """``ctx.expand`` for the attribute names of a query, which must be valid names."""

    def expand(name: str) -> str:
        try:
            check_name(name, "attribute name in q")
        except BadRequestData as exc:
            raise BadRequestData(f"invalid q: {exc.detail}") from None
        return ctx.expand(name)

    return expand


def q_filter(text: str, ctx: CompiledContext, max_terms: int) -> QFilter:
    if not text.strip():
        raise BadRequestData("q must not be empty")
    return QFilter(text, ctx, max_terms)


def geo_filter(
    georel: str | None,
    geometry: str | None,
    coordinates: Any,
    geoproperty: str | None,
    ctx: CompiledContext,
) -> GeoFilter:
    try:
        query = geo.parse_geoquery(georel, geometry, coordinates, geoproperty)
    except geo.InvalidGeoQuery as exc:
        raise BadRequestData(f"invalid geo-query: {exc}") from None
    if query is None:
        raise BadRequestData("invalid geo-query: georel, geometry and coordinates go together")
    return geo_filter_from(query, ctx)


def geo_filter_from(query: geo.GeoQuery, ctx: CompiledContext) -> GeoFilter:
    return GeoFilter(
        attr=ctx.expand(query.geoproperty),
        matches_geometry=geo.compile_geo_matcher(query),
        bbox=geo.query_bbox(query),
        matches_points=geo.compile_points_matcher(query),
    )


def geo_filter_json(value: Any, ctx: CompiledContext) -> GeoFilter:
    """The ``geoQ`` member of a query or subscription body."""
    if not isinstance(value, dict):
        raise BadRequestData("geoQ must be an object with geometry, coordinates and georel")
    try:
        query = geo.geoquery_from_json(value)
    except geo.InvalidGeoQuery as exc:
        raise BadRequestData(f"invalid geoQ: {exc}") from None
    return geo_filter_from(query, ctx)


# -- scopes --------------------------------------------------------------------------------

_SCOPE_TERM = re.compile(r"^/(?:[^/\s#+;,|()]+|\+)(?:/(?:[^/\s#+;,|()]+|\+))*(?:/#)?$|^/#$")


class ScopeFilter:
    """``scopeQ``: ``/Astana/Esil`` (exact), ``/Astana/#`` (subtree), ``/+/Esil`` (one level);
    ``,`` or ``|`` for OR, ``;`` for AND (binding tighter), parentheses to group."""

    def __init__(self, text: str) -> None:
        self.text = text
        #: Disjunctive normal form: any group matches when all its patterns match a scope.
        self.groups: list[list[re.Pattern[str]]] = [
            [self._compile(term) for term in group] for group in self._parse(text)
        ]

    @staticmethod
    def _parse(text: str) -> list[list[str]]:
        def scope(token: str | None) -> str:
            if token is None or not _SCOPE_TERM.match(token):
                raise BadRequestData(f"invalid scopeQ term {token!r} in {text!r}")
            return token

        return parse_dnf(text, "scopeQ", scope)

    @staticmethod
    def _compile(term: str) -> re.Pattern[str]:
        if term == "/#":
            return re.compile(r"^/.*$")
        subtree = term.endswith("/#")
        base = term[:-2] if subtree else term
        parts = [r"[^/]+" if p == "+" else re.escape(p) for p in base.split("/")[1:]]
        body = "^/" + "/".join(parts)
        return re.compile(body + (r"(/.*)?$" if subtree else "$"))

    def matches(self, entity: Entity) -> bool:
        scopes = entity.scope or []
        return any(all(any(p.match(s) for s in scopes) for p in group) for group in self.groups)

    def sql(self, dialect: str, param: Param) -> tuple[str, bool] | None:
        return "e.scope IS NOT NULL", False


def scope_filter(text: str) -> ScopeFilter:
    if not text.strip():
        raise BadRequestData("scopeQ must not be empty")
    return ScopeFilter(text)
