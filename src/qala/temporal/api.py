"""The NGSI-LD temporal API: ``/temporal/entities`` and ``/temporal/entityOperations/query``.

Temporal writes add, correct or remove *history*; they do not change the entity's current
state (as in ETSI GS CIM 009, where the temporal evolution is a resource of its own, and as in
Orion-LD with Mintaka). They run through ``Hub.write`` like every other write, so they are
atomic, serialised with the entity's other writes, and visible to the hub's participants.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from qala import openapi as doc
from qala.hub import RowBatch, Statement, Tenant, Transaction, access
from qala.hub.errors import BadRequestData, NotFound, UnknownTenant
from qala.hub.model import Instance, iso_to_us, us_to_iso
from qala.hub.query import EntityQuery, Selector
from qala.jsonld.compiled import CompiledContext
from qala.ngsild import http
from qala.ngsild.params import (
    MAX_OFFSET,
    check_id_pattern,
    expand_attrs,
    parse_type_expression,
)
from qala.ngsild.parse import check_entity_id, check_name, is_uri, parse_instance
from qala.ngsild.routing import StrictRoute
from qala.services import Services, services
from qala.temporal import schema
from qala.temporal.history import EntityInfo, History, Series
from qala.temporal.query import (
    TEMPORAL_OPTIONS,
    TemporalParams,
    TemporalQuery,
    build_query,
    not_found,
    run_query,
    select_entities,
)
from qala.web.edge import TenantHeader, actor_of, negotiate, page_links, tenant_headers

router = APIRouter(tags=["Temporal"], route_class=StrictRoute)
#: Routes that only explain a URL with an empty entity id or attribute name.
missing_segment_router = APIRouter(include_in_schema=False)

EntityIdPath = Annotated[
    str, Path(description="Entity id (a URI)", examples=["urn:ngsi-ld:WeatherObserved:1"])
]
AttrIdPath = Annotated[str, Path(description="Attribute name", examples=["temperature"])]
InstanceIdPath = Annotated[
    str,
    Path(
        description="The instanceId (as the broker issued it)",
        examples=["urn:ngsi-ld:attribute:instance:00000000000000ff"],
    ),
]
Q = Query

_INSTANCES = {
    "temperature": [
        {"type": "Property", "value": 21.5, "observedAt": "2026-01-01T10:00:00Z"},
        {"type": "Property", "value": 22.0, "observedAt": "2026-01-01T11:00:00Z"},
    ]
}
_ENTITY_BODY = doc.body(
    doc.ref("TemporalEntity"),
    example={"id": "urn:ngsi-ld:WeatherObserved:1", "type": "WeatherObserved", **_INSTANCES},
)
_ATTRS_BODY = doc.body(
    {"type": "object", "description": "Attributes, each with an array of instances"},
    example=_INSTANCES,
)
_INSTANCE_BODY = doc.body(doc.ref("Attribute"), example={"type": "Property", "value": 21.0})
_QUERY_BODY = doc.body(
    doc.ref("Query"),
    example={
        "type": "Query",
        "entities": [{"type": "WeatherObserved"}],
        "temporalQ": {"timerel": "after", "timeAt": "2026-01-01T00:00:00Z"},
    },
)
_HISTORY = "The temporal evolution (206 with Content-Range when lastN or limits cut it)"
_PAGE = {"type": "array", "items": doc.ref("TemporalEntity")}
_QUERY_RESPONSES = {
    **doc.ok(_PAGE, _HISTORY, doc.NGSI_LD),
    **doc.ok(_PAGE, _HISTORY, doc.NGSI_LD, status=206),
    **doc.errors(400, 403, 404, 406, 504),
}
_WRITE_ERRORS = doc.errors(400, 403, 404, 413, 415, 504)
_DELETE_ERRORS = doc.errors(400, 403, 404, 504)


# -- reads -----------------------------------------------------------------------------------


async def _tenant_id(svc: Services, tenant: str | None) -> int:
    return (await svc.hub.tenant(tenant)).id


async def _reader(request: Request, svc: Services, tenant: str | None) -> tuple[int, Any]:
    """The tenant to read, after the access checks, and the caller's read scope."""
    ten, scope = await svc.hub.reader(tenant, actor_of(request))
    return ten.id, scope


async def _visible(
    request: Request, svc: Services, tenant: str | None, scope: Any, infos: list[EntityInfo]
) -> list[EntityInfo]:
    """The entities whose history the caller may read: those of the types shared with it,
    and those it may read now (its own)."""
    if scope is None or not infos:
        return infos
    readable: set[str] = set()
    if scope.owner is not None:
        ids = [i.id for i in infos]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            found = await svc.hub.query(
                tenant,
                EntityQuery(selectors=[Selector(ids=chunk)], limit=len(chunk)),
                actor_of(request),
            )
            readable.update(e.id for e in found.entities)
    return [i for i in infos if i.id in readable or any(t in scope.types for t in i.types)]


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
    q: Annotated[str | None, Q(description="NGSI-LD query (on the current state)")] = None,
    scopeQ: Annotated[str | None, Q(description="Scope query (on the current state)")] = None,
    georel: Annotated[str | None, Q(description="Geo-relationship")] = None,
    geometry: Annotated[str | None, Q(description="Point, Polygon, …")] = None,
    coordinates: Annotated[str | None, Q(description="GeoJSON coordinates")] = None,
    geoproperty: Annotated[str | None, Q(description="GeoProperty to test")] = None,
    timerel: Annotated[str | None, Q(description="before, after or between")] = None,
    timeAt: Annotated[str | None, Q(description="ISO 8601 date-time", **doc.DATE_TIME)] = None,
    endTimeAt: Annotated[
        str | None, Q(description="ISO 8601 date-time (between)", **doc.DATE_TIME)
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
    infos = await _visible(request, svc, tenant, scope, infos)
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
    responses={**_QUERY_RESPONSES, **doc.errors(413, 415)},
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
        **doc.ok(doc.ref("TemporalEntity"), _HISTORY, doc.NGSI_LD),
        **doc.ok(doc.ref("TemporalEntity"), _HISTORY, doc.NGSI_LD, status=206),
        **doc.errors(400, 403, 404, 406, 504),
    },
)
async def retrieve_temporal(
    request: Request,
    entityId: EntityIdPath,
    attrs: Annotated[str | None, Q(description="Comma-separated attribute names")] = None,
    timerel: Annotated[str | None, Q(description="before, after or between")] = None,
    timeAt: Annotated[str | None, Q(description="ISO 8601 date-time", **doc.DATE_TIME)] = None,
    endTimeAt: Annotated[
        str | None, Q(description="ISO 8601 date-time (between)", **doc.DATE_TIME)
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
    )
    query = build_query(params, negotiated.ctx, svc, selection=False)
    tenant_id, scope = await _reader(request, svc, tenant)
    info = await History(svc.store).entity(tenant_id, entityId)
    if info is None or not await _visible(request, svc, tenant, scope, [info]):
        raise not_found(entityId)
    names_ctx = negotiated.ctx.for_types(info.types)
    if attrs is not None:
        query.attrs = expand_attrs(attrs, names_ctx)
        # As GET /entities/{id}: attrs naming none of the entity's attributes is a 404.
        if not await History(svc.store).series(tenant_id, [entityId], list(query.attrs)):
            raise NotFound(f"entity {entityId!r} has no history of any of the attributes {attrs!r}")
    bodies, content_range = await run_query(svc, tenant_id, [info], query, negotiated.ctx)
    return _response(request, negotiated, bodies[0], tenant, content_range)


# -- writes ----------------------------------------------------------------------------------


def _parse_temporal_attrs(
    body: dict[str, Any], ctx: CompiledContext, types: list[str]
) -> dict[str, list[Instance]]:
    names = ctx.for_types(types)
    out: dict[str, list[Instance]] = {}
    for key, value in body.items():
        if key in ("id", "@id", "type", "@type", "@context", "scope", "createdAt", "modifiedAt"):
            continue
        iri = names.expand(check_name(key, "attribute name"))
        items = value if isinstance(value, list) else [value]
        if not items:
            raise BadRequestData(f"attribute {key!r} has no instances")
        out[iri] = [parse_instance(item, ctx, key, iri) for item in items]
    return out


def _instance_rows(
    tid: int,
    entity_id: str,
    attrs: dict[str, list[Instance]],
    known: set[int],
    now: int,
) -> list[RowBatch]:
    rows = []
    series = []
    at = schema.millis(now)  # history times are milliseconds; the catalogue keeps µs
    for iri, instances in attrs.items():
        for inst in instances:
            dataset = inst.get("datasetId")
            sid = schema.series_id(tid, entity_id, iri, dataset)
            if sid not in known:
                known.add(sid)
                series.append((sid, tid, entity_id, iri, dataset, now))
            k, num, val, doc = schema.encode(inst)
            observed = inst.get("observedAt")
            if observed is not None:
                ts = iso_to_us(observed)
                k |= schema.OBSERVED
            else:
                ts = at
            rows.append(
                (sid, ts // schema.HOUR_US, ts, schema.new_iid(), k, num, val, doc, at, None)
            )
    batches = [RowBatch(schema.INSTANCES, schema.INSTANCE_COLUMNS, rows)]
    if series:
        batches.append(RowBatch(schema.SERIES, schema.SERIES_COLUMNS, series))
    return batches


async def _known_series(
    svc: Services, tenant: str | None, entity_id: str
) -> tuple[int | None, list[Series]]:
    try:
        tenant_id = await _tenant_id(svc, tenant)
    except UnknownTenant:
        return None, []
    series = await History(svc.store).series(tenant_id, [entity_id])
    return tenant_id, series


@router.post(
    "/temporal/entities",
    status_code=201,
    summary="Create or add to the temporal evolution of an entity",
    openapi_extra=_ENTITY_BODY,
    responses={
        **doc.created("Created; Location names the temporal entity"),
        **doc.no_content("Instances added to an existing temporal entity"),
        **_WRITE_ERRORS,
    },
)
async def create_temporal(request: Request, tenant: TenantHeader = None) -> Response:
    svc = services(request)
    # Refuse callers without write access before anything about the data is said.
    access.check_write(actor_of(request), tenant)
    body, ctx = await http.body_and_context(request, svc.contexts, svc.settings.max_body_bytes)
    if not isinstance(body, dict):
        raise BadRequestData("the temporal entity must be a JSON object")
    entity_id = check_entity_id(body.get("id", body.get("@id")))
    raw_type = body.get("type", body.get("@type"))
    if raw_type is None:
        raise BadRequestData(f"entity {entity_id!r} has no type")
    raw_types = raw_type if isinstance(raw_type, list) else [raw_type]
    if not raw_types:
        raise BadRequestData("entity type must not be an empty list")
    types = [ctx.expand(check_name(t, "entity type")) for t in raw_types]
    attrs = _parse_temporal_attrs(body, ctx, types)
    tenant_id, series = await _known_series(svc, tenant, entity_id)
    exists = tenant_id is not None and await History(svc.store).entity(tenant_id, entity_id)
    known = {s.sid for s in series}

    def apply(plan: Transaction) -> None:
        wctx, ten = plan.context, plan.tenant
        wctx.extra["temporal"] = {"entityId": entity_id}  # for participants (audit)
        plan.batches.extend(_instance_rows(ten.id, entity_id, attrs, known, wctx.now_us))
        if not exists:
            plan.batches.append(
                RowBatch(
                    schema.ENTITIES,
                    schema.ENTITY_COLUMNS,
                    [
                        (
                            ten.id,
                            entity_id,
                            wctx.now_us,
                            orjson.dumps(types).decode(),
                            0,
                        )
                    ],
                )
            )

    await svc.hub.transact(
        tenant, actor_of(request), operation="temporal.create", entity_ids=[entity_id], body=apply
    )
    if exists:
        return Response(status_code=204, headers=tenant_headers(tenant))
    headers = {"Location": f"/ngsi-ld/v1/temporal/entities/{entity_id}", **tenant_headers(tenant)}
    return Response(status_code=201, headers=headers)


async def _existing(svc: Services, tenant: str | None, entity_id: str) -> tuple[int, EntityInfo]:
    tenant_id = await _tenant_id(svc, tenant)
    info = await History(svc.store).entity(tenant_id, entity_id)
    if info is None:
        raise not_found(entity_id)
    return tenant_id, info


@router.post(
    "/temporal/entities/{entityId}/attrs",
    status_code=204,
    summary="Add attribute instances to the temporal evolution of an entity",
    openapi_extra=_ATTRS_BODY,
    responses={**doc.no_content("Instances added"), **_WRITE_ERRORS},
)
async def append_temporal(
    request: Request, entityId: EntityIdPath, tenant: TenantHeader = None
) -> Response:
    svc = services(request)
    # Refuse callers without write access before anything about the data is said.
    access.check_write(actor_of(request), tenant)
    check_entity_id(entityId)
    body, ctx = await http.body_and_context(request, svc.contexts, svc.settings.max_body_bytes)
    if not isinstance(body, dict):
        raise BadRequestData("the request body must be a JSON object of attributes")
    raw_id = body.get("id", body.get("@id"))
    if raw_id is not None and raw_id != entityId:
        raise BadRequestData(f"the id in the body ({raw_id!r}) differs from the URL's")
    tenant_id, info = await _existing(svc, tenant, entityId)
    attrs = _parse_temporal_attrs(body, ctx, info.types)
    if not attrs:
        raise BadRequestData("the request body has no attributes")
    series = await History(svc.store).series(tenant_id, [entityId])
    known = {s.sid for s in series}

    def apply(plan: Transaction) -> None:
        wctx, ten = plan.context, plan.tenant
        wctx.extra["temporal"] = {"entityId": entityId}  # for participants (audit)
        plan.batches.extend(_instance_rows(ten.id, entityId, attrs, known, wctx.now_us))

    await svc.hub.transact(
        tenant,
        actor_of(request),
        operation="temporal.append",
        entity_ids=[entityId],
        body=apply,
        create_tenant=False,
    )
    return Response(status_code=204, headers=tenant_headers(tenant))


def _marks(values: list[Any], args: list[Any]) -> str:
    out = []
    for value in values:
        args.append(value)
        out.append(f"${len(args)}")
    return ", ".join(out)


def _forget(sids: list[int]) -> list[Statement]:
    args: list[Any] = []
    marks = _marks(sids, args)
    return [
        (f"DELETE FROM temporal_instances WHERE sid IN ({marks})", list(args)),
        (f"DELETE FROM temporal_hourly WHERE sid IN ({marks})", list(args)),
    ]


def _re_register(
    plan: Transaction, ten: Tenant, entity_id: str, now: int, attr: str | None
) -> None:
    """The catalogue rows of what the entity still has now, so that its future changes keep
    being recorded and found after its history was deleted."""
    current = plan.get(entity_id)
    if current is None:
        return
    if attr is None:
        plan.statements.append(
            (
                "INSERT INTO temporal_entities(tenant_id, entity_id, at, types, deleted) "
                "VALUES ($1, $2, $3, $4, 0)",
                [ten.id, entity_id, now, orjson.dumps(current.types).decode()],
            )
        )
    for iri, value in current.attrs.items():
        if attr is not None and iri != attr:
            continue
        for inst in value if isinstance(value, list) else [value]:
            dataset = inst.get("datasetId")
            plan.statements.append(
                (
                    "INSERT INTO temporal_series(sid, tenant_id, entity_id, attr, dataset_id, "
                    "created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                    [
                        schema.series_id(ten.id, entity_id, iri, dataset),
                        ten.id,
                        entity_id,
                        iri,
                        dataset,
                        now,
                    ],
                )
            )


@router.delete(
    "/temporal/entities/{entityId}",
    status_code=204,
    summary="Delete the temporal evolution of an entity (not the entity)",
    responses={**doc.no_content("Deleted"), **_DELETE_ERRORS},
)
async def delete_temporal(
    request: Request, entityId: EntityIdPath, tenant: TenantHeader = None
) -> Response:
    svc = services(request)
    # Refuse callers without write access before anything about the data is said.
    access.check_write(actor_of(request), tenant)
    check_entity_id(entityId)
    tenant_id, _info = await _existing(svc, tenant, entityId)
    sids = [s.sid for s in await History(svc.store).series(tenant_id, [entityId])]

    def apply(plan: Transaction) -> None:
        wctx, ten = plan.context, plan.tenant
        wctx.extra["temporal"] = {"entityId": entityId}  # for participants (audit)
        if sids:
            plan.statements.extend(_forget(sids))
        plan.statements.append(
            (
                "DELETE FROM temporal_series WHERE tenant_id = $1 AND entity_id = $2",
                [ten.id, entityId],
            )
        )
        plan.statements.append(
            (
                "DELETE FROM temporal_entities WHERE tenant_id = $1 AND entity_id = $2",
                [ten.id, entityId],
            )
        )
        _re_register(plan, ten, entityId, wctx.now_us, None)

    await svc.hub.transact(
        tenant,
        actor_of(request),
        operation="temporal.delete",
        entity_ids=[entityId],
        body=apply,
        create_tenant=False,
    )
    return Response(status_code=204, headers=tenant_headers(tenant))


async def _attr_series(
    svc: Services, request: Request, tenant: str | None, entity_id: str, attr_id: str
) -> tuple[int, str, list[Series], CompiledContext]:
    ctx = await http.request_context(request, svc.contexts)
    tenant_id, info = await _existing(svc, tenant, entity_id)
    iri = ctx.for_types(info.types).expand(check_name(attr_id, "attribute name"))
    series = await History(svc.store).series(tenant_id, [entity_id], [iri])
    if not series:
        raise NotFound(f"attribute {attr_id!r} has no temporal evolution in {entity_id!r}")
    return tenant_id, iri, series, ctx


@router.delete(
    "/temporal/entities/{entityId}/attrs/{attrId}",
    status_code=204,
    summary="Delete the temporal evolution of an attribute",
    responses={**doc.no_content("Deleted"), **_DELETE_ERRORS},
)
async def delete_temporal_attribute(
    request: Request,
    entityId: EntityIdPath,
    attrId: AttrIdPath,
    datasetId: Annotated[str | None, Q(description="Only this instance")] = None,
    deleteAll: Annotated[bool, Q(description="Every datasetId")] = False,
    tenant: TenantHeader = None,
) -> Response:
    svc = services(request)
    # Refuse callers without write access before anything about the data is said.
    access.check_write(actor_of(request), tenant)
    check_entity_id(entityId)
    if datasetId is not None:
        check_entity_id(datasetId, "datasetId")
    _tid, iri, series, _ctx = await _attr_series(svc, request, tenant, entityId, attrId)
    chosen = [s for s in series if deleteAll or s.dataset_id == datasetId]
    if not chosen:
        what = "the default instance" if datasetId is None else f"datasetId {datasetId!r}"
        raise NotFound(f"attribute {attrId!r} has no history for {what} in {entityId!r}")
    sids = [s.sid for s in chosen]

    def apply(plan: Transaction) -> None:
        wctx, ten = plan.context, plan.tenant
        wctx.extra["temporal"] = {"entityId": entityId}  # for participants (audit)
        plan.statements.extend(_forget(sids))
        args: list[Any] = [ten.id]
        marks = _marks(sids, args)
        plan.statements.append(
            (f"DELETE FROM temporal_series WHERE tenant_id = $1 AND sid IN ({marks})", args)
        )
        if deleteAll or datasetId is None:
            _re_register(plan, ten, entityId, wctx.now_us, iri)

    await svc.hub.transact(
        tenant,
        actor_of(request),
        operation="temporal.attrs.delete",
        entity_ids=[entityId],
        body=apply,
        create_tenant=False,
    )
    return Response(status_code=204, headers=tenant_headers(tenant))


def _instance_id(raw: str) -> int:
    iid = schema.parse_instance_uri(raw)
    if iid is None:
        if raw.startswith(schema.HOURLY_PREFIX):
            raise BadRequestData(
                f"{raw!r} is an hourly aggregate beyond the retention period; it cannot be "
                "modified or deleted on its own"
            )
        if is_uri(raw):  # a well-formed URI that names no instance of this broker
            raise NotFound(f"instance {raw!r} was not found")
        raise BadRequestData(f"instanceId {raw!r} is not a valid URI")
    return iid


@router.patch(
    "/temporal/entities/{entityId}/attrs/{attrId}/{instanceId}",
    status_code=204,
    summary="Modify one attribute instance of the temporal evolution",
    openapi_extra=_INSTANCE_BODY,
    responses={**doc.no_content("Modified"), **_WRITE_ERRORS},
)
async def patch_instance(
    request: Request,
    entityId: EntityIdPath,
    attrId: AttrIdPath,
    instanceId: InstanceIdPath,
    tenant: TenantHeader = None,
) -> Response:
    svc = services(request)
    # Refuse callers without write access before anything about the data is said.
    access.check_write(actor_of(request), tenant)
    check_entity_id(entityId)
    iid = _instance_id(instanceId)
    body, ctx = await http.body_and_context(request, svc.contexts, svc.settings.max_body_bytes)
    if not isinstance(body, dict) or not body:
        raise BadRequestData("the request body must be a non-empty attribute instance")
    _tid, iri, series, _ = await _attr_series(svc, request, tenant, entityId, attrId)
    row = await History(svc.store).find_instance([s.sid for s in series], iid)
    if row is None or row.k & schema.DELETED:
        raise NotFound(f"instance {instanceId!r} of {attrId!r} was not found in {entityId!r}")
    kind = schema.kind_of(row.k)
    current: dict[str, Any] = {"type": kind}
    current[schema.VALUE_MEMBER[kind]] = schema.decode_value(row.k, row.num, row.val)
    if row.doc is not None:
        current.update(orjson.loads(row.doc))
    if row.k & schema.OBSERVED:
        current["observedAt"] = us_to_iso(row.ts)
    clean = {k: v for k, v in body.items() if k not in ("@context", "instanceId", "datasetId")}
    if "type" in clean and clean["type"] != kind:
        for member in schema.VALUE_MEMBER.values():
            current.pop(member, None)
    merged = {**current, **clean}
    instance = parse_instance(merged, ctx, attrId, iri)
    k, num, val, doc = schema.encode(instance)
    ts = row.ts
    if instance.get("observedAt") is not None:
        ts = iso_to_us(instance["observedAt"])
        k |= schema.OBSERVED

    def apply(plan: Transaction) -> None:
        wctx, _ten = plan.context, plan.tenant
        wctx.extra["temporal"] = {"entityId": entityId}  # for participants (audit)
        plan.statements.append(
            (
                "UPDATE temporal_instances SET ts = $1, h = $9, k = $2, num = $3, val = $4, "
                "doc = $5, modified_at = $6 WHERE sid = $7 AND iid = $8",
                [
                    ts,
                    k,
                    num,
                    val,
                    doc,
                    schema.millis(wctx.now_us),
                    row.sid,
                    iid,
                    ts // schema.HOUR_US,
                ],
            )
        )

    await svc.hub.transact(
        tenant,
        actor_of(request),
        operation="temporal.instance.patch",
        entity_ids=[entityId],
        body=apply,
        create_tenant=False,
    )
    return Response(status_code=204, headers=tenant_headers(tenant))


@router.delete(
    "/temporal/entities/{entityId}/attrs/{attrId}/{instanceId}",
    status_code=204,
    summary="Delete one attribute instance of the temporal evolution",
    responses={**doc.no_content("Deleted"), **_DELETE_ERRORS},
)
async def delete_instance(
    request: Request,
    entityId: EntityIdPath,
    attrId: AttrIdPath,
    instanceId: InstanceIdPath,
    tenant: TenantHeader = None,
) -> Response:
    svc = services(request)
    # Refuse callers without write access before anything about the data is said.
    access.check_write(actor_of(request), tenant)
    check_entity_id(entityId)
    iid = _instance_id(instanceId)
    _tid, _iri, series, _ = await _attr_series(svc, request, tenant, entityId, attrId)
    row = await History(svc.store).find_instance([s.sid for s in series], iid)
    if row is None:
        raise NotFound(f"instance {instanceId!r} of {attrId!r} was not found in {entityId!r}")

    def apply(plan: Transaction) -> None:
        wctx, _ten = plan.context, plan.tenant
        wctx.extra["temporal"] = {"entityId": entityId}  # for participants (audit)
        plan.statements.append(
            ("DELETE FROM temporal_instances WHERE sid = $1 AND iid = $2", [row.sid, iid])
        )

    await svc.hub.transact(
        tenant,
        actor_of(request),
        operation="temporal.instance.delete",
        entity_ids=[entityId],
        body=apply,
        create_tenant=False,
    )
    return Response(status_code=204, headers=tenant_headers(tenant))


# -- URLs with an empty entity id or attribute name ------------------------------------------


@missing_segment_router.api_route("/temporal/entities//attrs", methods=["POST"])
@missing_segment_router.api_route("/temporal/entities//attrs/{attrId}", methods=["DELETE"])
@missing_segment_router.api_route(
    "/temporal/entities//attrs/{attrId}/{instanceId}", methods=["PATCH", "DELETE"]
)
async def temporal_attrs_without_entity(request: Request) -> Response:
    raise BadRequestData("the URL names no entity: use /temporal/entities/{entityId}/attrs")


@missing_segment_router.api_route(
    "/temporal/entities/{entityId}/attrs//{instanceId}", methods=["PATCH", "DELETE"]
)
async def temporal_instance_without_attribute(request: Request) -> Response:
    raise BadRequestData(
        "the URL names no attribute: use /temporal/entities/{entityId}/attrs/{attrId}/{instanceId}"
    )
