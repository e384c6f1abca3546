"""The NGSI-LD temporal API's writes: create, append to, correct and delete history.

Temporal writes add, correct or remove *history*; they do not change the entity's current
state (as in ETSI GS CIM 009, where the temporal evolution is a resource of its own, and as in
Orion-LD with Mintaka). Each runs through ``hub.transact`` like every other write, so it is
atomic, serialised with the entity's other writes, and visible to the hub's participants; the
rows and statements it commits come from :class:`qala.temporal.history_edits.HistoryEdits`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from qala import openapi
from qala.hub import (
    BadRequestData,
    Instance,
    NotFound,
    Statement,
    Transaction,
    UnknownTenant,
    access,
)
from qala.jsonld.compiled import CompiledContext
from qala.ngsild import http
from qala.ngsild.parse import check_entity_id, check_name, is_uri, parse_instance
from qala.ngsild.routing import StrictRoute
from qala.services import Services, services
from qala.temporal import schema
from qala.temporal.evolution import not_found
from qala.temporal.history import EntityInfo, History, Series
from qala.temporal.history_edits import HistoryEdits, stored_instance
from qala.temporal.routes.paths import AttrIdPath, EntityIdPath, InstanceIdPath
from qala.web.edge import TenantHeader, actor_of, tenant_headers

router = APIRouter(tags=["Temporal"], route_class=StrictRoute)
#: Routes that only explain a URL with an empty entity id or attribute name.
missing_segment_router = APIRouter(include_in_schema=False)
Q = Query

_INSTANCES = {
    "temperature": [
        {"type": "Property", "value": 21.5, "observedAt": "2026-01-01T10:00:00Z"},
        {"type": "Property", "value": 22.0, "observedAt": "2026-01-01T11:00:00Z"},
    ]
}
_ENTITY_BODY = openapi.body(
    openapi.ref("TemporalEntity"),
    example={"id": "urn:ngsi-ld:WeatherObserved:1", "type": "WeatherObserved", **_INSTANCES},
)
_ATTRS_BODY = openapi.body(
    {"type": "object", "description": "Attributes, each with an array of instances"},
    example=_INSTANCES,
)
_INSTANCE_BODY = openapi.body(openapi.ref("Attribute"), example={"type": "Property", "value": 21.0})
_WRITE_ERRORS = openapi.errors(400, 403, 404, 413, 415, 504)
_DELETE_ERRORS = openapi.errors(400, 403, 404, 504)


async def _tenant_id(svc: Services, tenant: str | None) -> int:
    return (await svc.hub.tenant(tenant)).id


def _audit(entity_id: str) -> dict[str, Any]:
    """What the hub's participants (audit) read of a temporal write."""
    return {"temporal": {"entityId": entity_id}}


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
        **openapi.created("Created; Location names the temporal entity"),
        **openapi.no_content("Instances added to an existing temporal entity"),
        **_WRITE_ERRORS,
    },
)
async def create_temporal(request: Request, tenant: TenantHeader = None) -> Response:
    svc = services(request)
    # Refuse callers without write access before anything about the data is said.
    access.check_write(actor_of(request), tenant)
    payload, ctx = await http.body_and_context(request, svc.contexts, svc.settings.max_body_bytes)
    if not isinstance(payload, dict):
        raise BadRequestData("the temporal entity must be a JSON object")
    entity_id = check_entity_id(payload.get("id", payload.get("@id")))
    raw_type = payload.get("type", payload.get("@type"))
    if raw_type is None:
        raise BadRequestData(f"entity {entity_id!r} has no type")
    raw_types = raw_type if isinstance(raw_type, list) else [raw_type]
    if not raw_types:
        raise BadRequestData("entity type must not be an empty list")
    types = [ctx.expand(check_name(t, "entity type")) for t in raw_types]
    attrs = _parse_temporal_attrs(payload, ctx, types)
    tenant_id, series = await _known_series(svc, tenant, entity_id)
    exists = tenant_id is not None and await History(svc.store).entity(tenant_id, entity_id)
    known = {s.sid for s in series}

    def body(tx: Transaction) -> None:
        edits = HistoryEdits(tx.tenant.id)
        now = tx.context.now_us
        replaced: list[Statement] = []
        tx.add_rows(*edits.add_instances(entity_id, attrs, known, now, replaced=replaced))
        tx.add_statements(replaced)
        if not exists:
            tx.add_rows(edits.new_entity(entity_id, types, now))

    await svc.hub.transact(
        tenant,
        actor_of(request),
        operation="temporal.create",
        entity_ids=[entity_id],
        body=body,
        extra=_audit(entity_id),
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
    responses={**openapi.no_content("Instances added"), **_WRITE_ERRORS},
)
async def append_temporal(
    request: Request, entityId: EntityIdPath, tenant: TenantHeader = None
) -> Response:
    svc = services(request)
    # Refuse callers without write access before anything about the data is said.
    access.check_write(actor_of(request), tenant)
    check_entity_id(entityId)
    payload, ctx = await http.body_and_context(request, svc.contexts, svc.settings.max_body_bytes)
    if not isinstance(payload, dict):
        raise BadRequestData("the request body must be a JSON object of attributes")
    raw_id = payload.get("id", payload.get("@id"))
    if raw_id is not None and raw_id != entityId:
        raise BadRequestData(f"the id in the body ({raw_id!r}) differs from the URL's")
    tenant_id, info = await _existing(svc, tenant, entityId)
    attrs = _parse_temporal_attrs(payload, ctx, info.types)
    if not attrs:
        raise BadRequestData("the request body has no attributes")
    series = await History(svc.store).series(tenant_id, [entityId])
    known = {s.sid for s in series}

    def body(tx: Transaction) -> None:
        edits = HistoryEdits(tx.tenant.id)
        tx.add_rows(*edits.add_instances(entityId, attrs, known, tx.context.now_us))

    await svc.hub.transact(
        tenant,
        actor_of(request),
        operation="temporal.append",
        entity_ids=[entityId],
        body=body,
        create_tenant=False,
        extra=_audit(entityId),
    )
    return Response(status_code=204, headers=tenant_headers(tenant))


@router.delete(
    "/temporal/entities/{entityId}",
    status_code=204,
    summary="Delete the temporal evolution of an entity (not the entity)",
    responses={**openapi.no_content("Deleted"), **_DELETE_ERRORS},
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

    def body(tx: Transaction) -> None:
        edits = HistoryEdits(tx.tenant.id)
        tx.add_statements(edits.delete_entity(entityId, sids))
        tx.add_statements(edits.re_register(tx.get(entityId), tx.context.now_us))

    await svc.hub.transact(
        tenant,
        actor_of(request),
        operation="temporal.delete",
        entity_ids=[entityId],
        body=body,
        create_tenant=False,
        extra=_audit(entityId),
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
    responses={**openapi.no_content("Deleted"), **_DELETE_ERRORS},
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

    def body(tx: Transaction) -> None:
        edits = HistoryEdits(tx.tenant.id)
        tx.add_statements(edits.delete_series(sids))
        if deleteAll or datasetId is None:
            tx.add_statements(edits.re_register(tx.get(entityId), tx.context.now_us, iri))

    await svc.hub.transact(
        tenant,
        actor_of(request),
        operation="temporal.attrs.delete",
        entity_ids=[entityId],
        body=body,
        create_tenant=False,
        extra=_audit(entityId),
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
    responses={**openapi.no_content("Modified"), **_WRITE_ERRORS},
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
    payload, ctx = await http.body_and_context(request, svc.contexts, svc.settings.max_body_bytes)
    if not isinstance(payload, dict) or not payload:
        raise BadRequestData("the request body must be a non-empty attribute instance")
    _tid, iri, series, _ = await _attr_series(svc, request, tenant, entityId, attrId)
    row = await History(svc.store).find_instance([s.sid for s in series], iid)
    if row is None or row.k & schema.DELETED:
        raise NotFound(f"instance {instanceId!r} of {attrId!r} was not found in {entityId!r}")
    current = stored_instance(row)
    kind = current["type"]
    clean = {k: v for k, v in payload.items() if k not in ("@context", "instanceId", "datasetId")}
    if "type" in clean and clean["type"] != kind:
        for member in schema.VALUE_MEMBER.values():
            current.pop(member, None)
    merged = {**current, **clean}
    instance = parse_instance(merged, ctx, attrId, iri)

    def body(tx: Transaction) -> None:
        edits = HistoryEdits(tx.tenant.id)
        tx.add_statements(edits.correct_instance(row, instance, tx.context.now_us))

    await svc.hub.transact(
        tenant,
        actor_of(request),
        operation="temporal.instance.patch",
        entity_ids=[entityId],
        body=body,
        create_tenant=False,
        extra=_audit(entityId),
    )
    return Response(status_code=204, headers=tenant_headers(tenant))


@router.delete(
    "/temporal/entities/{entityId}/attrs/{attrId}/{instanceId}",
    status_code=204,
    summary="Delete one attribute instance of the temporal evolution",
    responses={**openapi.no_content("Deleted"), **_DELETE_ERRORS},
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

    def body(tx: Transaction) -> None:
        tx.add_statements(HistoryEdits(tx.tenant.id).delete_instance(row))

    await svc.hub.transact(
        tenant,
        actor_of(request),
        operation="temporal.instance.delete",
        entity_ids=[entityId],
        body=body,
        create_tenant=False,
        extra=_audit(entityId),
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


# PATCH here is a 405 (ETSI 016_02_06): without the attribute the URL reads as
# ``…/attrs/{attrId}``, a resource that has no PATCH (DELETE says what is missing).
@missing_segment_router.api_route(
    "/temporal/entities/{entityId}/attrs//{instanceId}", methods=["DELETE"]
)
async def temporal_instance_without_attribute(request: Request) -> Response:
    raise BadRequestData(
        "the URL names no attribute: use /temporal/entities/{entityId}/attrs/{attrId}/{instanceId}"
    )
