"""NGSI-LD entity resources: ``/entities`` and ``/entities/{id}[/attrs[/{attr}]]``."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Header, Path, Query, Request
from starlette.convertors import Convertor, register_url_convertor
from starlette.responses import Response

from qala import openapi
from qala.hub import AttributeOutcome
from qala.hub.errors import BadRequestData, InvalidRequest, NotFound
from qala.jsonld.compiled import CompiledContext
from qala.ngsild import http
from qala.ngsild.linked import Linker, parse_join
from qala.ngsild.ordering import ordered_matches, parse_order_by
from qala.ngsild.params import (
    MAX_OFFSET,
    RETRIEVE_OPTIONS,
    QueryParams,
    build_entity_query,
    names_context,
    pick_filter,
    render_options,
)
from qala.ngsild.parse import (
    check_entity_id,
    check_name,
    parse_entity,
    parse_fragment,
    parse_partial_instance,
    reject_null_markers,
)
from qala.ngsild.render import (
    RenderOptions,
    render_entity,
    render_geojson_feature,
)
from qala.ngsild.responses import (
    ENTITIES,
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
from qala.web.edge import TenantHeader, actor_of, negotiate, tenant_headers


class EntityIdConvertor(Convertor[str]):
    """An entity id in a URL path. It may hold '/' (an http URL as id: its %2F is decoded
    before routing), so it runs up to ``/attrs`` or the end of the path."""

    regex = r"[^/](?:(?!/attrs(?:/|$)).)*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("entity_id", EntityIdConvertor())

router = APIRouter(tags=["Entities"], route_class=FastRoute)

LinkHeader = Annotated[
    str | None, Header(alias="Link", description="The JSON-LD @context as a Link header")
]
EntityIdPath = Annotated[
    str, Path(description="Entity id (a URI)", examples=["urn:ngsi-ld:Streetlight:1"])
]
AttrIdPath = Annotated[str, Path(description="Attribute name", examples=["status"])]
AttrsQuery = Annotated[str | None, Query(description="Comma-separated attribute names")]
TypeGateQuery = Annotated[
    str | None, Query(description="Only if the entity has one of these types (else 404)")
]
JoinQuery = Annotated[
    str | None,
    Query(description="flat or inline: also return the entities the relationships link to"),
]
JoinLevelQuery = Annotated[
    int | None, Query(ge=1, description="How many relationship hops join follows (default 1)")
]
DatasetIdQuery = Annotated[
    str | None,
    Query(description="Only attribute instances with these datasetIds (@none: the default one)"),
]

_EXAMPLE_ENTITY = {
    "id": "urn:ngsi-ld:Streetlight:1",
    "type": "Streetlight",
    "status": {"type": "Property", "value": "ok"},
    "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [71.45, 51.17]}},
}
_ENTITY_BODY = openapi.body(openapi.ref("EntityInput"), example=_EXAMPLE_ENTITY)
_ATTRS_BODY = openapi.body(
    openapi.ref("EntityFragment"), example={"status": {"type": "Property", "value": "off"}}
)
_MERGE_BODY = openapi.body(
    openapi.ref("EntityFragment"),
    (openapi.JSON, openapi.JSONLD, openapi.MERGE_PATCH),
    example={"status": {"type": "Property", "value": "off"}},
)
_ATTRIBUTE_BODY = openapi.body(
    openapi.ref("Attribute"), example={"type": "Property", "value": "off"}
)
_PARTIAL_BODY = openapi.body(
    openapi.ref("Attribute"),
    (openapi.JSON, openapi.JSONLD, openapi.MERGE_PATCH),
    example={"value": "off"},
)
#: An entity, or (join=flat) the entity and those it links to.
_ENTITY_OR_FLAT = {"anyOf": [openapi.ref("Entity"), ENTITIES]}
_ENTITY = {
    200: {
        "description": "The entity",
        "content": {
            **openapi.content(_ENTITY_OR_FLAT, openapi.NGSI_LD),
            openapi.GEOJSON: {"schema": openapi.ref("Feature")},
        },
    }
}
#: Errors of every write of one entity's data with a body.
_WRITE_ERRORS = openapi.errors(400, 403, 404, 413, 415, 504)
#: 207: some attributes were not updated (or appended).
_PARTLY = openapi.ok(openapi.ref("UpdateResult"), "Some attributes were not changed", status=207)


def entity_location(entity_id: str) -> str:
    """The path of an entity, for ``Location`` (IRI characters percent-encoded as UTF-8)."""
    return "/ngsi-ld/v1/entities/" + quote(entity_id, safe=_URI_SAFE)


_URI_SAFE = ":/?#[]@!$&'()*+,;=-._~%"


def render_body(
    entity: Any, negotiated: http.Negotiated, opts: RenderOptions, geometry_property: str
) -> dict[str, Any]:
    if negotiated.accept == http.GEOJSON:
        feature = render_geojson_feature(entity, negotiated.ctx, opts, geometry_property)
        feature["@context"] = negotiated.ctx.response_context()
        return feature
    body = render_entity(entity, negotiated.ctx, opts)
    if negotiated.accept == http.JSONLD:
        body["@context"] = negotiated.ctx.response_context()
    return body


# -- /entities -----------------------------------------------------------------------------


@router.post(
    "/entities",
    status_code=201,
    summary="Create an entity",
    openapi_extra=_ENTITY_BODY,
    responses={
        **openapi.created("Created; Location names the new entity"),
        **openapi.errors(400, 403, 409, 413, 415, 504),
    },
)
async def create_entity(request: Request, tenant: TenantHeader = None) -> Response:
    svc = services(request)
    body, ctx = await http.body_and_context(request, svc.contexts, svc.settings.max_body_bytes)
    entity = reject_null_markers(parse_entity(body, ctx))
    await svc.hub.create_entity(tenant, entity, actor_of(request))
    headers = {"Location": entity_location(entity.id), **tenant_headers(tenant)}
    return Response(status_code=201, headers=headers)


@router.get(
    "/entities",
    summary="Query entities",
    responses={**ENTITY_LIST, **openapi.errors(400, 403, 404, 406, 504)},
)
async def query_entities(
    request: Request,
    type: Annotated[str | None, Query(description="Entity type expression")] = None,
    id: Annotated[str | None, Query(description="Comma-separated entity ids")] = None,
    idPattern: Annotated[str | None, Query(description="Regular expression on ids")] = None,
    attrs: AttrsQuery = None,
    pick: AttrsQuery = None,
    omit: AttrsQuery = None,
    q: Annotated[str | None, Query(description="NGSI-LD query language")] = None,
    georel: Annotated[str | None, Query(description="near;maxDistance==n, within, …")] = None,
    geometry: Annotated[str | None, Query(description="Point, Polygon, …")] = None,
    coordinates: Annotated[str | None, Query(description="GeoJSON coordinates")] = None,
    geoproperty: Annotated[str | None, Query(description="GeoProperty to test")] = None,
    geometryProperty: Annotated[str | None, Query(description="GeoJSON output geometry")] = None,
    scopeQ: Annotated[str | None, Query(description="Scope query")] = None,
    datasetId: DatasetIdQuery = None,
    limit: Annotated[int | None, Query(ge=0, description="Page size")] = None,
    offset: Annotated[int | None, Query(ge=0, le=MAX_OFFSET, description="Page start")] = None,
    count: Annotated[bool, Query(description="Return NGSILD-Results-Count")] = False,
    local: Annotated[bool, Query(description="true: query every entity of the tenant")] = False,
    orderBy: Annotated[
        str | None, Query(description="Order by id, type, createdAt, attributes: name;desc,…")
    ] = None,
    join: JoinQuery = None,
    joinLevel: JoinLevelQuery = None,
    options: OptionsQuery = None,
    format: FormatQuery = None,
    lang: LangQuery = None,
    tenant: TenantHeader = None,
) -> Response:
    svc = services(request)
    negotiated = await negotiate(request)
    ctx = negotiated.ctx
    linking = parse_join(join, joinLevel)
    opts = render_options(
        names_context(type, ctx),
        options=http.parse_options(options, RETRIEVE_OPTIONS),
        format=format,
        attrs=attrs,
        pick=pick,
        omit=omit,
        lang=lang,
        dataset_id=datasetId,
        join_level=linking.level if linking else 0,
    )
    params = QueryParams(
        type=type,
        id=id,
        id_pattern=idPattern,
        attrs=attrs,
        q=q,
        georel=georel,
        geometry=geometry,
        coordinates=coordinates,
        geoproperty=geoproperty,
        scope_q=scopeQ,
        limit=limit,
        offset=offset,
        count=count,
        local=local,
        pick_attrs=pick_filter(opts),
    )
    query = build_entity_query(
        params,
        ctx,
        default_limit=svc.settings.default_limit,
        max_limit=svc.settings.max_limit,
        max_terms=svc.settings.max_query_terms,
    )
    if orderBy is not None:
        keys = parse_order_by(orderBy, names_context(type, ctx))
        result = await ordered_matches(
            svc.hub, tenant, query, actor_of(request), keys, names_context(type, ctx).compact
        )
    else:
        result = await svc.hub.query(tenant, query, actor_of(request))
    bodies = None
    if linking is not None and negotiated.accept != http.GEOJSON:
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
        geometry_property(ctx, geometryProperty),
        bodies,
    )


# -- URLs without the entity id ---------------------------------------------------------------


#: Routes that only explain a malformed URL (no FastRoute: they take any query parameter).
missing_id_router = APIRouter(include_in_schema=False)


@missing_id_router.api_route("/entities/", methods=["PUT", "PATCH"])
async def entities_slash(request: Request) -> Response:
    # GET, POST and DELETE (purge) /entities/ are the collection (web/slashes.py).
    raise BadRequestData("the URL names no entity: use /entities/{entityId}")


@missing_id_router.api_route("/entities//attrs", methods=["POST", "PATCH"])
@missing_id_router.api_route("/entities//attrs/{attrId}", methods=["PUT", "PATCH", "DELETE"])
async def attrs_without_entity(request: Request) -> Response:
    raise BadRequestData("the URL names no entity: use /entities/{entityId}/attrs")


# -- /entities/{id} ------------------------------------------------------------------------


@router.get(
    "/entities/{entityId:entity_id}",
    summary="Retrieve an entity",
    responses={**_ENTITY, **openapi.errors(400, 403, 404, 406, 504)},
)
async def retrieve_entity(
    request: Request,
    entityId: EntityIdPath,
    attrs: AttrsQuery = None,
    pick: AttrsQuery = None,
    omit: AttrsQuery = None,
    type: Annotated[str | None, Query(description="Only if the entity has this type")] = None,
    datasetId: DatasetIdQuery = None,
    join: JoinQuery = None,
    joinLevel: JoinLevelQuery = None,
    geometryProperty: Annotated[str | None, Query(description="GeoJSON output geometry")] = None,
    options: OptionsQuery = None,
    format: FormatQuery = None,
    lang: LangQuery = None,
    tenant: TenantHeader = None,
) -> Response:
    svc = services(request)
    check_entity_id(entityId)
    negotiated = await negotiate(request)
    ctx = negotiated.ctx
    parsed_options = http.parse_options(options, RETRIEVE_OPTIONS)
    linking = parse_join(join, joinLevel)

    def options_for(names: CompiledContext) -> RenderOptions:
        return render_options(
            names,
            options=parsed_options,
            format=format,
            attrs=attrs,
            pick=pick,
            omit=omit,
            lang=lang,
            dataset_id=datasetId,
            join_level=linking.level if linking else 0,
        )

    opts = options_for(ctx)  # every parameter is checked before the entity is looked up
    wanted = type_filter(type, ctx)
    geo_property = geometry_property(ctx, geometryProperty)
    entity = await svc.hub.get_entity(tenant, entityId, actor_of(request))
    if ctx.has_type_scoped:
        opts = options_for(ctx.for_types(entity.types))
    if wanted is not None and not wanted & set(entity.types):
        raise NotFound(f"entity {entityId!r} has none of the types {type!r}")
    if opts.pick is not None and not (opts.pick & set(entity.attrs)) and attrs is not None:
        raise NotFound(f"entity {entityId!r} has none of the attributes {attrs!r}")
    body: Any = render_body(entity, negotiated, opts, geo_property)
    if not body:
        raise NotFound(f"nothing of entity {entityId!r} is left after pick and omit")
    if linking is not None and negotiated.accept != http.GEOJSON:
        linker = Linker(svc.hub, tenant, actor_of(request), ctx, linking)
        bodies = await linker.render([entity], opts)
        if negotiated.accept == http.JSONLD:
            for item in bodies:
                item["@context"] = ctx.response_context()
        # flat: an array of the entity and those it links to (just the entity if none)
        body = bodies if linking.mode == "flat" and len(bodies) > 1 else bodies[0]
    return http.json_response(body, negotiated=negotiated, headers=tenant_headers(tenant))


async def check_type_gate(
    request: Request, tenant: str | None, entity_id: str, raw: str | None, ctx: CompiledContext
) -> None:
    """``type=…`` on an operation on one entity: it applies only to an entity of that type
    (5.6.x.4); otherwise the entity is not found."""
    wanted = type_filter(raw, ctx)
    if wanted is None:
        return
    entity = await services(request).hub.get_entity(tenant, entity_id, actor_of(request))
    if not wanted & set(entity.types):
        raise NotFound(f"entity {entity_id!r} has none of the types {raw!r}")


def type_filter(raw: str | None, ctx: CompiledContext) -> set[str] | None:
    """``type=A,B`` on an operation on one entity: the entity must have one of these types."""
    if raw is None:
        return None
    names = [t.strip() for t in raw.split(",") if t.strip()]
    if not names:
        raise BadRequestData("type must name at least one entity type")
    return {ctx.expand(check_name(t, "type")) for t in names}


@router.put(
    "/entities/{entityId:entity_id}",
    status_code=204,
    summary="Replace an entity",
    openapi_extra=_ENTITY_BODY,
    responses={**openapi.no_content("Replaced"), **_WRITE_ERRORS},
)
async def replace_entity(
    request: Request,
    entityId: EntityIdPath,
    type: TypeGateQuery = None,
    tenant: TenantHeader = None,
) -> Response:
    svc = services(request)
    check_entity_id(entityId)
    body, ctx = await http.body_and_context(request, svc.contexts, svc.settings.max_body_bytes)
    entity = reject_null_markers(parse_entity(body, ctx, entity_id=entityId, require_type=False))
    await check_type_gate(request, tenant, entityId, type, ctx)
    await svc.hub.replace_entity(tenant, entity, actor_of(request))
    return Response(status_code=204, headers=tenant_headers(tenant))


@router.patch(
    "/entities/{entityId:entity_id}",
    status_code=204,
    summary="Merge into an entity (merge-patch; urn:ngsi-ld:null deletes)",
    openapi_extra=_MERGE_BODY,
    responses={**openapi.no_content("Merged"), **_WRITE_ERRORS},
)
async def merge_entity(
    request: Request,
    entityId: EntityIdPath,
    type: TypeGateQuery = None,
    tenant: TenantHeader = None,
) -> Response:
    svc = services(request)
    check_entity_id(entityId)
    body, ctx = await http.body_and_context(
        request, svc.contexts, svc.settings.max_body_bytes, allow_merge_patch=True
    )
    known = await stored_types(request, tenant, entityId, ctx)
    fragment = parse_fragment(body, ctx, entityId, known)
    if not fragment.attrs and not fragment.types and fragment.scope is None:
        raise BadRequestData("the merge body has no attributes")
    await check_type_gate(request, tenant, entityId, type, ctx)
    await svc.hub.merge_entity(tenant, fragment, actor_of(request))
    return Response(status_code=204, headers=tenant_headers(tenant))


@router.delete(
    "/entities/{entityId:entity_id}",
    status_code=204,
    summary="Delete an entity",
    responses={**openapi.no_content("Deleted"), **openapi.errors(400, 403, 404, 504)},
)
async def delete_entity(
    request: Request,
    entityId: EntityIdPath,
    type: TypeGateQuery = None,
    tenant: TenantHeader = None,
) -> Response:
    svc = services(request)
    check_entity_id(entityId)
    ctx = await http.request_context(request, svc.contexts)
    await check_type_gate(request, tenant, entityId, type, ctx)
    await svc.hub.delete_entity(tenant, entityId, actor_of(request))
    return Response(status_code=204, headers=tenant_headers(tenant))


# -- /entities/{id}/attrs ------------------------------------------------------------------


def outcome_response(
    outcome: AttributeOutcome, ctx: CompiledContext, tenant: str | None
) -> Response:
    if not outcome.not_updated:
        return Response(status_code=204, headers=tenant_headers(tenant))
    body = {
        "updated": [ctx.compact(a) for a in outcome.updated],
        "notUpdated": [
            {"attributeName": ctx.compact(a), "reason": reason} for a, reason in outcome.not_updated
        ],
    }
    return http.json_response(body, status=207, headers=tenant_headers(tenant))


@router.post(
    "/entities/{entityId:entity_id}/attrs",
    status_code=204,
    summary="Append attributes (options=noOverwrite keeps existing ones)",
    openapi_extra=_ATTRS_BODY,
    responses={**openapi.no_content("Appended"), **_PARTLY, **_WRITE_ERRORS},
)
async def append_attributes(
    request: Request,
    entityId: EntityIdPath,
    options: Annotated[str | None, Query(description="noOverwrite")] = None,
    type: TypeGateQuery = None,
    tenant: TenantHeader = None,
) -> Response:
    svc = services(request)
    check_entity_id(entityId)
    opts = http.parse_options(options, frozenset({"noOverwrite"}))
    body, ctx = await http.body_and_context(request, svc.contexts, svc.settings.max_body_bytes)
    known = await stored_types(request, tenant, entityId, ctx)
    fragment = parse_fragment(body, ctx, entityId, known)
    if not fragment.attrs and not fragment.types and fragment.scope is None:
        raise BadRequestData("the request body has no attributes to append")
    await check_type_gate(request, tenant, entityId, type, ctx)
    outcome = await svc.hub.append_attributes(
        tenant, fragment, actor_of(request), no_overwrite="noOverwrite" in opts
    )
    return outcome_response(outcome, ctx, tenant)


@router.patch(
    "/entities/{entityId:entity_id}/attrs",
    status_code=204,
    summary="Update attributes (those the entity lacks are appended)",
    openapi_extra=_ATTRS_BODY,
    responses={**openapi.no_content("Updated"), **_PARTLY, **_WRITE_ERRORS},
)
async def update_attributes(
    request: Request,
    entityId: EntityIdPath,
    type: TypeGateQuery = None,
    tenant: TenantHeader = None,
) -> Response:
    svc = services(request)
    check_entity_id(entityId)
    body, ctx = await http.body_and_context(request, svc.contexts, svc.settings.max_body_bytes)
    known = await stored_types(request, tenant, entityId, ctx)
    fragment = parse_fragment(body, ctx, entityId, known)
    if not fragment.attrs and not fragment.types and fragment.scope is None:
        raise BadRequestData("the request body has no attributes to update")
    await check_type_gate(request, tenant, entityId, type, ctx)
    outcome = await svc.hub.update_attributes(
        tenant, fragment, actor_of(request), append_missing=True
    )
    return outcome_response(outcome, ctx, tenant)


@router.patch(
    "/entities/{entityId:entity_id}/attrs/{attrId}",
    status_code=204,
    summary="Partially update one attribute",
    openapi_extra=_PARTIAL_BODY,
    responses={**openapi.no_content("Updated"), **_WRITE_ERRORS},
)
async def update_attribute(
    request: Request,
    entityId: EntityIdPath,
    attrId: AttrIdPath,
    type: TypeGateQuery = None,
    tenant: TenantHeader = None,
) -> Response:
    svc = services(request)
    check_entity_id(entityId)
    body, ctx = await http.body_and_context(
        request, svc.contexts, svc.settings.max_body_bytes, allow_merge_patch=True
    )
    check_attribute_path_name(attrId, ctx)
    known = await stored_types(request, tenant, entityId, ctx)
    iri = ctx.for_types(known or []).expand(attrId)
    patch = parse_partial_instance(body, ctx, attrId, iri)
    await check_type_gate(request, tenant, entityId, type, ctx)
    await svc.hub.update_attribute(tenant, entityId, iri, patch, actor_of(request))
    return Response(status_code=204, headers=tenant_headers(tenant))


def check_attribute_path_name(name: str, ctx: CompiledContext) -> str:
    """An attribute name in a URL path: a valid name, and not an entity member."""
    check_name(name, "attribute name")
    if name in ("scope", "id", "type") or ctx.keyword(name) is not None:
        raise BadRequestData(f"{name!r} is an entity member, not an attribute this operation takes")
    return name


@router.put(
    "/entities/{entityId:entity_id}/attrs/{attrId}",
    status_code=204,
    summary="Replace one attribute",
    openapi_extra=_ATTRIBUTE_BODY,
    responses={**openapi.no_content("Replaced"), **_WRITE_ERRORS},
)
async def replace_attribute(
    request: Request,
    entityId: EntityIdPath,
    attrId: AttrIdPath,
    type: TypeGateQuery = None,
    tenant: TenantHeader = None,
) -> Response:
    svc = services(request)
    check_entity_id(entityId)
    body, ctx = await http.body_and_context(request, svc.contexts, svc.settings.max_body_bytes)
    check_attribute_path_name(attrId, ctx)
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    clean = {k: v for k, v in body.items() if k != "@context"}
    known = await stored_types(request, tenant, entityId, ctx)
    fragment = parse_fragment({attrId: clean}, ctx, entityId, known)
    await check_type_gate(request, tenant, entityId, type, ctx)
    outcome = await svc.hub.update_attributes(tenant, fragment, actor_of(request))
    if outcome.not_updated:
        raise NotFound(f"attribute {attrId!r} was not found in {entityId!r}")
    return Response(status_code=204, headers=tenant_headers(tenant))


@router.delete(
    "/entities/{entityId:entity_id}/attrs/{attrId}",
    status_code=204,
    summary="Delete an attribute",
    responses={**openapi.no_content("Deleted"), **openapi.errors(400, 403, 404, 504)},
)
async def delete_attribute(
    request: Request,
    entityId: EntityIdPath,
    attrId: AttrIdPath,
    datasetId: Annotated[str | None, Query(description="The instance to delete")] = None,
    deleteAll: Annotated[bool, Query(description="Delete every instance")] = False,
    type: TypeGateQuery = None,
    tenant: TenantHeader = None,
) -> Response:
    svc = services(request)
    check_entity_id(entityId)
    ctx = await http.request_context(request, svc.contexts)
    if datasetId is not None:
        check_entity_id(datasetId, "datasetId")
    await check_type_gate(request, tenant, entityId, type, ctx)
    if attrId == "scope":  # the entity's scope can be deleted like an attribute (4.18)
        await svc.hub.delete_scope(tenant, entityId, actor_of(request))
        return Response(status_code=204, headers=tenant_headers(tenant))
    check_attribute_path_name(attrId, ctx)
    known = await stored_types(request, tenant, entityId, ctx)
    iri = ctx.for_types(known or []).expand(attrId)
    await svc.hub.delete_attribute(
        tenant, entityId, iri, actor_of(request), dataset_id=datasetId, delete_all=deleteAll
    )
    return Response(status_code=204, headers=tenant_headers(tenant))
