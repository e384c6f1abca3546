"""The access control API: API keys (``/qala/v1/keys``), the audit log (``/qala/v1/audit``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from qala import openapi
from qala.auth import audit, keys
from qala.hub import access
from qala.hub.errors import BadRequestData, NotFound
from qala.hub.model import iso_to_us, us_to_iso
from qala.ngsild import http
from qala.ngsild.params import MAX_OFFSET
from qala.services import services
from qala.web.edge import actor_of

router = APIRouter(tags=["Access control"])


def _key_body(key: keys.ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "role": key.role,
        "tenant": key.tenant,
        "createdAt": us_to_iso(key.created_at),
        "revokedAt": us_to_iso(key.revoked_at) if key.revoked_at else None,
    }


@router.post(
    "/keys",
    status_code=201,
    summary="Create an API key (admin); the key is shown once",
    openapi_extra=openapi.body(
        {
            "type": "object",
            "required": ["role"],
            "properties": {
                "role": {"type": "string", "enum": list(access.ROLES)},
                "tenant": {"type": ["string", "null"], "description": "null: every tenant"},
                "name": {"type": "string"},
            },
        },
        (openapi.JSON,),
        example={"role": "city-operator", "tenant": "astana", "name": "ops"},
    ),
    responses={
        **openapi.ok(
            openapi.ref("ApiKey"), "The key; its secret (key) is shown only now", status=201
        ),
        **openapi.errors(400, 403, 413),
    },
)
async def create_key(request: Request) -> Response:
    svc = services(request)
    actor = actor_of(request)
    access.check_admin(actor, "create API keys")
    body = await http.read_json(request, svc.settings.max_body_bytes)
    if not isinstance(body, dict) or not isinstance(body.get("role"), str):
        raise BadRequestData('the body must be {"role": "...", "tenant": "...", "name": "..."}')
    tenant = body.get("tenant")
    name = body.get("name", "")
    if tenant is not None and not isinstance(tenant, str):
        raise BadRequestData("tenant must be a string")
    if not isinstance(name, str):
        raise BadRequestData("name must be a string")
    secret, key = await keys.create_key(svc.store, body["role"], tenant, name)
    await audit.record(
        svc.store,
        actor,
        "key.create",
        tenant=tenant or "",
        target=key.id,
        detail={"role": key.role, "name": key.name},
    )
    return http.json_response({**_key_body(key), "key": secret}, status=201)


@router.get(
    "/keys",
    summary="List API keys (admin); secrets are never shown again",
    responses={
        **openapi.ok({"type": "array", "items": openapi.ref("ApiKey")}, "The keys"),
        **openapi.errors(403),
    },
)
async def list_keys(request: Request) -> Response:
    access.check_admin(actor_of(request), "list API keys")
    found = await keys.list_keys(services(request).store)
    return http.json_response([_key_body(k) for k in found])


KeyIdPath = Annotated[
    str, Path(description="The key's id (not its secret)", examples=["0123456789ab"])
]


@router.delete(
    "/keys/{keyId}",
    status_code=204,
    summary="Revoke an API key (admin)",
    responses={**openapi.no_content("Revoked"), **openapi.errors(400, 403, 404)},
)
async def revoke_key(request: Request, keyId: KeyIdPath) -> Response:
    svc = services(request)
    actor = actor_of(request)
    access.check_admin(actor, "revoke API keys")
    if not await keys.revoke_key(svc.store, keyId):
        raise NotFound(f"no active API key {keyId!r}")
    if svc.authenticator is not None:
        svc.authenticator.keys.forget()
    await audit.record(svc.store, actor, "key.revoke", target=keyId)
    return Response(status_code=204)


def _time(raw: str | None, name: str) -> int | None:
    if raw is None:
        return None
    try:
        return iso_to_us(raw)
    except ValueError as exc:
        raise BadRequestData(f"{name}: {exc}") from None


@router.get(
    "/audit",
    summary="Search the audit log (admin, auditor)",
    responses={
        **openapi.ok(
            {"type": "array", "items": openapi.ref("AuditRecord")},
            "The matching records, newest first",
            headers={
                "Results-Count": {
                    "description": "How many records match",
                    "schema": {"type": "string"},
                }
            },
        ),
        **openapi.errors(400, 403),
    },
)
async def search_audit(
    request: Request,
    tenant: Annotated[str | None, Query(description="Tenant name ('' = default)")] = None,
    entityId: Annotated[str | None, Query()] = None,
    actor: Annotated[str | None, Query(description="Who acted, e.g. key:ab12cd34ef56")] = None,
    operation: Annotated[str | None, Query(description="e.g. entity.create")] = None,
    since: Annotated[
        str | None, Query(description="ISO 8601 date-time", **openapi.DATE_TIME)
    ] = None,
    until: Annotated[
        str | None, Query(description="ISO 8601 date-time", **openapi.DATE_TIME)
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Response:
    svc = services(request)
    access.check_reader_of_everything(actor_of(request), "read the audit log")
    query = audit.AuditQuery(
        tenant=tenant,
        entity_id=entityId,
        actor=actor,
        operation=operation,
        since_us=_time(since, "since"),
        until_us=_time(until, "until"),
        limit=limit,
        offset=offset,
    )
    rows, total = await audit.search(svc.store, query)
    for row in rows:
        row["at"] = us_to_iso(row["at"])
    return http.json_response(rows, headers={"Results-Count": str(total)})
