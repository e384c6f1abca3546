"""The NGSI-LD temporal API's reads: ``GET /temporal/entities``, ``GET
/temporal/entities/{entityId}`` and ``POST /temporal/entityOperations/query``.

Parameters are parsed into a temporal query and run by :mod:`qala.temporal.evolution`; the
history is read by :mod:`qala.temporal.history`. Access is the hub's: an entity the caller may
not read has no temporal evolution for it (:func:`qala.temporal.reader.visible_entities`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from qala import openapi
from qala.hub import BadRequestData, NotFound, ReadScope, Selector, us_to_iso
from qala.jsonld.compiled import CompiledContext
from qala.ngsild import http
from qala.ngsild.params import MAX_OFFSET, check_id_pattern, expand_attrs, parse_type_expression
from qala.ngsild.parse import check_entity_id
from qala.ngsild.routing import StrictRoute
from qala.services import Services, services
from qala.temporal.evolution import (
    TEMPORAL_OPTIONS,
    TemporalParams,
    TemporalQuery,
    build_query,
    not_found,
    run_query,
    select_entities,
)
from qala.temporal.history import History
from qala.temporal.reader import visible_entities
from qala.temporal.routes.paths import EntityIdPath
from qala.web.edge import TenantHeader, actor_of, negotiate, page_links, tenant_headers

router = APIRouter(tags=["Temporal"], route_class=StrictRoute)
Q = Query

_QUERY_BODY = openapi.body(
    openapi.ref("Query"),
    example={
        "type": "Query",
        "entities": [{"type": "WeatherObserved"}],
        "temporalQ": {"timerel": "after", "timeAt": "2026-01-01T00:00:00Z"},
    },
)
_HISTORY = "The temporal evolution (206 with Content-Range when lastN or limits cut it)"
_PAGE = {"type": "array", "items": openapi.ref("TemporalEntity")}
_QUERY_RESPONSES = {
    **openapi.ok(_PAGE, _HISTORY, openapi.NGSI_LD),
    **openapi.ok(_PAGE, _HISTORY, openapi.NGSI_LD, status=206),
    **openapi.errors(400, 403, 404, 406, 504),
}


async def _reader(
    request: Request, svc: Services, tenant: str | None
) -> tuple[int, ReadScope | None]:
    """The tenant to read, after the access checks, and the caller's read scope."""
    ten, scope = await svc.hub.reader(tenant, actor_of(request))
    return ten.id, scope


def _response(
    request: Request,
    negotiated: http.Negotiated,
    body: Any,
    tenant: str | None,
    content_range: tuple[int, int, str] | None,
    extra: dict[str, str] | None = None,
) -> Response:
    headers = tenant_headers(tenant)
    if extra:
        headers.update(extra)
    status = 200
    if content_range is not None:
        first, last, size = content_range
        headers["Content-Range"] = f"date-time {us_to_iso(first)}-{us_to_iso(last)}/{size}"
        status = 206
    if negotiated.accept == http.JSONLD:
        response_context = negotiated.ctx.response_context()
        items = body if isinstance(body, list) else [body]
        for item in items:
            item["@context"] = response_context
    return http.json_response(body, status=status, negotiated=negotiated, headers=headers)


def _options(raw: str | None) -> set[str]:
    return http.parse_options(raw, TEMPORAL_OPTIONS)


@router.get(
    "/temporal/entities",
    summary="Query the temporal evolution of entities",
    responses=_QUERY_RESPONSES,
)
async def query_temporal(
    request: Request,
    type: Annotated[str | None, Q(description="Entity type expression")] = None,
    id: Annotated[str | None, Q(description="Comma-separated entity ids")] = None,
    idPattern: Annotated[str | None, Q(description="Regular expression on ids")] = None,
    attrs: Annotated[str | None, Q(description="Comma-separated attribute names")] = None,
    pick: Annotated[
        str | None, Q(description="Attributes and entity members (id, type) to return")
    ] = None,
    omit: Annotated[str | None, Q(description="Attributes and entity members to leave out")] = None,
    q: Annotated[
        str | None, Q(description="NGSI-LD query (held at an instant of the window)")
    ] = None,
    scopeQ: Annotated[str | None, Q(description="Scope query (on the current state)")] = None,
    georel: Annotated[str | None, Q(description="Geo-relationship")] = None,
    geometry: Annotated[str | None, Q(description="Point, Polygon, …")] = None,
    coordinates: Annotated[str | None, Q(description="GeoJSON coordinates")] = None,
    geoproperty: Annotated[str | None, Q(description="GeoProperty to test")] = None,
    timerel: Annotated[str | None, Q(description="before, after or between")] = None,
    timeAt: Annotated[str | None, Q(description="ISO 8601 date-time", **openapi.DATE_TIME)] = None,
    endTimeAt: Annotated[
        str | None, Q(description="ISO 8601 date-time (between)", **openapi.DATE_TIME)
    ] = None,
    timeproperty: Annotated[str | None, Q(description="observedAt, createdAt, modifiedAt")] = None,
    lastN: Annotated[str | None, Q(description="Only the last N instances")] = None,
    aggrMethods: Annotated[str | None, Q(description="totalCount, avg, …")] = None,
    aggrPeriodDuration: Annotated[str | None, Q(description="ISO 8601 duration, e.g. PT1H")] = None,
    options: Annotated[
        str | None, Q(description="temporalValues, aggregatedValues, sysAttrs")
    ] = None,
    format: Annotated[str | None, Q(description="temporalValues or aggregatedValues")] = None,
    limit: Annotated[int | None, Q(ge=0, description="Entities per page")] = None,
    offset: Annotated[int | None, Q(ge=0, le=MAX_OFFSET, description="Page start")] = None,
    count: Annotated[bool, Q(description="Return NGSILD-Results-Count")] = False,
    local: Annotated[bool, Q(description="true: query every entity of the tenant")] = False,
    tenant: TenantHeader = None,
) -> Response:
    svc = services(request)
    negotiated = await negotiate(request, geojson=False)
    params = TemporalParams(
        local=local,
        type=type,
        id=id,
        id_pattern=idPattern,
        attrs=attrs,
        q=q,
        scope_q=scopeQ,
        georel=georel,
        geometry=geometry,
        coordinates=coordinates,
        geoproperty=geoproperty,
        timerel=timerel,
        time_at=timeAt,
        end_time_at=endTimeAt,
        timeproperty=timeproperty,
        last_n=lastN,
        aggr_methods=aggrMethods,
        aggr_period=aggrPeriodDuration,
        options=_options(options),
        format=format,
        limit=limit,
        offset=offset,
        count=count,
        pick=pick,
        omit=omit,
    )
    query = build_query(params, negotiated.ctx, svc)
    return await _run(request, svc, negotiated, query, tenant)


async def _run(
    request: Request,
    svc: Services,
    negotiated: http.Negotiated,
    query: TemporalQuery,
    tenant: str | None,
) -> Response:
    tenant_id, scope = await _reader(request, svc, tenant)
    infos = await select_entities(svc, tenant_id, tenant, query)
    infos = await visible_entities(svc.hub, tenant, actor_of(request), scope, infos)
    total = len(infos)
    page = infos[query.offset : query.offset + query.limit]
    bodies, content_range = await run_query(svc, tenant_id, page, query, negotiated.ctx)
    extra = {"NGSILD-Results-Count": str(total)} if query.count else {}
    response = _response(request, negotiated, bodies, tenant, content_range, extra)
    links = page_links(request, query.limit, query.offset, len(page), total, negotiated.accept)
    if links:
        existing = response.headers.get("Link")
        response.headers["Link"] = ", ".join([*([existing] if existing else []), *links])
    return response


@router.post(
    "/temporal/entityOperations/query",
    summary="Query the temporal evolution of entities (query in the body)",
    openapi_extra=_QUERY_BODY,
    responses={**_QUERY_RESPONSES, **openapi.errors(413, 415)},
)
async def query_temporal_post(
    request: Request,
    lastN: Annotated[str | None, Q(description="Only the last N instances")] = None,
    aggrMethods: Annotated[str | None, Q(description="totalCount, avg, …")] = None,
    aggrPeriodDuration: Annotated[str | None, Q(description="ISO 8601 duration")] = None,
    options: Annotated[
        str | None, Q(description="temporalValues, aggregatedValues, sysAttrs")
    ] = None,
    format: Annotated[str | None, Q(description="temporalValues or aggregatedValues")] = None,
    limit: Annotated[int | None, Q(ge=0, description="Entities per page")] = None,
    offset: Annotated[int | None, Q(ge=0, le=MAX_OFFSET, description="Page start")] = None,
    count: Annotated[bool, Q(description="Return NGSILD-Results-Count")] = False,
    pick: Annotated[
        str | None, Q(description="Attributes and entity members (id, type) to return")
    ] = None,
    omit: Annotated[str | None, Q(description="Attributes and entity members to leave out")] = None,
    tenant: TenantHeader = None,
) -> Response:
    svc = services(request)
    body, ctx = await http.body_and_context(request, svc.contexts, svc.settings.max_body_bytes)
    negotiated = http.Negotiated(ctx, http.accept_type(request))
    if not isinstance(body, dict):
        raise BadRequestData("the query must be a JSON object of type Query")
    if body.get("type", "Query") != "Query":
        raise BadRequestData("the query's type must be 'Query'")
    known = {"type", "entities", "attrs", "q", "geoQ", "temporalQ", "@context", "scopeQ"}
    unknown = set(body) - known
    if unknown:
        raise BadRequestData(f"unknown member(s) in the query: {', '.join(sorted(unknown))}")
    temporal = body.get("temporalQ") or {}
    if not isinstance(temporal, dict):
        raise BadRequestData("temporalQ must be an object")
    attrs = body.get("attrs")
    if attrs is not None and (
        not isinstance(attrs, list) or not all(isinstance(a, str) for a in attrs)
    ):
        raise BadRequestData("attrs must be a list of attribute names")
    q = body.get("q")
    if q is not None and not isinstance(q, str):
        raise BadRequestData("q must be a string")
    scope_q = body.get("scopeQ")
    if scope_q is not None and not isinstance(scope_q, str):
        raise BadRequestData("scopeQ must be a string")
    for key in ("timerel", "timeAt", "endTimeAt", "timeproperty"):
        if key in temporal and not isinstance(temporal[key], str):
            raise BadRequestData(f"temporalQ.{key} must be a string")
    selectors, first_type = _selectors(body.get("entities"), ctx)
    params = TemporalParams(
        type=first_type,
        attrs=",".join(attrs) if attrs is not None else None,
        q=q,
        scope_q=scope_q,
        geo_json=body.get("geoQ"),
        timerel=temporal.get("timerel"),
        time_at=temporal.get("timeAt"),
        end_time_at=temporal.get("endTimeAt"),
        timeproperty=temporal.get("timeproperty"),
        last_n=lastN if lastN is not None else temporal.get("lastN"),
        aggr_methods=aggrMethods,
        aggr_period=aggrPeriodDuration,
        options=_options(options),
        format=format,
        limit=limit,
        offset=offset,
        count=count,
        pick=pick,
        omit=omit,
    )
    # Entity selectors in the body select by themselves.
    query = build_query(params, ctx, svc, selection=not selectors)
    query.entity_query.selectors = selectors
    return await _run(request, svc, negotiated, query, tenant)


def _selectors(raw: Any, ctx: CompiledContext) -> tuple[list[Selector], str | None]:
    if raw is None:
        return [], None
    if not isinstance(raw, list) or not raw:
        raise BadRequestData("entities must be a non-empty list of entity selectors")
    selectors = []
    first_type = None
    for item in raw:
        if not isinstance(item, dict):
            raise BadRequestData("each entity selector must be an object")
        selector = Selector()
        if "id" in item:
            selector.ids = [check_entity_id(item["id"])]
        if "idPattern" in item:
            if not isinstance(item["idPattern"], str):
                raise BadRequestData("idPattern must be a string")
            selector.id_pattern = check_id_pattern(item["idPattern"])
        if "type" in item:
            if not isinstance(item["type"], str) or not item["type"].strip():
                raise BadRequestData("an entity selector's type must be a non-empty string")
            selector.type_groups = parse_type_expression(item["type"], ctx)
            first_type = first_type or item["type"]
        selectors.append(selector)
    return selectors, first_type if len(raw) == 1 else None


@router.get(
    "/temporal/entities/{entityId}",
    summary="The temporal evolution of an entity",
    responses={
        **openapi.ok(openapi.ref("TemporalEntity"), _HISTORY, openapi.NGSI_LD),
        **openapi.ok(openapi.ref("TemporalEntity"), _HISTORY, openapi.NGSI_LD, status=206),
        **openapi.errors(400, 403, 404, 406, 504),
    },
)
async def retrieve_temporal(
    request: Request,
    entityId: EntityIdPath,
    attrs: Annotated[str | None, Q(description="Comma-separated attribute names")] = None,
    pick: Annotated[
        str | None, Q(description="Attributes and entity members (id, type) to return")
    ] = None,
    omit: Annotated[str | None, Q(description="Attributes and entity members to leave out")] = None,
    timerel: Annotated[str | None, Q(description="before, after or between")] = None,
    timeAt: Annotated[str | None, Q(description="ISO 8601 date-time", **openapi.DATE_TIME)] = None,
    endTimeAt: Annotated[
        str | None, Q(description="ISO 8601 date-time (between)", **openapi.DATE_TIME)
    ] = None,
    timeproperty: Annotated[str | None, Q(description="observedAt, createdAt, modifiedAt")] = None,
    lastN: Annotated[str | None, Q(description="Only the last N instances")] = None,
    aggrMethods: Annotated[str | None, Q(description="totalCount, avg, …")] = None,
    aggrPeriodDuration: Annotated[str | None, Q(description="ISO 8601 duration")] = None,
    options: Annotated[
        str | None, Q(description="temporalValues, aggregatedValues, sysAttrs")
    ] = None,
    format: Annotated[str | None, Q(description="temporalValues or aggregatedValues")] = None,
    tenant: TenantHeader = None,
) -> Response:
    svc = services(request)
    check_entity_id(entityId)
    negotiated = await negotiate(request, geojson=False)
    params = TemporalParams(
        attrs=attrs,
        timerel=timerel,
        time_at=timeAt,
        end_time_at=endTimeAt,
        timeproperty=timeproperty,
        last_n=lastN,
        aggr_methods=aggrMethods,
        aggr_period=aggrPeriodDuration,
        options=_options(options),
        format=format,
        pick=pick,
        omit=omit,
    )
    query = build_query(params, negotiated.ctx, svc, selection=False)
    tenant_id, scope = await _reader(request, svc, tenant)
    info = await History(svc.store).entity(tenant_id, entityId)
    if info is None or not await visible_entities(
        svc.hub, tenant, actor_of(request), scope, [info]
    ):
        raise not_found(entityId)
    names_ctx = negotiated.ctx.for_types(info.types)
    if attrs is not None:
        query.attrs = expand_attrs(attrs, names_ctx)
        # As GET /entities/{id}: attrs naming none of the entity's attributes is a 404.
        if not await History(svc.store).series(tenant_id, [entityId], list(query.attrs)):
            raise NotFound(f"entity {entityId!r} has no history of any of the attributes {attrs!r}")
    bodies, content_range = await run_query(svc, tenant_id, [info], query, negotiated.ctx)
    if (pick is not None or omit is not None) and not bodies[0]:
        # as GET /entities/{id}: a projection that leaves nothing names nothing there (020_23)
        raise NotFound(f"nothing of entity {entityId!r} is left by pick/omit")
    return _response(request, negotiated, bodies[0], tenant, content_range)
