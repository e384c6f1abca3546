"""The administration API, ``/qala/v1/tenants``: the cities served, and each city's settings.

Settings are a JSON object per tenant; known keys:

* ``validation``: ``"smart-data-models"`` checks entities against their Smart Data Model
  schema on every write; ``"off"`` (the default) does not.
* ``partnerTypes``: entity types the city shares with its partners (private operators).
* ``openDataTypes``: entity types the city publishes as open data (the ``public`` role).
* ``temporalRetentionDays``: days of raw history kept before it is compacted into hourly
  aggregates (default ``QALA_TEMPORAL_RETENTION_DAYS``).

Type names are expanded with the request's ``@context`` (``Link`` header), like NGSI-LD.
An admin may change any tenant; a city operator its own.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from qala import openapi
from qala.auth import audit
from qala.hub import Hub, Tenant, access
from qala.hub.errors import BadRequestData, Forbidden, NotFound
from qala.jsonld.compiled import CompiledContext
from qala.ngsild import http
from qala.ngsild.parse import check_name
from qala.services import services
from qala.temporal.retention import SETTING as RETENTION_SETTING
from qala.web.edge import actor_of

router = APIRouter(tags=["Administration"])
TenantPath = Annotated[str, Path(description="The tenant (a city)", examples=["astana"])]

#: Settings with a fixed set of values.
CHOICES: dict[str, tuple[str, ...]] = {"validation": ("off", "smart-data-models")}
#: Settings holding lists of entity types.
TYPE_LISTS = (access.PARTNER_TYPES, access.OPEN_DATA_TYPES)
#: Days of raw temporal history kept before compaction into hourly aggregates.
RETENTION = RETENTION_SETTING


def check_settings(changes: Any, ctx: CompiledContext) -> dict[str, Any]:
    """Validated settings, with type names expanded to IRIs."""
    if not isinstance(changes, dict):
        raise BadRequestData("settings must be a JSON object")
    clean: dict[str, Any] = {}
    for key, value in changes.items():
        if key in CHOICES:
            if value not in CHOICES[key]:
                raise BadRequestData(
                    f"setting {key!r} takes one of {', '.join(CHOICES[key])}, not {value!r}"
                )
            clean[key] = value
        elif key == RETENTION:
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 36_500:
                raise BadRequestData(f"setting {key!r} is a number of days from 1 to 36500")
            clean[key] = value
        elif key in TYPE_LISTS:
            if not isinstance(value, list):
                raise BadRequestData(f"setting {key!r} is a list of entity types")
            clean[key] = sorted({ctx.expand(check_name(t, f"type in {key}")) for t in value})
        else:
            known = ", ".join(sorted([*CHOICES, *TYPE_LISTS, RETENTION]))
            raise BadRequestData(f"unknown setting {key!r}; known: {known}")
    return clean


def _tenant_body(tenant: Tenant, ctx: CompiledContext) -> dict[str, Any]:
    settings = dict(tenant.settings)
    for key in TYPE_LISTS:
        if key in settings:
            settings[key] = [ctx.compact(t) for t in settings[key]]
    return {"name": tenant.name, "settings": settings}


@router.get(
    "/tenants",
    summary="The tenants (cities) this server holds",
    responses={
        **openapi.ok({"type": "array", "items": openapi.ref("Tenant")}, "The tenants"),
        **openapi.errors(400, 504),
    },
)
async def list_tenants(request: Request) -> Response:
    svc = services(request)
    actor = actor_of(request)
    ctx = await http.request_context(request, svc.contexts)
    tenants = await svc.store.tenants()
    if actor.tenant is not None:
        tenants = [t for t in tenants if t.name == actor.tenant]
    return http.json_response([_tenant_body(t, ctx) for t in tenants])


@router.get(
    "/tenants/{name}",
    summary="One tenant and its settings",
    responses={
        **openapi.ok(openapi.ref("Tenant"), "The tenant"),
        **openapi.errors(400, 403, 404, 504),
    },
)
async def get_tenant(request: Request, name: TenantPath) -> Response:
    svc = services(request)
    access.check_tenant(actor_of(request), name)
    ctx = await http.request_context(request, svc.contexts)
    tenant = await svc.store.tenant(name)
    if tenant is None:
        raise NotFound(f"tenant {name!r} does not exist")
    return http.json_response(_tenant_body(tenant, ctx))


@router.patch(
    "/tenants/{name}",
    summary="Change a tenant's settings (creates the tenant if needed)",
    openapi_extra=openapi.body(
        {
            "type": "object",
            "properties": {"settings": {"type": "object"}},
            "additionalProperties": False,
        },
        (openapi.JSON,),
        example={"settings": {"validation": "smart-data-models", "temporalRetentionDays": 90}},
    ),
    responses={
        **openapi.ok(openapi.ref("Tenant"), "The tenant with its new settings"),
        **openapi.errors(400, 403, 413, 504),
    },
)
async def patch_tenant(request: Request, name: TenantPath) -> Response:
    svc = services(request)
    actor = actor_of(request)
    access.check_tenant(actor, name)
    if actor.role not in (access.ADMIN, access.OPERATOR):
        raise Forbidden("only an admin or the city's operator may change its settings")
    Hub.check_tenant_name(name)
    ctx = await http.request_context(request, svc.contexts)
    body = await http.read_json(request, svc.settings.max_body_bytes)
    if not isinstance(body, dict) or set(body) - {"settings"}:
        raise BadRequestData('the body must be {"settings": {...}}')
    changes = check_settings(body.get("settings", {}), ctx)
    current = await svc.store.tenant(name)
    merged = {**(current.settings if current else {}), **changes}
    tenant = await svc.store.update_tenant_settings(name, merged)
    await audit.record(svc.store, actor, "tenant.settings", tenant=name, detail=changes)
    return http.json_response(_tenant_body(tenant, ctx))
