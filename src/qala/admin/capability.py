"""``/qala/v1/tenants``: the cities served, and each city's settings.

Settings are a JSON object per tenant; known keys:

* ``validation``: ``"smart-data-models"`` checks entities against their Smart Data Model
  schema on every write; ``"off"`` (the default) does not.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from qala.capabilities import Capability
from qala.hub.errors import BadRequestData, NotFound
from qala.hub.model import DEFAULT_TENANT
from qala.hub.service import Hub
from qala.ngsild import http
from qala.services import services
from qala.store.base import Tenant

router = APIRouter(tags=["Administration"])
PREFIX = "/qala/v1"

#: Known settings and their allowed values.
SETTINGS: dict[str, tuple[str, ...]] = {"validation": ("off", "smart-data-models")}


def check_settings(changes: Any) -> dict[str, Any]:
    if not isinstance(changes, dict):
        raise BadRequestData("settings must be a JSON object")
    for key, value in changes.items():
        if key not in SETTINGS:
            raise BadRequestData(f"unknown setting {key!r}; known: {', '.join(sorted(SETTINGS))}")
        if value not in SETTINGS[key]:
            raise BadRequestData(
                f"setting {key!r} takes one of {', '.join(SETTINGS[key])}, not {value!r}"
            )
    return changes


def _tenant_body(tenant: Tenant) -> dict[str, Any]:
    return {"name": tenant.name or DEFAULT_TENANT, "settings": tenant.settings}


@router.get("/tenants", summary="The tenants (cities) this server holds")
async def list_tenants(request: Request) -> Response:
    tenants = await services(request).store.tenants()
    return http.json_response([_tenant_body(t) for t in tenants])


@router.get("/tenants/{name}", summary="One tenant and its settings")
async def get_tenant(request: Request, name: Annotated[str, Path()]) -> Response:
    tenant = await services(request).store.tenant(name)
    if tenant is None:
        raise NotFound(f"tenant {name!r} does not exist")
    return http.json_response(_tenant_body(tenant))


@router.patch(
    "/tenants/{name}",
    summary="Change a tenant's settings (creates the tenant if needed)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def patch_tenant(request: Request, name: Annotated[str, Path()]) -> Response:
    svc = services(request)
    Hub.check_tenant_name(name)
    body = await http.read_json(request, svc.settings.max_body_bytes)
    if not isinstance(body, dict) or set(body) - {"settings"}:
        raise BadRequestData('the body must be {"settings": {...}}')
    changes = check_settings(body.get("settings", {}))
    current = await svc.store.tenant(name)
    merged = {**(current.settings if current else {}), **changes}
    tenant = await svc.store.update_tenant_settings(name, merged)
    return http.json_response(_tenant_body(tenant))


def capability() -> Capability:
    return Capability(name="admin", routers=[(router, PREFIX)])
