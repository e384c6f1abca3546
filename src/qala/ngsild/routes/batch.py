"""NGSI-LD batch operations: ``/entityOperations/{create,upsert,update,merge,delete,query}``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from qala import openapi
from qala.hub import BatchOutcome
from qala.hub.errors import BadRequestData, HubError, UnsupportedMediaType
from qala.hub.model import Entity
from qala.jsonld.compiled import CompiledContext
from qala.ngsild import http
from qala.ngsild.errors import problem_body
from qala.ngsild.filters import geo_filter_json, q_filter, scope_filter
from qala.ngsild.linked import Linker, parse_join
from qala.ngsild.params import (
    MAX_OFFSET,
    RETRIEVE_OPTIONS,
    check_id_pattern,
    expand_attrs,
    paging,
    parse_type_expression,
    pick_filter,
    render_options,
)
from qala.ngsild.parse import (
    check_entity_id,
    parse_entity,
    parse_fragment,
    reject_null_markers,
)
from qala.ngsild.responses import (
    ENTITY_LIST,
    FormatQuery,
    LangQuery,
    OptionsQuery,
    entity_list_response,
    geometry_property,
    stored_types,
)
from qala.ngsild.routing import FastRoute
from qala.services import services
from qala.web.edge import TenantHeader, actor_of, tenant_headers

router = APIRouter(tags=["Batch operations"], route_class=FastRoute)

_ENTITY = {"type": "Streetlight", "status": {"type": "Property", "value": "ok"}}
#: Batch items are checked one by one: an invalid one fails alone, in the 207 result.
_ARRAY_BODY = openapi.body(
    {
        "type": "array",
        "minItems": 1,
        "items": {"type": "object", "description": "An entity (see EntityInput)"},
    },
    example=[{"id": "urn:ngsi-ld:Streetlight:1", **_ENTITY}],
)
_FRAGMENTS_BODY = openapi.body(
    {
        "type": "array",
        "minItems": 1,
        "items": {"type": "object", "description": "An entity's id and attributes to change"},
    },
    example=[{"id": "urn:ngsi-ld:Streetlight:1", "status": {"type": "Property", "value": "off"}}],
)
_IDS_BODY = openapi.body(
    {"type": "array", "minItems": 1, "items": {"description": "An entity id (a URI)"}},
    example=["urn:ngsi-ld:Streetlight:1"],
)
_QUERY_BODY = openapi.body(openapi.ref("Query"), example={"type": "Query", "entities": [_ENTITY]})
_IDS = {"type": "array", "items": {"type": "string"}}
_PARTLY = openapi.ok(openapi.ref("BatchOperationResult"), "Some entities failed", status=207)
_ERRORS = openapi.errors(400, 403, 413, 415, 504)


def _entity_array(body: Any, max_entities: int) -> list[Any]:
    if not isinstance(body, list):
        raise BadRequestData("a batch operation takes a JSON array")
    if not body:
        raise BadRequestData("the batch is empty")
    if len(body) > max_entities:
        raise BadRequestData(f"a batch may hold at most {max_entities} entities")
    return body


async def _read_batch(
    request: Request, tenant: str | None, *, fragment: bool, new_entities: bool = False
) -> tuple[list[Entity], list[tuple[str, HubError]]]:
    """The entities of a batch body, each parsed with its own @context; per-entity errors.

    The request as a whole must be an array of JSON objects. With ``application/ld+json``
    every entity carries its @context (one that is missing, invalid or unavailable fails that
    entity only); with ``application/json`` the Link header gives it and entities must not.
    """
    svc = services(request)
    http.require_content_length(request)
    svc.hub.check_tenant_name(tenant)  # even when no entity of the batch is valid
    kind = http.media_type(request)
    if kind not in (http.JSON, http.JSONLD):
        raise UnsupportedMediaType(
            f"Content-Type {kind or '(none)'!r} is not supported; use application/json or "
            "application/ld+json"
        )
    body = await http.read_json(request, svc.settings.max_body_bytes)
    items = _entity_array(body, svc.settings.max_batch_entities)
    if not all(isinstance(item, dict) for item in items):
        raise BadRequestData("every item of a batch must be a JSON object (an entity)")
    link = request.headers.get("link")
    shared: CompiledContext | None = None
    if kind == http.JSONLD:
        if link and http.context_link(link):
            raise BadRequestData(
                "with Content-Type application/ld+json the @context goes in each entity, "
                "not in a Link header"
            )
    else:
        shared = await svc.contexts.compile(http.context_link(link))
    parsed: list[Entity] = []
    errors: list[tuple[str, HubError]] = []
    for item in items:
        raw_id = item.get("id")
        try:
            if shared is not None:
                if "@context" in item:
                    raise BadRequestData(
                        "with Content-Type application/json an entity cannot carry @context; "
                        "send application/ld+json or use a Link header"
                    )
                ctx = shared
            else:
                if item.get("@context") is None:
                    raise BadRequestData(
                        "with Content-Type application/ld+json every entity must carry @context"
                    )
                ctx = await svc.contexts.compile(item["@context"])
            if fragment:
                entity_id = check_entity_id(raw_id)
                known = (
                    None if "type" in item else await stored_types(request, tenant, entity_id, ctx)
                )
                parsed.append(parse_fragment(item, ctx, entity_id, known))
            else:
                entity = parse_entity(item, ctx)
                parsed.append(reject_null_markers(entity) if new_entities else entity)
        except HubError as exc:
            errors.append((raw_id if isinstance(raw_id, str) else "", exc))
    return parsed, errors


def _batch_result(outcome: BatchOutcome, errors: list[tuple[str, HubError]]) -> dict[str, Any]:
    return {
        "success": outcome.success,
        "errors": [
            {"entityId": entity_id, "error": problem_body(exc)}
            for entity_id, exc in [*errors, *outcome.errors]
        ],
    }


@router.post(
    "/entityOperations/create",
    status_code=201,
    summary="Create entities in a batch",
    openapi_extra=_ARRAY_BODY,
    responses={
        **openapi.ok(_IDS, "All entities were created: their ids", status=201),
        **_PARTLY,
        **_ERRORS,
    },
)
async def batch_create(request: Request, tenant: TenantHeader = None) -> Response:
    svc = services(request)
    entities, errors = await _read_batch(request, tenant, fragment=False, new_entities=True)
    outcome = (
        await svc.hub.batch_create(tenant, entities, actor_of(request))
        if entities
        else BatchOutcome()
    )
    headers = tenant_headers(tenant)
    if errors or outcome.errors:
        return http.json_response(_batch_result(outcome, errors), status=207, headers=headers)
    return http.json_response(outcome.success, status=201, headers=headers)


@router.post(
    "/entityOperations/upsert",
    status_code=201,
    summary="Create or update entities in a batch (options=replace|update)",
    openapi_extra=_ARRAY_BODY,
    responses={
        **openapi.ok(_IDS, "The ids of the entities created (the others were updated)", status=201),
        **openapi.no_content("All entities existed and were updated"),
        **_PARTLY,
        **_ERRORS,
    },
)
async def batch_upsert(
    request: Request,
    options: Annotated[str | None, Query(description="replace (default) or update")] = None,
    tenant: TenantHeader = None,
) -> Response:
    svc = services(request)
    opts = http.parse_options(options, frozenset({"replace", "update"}))
    if len(opts) > 1:
        raise BadRequestData("options=replace and options=update exclude each other")
    entities, errors = await _read_batch(
        request, tenant, fragment=False, new_entities="update" not in opts
    )
    outcome = (
        await svc.hub.batch_upsert(
            tenant, entities, actor_of(request), mode="update" if "update" in opts else "replace"
        )
        if entities
        else BatchOutcome()
    )
    headers = tenant_headers(tenant)
    if errors or outcome.errors:
        return http.json_response(_batch_result(outcome, errors), status=207, headers=headers)
    if outcome.created:
        return http.json_response(outcome.created, status=201, headers=headers)
    return Response(status_code=204, headers=headers)


@router.post(
    "/entityOperations/update",
    status_code=204,
    summary="Update entities in a batch (options=noOverwrite)",
    openapi_extra=_FRAGMENTS_BODY,
    responses={**openapi.no_content("All entities were updated"), **_PARTLY, **_ERRORS},
)
async def batch_update(
    request: Request,
    options: Annotated[str | None, Query(description="noOverwrite")] = None,
    tenant: TenantHeader = None,
) -> Response:
    svc = services(request)
    opts = http.parse_options(options, frozenset({"noOverwrite"}))
    entities, errors = await _read_batch(request, tenant, fragment=True)
    outcome = (
        await svc.hub.batch_update(
            tenant, entities, actor_of(request), no_overwrite="noOverwrite" in opts
        )
        if entities
        else BatchOutcome()
    )
    headers = tenant_headers(tenant)
    if errors or outcome.errors:
        return http.json_response(_batch_result(outcome, errors), status=207, headers=headers)
    return Response(status_code=204, headers=headers)


@router.post(
    "/entityOperations/merge",
    status_code=204,
    summary="Merge into entities in a batch",
    openapi_extra=_FRAGMENTS_BODY,
    responses={**openapi.no_content("All entities were merged"), **_PARTLY, **_ERRORS},
)
async def batch_merge(request: Request, tenant: TenantHeader = None) -> Response:
    svc = services(request)
    entities, errors = await _read_batch(request, tenant, fragment=True)
    outcome = (
        await svc.hub.batch_merge(tenant, entities, actor_of(request))
        if entities
        else BatchOutcome()
    )
    headers = tenant_headers(tenant)
    if errors or outcome.errors:
        return http.json_response(_batch_result(outcome, errors), status=207, headers=headers)
    return Response(status_code=204, headers=headers)


@router.post(
    "/entityOperations/delete",
    status_code=204,
    summary="Delete entities in a batch",
    openapi_extra=_IDS_BODY,
    responses={**openapi.no_content("All entities were deleted"), **_PARTLY, **_ERRORS},
)
async def batch_delete(request: Request, tenant: TenantHeader = None) -> Response:
    svc = services(request)
    http.require_content_length(request)
    svc.hub.check_tenant_name(tenant)  # even when no id of the batch is valid
    kind = http.media_type(request)
    if kind not in (http.JSON, http.JSONLD):
        raise UnsupportedMediaType(
            f"Content-Type {kind or '(none)'!r} is not supported; use application/json"
        )
    body = await http.read_json(request, svc.settings.max_body_bytes)
    items = _entity_array(body, svc.settings.max_batch_entities)
    ids: list[str] = []
    errors: list[tuple[str, HubError]] = []
    for item in items:
        try:
            ids.append(check_entity_id(item))
        except HubError as exc:
            errors.append((item if isinstance(item, str) else "", exc))
    outcome = await svc.hub.batch_delete(tenant, ids, actor_of(request)) if ids else BatchOutcome()
    headers = tenant_headers(tenant)
    if errors or outcome.errors:
        return http.json_response(_batch_result(outcome, errors), status=207, headers=headers)
    return Response(status_code=204, headers=headers)


@router.post(
    "/entityOperations/query",
    summary="Query entities with a Query object in the body",
    openapi_extra=_QUERY_BODY,
    responses={**ENTITY_LIST, **openapi.errors(400, 403, 404, 406, 413, 415, 504)},
)
async def batch_query(
    request: Request,
    limit: Annotated[int | None, Query(ge=0)] = None,
    offset: Annotated[int | None, Query(ge=0, le=MAX_OFFSET)] = None,
    count: bool = False,
    local: bool = False,
    options: OptionsQuery = None,
    format: FormatQuery = None,
    lang: LangQuery = None,
    tenant: TenantHeader = None,
) -> Response:
    svc = services(request)
    body, ctx = await http.body_and_context(request, svc.contexts, svc.settings.max_body_bytes)
    accept = http.accept_type(request, geojson=True)
    negotiated = http.Negotiated(ctx, accept)
    if not isinstance(body, dict):
        raise BadRequestData("the query must be a JSON object of type Query")
    if body.get("type") != "Query":
        raise BadRequestData('the query object must have "type": "Query"')
    query = _query_from_body(body, ctx, svc.settings, limit, offset, count, local)
    attrs = body.get("attrs")
    attrs_text = ",".join(attrs) if isinstance(attrs, list) else None
    join_level = body.get("joinLevel")
    if join_level is not None and (not isinstance(join_level, int) or isinstance(join_level, bool)):
        raise BadRequestData("joinLevel must be an integer")
    linking = parse_join(_text_member(body, "join"), join_level)
    opts = render_options(
        ctx,
        options=http.parse_options(options, RETRIEVE_OPTIONS),
        format=format,
        attrs=attrs_text,
        pick=_projection_member(body, "pick"),
        omit=_projection_member(body, "omit"),
        lang=lang or _text_member(body, "lang"),
        join_level=linking.level if linking else 0,
    )
    if (picked := pick_filter(opts)) is not None:
        query.attrs_any = picked
    result = await svc.hub.query(tenant, query, actor_of(request))
    bodies = None
    if linking is not None and accept != http.GEOJSON:
        linker = Linker(svc.hub, tenant, actor_of(request), ctx, linking)
        bodies = await linker.render(result.entities, opts)
    return entity_list_response(
        request,
        negotiated,
        opts,
        result.entities,
        result.count,
        query.limit,
        query.offset,
        tenant,
        geometry_property(ctx, None),
        bodies,
    )


def _text_member(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise BadRequestData(f"{name} must be a string")
    return value


def _projection_member(body: dict[str, Any], name: str) -> str | None:
    """``pick``/``omit`` of a Query object: a string, or an array of names."""
    value = body.get(name)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return ",".join(value)
    if value is not None and not isinstance(value, str):
        raise BadRequestData(f"{name} must be a string or an array of attribute names")
    return value


def _query_from_body(
    body: dict[str, Any],
    ctx: CompiledContext,
    settings: Any,
    limit: int | None,
    offset: int | None,
    count: bool,
    local: bool = False,
) -> Any:
    from qala.hub.query import EntityQuery, Selector

    if not any(body.get(k) is not None for k in ("entities", "attrs", "q", "geoQ")) and not local:
        raise BadRequestData(
            "a query needs at least one of entities, attrs, q or geoQ "
            "(or local=true to select every entity)"
        )
    lim, off = paging(limit, offset, settings.default_limit, settings.max_limit)
    query = EntityQuery(limit=lim, offset=off, count=count)
    selectors = body.get("entities")
    if selectors is not None:
        if not isinstance(selectors, list) or not selectors:
            raise BadRequestData("entities must be a non-empty array of entity selectors")
        for item in selectors:
            if not isinstance(item, dict):
                raise BadRequestData("each entity selector must be an object")
            selector = Selector()
            if "type" in item:
                if not isinstance(item["type"], str):
                    raise BadRequestData("an entity selector's type must be a string")
                selector.type_groups = parse_type_expression(item["type"], ctx)
            if "id" in item:
                selector.ids = [check_entity_id(item["id"])]
            if "idPattern" in item:
                if not isinstance(item["idPattern"], str):
                    raise BadRequestData("idPattern must be a string")
                check_id_pattern(item["idPattern"])
                if selector.ids is None:  # an id wins over idPattern (EntitySelector)
                    selector.id_pattern = item["idPattern"]
            query.selectors.append(selector)
    attrs = body.get("attrs")
    if attrs is not None:
        if not isinstance(attrs, list) or not all(isinstance(a, str) for a in attrs):
            raise BadRequestData("attrs must be an array of attribute names")
        query.attrs_any = expand_attrs(",".join(attrs), ctx)
    q = body.get("q")
    if q is not None:
        if not isinstance(q, str):
            raise BadRequestData("q must be a string")
        query.filters.append(q_filter(q, ctx, settings.max_query_terms))
    scope = body.get("scopeQ")
    if scope is not None:
        if not isinstance(scope, str):
            raise BadRequestData("scopeQ must be a string")
        query.filters.append(scope_filter(scope))
    if body.get("geoQ") is not None:
        query.geo = geo_filter_json(body["geoQ"], ctx)
    return query
