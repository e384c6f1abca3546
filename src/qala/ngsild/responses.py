"""What the NGSI-LD entity and batch routes share: their common query parameters, entity
lists as responses (NGSI-LD JSON, JSON-LD or GeoJSON, with paging links) and the documented
shape of such a list."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request
from starlette.responses import Response

from qala import openapi
from qala.hub.errors import HubError
from qala.jsonld.compiled import CompiledContext
from qala.ngsild import http
from qala.ngsild.parse import check_name
from qala.ngsild.render import (
    DEFAULT_GEOMETRY_PROPERTY,
    RenderOptions,
    render_entity,
    render_geojson_feature,
)
from qala.services import services
from qala.web.edge import actor_of, page_links, tenant_headers

OptionsQuery = Annotated[
    str | None,
    Query(description="Comma-separated: keyValues, concise, normalized, sysAttrs"),
]
FormatQuery = Annotated[str | None, Query(description="normalized, concise or keyValues")]
LangQuery = Annotated[str | None, Query(description="Language for LanguageProperties, or *")]

ENTITIES = {"type": "array", "items": openapi.ref("Entity")}
#: A body in the representation Accept asks for: NGSI-LD JSON(-LD) or GeoJSON.
ENTITY_LIST = {
    200: {
        "description": "The entities (NGSILD-Results-Count with count=true; Link: next/prev)",
        "content": {
            **openapi.content(ENTITIES, openapi.NGSI_LD),
            openapi.GEOJSON: {"schema": openapi.ref("FeatureCollection")},
        },
    }
}


async def stored_types(
    request: Request, tenant: str | None, entity_id: str, ctx: CompiledContext
) -> list[str] | None:
    """The stored entity's types, when the @context has type-scoped terms that depend on them."""
    if not ctx.has_type_scoped:
        return None
    try:
        entity = await services(request).hub.get_entity(tenant, entity_id, actor_of(request))
    except HubError:
        return None
    return entity.types


def geometry_property(ctx: CompiledContext, raw: str | None) -> str:
    if raw is None:
        return DEFAULT_GEOMETRY_PROPERTY
    return ctx.expand(check_name(raw, "geometryProperty"))


def entity_list_response(
    request: Request,
    negotiated: http.Negotiated,
    opts: RenderOptions,
    entities: list[Any],
    count: int | None,
    limit: int,
    offset: int,
    tenant: str | None,
    geo_property: str,
    bodies: list[dict[str, Any]] | None = None,
) -> Response:
    """The response of a query; ``bodies``: the entities already rendered (``join``)."""
    ctx = negotiated.ctx
    headers = tenant_headers(tenant)
    if count is not None:
        headers["NGSILD-Results-Count"] = str(count)
    links = page_links(request, limit, offset, len(entities), count, negotiated.accept)
    body: Any
    if negotiated.accept == http.GEOJSON:
        body = {
            "type": "FeatureCollection",
            "features": [render_geojson_feature(e, ctx, opts, geo_property) for e in entities],
            "@context": ctx.response_context(),
        }
    else:
        body = bodies if bodies is not None else [render_entity(e, ctx, opts) for e in entities]
        if negotiated.accept == http.JSONLD:
            response_context = ctx.response_context()
            for item in body:
                item["@context"] = response_context
    response = http.json_response(body, negotiated=negotiated, headers=headers)
    if links:
        existing = response.headers.get("Link")
        response.headers["Link"] = ", ".join([*([existing] if existing else []), *links])
    return response
