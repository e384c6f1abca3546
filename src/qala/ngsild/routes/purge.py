"""Purge Entities (GS CIM 009 v1.9.1, 5.6.21): ``DELETE /entities?type=…&…``.

The entities a query selects are deleted, or, with ``drop``, lose the attributes it names, or,
with ``keep``, every attribute but those it names (the entities themselves stay). Selection is
an entity query's: it needs a type, attributes (not only system ones), q, a geo-query or
``local=true`` (every entity of the tenant), which ``id``, ``idPattern`` and ``scopeQ`` may
narrow (5.6.21.4; ids alone do not select a purge, 5.6.21.3), so that neither a bare
``DELETE /entities`` nor ``idPattern=.*`` empties a tenant by accident.

The matches are read first, then written through the hub in batches of :data:`BATCH`, each
one transaction with the history, notification and audit rows of every entity it deletes or
changes; an entity deleted by someone else in between is skipped. The selection sees only what
the caller may read; an entity the caller may read but not change stops the purge with 403
(batches already written stay written, as in a batch operation).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from qala import openapi
from qala.hub import Entity, Transaction
from qala.hub.errors import BadRequestData, NotFound
from qala.ngsild import http
from qala.ngsild.params import (
    QueryParams,
    build_entity_query,
    expand_attrs,
    names_context,
    split_list,
)
from qala.ngsild.routing import FastRoute
from qala.services import services
from qala.web.edge import TenantHeader, actor_of, tenant_headers

router = APIRouter(tags=["Entities"], route_class=FastRoute)

#: Entities written per transaction.
BATCH = 200
#: System attributes: naming only these in attrs selects nothing (5.6.21.4 b).
_SYSTEM = frozenset({"createdAt", "modifiedAt", "deletedAt", "observedAt"})

NamesQuery = Annotated[str | None, Query(description="Comma-separated attribute names")]


@router.delete(
    "/entities",
    status_code=204,
    summary="Purge entities: delete those a query selects, or drop/keep their attributes",
    responses={**openapi.no_content("Purged"), **openapi.errors(400, 403, 504)},
)
async def purge_entities(
    request: Request,
    type: Annotated[str | None, Query(description="Entity type expression")] = None,
    id: Annotated[str | None, Query(description="Comma-separated entity ids")] = None,
    idPattern: Annotated[str | None, Query(description="Regular expression on ids")] = None,
    attrs: NamesQuery = None,
    q: Annotated[str | None, Query(description="NGSI-LD query language")] = None,
    georel: Annotated[str | None, Query(description="near;maxDistance==n, within, …")] = None,
    geometry: Annotated[str | None, Query(description="Point, Polygon, …")] = None,
    coordinates: Annotated[str | None, Query(description="GeoJSON coordinates")] = None,
    geoproperty: Annotated[str | None, Query(description="GeoProperty to test")] = None,
    scopeQ: Annotated[str | None, Query(description="Scope query")] = None,
    local: Annotated[bool, Query(description="true: every entity of the tenant")] = False,
    keep: Annotated[
        str | None, Query(description="Keep only these attributes (the entities stay)")
    ] = None,
    drop: Annotated[
        str | None, Query(description="Delete only these attributes (the entities stay)")
    ] = None,
    tenant: TenantHeader = None,
) -> Response:
    svc = services(request)
    if keep is not None and drop is not None:
        raise BadRequestData("keep and drop cannot be used together")
    geo_given = georel is not None or geometry is not None or coordinates is not None
    user_attrs = [a for a in split_list(attrs) if a not in _SYSTEM] if attrs else []
    if not (type or user_attrs or q or geo_given or local):
        # 5.6.21.4: a type, attributes (one not system-generated), q, a geo-query or the
        # local scope; 5.6.21.3: entity ids alone (id, idPattern) do not select a purge.
        raise BadRequestData(
            "a purge needs at least one of type, attrs (not only system attributes), q or a "
            "geo-query, or local=true to purge every entity of the tenant; id and idPattern "
            "only narrow such a selection"
        )
    if attrs and "{" in attrs:
        raise BadRequestData("attrs of a purge cannot ask for linked entities (name{…})")
    ctx = await http.request_context(request, svc.contexts)
    names = names_context(type, ctx)
    kept = set(expand_attrs(keep, names, "keep") or ()) if keep is not None else None
    dropped = set(expand_attrs(drop, names, "drop") or ()) if drop is not None else None
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
        # the selection was checked above (5.6.21.4); the query needs no selector of its own
        local=True,
    )
    page = svc.settings.max_limit
    actor = actor_of(request)
    matched: list[str] = []
    offset = 0
    while True:
        query = build_entity_query(
            params,
            ctx,
            default_limit=page,
            max_limit=page,
            max_terms=svc.settings.max_query_terms,
        )
        query.limit, query.offset = page, offset
        found = (await svc.hub.query(tenant, query, actor)).entities
        matched.extend(entity.id for entity in found)
        if len(found) < page:
            break
        offset += page

    def purge_one(tx: Transaction, entity_id: str) -> None:
        current: Entity | None = tx.get(entity_id)
        if current is None:  # deleted since it was selected
            return
        if kept is None and dropped is None:
            tx.delete(entity_id)
            return
        doomed = [
            iri
            for iri in current.attrs
            if (dropped is not None and iri in dropped) or (kept is not None and iri not in kept)
        ]
        if doomed:
            tx.update(entity_id, delete=doomed)

    for start in range(0, len(matched), BATCH):
        chunk = matched[start : start + BATCH]
        outcome = await svc.hub.batch(
            tenant,
            actor,
            operation="entity.purge",
            entity_ids=chunk,
            each=lambda tx, i, chunk=chunk: purge_one(tx, chunk[i]),
            create_tenant=False,
        )
        for _entity_id, error in outcome.errors:
            if not isinstance(error, NotFound):
                raise error
    return Response(status_code=204, headers=tenant_headers(tenant))
