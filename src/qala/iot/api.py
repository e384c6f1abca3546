"""The IoT Agent API: provisioning (``/iot/services``, ``/iot/devices``), HTTP measures
(``POST /iot/json``) and ``/iot/about``.

Bodies follow the FIWARE IoT Agent shapes (``{"services": [...]}``, ``{"devices": [...]}``);
errors are the IoT Agent's ``{"name": "...", "message": "..."}`` with a fitting HTTP status.
The tenant is the ``NGSILD-Tenant`` header or the IoT Agent's ``fiware-service``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.responses import Response

from qala import __version__
from qala import openapi as apidoc
from qala.auth import audit
from qala.hub import Actor, Hub, Transaction, access
from qala.hub import errors as e
from qala.hub.model import Entity
from qala.iot.ingest import Ingestor
from qala.iot.model import (
    check_device,
    check_identifier,
    check_service,
    default_entity_name,
)
from qala.iot.registry import (
    DeviceRow,
    Registry,
    ResolvedDevice,
    ServiceRow,
    build_device,
    is_unique_violation,
    iso,
)
from qala.ngsild.http import read_json
from qala.ngsild.params import MAX_OFFSET
from qala.services import Services, services
from qala.web.edge import actor_of

log = logging.getLogger("qala.iot")


class IotError(Exception):
    """An error answered in the IoT Agent format."""

    def __init__(self, status: int, name: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.name = name
        self.message = message


def error_response(status: int, name: str, message: str) -> Response:
    body = orjson.dumps({"name": name, "message": message})
    return Response(body, status_code=status, media_type="application/json")


_HUB_ERRORS: list[tuple[type[e.HubError], int, str]] = [
    (e.NotFound, 404, "NOT_FOUND"),
    (e.UnknownTenant, 404, "NOT_FOUND"),
    (e.AlreadyExists, 409, "DUPLICATED_ENTITY"),
    (e.Conflict, 409, "CONFLICT"),
    (e.PayloadTooLarge, 413, "PAYLOAD_TOO_LARGE"),
    (e.ServiceUnavailable, 503, "SERVICE_UNAVAILABLE"),
    (e.ContextNotAvailable, 400, "BAD_CONTEXT"),
    (e.Unauthorized, 401, "UNAUTHORIZED"),
    (e.Forbidden, 403, "FORBIDDEN"),
]


def hub_error_response(exc: e.HubError) -> Response:
    for cls, status, name in _HUB_ERRORS:
        if isinstance(exc, cls):
            return error_response(status, name, exc.detail)
    return error_response(400, "BAD_REQUEST", exc.detail)


class IotRoute(APIRoute):
    """Routes whose every error (including parameter validation) is an IoT Agent error."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except IotError as exc:
                return error_response(exc.status, exc.name, exc.message)
            except e.HubError as exc:
                return hub_error_response(exc)
            except RequestValidationError as exc:
                problems = []
                for error in exc.errors():
                    where = ".".join(str(p) for p in error.get("loc", ()) if p != "query")
                    problems.append(f"{where}: {error.get('msg', 'invalid')}")
                return error_response(400, "BAD_REQUEST", "; ".join(problems))
            except Exception:
                log.exception("IoT API: unexpected error on %s %s", request.method, request.url)
                return error_response(500, "INTERNAL_ERROR", "unexpected server error")

        return route


router = APIRouter(tags=["IoT Agent"], route_class=IotRoute)

TenantHeader = Annotated[
    str | None,
    Header(
        alias="NGSILD-Tenant",
        description="The tenant (a city), e.g. astana",
        json_schema_extra={"pattern": apidoc.TENANT_PATTERN},
    ),
]
ServiceHeader = Annotated[
    str | None,
    Header(
        alias="fiware-service",
        description="The IoT Agent's name for the tenant",
        json_schema_extra={"pattern": apidoc.TENANT_PATTERN},
    ),
]
ServicePathHeader = Annotated[
    str | None, Header(alias="fiware-servicepath", description="Accepted; not used")
]
DeviceIdPath = Annotated[str, Path(description="The device id", examples=["station-1"])]
Limit = Annotated[int, Query(ge=1, le=1000, description="Page size")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip")]

_ATTRIBUTES = [{"object_id": "t", "name": "temperature", "type": "Number"}]
_SERVICES_BODY = apidoc.body(
    {
        "type": "object",
        "required": ["services"],
        "properties": {
            "services": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "object", "required": ["apikey"]},
            }
        },
    },
    (apidoc.JSON,),
    example={
        "services": [
            {"apikey": "weather-key", "entity_type": "WeatherObserved", "attributes": _ATTRIBUTES}
        ]
    },
)
_DEVICES_BODY = apidoc.body(
    {
        "type": "object",
        "required": ["devices"],
        "properties": {
            "devices": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "object", "required": ["device_id"]},
            }
        },
    },
    (apidoc.JSON,),
    example={"devices": [{"device_id": "station-1", "entity_type": "WeatherObserved"}]},
)
_CHANGES_BODY = apidoc.body(
    {"type": "object", "description": "The fields to change"},
    (apidoc.JSON,),
    example={"attributes": _ATTRIBUTES},
)


def tenant_of(ngsild: str | None, fiware: str | None) -> str:
    if ngsild and fiware and ngsild != fiware:
        raise IotError(
            400,
            "BAD_REQUEST",
            f"NGSILD-Tenant ({ngsild!r}) and fiware-service ({fiware!r}) name different tenants",
        )
    try:
        return Hub.check_tenant_name(ngsild or fiware)
    except e.BadRequestData as exc:
        raise IotError(400, "BAD_REQUEST", exc.detail) from None


_READERS = (access.ADMIN, access.OPERATOR, access.AUDITOR)
_WRITERS = (access.ADMIN, access.OPERATOR)


def allowed(request: Request, tenant: str, *, write: bool) -> Actor:
    """The caller, if it may read (or change) the tenant's provisioning: apikeys are device
    credentials, so only admins, the tenant's operators (and auditors, to read) may."""
    actor = actor_of(request)
    access.check_tenant(actor, tenant)
    if actor.role not in (_WRITERS if write else _READERS):
        raise e.Forbidden(
            f"the {actor.role} role may not {'change' if write else 'read'} IoT provisioning"
        )
    return actor


def _iot(request: Request) -> tuple[Services, Registry, Ingestor]:
    from qala.iot.capability import IotServices  # not at the top: it imports this module

    svc = services(request)
    iot = svc.state.find(IotServices)
    if iot is None:
        raise IotError(503, "SERVICE_UNAVAILABLE", "the IoT capability is not running")
    return svc, iot.registry, iot.ingestor


async def _items(request: Request, key: str, limit: int) -> list[Any]:
    body = await read_json(request, limit)
    if not isinstance(body, dict) or not isinstance(body.get(key), list) or not body[key]:
        raise IotError(
            400, "BAD_REQUEST", f'the body must be {{"{key}": [...]}} with at least one item'
        )
    if len(body[key]) > 10_000:
        raise IotError(413, "PAYLOAD_TOO_LARGE", f"at most 10000 {key} per request")
    return list(body[key])


def _empty(status: int) -> Response:
    return Response(status_code=status)


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


# -- service groups ----------------------------------------------------------------------------


def render_service(row: ServiceRow, ingestor: Ingestor) -> dict[str, Any]:
    delta = ingestor.service_deltas.get(row.id)
    if delta is not None:
        delta.apply_to(row)
    return {
        **row.config,
        "service": row.tenant,
        "subservice": row.config.get("service_path", "/"),
        "unknown_devices": row.unknown_devices,
        "last_error": row.last_error,
        "last_error_at": iso(row.last_error_at),
        "created_at": iso(row.created_at),
        "modified_at": iso(row.modified_at),
    }


@router.post(
    "/services",
    status_code=201,
    summary="Create service groups",
    openapi_extra=_SERVICES_BODY,
    responses={
        **apidoc.created("Created", location=False),
        **apidoc.iot_errors(400, 403, 409, 413),
    },
)
async def create_services(
    request: Request,
    tenant: TenantHeader = None,
    fiware_service: ServiceHeader = None,
    service_path: ServicePathHeader = None,
) -> Response:
    svc, registry, _ = _iot(request)
    name = tenant_of(tenant, fiware_service)
    actor = allowed(request, name, write=True)
    docs = [
        check_service(d, i)
        for i, d in enumerate(await _items(request, "services", svc.settings.max_body_bytes))
    ]
    keys = [d["apikey"] for d in docs]
    if len(set(keys)) != len(keys):
        raise IotError(400, "BAD_REQUEST", "the same apikey appears twice in the request")
    for doc in docs:
        if service_path:
            doc["service_path"] = service_path
        await svc.contexts.compile(doc.get("@context", doc.get("context")))
        if await registry.apikey_tenant(doc["apikey"]) is not None:
            raise IotError(
                409, "DUPLICATE_GROUP", f"a service group with apikey {doc['apikey']!r} exists"
            )
    try:
        await registry.insert_services(name, docs)
    except Exception as exc:
        if is_unique_violation(exc):
            raise IotError(
                409, "DUPLICATE_GROUP", "a service group with this apikey exists"
            ) from None
        raise
    for doc in docs:
        await audit.record(
            svc.store, actor, "iot.service.create", tenant=name, target=doc["apikey"]
        )
    return _empty(201)


@router.get(
    "/services",
    summary="List service groups",
    responses={**apidoc.ok(apidoc.ref("IotServiceList")), **apidoc.iot_errors(400, 403)},
)
async def list_services(
    request: Request,
    tenant: TenantHeader = None,
    fiware_service: ServiceHeader = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> Response:
    _, registry, ingestor = _iot(request)
    name = tenant_of(tenant, fiware_service)
    allowed(request, name, write=False)
    async with ingestor.stats_lock:
        count, rows = await registry.services(name, limit, offset)
        body = {"count": count, "services": [render_service(r, ingestor) for r in rows]}
    return _json(body)


async def _find_service(
    registry: Registry, tenant: str, apikey: str | None, resource: str | None
) -> ServiceRow:
    if not apikey:
        raise IotError(400, "MISSING_PARAMETERS", "give the service group's apikey as ?apikey=")
    row = await registry.service(apikey)
    if row is None or row.tenant != tenant or (resource is not None and row.resource != resource):
        raise IotError(404, "GROUP_NOT_FOUND", f"no service group with apikey {apikey!r} here")
    return row


@router.put(
    "/services",
    status_code=204,
    summary="Update a service group (?apikey=)",
    openapi_extra=_CHANGES_BODY,
    responses={**apidoc.no_content("Updated"), **apidoc.iot_errors(400, 403, 404, 413)},
)
async def update_service(
    request: Request,
    apikey: Annotated[str | None, Query(description="The group's apikey")] = None,
    resource: Annotated[str | None, Query(description="The group's resource")] = None,
    tenant: TenantHeader = None,
    fiware_service: ServiceHeader = None,
) -> Response:
    svc, registry, _ = _iot(request)
    name = tenant_of(tenant, fiware_service)
    actor = allowed(request, name, write=True)
    row = await _find_service(registry, name, apikey, resource)
    body = await read_json(request, svc.settings.max_body_bytes)
    if not isinstance(body, dict):
        raise IotError(400, "BAD_REQUEST", "the body must be a JSON object of fields to change")
    if body.get("apikey", row.apikey) != row.apikey:
        raise IotError(
            400, "BAD_REQUEST", "the apikey of a service group cannot change; delete and create"
        )
    doc = check_service({**row.config, **body, "apikey": row.apikey}, 0)
    await svc.contexts.compile(doc.get("@context", doc.get("context")))
    await registry.update_service(row, doc)
    await audit.record(
        svc.store, actor, "iot.service.update", tenant=name, target=row.apikey, detail=body
    )
    return _empty(204)


@router.delete(
    "/services",
    status_code=204,
    summary="Delete a service group (?apikey=)",
    responses={**apidoc.no_content("Deleted"), **apidoc.iot_errors(400, 403, 404)},
)
async def delete_service(
    request: Request,
    apikey: Annotated[str | None, Query(description="The group's apikey")] = None,
    resource: Annotated[str | None, Query(description="The group's resource")] = None,
    device: Annotated[bool, Query(description="Also delete the group's devices")] = False,
    tenant: TenantHeader = None,
    fiware_service: ServiceHeader = None,
) -> Response:
    svc, registry, _ = _iot(request)
    name = tenant_of(tenant, fiware_service)
    actor = allowed(request, name, write=True)
    row = await _find_service(registry, name, apikey, resource)
    await registry.delete_service(row, with_devices=device)
    detail = {"devices": True} if device else None
    await audit.record(
        svc.store, actor, "iot.service.delete", tenant=name, target=row.apikey, detail=detail
    )
    return _empty(204)


# -- devices -----------------------------------------------------------------------------------


def render_device(row: DeviceRow, ingestor: Ingestor) -> dict[str, Any]:
    delta = ingestor.device_deltas.get(row.id)
    if delta is not None:
        delta.apply_to(row)
    errors = {kind: count for kind, count in row.errors.items() if count}
    return {
        **row.config,
        "device_id": row.device_id,
        "service": row.tenant,
        "service_path": row.config.get("service_path", "/"),
        "entity_name": row.entity_name,
        "entity_type": row.entity_type,
        "apikey": row.apikey,
        "stats": {
            "messages": row.messages,
            "measures": row.measures,
            "last_measure_at": iso(row.last_measure_at),
        },
        "errors": {
            "total": sum(errors.values()),
            "counts": errors,
            "last": (
                {
                    "kind": row.last_error_kind,
                    "message": row.last_error,
                    "at": iso(row.last_error_at),
                }
                if row.last_error_at
                else None
            ),
        },
        "created_at": iso(row.created_at),
        "modified_at": iso(row.modified_at),
    }


async def _device_values(
    svc: Services, registry: Registry, tenant: str, doc: dict[str, Any], groups: list[ServiceRow]
) -> tuple[dict[str, Any], ResolvedDevice]:
    """The row values of a checked device document, and the compiled device (which proves
    that its mapping works)."""
    apikey = doc.get("apikey")
    group: ServiceRow | None = None
    if apikey is None:
        typed = [g for g in groups if doc.get("entity_type") in (None, g.entity_type)]
        if len(groups) == 1:
            group = groups[0]
        elif len(typed) == 1 and doc.get("entity_type") is not None:
            group = typed[0]
        else:
            raise IotError(
                400,
                "BAD_REQUEST",
                f"device {doc['device_id']!r} has no apikey and the tenant has "
                f"{len(groups)} service groups: give its apikey",
            )
        apikey = group.apikey
    else:
        owner = await registry.apikey_tenant(apikey)
        if owner is not None and owner != tenant:
            raise IotError(409, "DUPLICATE_GROUP", f"apikey {apikey!r} belongs to another tenant")
        group = next((g for g in groups if g.apikey == apikey), None)
    entity_type = doc.get("entity_type") or (group.entity_type if group else None)
    if not entity_type:
        raise IotError(
            400,
            "BAD_REQUEST",
            f"device {doc['device_id']!r} has no entity_type, nor has its service group",
        )
    entity_name = doc.get("entity_name") or default_entity_name(entity_type, doc["device_id"])
    config = {
        k: v
        for k, v in doc.items()
        if k not in ("device_id", "entity_name", "entity_type", "apikey")
    }
    resolved = await build_device(
        svc.contexts,
        pk=0,
        tenant=tenant,
        device_id=doc["device_id"],
        apikey=apikey,
        entity_name=entity_name,
        entity_type=entity_type,
        device=config,
        group=group.config if group else None,
    )
    values = {
        "device_id": doc["device_id"],
        "apikey": apikey,
        "entity_name": entity_name,
        "entity_type": entity_type,
        "config": config,
    }
    return values, resolved


async def ensure_entities(
    hub: Hub, tenant: str, devices: list[ResolvedDevice], actor: Actor
) -> None:
    """Create each device's entity (type and static attributes) or add the static attributes
    to the existing one, in one hub write; :class:`Conflict` for an entity of another type."""

    def apply(tx: Transaction) -> None:
        for device in devices:
            before = tx.get(device.entity_id)
            static = {iri: orjson.loads(orjson.dumps(inst)) for iri, inst in device.static}
            if before is None:
                tx.create(Entity(id=device.entity_id, types=[device.type_iri], attrs=static))
                continue
            if device.type_iri not in before.types:
                raise e.Conflict(
                    f"entity {device.entity_id!r} exists with another type; give the device "
                    "another entity_name or the entity's entity_type"
                )
            if static:
                tx.update(device.entity_id, attrs=static)

    await hub.transact(
        tenant,
        actor,
        operation="iot.provision",
        entity_ids=[d.entity_id for d in devices],
        body=apply,
    )


@router.post(
    "/devices",
    status_code=201,
    summary="Provision devices (creates their entities)",
    openapi_extra=_DEVICES_BODY,
    responses={
        **apidoc.created("Created", location=False),
        **apidoc.iot_errors(400, 403, 409, 413),
    },
)
async def create_devices(
    request: Request,
    tenant: TenantHeader = None,
    fiware_service: ServiceHeader = None,
    service_path: ServicePathHeader = None,
) -> Response:
    svc, registry, _ = _iot(request)
    name = tenant_of(tenant, fiware_service)
    actor = allowed(request, name, write=True)
    docs = [
        check_device(d, i)
        for i, d in enumerate(await _items(request, "devices", svc.settings.max_body_bytes))
    ]
    ids = [d["device_id"] for d in docs]
    if len(set(ids)) != len(ids):
        raise IotError(400, "BAD_REQUEST", "the same device_id appears twice in the request")
    taken = await registry.existing_devices(name, ids)
    if taken:
        raise IotError(
            409, "DUPLICATE_DEVICE_ID", f"device(s) already provisioned: {', '.join(sorted(taken))}"
        )
    groups = await registry.tenant_services(name)
    rows = []
    resolved = []
    for doc in docs:
        if service_path:
            doc["service_path"] = service_path
        values, device = await _device_values(svc, registry, name, doc, groups)
        rows.append(values)
        resolved.append(device)
    try:
        await registry.insert_devices(name, rows)
    except Exception as exc:
        if is_unique_violation(exc):
            raise IotError(409, "DUPLICATE_DEVICE_ID", "a device with this id exists") from None
        raise
    try:
        await ensure_entities(svc.hub, name, resolved, actor)
    except BaseException:
        await registry.delete_devices(name, ids)  # all or nothing
        raise
    for device_id in ids:
        await audit.record(svc.store, actor, "iot.device.create", tenant=name, target=device_id)
    return _empty(201)


@router.get(
    "/devices",
    summary="List devices",
    responses={**apidoc.ok(apidoc.ref("IotDeviceList")), **apidoc.iot_errors(400, 403)},
)
async def list_devices(
    request: Request,
    tenant: TenantHeader = None,
    fiware_service: ServiceHeader = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> Response:
    _, registry, ingestor = _iot(request)
    name = tenant_of(tenant, fiware_service)
    allowed(request, name, write=False)
    async with ingestor.stats_lock:
        count, rows = await registry.devices(name, limit, offset)
        body = {"count": count, "devices": [render_device(r, ingestor) for r in rows]}
    return _json(body)


async def _find_device(registry: Registry, tenant: str, device_id: str) -> DeviceRow:
    row = await registry.device(tenant, device_id)
    if row is None:
        raise IotError(404, "DEVICE_NOT_FOUND", f"no device {device_id!r} in this tenant")
    return row


@router.get(
    "/devices/{device_id}",
    summary="A device, with its ingestion counters",
    responses={**apidoc.ok(apidoc.ref("IotDevice")), **apidoc.iot_errors(400, 403, 404)},
)
async def get_device(
    request: Request,
    device_id: DeviceIdPath,
    tenant: TenantHeader = None,
    fiware_service: ServiceHeader = None,
) -> Response:
    _, registry, ingestor = _iot(request)
    name = tenant_of(tenant, fiware_service)
    allowed(request, name, write=False)
    async with ingestor.stats_lock:
        row = await _find_device(registry, name, device_id)
        body = render_device(row, ingestor)
    return _json(body)


@router.put(
    "/devices/{device_id}",
    status_code=204,
    summary="Update a device",
    openapi_extra=_CHANGES_BODY,
    responses={**apidoc.no_content("Updated"), **apidoc.iot_errors(400, 403, 404, 409, 413)},
)
async def update_device(
    request: Request,
    device_id: DeviceIdPath,
    tenant: TenantHeader = None,
    fiware_service: ServiceHeader = None,
) -> Response:
    svc, registry, _ = _iot(request)
    name = tenant_of(tenant, fiware_service)
    actor = allowed(request, name, write=True)
    row = await _find_device(registry, name, device_id)
    body = await read_json(request, svc.settings.max_body_bytes)
    if not isinstance(body, dict):
        raise IotError(400, "BAD_REQUEST", "the body must be a JSON object of fields to change")
    if body.get("device_id", device_id) != device_id:
        raise IotError(400, "BAD_REQUEST", "the device_id of a device cannot change")
    current = {
        **row.config,
        "device_id": row.device_id,
        "apikey": row.apikey,
        "entity_name": row.entity_name,
        "entity_type": row.entity_type,
    }
    doc = check_device({**current, **body}, 0)
    values, device = await _device_values(
        svc, registry, name, doc, await registry.tenant_services(name)
    )
    await ensure_entities(svc.hub, name, [device], actor)
    await registry.update_device(row, values)
    await audit.record(
        svc.store, actor, "iot.device.update", tenant=name, target=device_id, detail=body
    )
    return _empty(204)


@router.delete(
    "/devices/{device_id}",
    status_code=204,
    summary="Delete a device (not its entity)",
    responses={**apidoc.no_content("Deleted"), **apidoc.iot_errors(400, 403, 404)},
)
async def delete_device(
    request: Request,
    device_id: DeviceIdPath,
    tenant: TenantHeader = None,
    fiware_service: ServiceHeader = None,
) -> Response:
    svc, registry, _ = _iot(request)
    name = tenant_of(tenant, fiware_service)
    actor = allowed(request, name, write=True)
    await _find_device(registry, name, device_id)
    await registry.delete_devices(name, [device_id])
    await audit.record(svc.store, actor, "iot.device.delete", tenant=name, target=device_id)
    return _empty(204)


# -- HTTP measures -----------------------------------------------------------------------------

_HTTP_STATUS = {
    "unknown_apikey": (404, "DEVICE_NOT_FOUND"),
    "unknown_device": (404, "DEVICE_NOT_FOUND"),
    "wrong_apikey": (404, "DEVICE_NOT_FOUND"),
    "invalid_json": (400, "WRONG_SYNTAX"),
    "invalid_payload": (400, "WRONG_SYNTAX"),
    "type_mismatch": (400, "TYPE_MISMATCH"),
    "unknown_attribute": (400, "UNKNOWN_ATTRIBUTE"),
    "invalid_timestamp": (400, "INVALID_TIMESTAMP"),
    "rejected": (400, "MEASURES_REJECTED"),
    "unavailable": (503, "SERVICE_UNAVAILABLE"),
}


@router.post(
    "/json",
    summary="Send measures over HTTP (IoT Agent JSON)",
    openapi_extra=apidoc.body(
        {"type": "object", "description": "Measures by object_id"},
        (apidoc.JSON,),
        example={"t": 21.5},
    ),
    responses={
        **apidoc.ok(
            {
                "type": "object",
                "required": ["measures"],
                "properties": {"measures": {"type": "integer"}},
            },
            "Stored: how many measures",
        ),
        **apidoc.iot_errors(400, 404, 413),
    },
)
async def http_measures(
    request: Request,
    k: Annotated[str, Query(description="The apikey")],
    i: Annotated[str, Query(description="The device id")],
    t: Annotated[str | None, Query(description="Time of the measures (ISO 8601)")] = None,
) -> Response:
    svc, _, ingestor = _iot(request)
    check_identifier(k, "apikey k")
    check_identifier(i, "device id i")
    payload = await request.body()
    if len(payload) > svc.settings.max_body_bytes:
        raise IotError(413, "PAYLOAD_TOO_LARGE", "the request body is too large")
    try:
        outcome = await ingestor.submit(k, i, payload, timestamp=t, timeout=30.0)
    except TimeoutError:
        raise IotError(
            503,
            "SERVICE_UNAVAILABLE",
            "the measures were not confirmed in time; they may still be stored (sending "
            "them again is safe)",
        ) from None
    if outcome.accepted:
        return _json({"measures": outcome.measures})
    status, name = _HTTP_STATUS.get(outcome.kind or "", (400, "BAD_REQUEST"))
    return error_response(status, name, outcome.message or outcome.kind or "rejected")


@router.get(
    "/about",
    summary="Version, MQTT connection and ingestion counters",
    responses=apidoc.ok(
        {
            "type": "object",
            "required": ["libVersion", "version", "mqtt", "ingestion"],
            "properties": {
                "libVersion": {"type": "string"},
                "version": {"type": "string"},
                "baseRoot": {"type": "string"},
                "mqtt": {"type": "object"},
                "ingestion": {"type": "object"},
            },
        }
    ),
)
async def about(request: Request) -> Response:
    from qala.iot.capability import IotServices  # not at the top: it imports this module
    svc, _, ingestor = _iot(request)
    iot = svc.state.get(IotServices)
    return _json(
        {
            "libVersion": __version__,
            "version": __version__,
            "baseRoot": "/",
            "mqtt": iot.mqtt_status(),
            "ingestion": {**ingestor.totals.as_dict(), "queued": ingestor.queued},
        }
    )
