"""The IoT Agent API: provisioning (``/iot/services``, ``/iot/devices``), HTTP measures
(``POST /iot/json``) and ``/iot/about``.

Bodies follow the FIWARE IoT Agent shapes (``{"services": [...]}``, ``{"devices": [...]}``);
errors are the IoT Agent's ``{"name": "...", "message": "..."}`` with a fitting HTTP status
(:mod:`qala.iot.errors`). The tenant is the ``NGSILD-Tenant`` header or the IoT Agent's
``fiware-service``. What provisioning does is in :mod:`qala.iot.provisioning`; these handlers
read the request, check who may ask, and answer.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Path, Query, Request
from starlette.responses import Response

from qala import __version__, openapi
from qala.hub import Actor, BadRequestData, Forbidden, Hub, access
from qala.iot import provisioning
from qala.iot.errors import IotError, IotRoute, measure_error_response
from qala.iot.ingest import Ingestor
from qala.iot.model import check_identifier
from qala.iot.registry import DeviceRow, ServiceRow, iso
from qala.iot.runtime import IotServices, iot_services
from qala.ngsild.http import read_json
from qala.ngsild.params import MAX_OFFSET
from qala.services import Services, services
from qala.web.edge import actor_of

router = APIRouter(tags=["IoT Agent"], route_class=IotRoute)

TenantHeader = Annotated[
    str | None,
    Header(
        alias="NGSILD-Tenant",
        description="The tenant (a city), e.g. astana",
        json_schema_extra={"pattern": openapi.TENANT_PATTERN},
    ),
]
ServiceHeader = Annotated[
    str | None,
    Header(
        alias="fiware-service",
        description="The IoT Agent's name for the tenant",
        json_schema_extra={"pattern": openapi.TENANT_PATTERN},
    ),
]
ServicePathHeader = Annotated[
    str | None, Header(alias="fiware-servicepath", description="Accepted; not used")
]
DeviceIdPath = Annotated[str, Path(description="The device id", examples=["station-1"])]
Limit = Annotated[int, Query(ge=1, le=1000, description="Page size")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip")]

_ATTRIBUTES = [{"object_id": "t", "name": "temperature", "type": "Number"}]
_SERVICES_BODY = openapi.body(
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
    (openapi.JSON,),
    example={
        "services": [
            {"apikey": "weather-key", "entity_type": "WeatherObserved", "attributes": _ATTRIBUTES}
        ]
    },
)
_DEVICES_BODY = openapi.body(
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
    (openapi.JSON,),
    example={"devices": [{"device_id": "station-1", "entity_type": "WeatherObserved"}]},
)
_CHANGES_BODY = openapi.body(
    {"type": "object", "description": "The fields to change"},
    (openapi.JSON,),
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
    except BadRequestData as exc:
        raise IotError(400, "BAD_REQUEST", exc.detail) from None


_READERS = (access.ADMIN, access.OPERATOR, access.AUDITOR)
_WRITERS = (access.ADMIN, access.OPERATOR)


def allowed(request: Request, tenant: str, *, write: bool) -> Actor:
    """The caller, if it may read (or change) the tenant's provisioning: apikeys are device
    credentials, so only admins, the tenant's operators (and auditors, to read) may."""
    actor = actor_of(request)
    access.check_tenant(actor, tenant)
    if actor.role not in (_WRITERS if write else _READERS):
        raise Forbidden(
            f"the {actor.role} role may not {'change' if write else 'read'} IoT provisioning"
        )
    return actor


def _iot(request: Request) -> tuple[Services, IotServices]:
    svc = services(request)
    iot = iot_services(svc)
    if iot is None:
        raise IotError(503, "SERVICE_UNAVAILABLE", "the IoT capability is not running")
    return svc, iot


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
        **openapi.created("Created", location=False),
        **openapi.iot_errors(400, 403, 409, 413),
    },
)
async def create_services(
    request: Request,
    tenant: TenantHeader = None,
    fiware_service: ServiceHeader = None,
    service_path: ServicePathHeader = None,
) -> Response:
    svc, iot = _iot(request)
    name = tenant_of(tenant, fiware_service)
    actor = allowed(request, name, write=True)
    items = await _items(request, "services", svc.settings.max_body_bytes)
    await provisioning.add_services(svc, iot.registry, name, actor, items, service_path)
    return _empty(201)


@router.get(
    "/services",
    summary="List service groups",
    responses={**openapi.ok(openapi.ref("IotServiceList")), **openapi.iot_errors(400, 403)},
)
async def list_services(
    request: Request,
    tenant: TenantHeader = None,
    fiware_service: ServiceHeader = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> Response:
    _, iot = _iot(request)
    name = tenant_of(tenant, fiware_service)
    allowed(request, name, write=False)
    async with iot.ingestor.stats_lock:
        count, rows = await iot.registry.services(name, limit, offset)
        body = {"count": count, "services": [render_service(r, iot.ingestor) for r in rows]}
    return _json(body)


@router.put(
    "/services",
    status_code=204,
    summary="Update a service group (?apikey=)",
    openapi_extra=_CHANGES_BODY,
    responses={**openapi.no_content("Updated"), **openapi.iot_errors(400, 403, 404, 413)},
)
async def update_service(
    request: Request,
    apikey: Annotated[str | None, Query(description="The group's apikey")] = None,
    resource: Annotated[str | None, Query(description="The group's resource")] = None,
    tenant: TenantHeader = None,
    fiware_service: ServiceHeader = None,
) -> Response:
    svc, iot = _iot(request)
    name = tenant_of(tenant, fiware_service)
    actor = allowed(request, name, write=True)
    row = await provisioning.find_service(iot.registry, name, apikey, resource)
    body = await read_json(request, svc.settings.max_body_bytes)
    await provisioning.change_service(svc, iot.registry, name, actor, row, body)
    return _empty(204)


@router.delete(
    "/services",
    status_code=204,
    summary="Delete a service group (?apikey=)",
    responses={**openapi.no_content("Deleted"), **openapi.iot_errors(400, 403, 404)},
)
async def delete_service(
    request: Request,
    apikey: Annotated[str | None, Query(description="The group's apikey")] = None,
    resource: Annotated[str | None, Query(description="The group's resource")] = None,
    device: Annotated[bool, Query(description="Also delete the group's devices")] = False,
    tenant: TenantHeader = None,
    fiware_service: ServiceHeader = None,
) -> Response:
    svc, iot = _iot(request)
    name = tenant_of(tenant, fiware_service)
    actor = allowed(request, name, write=True)
    row = await provisioning.find_service(iot.registry, name, apikey, resource)
    await provisioning.remove_service(svc, iot.registry, name, actor, row, with_devices=device)
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


@router.post(
    "/devices",
    status_code=201,
    summary="Provision devices (creates their entities)",
    openapi_extra=_DEVICES_BODY,
    responses={
        **openapi.created("Created", location=False),
        **openapi.iot_errors(400, 403, 409, 413),
    },
)
async def create_devices(
    request: Request,
    tenant: TenantHeader = None,
    fiware_service: ServiceHeader = None,
    service_path: ServicePathHeader = None,
) -> Response:
    svc, iot = _iot(request)
    name = tenant_of(tenant, fiware_service)
    actor = allowed(request, name, write=True)
    items = await _items(request, "devices", svc.settings.max_body_bytes)
    await provisioning.add_devices(svc, iot.registry, name, actor, items, service_path)
    return _empty(201)


@router.get(
    "/devices",
    summary="List devices",
    responses={**openapi.ok(openapi.ref("IotDeviceList")), **openapi.iot_errors(400, 403)},
)
async def list_devices(
    request: Request,
    tenant: TenantHeader = None,
    fiware_service: ServiceHeader = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> Response:
    _, iot = _iot(request)
    name = tenant_of(tenant, fiware_service)
    allowed(request, name, write=False)
    async with iot.ingestor.stats_lock:
        count, rows = await iot.registry.devices(name, limit, offset)
        body = {"count": count, "devices": [render_device(r, iot.ingestor) for r in rows]}
    return _json(body)


@router.get(
    "/devices/{device_id}",
    summary="A device, with its ingestion counters",
    responses={**openapi.ok(openapi.ref("IotDevice")), **openapi.iot_errors(400, 403, 404)},
)
async def get_device(
    request: Request,
    device_id: DeviceIdPath,
    tenant: TenantHeader = None,
    fiware_service: ServiceHeader = None,
) -> Response:
    _, iot = _iot(request)
    name = tenant_of(tenant, fiware_service)
    allowed(request, name, write=False)
    async with iot.ingestor.stats_lock:
        row = await provisioning.find_device(iot.registry, name, device_id)
        body = render_device(row, iot.ingestor)
    return _json(body)


@router.put(
    "/devices/{device_id}",
    status_code=204,
    summary="Update a device",
    openapi_extra=_CHANGES_BODY,
    responses={**openapi.no_content("Updated"), **openapi.iot_errors(400, 403, 404, 409, 413)},
)
async def update_device(
    request: Request,
    device_id: DeviceIdPath,
    tenant: TenantHeader = None,
    fiware_service: ServiceHeader = None,
) -> Response:
    svc, iot = _iot(request)
    name = tenant_of(tenant, fiware_service)
    actor = allowed(request, name, write=True)
    row = await provisioning.find_device(iot.registry, name, device_id)
    body = await read_json(request, svc.settings.max_body_bytes)
    await provisioning.change_device(svc, iot.registry, name, actor, row, body)
    return _empty(204)


@router.delete(
    "/devices/{device_id}",
    status_code=204,
    summary="Delete a device (not its entity)",
    responses={**openapi.no_content("Deleted"), **openapi.iot_errors(400, 403, 404)},
)
async def delete_device(
    request: Request,
    device_id: DeviceIdPath,
    tenant: TenantHeader = None,
    fiware_service: ServiceHeader = None,
) -> Response:
    svc, iot = _iot(request)
    name = tenant_of(tenant, fiware_service)
    actor = allowed(request, name, write=True)
    await provisioning.remove_device(svc, iot.registry, name, actor, device_id)
    return _empty(204)


# -- HTTP measures -----------------------------------------------------------------------------


@router.post(
    "/json",
    summary="Send measures over HTTP (IoT Agent JSON)",
    openapi_extra=openapi.body(
        {"type": "object", "description": "Measures by object_id"},
        (openapi.JSON,),
        example={"t": 21.5},
    ),
    responses={
        **openapi.ok(
            {
                "type": "object",
                "required": ["measures"],
                "properties": {"measures": {"type": "integer"}},
            },
            "Stored: how many measures",
        ),
        **openapi.iot_errors(400, 404, 413),
    },
)
async def http_measures(
    request: Request,
    k: Annotated[str, Query(description="The apikey")],
    i: Annotated[str, Query(description="The device id")],
    t: Annotated[str | None, Query(description="Time of the measures (ISO 8601)")] = None,
) -> Response:
    svc, iot = _iot(request)
    check_identifier(k, "apikey k")
    check_identifier(i, "device id i")
    payload = await request.body()
    if len(payload) > svc.settings.max_body_bytes:
        raise IotError(413, "PAYLOAD_TOO_LARGE", "the request body is too large")
    try:
        outcome = await iot.ingestor.submit(k, i, payload, timestamp=t, timeout=30.0)
    except TimeoutError:
        raise IotError(
            503,
            "SERVICE_UNAVAILABLE",
            "the measures were not confirmed in time; they may still be stored (sending "
            "them again is safe)",
        ) from None
    if outcome.accepted:
        return _json({"measures": outcome.measures})
    return measure_error_response(outcome.kind, outcome.message)


@router.get(
    "/about",
    summary="Version, MQTT connection and ingestion counters",
    responses=openapi.ok(
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
    _, iot = _iot(request)
    return _json(
        {
            "libVersion": __version__,
            "version": __version__,
            "baseRoot": "/",
            "mqtt": iot.mqtt_status(),
            "ingestion": {**iot.ingestor.totals.as_dict(), "queued": iot.ingestor.queued},
        }
    )
