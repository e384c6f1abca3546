"""The ``/subscriptions`` resources of the NGSI-LD API (ETSI GS CIM 009 clause 5.8)."""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from qala import openapi
from qala.hub import access
from qala.hub.errors import AlreadyExists, BadRequestData, Conflict, Forbidden, NotFound
from qala.hub.model import iso_to_us, now_us, us_to_iso
from qala.jsonld.compiled import CompiledContext
from qala.jsonld.resolver import HOSTED_PREFIX, StoredContext
from qala.netguard import RefusedAddress, check_url
from qala.ngsild import http
from qala.ngsild.params import MAX_OFFSET, paging
from qala.ngsild.parse import check_entity_id
from qala.ngsild.routing import StrictRoute
from qala.services import Services, services
from qala.subscriptions.engine import SubscriptionEngine
from qala.subscriptions.model import (
    DEFAULT_TRIGGERS,
    CompiledSubscription,
    merge,
    translate_names,
    validate,
)
from qala.subscriptions.repository import Columns, StoredSubscription
from qala.web.edge import TenantHeader, actor_of, negotiate, page_links, tenant_headers

router = APIRouter(tags=["Subscriptions"], route_class=StrictRoute)

SubscriptionIdPath = Annotated[
    str, Path(description="Subscription id (a URI)", examples=["urn:ngsi-ld:Subscription:1"])
]
_NOTIFICATION = {"endpoint": {"uri": "http://127.0.0.1:9000/notify"}, "attributes": ["status"]}
_CREATE_BODY = openapi.body(
    openapi.ref("SubscriptionInput"),
    example={
        "id": "urn:ngsi-ld:Subscription:1",
        "type": "Subscription",
        "entities": [{"type": "Streetlight"}],
        "notification": _NOTIFICATION,
    },
)
_PATCH_BODY = openapi.body(
    openapi.ref("SubscriptionFragment"),
    (openapi.JSON, openapi.JSONLD, openapi.MERGE_PATCH),
    example={"isActive": False},
)
_SUBSCRIPTIONS = {"type": "array", "items": openapi.ref("Subscription")}


def engine_of(request: Request) -> SubscriptionEngine:
    engine = services(request).state.get(SubscriptionEngine)
    return engine


#: Notifications carry every matching entity, whoever owns it: subscribing takes a role that
#: reads everything in its tenant.
_MANAGERS = frozenset({access.ADMIN, access.OPERATOR})
_READERS = _MANAGERS | {access.AUDITOR}


def may_manage(request: Request, tenant: str | None) -> None:
    actor = actor_of(request)
    access.check_tenant(actor, tenant)
    if actor.role not in _MANAGERS:
        raise Forbidden(
            f"the {actor.role} role may not manage subscriptions: notifications carry every "
            "matching entity, so only admins and city operators subscribe"
        )


def may_read(request: Request, tenant: str | None) -> None:
    actor = actor_of(request)
    access.check_tenant(actor, tenant)
    if actor.role not in _READERS:
        raise Forbidden(f"the {actor.role} role may not read subscriptions")


def location(sub_id: str) -> str:
    return f"/ngsi-ld/v1/subscriptions/{sub_id}"


def columns(doc: dict[str, Any]) -> Columns:
    interval = doc.get("timeInterval")
    throttling = doc.get("throttling")
    return Columns(
        is_active=1 if doc.get("isActive", True) else 0,
        expires_at=iso_to_us(doc["expiresAt"]) if "expiresAt" in doc else None,
        time_interval_us=int(interval * 1_000_000) if interval else None,
        throttling_us=int(throttling * 1_000_000) if throttling else None,
    )


async def check_endpoint(svc: Services, sub: CompiledSubscription) -> None:
    assert sub.endpoint is not None
    try:
        await check_url(
            sub.uri, allow_local=svc.settings.allow_local_endpoints, default_port=sub.endpoint.port
        )
    except RefusedAddress as exc:
        raise BadRequestData(f"invalid subscription: notification.endpoint.uri: {exc}") from None


def _copy(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value))


@router.post(
    "/subscriptions",
    status_code=201,
    summary="Create a subscription",
    openapi_extra=_CREATE_BODY,
    responses={
        **openapi.created("Created; Location names the new subscription"),
        **openapi.errors(400, 403, 409, 413, 415, 504),
    },
)
async def create_subscription(request: Request, tenant: TenantHeader = None) -> Response:
    svc = services(request)
    engine = engine_of(request)
    name = svc.hub.check_tenant_name(tenant)
    may_manage(request, tenant)
    body, ctx = await http.body_and_context(request, svc.contexts, svc.settings.max_body_bytes)
    doc = validate(body, ctx, max_terms=svc.settings.max_query_terms, creating=True)
    sub_id = doc.get("id") or f"urn:ngsi-ld:Subscription:{uuid.uuid4()}"
    doc["id"] = sub_id
    doc["@context"] = ctx.source or None
    implicit = _implicit_context(request, ctx.source) if "jsonldContext" not in doc else None
    if implicit is not None:
        doc["jsonldContext"] = implicit.url
        await svc.store.save_context(implicit)
    compiled = await engine.compile(0, name, doc)
    await check_endpoint(svc, compiled)
    ten = await svc.store.ensure_tenant(name)
    now = now_us()
    cols = columns(doc)
    first_period = now if cols.time_interval_us else None
    if not await engine.repo.insert(ten.id, sub_id, doc, cols, now, first_period):
        raise AlreadyExists(f"subscription {sub_id!r} already exists")
    await engine.refresh_tenant(ten.id)
    if first_period is not None:
        engine.kick()
    headers = {"Location": location(sub_id), **tenant_headers(tenant)}
    return Response(status_code=201, headers=headers)


def _implicit_context(request: Request, source: Any) -> StoredContext | None:
    """GS CIM 009 5.13: a subscription whose @context is not one URL (several, or inline
    definitions) gets an ImplicitlyCreated context holding it, served at
    ``/ngsi-ld/v1/jsonldContexts/{id}``, and that URL as its ``jsonldContext``: what its
    notifications name in their ``Link`` header."""
    if not source or isinstance(source, str):
        return None  # the core context alone, or one URL
    if isinstance(source, list) and len(source) == 1 and isinstance(source[0], str):
        return None
    local_id = uuid.uuid4().hex
    url = f"{str(request.base_url).rstrip('/')}{HOSTED_PREFIX}/{local_id}"
    return StoredContext(local_id, url, "ImplicitlyCreated", {"@context": source}, time.time())


@router.get(
    "/subscriptions",
    summary="List subscriptions",
    responses={
        **openapi.ok(_SUBSCRIPTIONS, "A page of subscriptions", openapi.NGSI_LD),
        **openapi.errors(400, 403, 404, 406, 504),
    },
)
async def list_subscriptions(
    request: Request,
    limit: Annotated[int | None, Query(ge=0, description="Page size")] = None,
    offset: Annotated[int | None, Query(ge=0, le=MAX_OFFSET, description="Page start")] = None,
    count: Annotated[bool, Query(description="Return NGSILD-Results-Count")] = False,
    options: Annotated[str | None, Query(description="sysAttrs")] = None,
    tenant: TenantHeader = None,
) -> Response:
    svc = services(request)
    engine = engine_of(request)
    may_read(request, tenant)
    negotiated = await negotiate(request, geojson=False)
    sys_attrs = "sysAttrs" in http.parse_options(options, frozenset({"sysAttrs"}))
    lim, off = paging(limit, offset, svc.settings.default_limit, svc.settings.max_limit)
    ten = await svc.hub.tenant(tenant)
    stored = await engine.repo.page(ten.id, lim, off) if lim > 0 else []
    # Counted also without count=true: a full last page then has no link to an empty next one.
    total = await engine.repo.count(ten.id) if count or lim > 0 else None
    body = []
    for item in stored:
        rendered = await representation(svc, item, negotiated.ctx, sys_attrs)
        if negotiated.accept == http.JSONLD:
            rendered["@context"] = negotiated.ctx.response_context()
        body.append(rendered)
    headers = tenant_headers(tenant)
    if count and total is not None:
        headers["NGSILD-Results-Count"] = str(total)
    response = http.json_response(body, negotiated=negotiated, headers=headers)
    links = page_links(request, lim, off, len(stored), total, negotiated.accept)
    if links:
        existing = response.headers.get("Link")
        response.headers["Link"] = ", ".join([*([existing] if existing else []), *links])
    return response


@router.get(
    "/subscriptions/{subscriptionId}",
    summary="Retrieve a subscription",
    responses={
        **openapi.ok(openapi.ref("Subscription"), "The subscription", openapi.NGSI_LD),
        **openapi.errors(400, 403, 404, 406, 504),
    },
)
async def retrieve_subscription(
    request: Request,
    subscriptionId: SubscriptionIdPath,
    options: Annotated[str | None, Query(description="sysAttrs")] = None,
    tenant: TenantHeader = None,
) -> Response:
    svc = services(request)
    check_entity_id(subscriptionId, "subscription id")
    may_read(request, tenant)
    negotiated = await negotiate(request, geojson=False)
    sys_attrs = "sysAttrs" in http.parse_options(options, frozenset({"sysAttrs"}))
    stored = await _stored(request, tenant, subscriptionId)
    body = await representation(svc, stored, negotiated.ctx, sys_attrs)
    if negotiated.accept == http.JSONLD:
        body["@context"] = negotiated.ctx.response_context()
    return http.json_response(body, negotiated=negotiated, headers=tenant_headers(tenant))


@router.patch(
    "/subscriptions/{subscriptionId}",
    status_code=204,
    summary="Update a subscription (members given replace the stored ones)",
    openapi_extra=_PATCH_BODY,
    responses={
        **openapi.no_content("Updated"),
        **openapi.errors(400, 403, 404, 409, 413, 415, 504),
    },
)
async def update_subscription(
    request: Request, subscriptionId: SubscriptionIdPath, tenant: TenantHeader = None
) -> Response:
    svc = services(request)
    engine = engine_of(request)
    check_entity_id(subscriptionId, "subscription id")
    may_manage(request, tenant)
    body, patch_ctx = await http.body_and_context(
        request, svc.contexts, svc.settings.max_body_bytes, allow_merge_patch=True
    )
    if not isinstance(body, dict):
        raise BadRequestData("the subscription fragment must be a JSON object")
    fragment = {k: _copy(v) for k, v in body.items() if k not in ("@context", "id", "type")}
    if body.get("id", subscriptionId) != subscriptionId:
        raise BadRequestData(f"the id in the body ({body['id']!r}) differs from the URL's")
    if body.get("type", "Subscription") != "Subscription":
        raise BadRequestData(f"type must be 'Subscription', not {body['type']!r}")
    if not fragment:
        raise BadRequestData("the subscription fragment has no members to update")
    stored = await _stored(request, tenant, subscriptionId)
    stored_ctx = await svc.contexts.compile(stored.body.get("@context") or None)
    translate_names(fragment, patch_ctx, stored_ctx)
    base = {k: v for k, v in stored.body.items() if k != "@context"}
    doc = validate(
        merge(base, fragment),
        stored_ctx,
        max_terms=svc.settings.max_query_terms,
        creating="expiresAt" in fragment,
    )
    doc["id"] = subscriptionId
    doc["@context"] = stored.body.get("@context")
    name = engine.tenant_names.get(stored.tenant_id, "")
    compiled = await engine.compile(stored.tenant_id, name, doc)
    await check_endpoint(svc, compiled)
    now = max(now_us(), stored.modified_at + 1)
    cols = columns(doc)
    reschedule = bool(cols.time_interval_us) and (
        "timeInterval" in fragment or "isActive" in fragment
    )
    updated = await engine.repo.update(
        stored.tenant_id,
        subscriptionId,
        doc,
        cols,
        now,
        now if cols.time_interval_us else None,
        stored.modified_at,
        reschedule=reschedule,
        retry_now="isActive" in fragment
        or doc["notification"]["endpoint"] != stored.body["notification"]["endpoint"],
    )
    if not updated:
        raise Conflict(f"subscription {subscriptionId!r} was changed meanwhile; try again")
    await engine.refresh_tenant(stored.tenant_id)
    engine.kick()  # resumed or re-pointed: pending notifications may be due now
    return Response(status_code=204, headers=tenant_headers(tenant))


@router.delete(
    "/subscriptions/{subscriptionId}",
    status_code=204,
    summary="Delete a subscription",
    responses={**openapi.no_content("Deleted"), **openapi.errors(400, 403, 404)},
)
async def delete_subscription(
    request: Request, subscriptionId: SubscriptionIdPath, tenant: TenantHeader = None
) -> Response:
    svc = services(request)
    engine = engine_of(request)
    check_entity_id(subscriptionId, "subscription id")
    may_manage(request, tenant)
    ten = await svc.hub.tenant(tenant)
    if not await engine.repo.delete(ten.id, subscriptionId):
        raise NotFound(f"subscription {subscriptionId!r} was not found")
    await engine.refresh_tenant(ten.id)
    return Response(status_code=204, headers=tenant_headers(tenant))


async def _stored(request: Request, tenant: str | None, sub_id: str) -> StoredSubscription:
    svc = services(request)
    ten = await svc.hub.tenant(tenant)
    stored = await engine_of(request).repo.get(ten.id, sub_id)
    if stored is None:
        raise NotFound(f"subscription {sub_id!r} was not found")
    return stored


async def representation(
    svc: Services, stored: StoredSubscription, ctx: CompiledContext, sys_attrs: bool
) -> dict[str, Any]:
    """The subscription as GET shows it, its names compacted with the request's @context."""
    doc = {k: _copy(v) for k, v in stored.body.items() if k != "@context"}
    stored_ctx = await svc.contexts.compile(stored.body.get("@context") or None)
    translate_names(doc, stored_ctx, ctx)
    out: dict[str, Any] = {"id": stored.id, "type": "Subscription"}
    for key, value in doc.items():
        if key not in ("id", "type", "notification"):
            out[key] = value
    # isActive is returned as the subscriber gave it (absent: true, 5.2.12), not invented.
    if "timeInterval" not in doc:
        out.setdefault("notificationTrigger", list(DEFAULT_TRIGGERS))
    state = stored.state
    now = now_us()
    if not out.get("isActive", True):
        status = "paused"
    elif "expiresAt" in doc and iso_to_us(doc["expiresAt"]) <= now:
        status = "expired"
    elif state.consecutive_failures:
        status = "failed"
    else:
        status = "active"
    out["status"] = status
    notification = dict(doc.get("notification") or {})
    notification.setdefault("format", "normalized")
    endpoint = notification.get("endpoint")
    if isinstance(endpoint, dict):
        endpoint.setdefault("accept", "application/json")
    if state.times_sent or state.times_failed:
        # the status of the last attempt to notify (5.2.14); none before the first attempt
        notification["status"] = "failed" if state.consecutive_failures else "ok"
    notification["timesSent"] = state.times_sent
    notification["timesFailed"] = state.times_failed
    for member, value in (
        ("lastNotification", state.last_notification),
        ("lastSuccess", state.last_success),
        ("lastFailure", state.last_failure),
    ):
        if value is not None:
            notification[member] = us_to_iso(value)
    if state.last_failure_reason and state.consecutive_failures:
        notification["lastFailureReason"] = state.last_failure_reason
    out["notification"] = notification
    if sys_attrs:
        out["createdAt"] = us_to_iso(stored.created_at)
        out["modifiedAt"] = us_to_iso(stored.modified_at)
    return out
