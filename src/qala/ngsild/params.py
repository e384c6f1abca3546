"""Query parameters of the NGSI-LD API, parsed into the hub's query objects."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from qala.hub.errors import BadRequestData, TooManyResults
from qala.hub.query import EntityQuery, Selector
from qala.jsonld.compiled import CompiledContext
from qala.ngsild.parse import check_entity_id, check_name
from qala.ngsild.render import Format, RenderOptions

RETRIEVE_OPTIONS = frozenset({"keyValues", "concise", "normalized", "sysAttrs"})
_FORMATS = {
    "keyValues": "keyValues",
    "simplified": "keyValues",
    "concise": "concise",
    "normalized": "normalized",
}


def split_list(raw: str | None) -> list[str]:
    if raw is None:
        return []
    return [item.strip() for item in raw.split(",") if item.strip()]


def expand_attrs(raw: str | None, ctx: CompiledContext, what: str = "attrs") -> list[str] | None:
    if raw is None:
        return None
    names = split_list(raw)
    if not names:
        raise BadRequestData(f"{what} must name at least one attribute")
    return [ctx.expand(check_name(n, f"attribute name in {what}")) for n in names]


def render_options(
    ctx: CompiledContext,
    *,
    options: set[str],
    format: str | None,
    attrs: str | None,
    pick: str | None,
    omit: str | None,
    lang: str | None,
) -> RenderOptions:
    fmt: Format = "normalized"
    chosen = [o for o in ("keyValues", "concise", "normalized") if o in options]
    if format is not None:
        if format not in _FORMATS:
            raise BadRequestData(
                f"unknown format {format!r}; use normalized, concise, keyValues or simplified"
            )
        chosen.append(_FORMATS[format])
    if len(set(chosen)) > 1:
        raise BadRequestData(
            f"conflicting representation options: {', '.join(sorted(set(chosen)))}"
        )
    if chosen:
        fmt = chosen[0]  # type: ignore[assignment]
    picked: frozenset[str] | None = None
    members: frozenset[str] | None = None
    if attrs is not None:
        picked = frozenset(expand_attrs(attrs, ctx) or ())
    if pick is not None:
        names = split_list(pick)
        if not names:
            raise BadRequestData("pick must name at least one attribute")
        members = frozenset(n for n in names if n in ("id", "type", "scope"))
        rest = [ctx.expand(check_name(n, "pick")) for n in names if n not in members]
        picked = frozenset(rest) if picked is None else picked & frozenset(rest)
    omitted = None
    if omit is not None:
        names = split_list(omit)
        omitted = frozenset(
            ctx.expand(check_name(n, "omit")) for n in names if n not in ("id", "type", "scope")
        )
        omitted_members = {n for n in names if n in ("id", "type", "scope")}
        if omitted_members:
            members = (members or frozenset({"id", "type", "scope"})) - omitted_members
    if lang is not None and not lang.strip():
        raise BadRequestData("lang must name a language (e.g. lang=kk) or *")
    return RenderOptions(
        format=fmt,
        sys_attrs="sysAttrs" in options,
        pick=picked,
        omit=omitted,
        pick_members=members,
        lang=lang,
    )


# -- type expressions ----------------------------------------------------------------------

_TYPE_TOKEN = re.compile(r"\s*([(),;|]|[^(),;|\s]+)")


def parse_type_expression(raw: str, ctx: CompiledContext) -> list[list[str]]:
    """``type=A,B`` / ``(A;B)|C`` -> disjunctive normal form of expanded types."""
    tokens = [m.group(1) for m in _TYPE_TOKEN.finditer(raw)]
    if not tokens or "".join(tokens) != re.sub(r"\s+", "", raw):
        raise BadRequestData(f"invalid type expression {raw!r}")
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        token = tokens[pos]
        pos += 1
        return token

    def expr() -> list[list[str]]:
        groups = term()
        while peek() in ("|", ","):
            take()
            groups = groups + term()
        return groups

    def term() -> list[list[str]]:
        groups = factor()
        while peek() == ";":
            take()
            right = factor()
            groups = [a + b for a in groups for b in right]
        return groups

    def factor() -> list[list[str]]:
        token = peek()
        if token is None:
            raise BadRequestData(f"invalid type expression {raw!r}: it ends too early")
        if token == "(":
            take()
            inner = expr()
            if peek() != ")":
                raise BadRequestData(f"invalid type expression {raw!r}: missing ')'")
            take()
            return inner
        if token in (")", ";", "|", ","):
            raise BadRequestData(f"invalid type expression {raw!r}: unexpected {token!r}")
        return [[ctx.expand(check_name(take(), "entity type"))]]

    groups = expr()
    if pos != len(tokens):
        raise BadRequestData(f"invalid type expression {raw!r}: unexpected {tokens[pos]!r}")
    if len(groups) > 64:
        raise BadRequestData(f"type expression {raw!r} is too complex")
    return [list(dict.fromkeys(g)) for g in groups]


def names_context(type_expression: str | None, ctx: CompiledContext) -> CompiledContext:
    """The context for attribute names in a query: type-scoped when one type is asked for."""
    if not type_expression or not ctx.has_type_scoped:
        return ctx
    try:
        groups = parse_type_expression(type_expression, ctx)
    except BadRequestData:
        return ctx
    return ctx.for_types(groups[0]) if len(groups) == 1 else ctx


def check_id_pattern(raw: str) -> str:
    try:
        re.compile(raw)
    except re.error as exc:
        raise BadRequestData(
            f"idPattern {raw!r} is not a valid regular expression: {exc}"
        ) from None
    return raw


def paging(limit: int | None, offset: int | None, default: int, maximum: int) -> tuple[int, int]:
    lim = default if limit is None else limit
    off = 0 if offset is None else offset
    if lim < 0:
        raise BadRequestData("limit must not be negative")
    if off < 0:
        raise BadRequestData("offset must not be negative")
    if lim > maximum:
        raise TooManyResults(
            f"limit {lim} exceeds the maximum of {maximum} entities per page; page with offset"
        )
    return lim, off


@dataclass(slots=True)
class QueryParams:
    """The raw query parameters of an entity query (GET or POST /entityOperations/query)."""

    type: str | None = None
    id: str | None = None
    id_pattern: str | None = None
    attrs: str | None = None
    q: str | None = None
    georel: str | None = None
    geometry: str | None = None
    coordinates: Any = None
    geoproperty: str | None = None
    scope_q: str | None = None
    limit: int | None = None
    offset: int | None = None
    count: bool = False


def build_entity_query(
    params: QueryParams,
    ctx: CompiledContext,
    *,
    default_limit: int,
    max_limit: int,
    max_terms: int,
) -> EntityQuery:
    from qala.ngsild.filters import geo_filter, q_filter, scope_filter

    limit, offset = paging(params.limit, params.offset, default_limit, max_limit)
    query = EntityQuery(limit=limit, offset=offset, count=params.count)
    selector = Selector()
    if params.type is not None:
        if not params.type.strip():
            raise BadRequestData("type must not be empty")
        selector.type_groups = parse_type_expression(params.type, ctx)
    if params.id is not None:
        ids = split_list(params.id)
        if not ids:
            raise BadRequestData("id must list at least one entity id")
        selector.ids = [check_entity_id(i) for i in ids]
    if params.id_pattern is not None:
        selector.id_pattern = check_id_pattern(params.id_pattern)
    if selector.type_groups or selector.ids or selector.id_pattern:
        query.selectors.append(selector)
    names = names_context(params.type, ctx)
    if params.attrs is not None:
        query.attrs_any = expand_attrs(params.attrs, names)
    if params.q is not None:
        query.filters.append(q_filter(params.q, names, max_terms))
    if params.scope_q is not None:
        query.filters.append(scope_filter(params.scope_q))
    if params.georel is not None or params.geometry is not None or params.coordinates is not None:
        query.geo = geo_filter(
            params.georel, params.geometry, params.coordinates, params.geoproperty, names
        )
    return query
