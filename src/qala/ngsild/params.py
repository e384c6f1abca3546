"""Query parameters of the NGSI-LD API, parsed into the hub's query objects."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from qala.hub import regex
from qala.hub.errors import BadRequestData, InvalidRequest, TooComplexQuery, TooManyResults
from qala.hub.query import EntityQuery, Selector
from qala.jsonld.compiled import CompiledContext
from qala.ngsild.dnf import parse_dnf
from qala.ngsild.parse import check_entity_id, check_name
from qala.ngsild.render import Format, RenderOptions

RETRIEVE_OPTIONS = frozenset({"keyValues", "simplified", "concise", "normalized", "sysAttrs"})
#: Entity members (not attributes) that pick and omit may name.
ENTITY_MEMBERS = frozenset({"id", "type", "scope"})
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


def expand_attr(name: str, ctx: CompiledContext, what: str) -> str:
    """An attribute name from a request parameter, expanded; keywords are no attributes."""
    check_name(name, what)
    if ctx.keyword(name) is not None:
        raise BadRequestData(f"{name!r} in {what} is an entity member, not an attribute name")
    return ctx.expand(name)


#: The most attribute names a list (attrs, pick, omit) may give, and the deepest a type
#: expression, scopeQ or projection may nest: far beyond real queries, and within what the
#: stores' SQL (SQLite: expressions 1000 deep) and the parsers' recursion handle.
MAX_NAMES = 100
MAX_NESTING = 32


def expand_attrs(raw: str | None, ctx: CompiledContext, what: str = "attrs") -> list[str] | None:
    if raw is None:
        return None
    names = split_list(raw)
    if not names:
        raise BadRequestData(f"{what} must name at least one attribute")
    if len(names) > MAX_NAMES:
        raise TooComplexQuery(f"{what} names {len(names)} attributes; at most {MAX_NAMES}")
    return [expand_attr(n, ctx, f"attribute name in {what}") for n in names]


# -- representation and projection -----------------------------------------------------------


def representation(options: set[str], format: str | None) -> Format:
    """The representation ``format`` (which wins) or ``options`` ask for; normalized if none."""
    if format is not None:
        if format not in _FORMATS:
            raise InvalidRequest(
                f"unknown format {format!r}; use normalized, concise, keyValues or simplified"
            )
        return _FORMATS[format]  # type: ignore[return-value]
    chosen = {_FORMATS[o] for o in options if o in _FORMATS}
    if len(chosen) > 1:
        raise BadRequestData(f"conflicting representation options: {', '.join(sorted(chosen))}")
    return chosen.pop() if chosen else "normalized"  # type: ignore[return-value]


_PROJECTION_TOKEN = re.compile(r"[{}|,]|[^{}|,]+")

#: A pick/omit expression: name -> the projection of the entities it links to (``a{b,c}``),
#: or None when it has none.
Projection = dict[str, "Projection | None"]


def parse_projection(raw: str, what: str) -> Projection:
    """A ``pick``/``omit`` expression: ``a,b|c`` (``,`` and ``|`` alike), where ``a{b,c}``
    projects the entities that ``a`` links to (linked-entity retrieval, ``join``)."""
    tokens = _PROJECTION_TOKEN.findall(raw)
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def fail(reason: str) -> BadRequestData:
        return BadRequestData(f"invalid {what} {raw!r}: {reason}")

    names = 0

    def items(depth: int) -> Projection:
        nonlocal pos, names
        if depth > MAX_NESTING:
            raise fail(f"it nests more than {MAX_NESTING} levels")
        found: Projection = {}
        while True:
            token = peek()
            if token is None or token in "{}|,":
                where = "at the end" if token is None else f"before {token!r}"
                raise fail(f"a name is missing {where}")
            name = token.strip()
            pos += 1
            names += 1
            if names > MAX_NAMES:
                raise TooComplexQuery(f"{what} names more than {MAX_NAMES} attributes")
            if not name:
                raise fail("a name is missing")
            try:
                check_name(name, what)
            except BadRequestData as exc:
                raise fail(exc.detail) from None
            nested: Projection | None = None
            if peek() == "{":
                pos += 1
                nested = items(depth + 1)
                if peek() != "}":
                    raise fail("a '{' is not closed")
                pos += 1
            found[name] = nested
            if peek() in (",", "|"):
                pos += 1
                continue
            if depth == 0 and peek() is not None:
                raise fail(f"unexpected {peek()!r}")
            return found

    if not raw.strip():
        raise fail("it names nothing")
    return items(0)


def projection_depth(projection: Projection | None) -> int:
    """How many levels of linked entities a projection reaches into."""
    if not projection:
        return 0
    return max((1 + projection_depth(sub) if sub is not None else 0) for sub in projection.values())


def render_options(
    ctx: CompiledContext,
    *,
    options: set[str],
    format: str | None,
    attrs: str | None,
    pick: str | None,
    omit: str | None,
    lang: str | None,
    dataset_id: str | None = None,
    join_level: int = 0,
) -> RenderOptions:
    fmt = representation(options, format)
    if attrs is not None and (pick is not None or omit is not None):
        raise BadRequestData("attrs cannot be combined with pick or omit (pick replaces attrs)")
    picked: frozenset[str] | None = None
    members: frozenset[str] | None = None
    if attrs is not None:
        picked = frozenset(expand_attrs(attrs, ctx) or ())
    pick_tree = parse_projection(pick, "pick") if pick is not None else None
    omit_tree = parse_projection(omit, "omit") if omit is not None else None
    if projection_depth(pick_tree) > join_level or projection_depth(omit_tree) > join_level:
        raise BadRequestData(
            "pick and omit project linked entities (name{…}) only as deep as join and "
            f"joinLevel reach (joinLevel {join_level})"
            if join_level
            else "pick and omit project linked entities (name{…}) only with join=flat or inline"
        )
    omitted = None
    if pick_tree is not None or omit_tree is not None:
        picked, omitted, members = _projection(ctx, pick_tree, omit_tree)
    if lang is not None and not lang.strip():
        raise BadRequestData("lang must name a language (e.g. lang=kk) or *")
    datasets = None
    if dataset_id is not None:
        names = split_list(dataset_id)
        if not names:
            raise BadRequestData("datasetId must name at least one datasetId (or @none)")
        datasets = frozenset(n if n == "@none" else check_entity_id(n, "datasetId") for n in names)
    return RenderOptions(
        format=fmt,
        sys_attrs="sysAttrs" in options,
        pick=picked,
        omit=omitted,
        pick_members=members,
        lang=lang,
        datasets=datasets,
        pick_tree=pick_tree,
        omit_tree=omit_tree,
    )


def flat_projection(
    ctx: CompiledContext, pick: str | None, omit: str | None
) -> tuple[frozenset[str] | None, frozenset[str] | None, frozenset[str] | None]:
    """``pick``/``omit`` without linked entities (the temporal API): the attributes picked,
    the attributes omitted and the entity members kept (expanded names; None: no limit)."""
    pick_tree = parse_projection(pick, "pick") if pick is not None else None
    omit_tree = parse_projection(omit, "omit") if omit is not None else None
    if projection_depth(pick_tree) or projection_depth(omit_tree):
        raise BadRequestData("pick and omit here name attributes and id, type or scope only")
    return _projection(ctx, pick_tree, omit_tree)


def _projection(
    ctx: CompiledContext, pick_tree: Projection | None, omit_tree: Projection | None
) -> tuple[frozenset[str] | None, frozenset[str] | None, frozenset[str] | None]:
    """Attributes picked, attributes omitted and entity members kept (expanded names)."""
    picked_names = list(pick_tree or ())
    # omit=a{b} omits b from the entities a links to, not a itself
    omitted_names = [name for name, sub in (omit_tree or {}).items() if sub is None]
    both = set(picked_names) & set(omitted_names)
    if both:
        raise BadRequestData(f"{', '.join(sorted(both))} cannot be both picked and omitted")
    picked = members = omitted = None
    if pick_tree is not None:
        members = frozenset(n for n in picked_names if n in ENTITY_MEMBERS)
        picked = frozenset(ctx.expand(n) for n in picked_names if n not in ENTITY_MEMBERS)
    if omit_tree is not None:
        omitted = frozenset(ctx.expand(n) for n in omitted_names if n not in ENTITY_MEMBERS)
        omitted_members = {n for n in omitted_names if n in ENTITY_MEMBERS}
        if omitted_members:
            members = (members or ENTITY_MEMBERS) - omitted_members
    return picked, omitted, members


def linked_options(parent: RenderOptions, name: str, ctx: CompiledContext) -> RenderOptions:
    """How to render the entities that the attribute ``name`` of an entity links to: the
    parent's representation, and the projection given in braces after ``name``, if any."""
    pick_tree = (parent.pick_tree or {}).get(name)
    omit_tree = (parent.omit_tree or {}).get(name)
    picked, omitted, members = _projection(ctx, pick_tree, omit_tree)
    return RenderOptions(
        format=parent.format,
        sys_attrs=parent.sys_attrs,
        pick=picked,
        omit=omitted,
        pick_members=members,
        lang=parent.lang,
        pick_tree=pick_tree,
        omit_tree=omit_tree,
    )


def pick_filter(opts: RenderOptions) -> list[str] | None:
    """The attributes an entity needs to appear in a query with ``pick`` of attributes only."""
    if opts.pick and opts.pick_members is not None and not opts.pick_members:
        return sorted(opts.pick)
    return None


# -- type expressions ----------------------------------------------------------------------


def parse_type_expression(raw: str, ctx: CompiledContext) -> list[list[str]]:
    """``type=A,B`` / ``(A;B)|C`` -> disjunctive normal form of expanded types."""

    def type_name(token: str | None) -> str:
        if token is None:
            raise BadRequestData(f"invalid type expression {raw!r}: it ends too early")
        if token in (")", ";", "|", ","):
            raise BadRequestData(f"invalid type expression {raw!r}: unexpected {token!r}")
        return ctx.expand(check_name(token, "entity type"))

    groups = parse_dnf(raw, "type expression", type_name)
    return [list(dict.fromkeys(g)) for g in groups]


def names_context(type_expression: str | None, ctx: CompiledContext) -> CompiledContext:
    """The context for attribute names in a query: type-scoped when one type is asked for."""
    if not type_expression or type_expression.strip() == "*" or not ctx.has_type_scoped:
        return ctx
    try:
        groups = parse_type_expression(type_expression, ctx)
    except BadRequestData:
        return ctx
    return ctx.for_types(groups[0]) if len(groups) == 1 else ctx


def check_id_pattern(raw: str) -> str:
    """``raw`` if it is a regular expression the broker evaluates, else BadRequestData."""
    try:
        regex.compile_pattern(raw)
    except regex.PatternError as exc:
        shown = raw if len(raw) <= 80 else raw[:80] + "..."
        raise BadRequestData(
            f"idPattern {shown!r} is not a valid regular expression: {exc.msg}"
        ) from None
    return raw


#: The largest ``offset`` of a page: far beyond any page a client walks to, and inside the
#: integer range of every store (a larger one would fail in the database, not in the request).
MAX_OFFSET = 1_000_000_000


def paging(limit: int | None, offset: int | None, default: int, maximum: int) -> tuple[int, int]:
    lim = default if limit is None else limit
    off = 0 if offset is None else offset
    if lim < 0:
        raise BadRequestData("limit must not be negative")
    if off < 0:
        raise BadRequestData("offset must not be negative")
    if off > MAX_OFFSET:
        raise BadRequestData(f"offset must be at most {MAX_OFFSET}, not {off}")
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
    #: ``local=true``: every local entity may match (no other restriction needed).
    local: bool = False
    #: Attributes picked (``pick`` without entity members): entities need one of them.
    pick_attrs: list[str] | None = None


def build_entity_query(
    params: QueryParams,
    ctx: CompiledContext,
    *,
    default_limit: int,
    max_limit: int,
    max_terms: int,
) -> EntityQuery:
    from qala.ngsild.filters import geo_filter, q_filter, scope_filter

    geo_given = (
        params.georel is not None or params.geometry is not None or params.coordinates is not None
    )
    if not (params.type or params.attrs or params.q or geo_given or params.local):
        raise BadRequestData(
            "a query needs at least one of type, attrs, q or a geo-query "
            "(or local=true to select every entity)"
        )
    limit, offset = paging(params.limit, params.offset, default_limit, max_limit)
    query = EntityQuery(limit=limit, offset=offset, count=params.count)
    selector = Selector()
    if params.type is not None:
        if not params.type.strip():
            raise BadRequestData("type must not be empty")
        if params.type.strip() != "*":  # the wildcard: entities of any type
            selector.type_groups = parse_type_expression(params.type, ctx)
    if params.id is not None:
        ids = split_list(params.id)
        if not ids:
            raise BadRequestData("id must list at least one entity id")
        selector.ids = [check_entity_id(i) for i in ids]
    if params.id_pattern is not None:
        check_id_pattern(params.id_pattern)
        if selector.ids is None:  # ids given: idPattern is ignored (5.7.2)
            selector.id_pattern = params.id_pattern
    if selector.type_groups or selector.ids or selector.id_pattern:
        query.selectors.append(selector)
    names = names_context(params.type, ctx)
    if params.attrs is not None:
        query.attrs_any = expand_attrs(params.attrs, names)
    if params.pick_attrs:
        query.attrs_any = params.pick_attrs
    if params.q is not None:
        query.filters.append(q_filter(params.q, names, max_terms))
    if params.scope_q is not None:
        query.filters.append(scope_filter(params.scope_q))
    if geo_given:
        query.geo = geo_filter(
            params.georel, params.geometry, params.coordinates, params.geoproperty, names
        )
    return query
