"""NGSI-LD discovery: ``/types``, ``/types/{type}``, ``/attributes``, ``/attributes/{attr}``."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from starlette.convertors import Convertor, register_url_convertor
from starlette.responses import Response

from qala import openapi
from qala.hub.errors import NotFound
from qala.ngsild import http
from qala.ngsild.parse import check_name
from qala.ngsild.routing import FastRoute
from qala.services import services
from qala.web.edge import TenantHeader, actor_of, negotiate, tenant_headers


class NameOrIriConvertor(Convertor[str]):
    """A type or attribute name in a URL path: a short name or an expanded IRI, whose '/'
    arrive decoded (%2F) — anything but nothing."""

    regex = r"[^/].*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("name_or_iri", NameOrIriConvertor())

router = APIRouter(tags=["Discovery"], route_class=FastRoute)
DetailsQuery = Annotated[bool, Query(description="Return full descriptions, not names")]
_ERRORS = openapi.errors(400, 403, 404, 406, 504)


def _list(schema: str, detailed: str) -> dict[int | str, dict[str, Any]]:
    either = {"anyOf": [openapi.ref(schema), {"type": "array", "items": openapi.ref(detailed)}]}
    return openapi.ok(either, f"A {schema}, or with details=true the {detailed}s", openapi.NGSI_LD)


def _with_context(body: Any, negotiated: http.Negotiated) -> Any:
    if negotiated.accept == http.JSONLD:
        if isinstance(body, list):
            for item in body:
                item["@context"] = negotiated.ctx.response_context()
        else:
            body["@context"] = negotiated.ctx.response_context()
    return body


@router.get(
    "/types",
    summary="The entity types in use",
    responses={**_list("EntityTypeList", "EntityType"), **_ERRORS},
)
async def list_types(
    request: Request, details: DetailsQuery = False, tenant: TenantHeader = None
) -> Response:
    svc = services(request)
    negotiated = await negotiate(request, geojson=False)
    ctx = negotiated.ctx
    body: Any
    if not details:
        types = await svc.hub.types(tenant, actor_of(request))
        body = {
            "id": f"urn:ngsi-ld:EntityTypeList:{uuid.uuid4()}",
            "type": "EntityTypeList",
            "typeList": [ctx.compact(t) for t in types],
        }
    else:
        infos = await svc.hub.type_details(tenant, None, actor_of(request))
        body = [
            {
                "id": info.type,
                "type": "EntityType",
                "typeName": ctx.compact(info.type),
                "attributeNames": sorted(ctx.compact(a) for a in info.attributes),
            }
            for info in infos
        ]
    body = _with_context(body, negotiated)
    return http.json_response(body, negotiated=negotiated, headers=tenant_headers(tenant))


@router.get(
    "/types/{type:name_or_iri}",
    summary="One entity type: count and attributes",
    responses={**openapi.ok(openapi.ref("EntityTypeInfo"), media_types=openapi.NGSI_LD), **_ERRORS},
)
async def type_info(
    request: Request,
    type: Annotated[str, Path(description="Entity type name", examples=["Streetlight"])],
    tenant: TenantHeader = None,
) -> Response:
    svc = services(request)
    negotiated = await negotiate(request, geojson=False)
    ctx = negotiated.ctx
    iri = ctx.expand(check_name(type, "entity type"))
    infos = await svc.hub.type_details(tenant, [iri], actor_of(request))
    if not infos:
        raise NotFound(f"no entity has type {type!r}")
    info = infos[0]
    body = {
        "id": info.type,
        "type": "EntityTypeInfo",
        "typeName": ctx.compact(info.type),
        "entityCount": info.count,
        "attributeDetails": [
            {
                "id": attr,
                "type": "Attribute",
                "attributeName": ctx.compact(attr),
                "attributeTypes": sorted(kinds),
            }
            for attr, kinds in sorted(info.attributes.items())
        ],
    }
    body = _with_context(body, negotiated)
    return http.json_response(body, negotiated=negotiated, headers=tenant_headers(tenant))


def _attribute_body(info: Any, ctx: Any) -> dict[str, Any]:
    return {
        "id": info.attr,
        "type": "Attribute",
        "attributeName": ctx.compact(info.attr),
        "attributeCount": info.count,
        "attributeTypes": sorted(info.attribute_types),
        "typeNames": sorted(ctx.compact(t) for t in info.types),
    }


@router.get(
    "/attributes",
    summary="The attributes in use",
    responses={**_list("AttributeList", "AttributeDetails"), **_ERRORS},
)
async def list_attributes(
    request: Request, details: DetailsQuery = False, tenant: TenantHeader = None
) -> Response:
    svc = services(request)
    negotiated = await negotiate(request, geojson=False)
    ctx = negotiated.ctx
    infos = await svc.hub.attribute_details(tenant, None, actor_of(request))
    body: Any
    if not details:
        body = {
            "id": f"urn:ngsi-ld:AttributeList:{uuid.uuid4()}",
            "type": "AttributeList",
            "attributeList": [ctx.compact(i.attr) for i in infos],
        }
    else:
        # The list gives name and entity types (5.7.8); counts and kinds are in /attributes/{a}.
        body = [
            {
                "id": i.attr,
                "type": "Attribute",
                "attributeName": ctx.compact(i.attr),
                "typeNames": sorted(ctx.compact(t) for t in i.types),
            }
            for i in infos
        ]
    body = _with_context(body, negotiated)
    return http.json_response(body, negotiated=negotiated, headers=tenant_headers(tenant))


@router.get(
    "/attributes/{attrId:name_or_iri}",
    summary="One attribute: count, kinds, entity types",
    responses={
        **openapi.ok(openapi.ref("AttributeDetails"), media_types=openapi.NGSI_LD),
        **_ERRORS,
    },
)
async def attribute_info(
    request: Request,
    attrId: Annotated[str, Path(description="Attribute name", examples=["status"])],
    tenant: TenantHeader = None,
) -> Response:
    svc = services(request)
    negotiated = await negotiate(request, geojson=False)
    ctx = negotiated.ctx
    iri = ctx.expand(check_name(attrId, "attribute name"))
    infos = await svc.hub.attribute_details(tenant, [iri], actor_of(request))
    if not infos:
        raise NotFound(f"no entity has attribute {attrId!r}")
    body = _with_context(_attribute_body(infos[0], ctx), negotiated)
    return http.json_response(body, negotiated=negotiated, headers=tenant_headers(tenant))
