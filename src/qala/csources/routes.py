"""``/csourceRegistrations`` and ``/csourceSubscriptions`` (GS CIM 009 5.9–5.11, 6.8–6.11).

Qala keeps context source registrations as a registry does: they are validated, stored per
tenant and returned — created, retrieved, queried by the entities and attributes they
register (``id``, ``idPattern``, ``type``, ``attrs``), updated and deleted. It does not act on
them: queries and subscriptions on ``/entities`` are answered from Qala's own entities, not
forwarded to registered sources (distributed operations, GS CIM 009 clause 4.3.6, are not
offered), and a registration's ``expiresAt`` is kept, not enforced. Discovery filters Qala
cannot evaluate on registrations (``q``, ``csf``, geo- and temporal queries) are refused with
``OperationNotSupported`` rather than ignored.

Subscriptions to registrations (``/csourceSubscriptions``) are not offered: the collection is
always empty, creating one is ``OperationNotSupported``, a named one is not found.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from qala import openapi
from qala.hub import access
from qala.hub.errors import (
    AlreadyExists,
    BadRequestData,
    NotFound,
    OperationNotSupported,
)
from qala.hub.model import iso_to_us, now_us, us_to_iso
from qala.hub.regex import compile_pattern
from qala.jsonld.compiled import CompiledContext
from qala.ngsild import http
from qala.ngsild.params import MAX_OFFSET, check_id_pattern, paging, split_list
from qala.ngsild.parse import check_entity_id, check_name
from qala.ngsild.routing import StrictRoute
from qala.services import Services, services
from qala.web.edge import TenantHeader, actor_of, negotiate, page_links, tenant_headers

router = APIRouter(tags=["Context sources"], route_class=StrictRoute)

TYPE = "ContextSourceRegistration"
_MODES = {"inclusive", "exclusive", "redirect", "auxiliary"}
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")
_SELECT = "SELECT id, body, created_at, modified_at FROM csource_registrations"

RegistrationIdPath = Annotated[
    str,
    Path(description="Registration id (a URI)", examples=[f"urn:ngsi-ld:{TYPE}:1"]),
]
_EXAMPLE = {
    "id": "urn:ngsi-ld:ContextSourceRegistration:1",
    "type": TYPE,
    "information": [{"entities": [{"type": "Streetlight"}], "propertyNames": ["status"]}],
    "endpoint": "http://lights.example.org:1026",
}
_REGISTRATION = {"type": "object", "additionalProperties": True, "example": _EXAMPLE}
_REGISTRATIONS = {"type": "array", "items": _REGISTRATION}


# -- validation ----------------------------------------------------------------------------


def _names(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise BadRequestData(f"{what} must be a non-empty array of names")
    return [check_name(n, what) for n in value]


def validate(body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """The registration's members, checked (5.2.9); unknown members are kept as given."""
    doc = {k: v for k, v in body.items() if k != "@context"}
    if (creating or "type" in doc) and doc.get("type") != TYPE:
        raise BadRequestData(f"a context source registration has type {TYPE!r}")
    if "id" in doc:
        check_entity_id(doc["id"], "registration id")
    if creating or "information" in doc:
        information = doc.get("information")
        if not isinstance(information, list) or not information:
            raise BadRequestData("information must be a non-empty array of RegistrationInfo")
        for info in information:
            if not isinstance(info, dict):
                raise BadRequestData("each item of information must be a JSON object")
            if not ({"entities", "propertyNames", "relationshipNames"} & set(info)):
                raise BadRequestData(
                    "a RegistrationInfo needs entities, propertyNames or relationshipNames"
                )
            for key in ("propertyNames", "relationshipNames"):
                if key in info:
                    _names(info[key], key)
            if "entities" in info:
                entities = info["entities"]
                if not isinstance(entities, list) or not entities:
                    raise BadRequestData("entities must be a non-empty array of EntityInfo")
                for item in entities:
                    if not isinstance(item, dict) or not isinstance(item.get("type"), str):
                        raise BadRequestData("each EntityInfo needs a type")
                    check_name(item["type"], "type")
                    if "id" in item:
                        check_entity_id(item["id"])
                    if "idPattern" in item:
                        if not isinstance(item["idPattern"], str):
                            raise BadRequestData("idPattern must be a string")
                        check_id_pattern(item["idPattern"])
    if creating or "endpoint" in doc:
        endpoint = doc.get("endpoint")
        if not isinstance(endpoint, str) or not _URI.match(endpoint):
            raise BadRequestData("endpoint must be the URI of the context source")
    if "mode" in doc and doc["mode"] not in _MODES:
        raise BadRequestData(f"mode must be one of {', '.join(sorted(_MODES))}")
    if "expiresAt" in doc:
        if not isinstance(doc["expiresAt"], str):
            raise BadRequestData("expiresAt must be a date-time")
        try:
            iso_to_us(doc["expiresAt"])
        except ValueError:
            raise BadRequestData(f"expiresAt {doc['expiresAt']!r} is not a date-time") from None
    return doc


def _translate(doc: dict[str, Any], src: CompiledContext, dst: CompiledContext) -> None:
    """The registration's entity types and attribute names, from ``src``'s terms to ``dst``'s."""

    def name(term: str) -> str:
        return dst.compact(src.expand(term))

    for info in doc.get("information") or []:
        if not isinstance(info, dict):
            continue
        for item in info.get("entities") or []:
            if isinstance(item, dict) and isinstance(item.get("type"), str):
                item["type"] = name(item["type"])
        for key in ("propertyNames", "relationshipNames"):
            if isinstance(info.get(key), list):
                info[key] = [name(n) for n in info[key]]


# -- storage -------------------------------------------------------------------------------


async def _tenant_id(svc: Services, tenant: str | None, *, create: bool) -> int | None:
    name = svc.hub.check_tenant_name(tenant)
    if create:
        return (await svc.store.ensure_tenant(name)).id
    found = await svc.store.tenant(name)
    if found is None and tenant:
        return (await svc.hub.tenant(tenant)).id  # the hub's error for an unknown tenant
    return None if found is None else found.id


async def _stored(svc: Services, tenant_id: int | None, reg_id: str) -> dict[str, Any]:
    rows = (
        await svc.store.fetch(f"{_SELECT} WHERE tenant_id = $1 AND id = $2", tenant_id, reg_id)
        if tenant_id is not None
        else []
    )
    if not rows:
        raise NotFound(f"context source registration {reg_id!r} was not found")
    return _document(rows[0])


def _document(row: tuple[Any, ...]) -> dict[str, Any]:
    reg_id, body, created, modified = row
    doc: dict[str, Any] = orjson.loads(body)
    doc["id"] = reg_id
    doc["_created"], doc["_modified"] = created, modified
    return doc


async def _render(
    svc: Services, doc: dict[str, Any], ctx: CompiledContext, sys_attrs: bool
) -> dict[str, Any]:
    src = await svc.contexts.compile(doc.get("@context") or None)
    out: dict[str, Any] = {
        k: orjson.loads(orjson.dumps(v))
        for k, v in doc.items()
        if k not in ("@context", "_created", "_modified")
    }
    _translate(out, src, ctx)
    if sys_attrs:
        out["createdAt"] = us_to_iso(doc["_created"])
        out["modifiedAt"] = us_to_iso(doc["_modified"])
    return out


def _location(reg_id: str) -> str:
    return f"/ngsi-ld/v1/csourceRegistrations/{reg_id}"


# -- /csourceRegistrations -----------------------------------------------------------------


@router.post(
    "/csourceRegistrations",
    status_code=201,
    summary="Register a context source (stored and returned; queries are not forwarded to it)",
    openapi_extra=openapi.body(_REGISTRATION, example=_EXAMPLE),
    responses={
        **openapi.created("Created; Location names the new registration"),
        **openapi.errors(400, 403, 409, 413, 415, 504),
    },
)
async def create_registration(request: Request, tenant: TenantHeader = None) -> Response:
    svc = services(request)
    name = svc.hub.check_tenant_name(tenant)
    access.check_write(actor_of(request), name)
    body, ctx = await http.body_and_context(request, svc.contexts, svc.settings.max_body_bytes)
    doc = validate(body, creating=True)
    reg_id = doc.get("id") or f"urn:ngsi-ld:ContextSourceRegistration:{uuid.uuid4()}"
    doc["id"] = reg_id
    doc["@context"] = ctx.source or None
    tenant_id = await _tenant_id(svc, tenant, create=True)
    now = now_us()
    counts = await svc.store.execute(
        [
            (
                "INSERT INTO csource_registrations(tenant_id, id, body, created_at, modified_at) "
                "VALUES ($1, $2, $3, $4, $4) ON CONFLICT (tenant_id, id) DO NOTHING",
                (tenant_id, reg_id, orjson.dumps(doc).decode(), now),
            )
        ]
    )
    if counts[0] != 1:
        raise AlreadyExists(f"context source registration {reg_id!r} already exists")
    return Response(
        status_code=201, headers={"Location": _location(reg_id), **tenant_headers(tenant)}
    )


def _not_offered(**filters: str | None) -> None:
    given = sorted(name for name, value in filters.items() if value is not None)
    if given:
        raise OperationNotSupported(
            f"discovery of context sources by {', '.join(given)} is not offered; "
            "use id, idPattern, type or attrs"
        )


def _matches(
    doc: dict[str, Any],
    src: CompiledContext,
    ids: list[str] | None,
    pattern: str | None,
    types: set[str] | None,
    attrs: set[str] | None,
) -> bool:
    """Does some RegistrationInfo of ``doc`` register these entities and attributes?"""
    regex = compile_pattern(pattern) if pattern is not None else None
    for info in doc.get("information") or []:
        entities = info.get("entities") or []
        listed = [*(info.get("propertyNames") or []), *(info.get("relationshipNames") or [])]
        names = {src.expand(n) for n in listed}
        if attrs is not None and names and not (names & attrs):
            continue  # an info without names registers every attribute of its entities
        if types is None and ids is None and regex is None:
            return True
        for item in entities:
            if types is not None and src.expand(item["type"]) not in types:
                continue
            if ids is not None and "id" in item and item["id"] not in ids:
                continue
            if regex is not None and "id" in item and not regex.search(item["id"]):
                continue
            return True
        if not entities and types is None and ids is None and regex is None:
            return True
    return False


@router.get(
    "/csourceRegistrations",
    summary="Query context source registrations (by id, idPattern, type, attrs)",
    responses={
        **openapi.ok(_REGISTRATIONS, "A page of registrations", openapi.NGSI_LD),
        **openapi.errors(400, 403, 404, 406, 422, 504),
    },
)
async def query_registrations(
    request: Request,
    id: Annotated[str | None, Query(description="Comma-separated entity ids")] = None,
    idPattern: Annotated[str | None, Query(description="Regular expression on entity ids")] = None,
    type: Annotated[str | None, Query(description="Comma-separated entity types")] = None,
    attrs: Annotated[str | None, Query(description="Comma-separated attribute names")] = None,
    q: Annotated[str | None, Query(description="Not offered")] = None,
    csf: Annotated[str | None, Query(description="Not offered")] = None,
    georel: Annotated[str | None, Query(description="Not offered")] = None,
    geometry: Annotated[str | None, Query(description="Not offered")] = None,
    coordinates: Annotated[str | None, Query(description="Not offered")] = None,
    geoproperty: Annotated[str | None, Query(description="Not offered")] = None,
    timerel: Annotated[str | None, Query(description="Not offered")] = None,
    timeAt: Annotated[str | None, Query(description="Not offered")] = None,
    endTimeAt: Annotated[str | None, Query(description="Not offered")] = None,
    timeproperty: Annotated[str | None, Query(description="Not offered")] = None,
    limit: Annotated[int | None, Query(ge=0, description="Page size")] = None,
    offset: Annotated[int | None, Query(ge=0, le=MAX_OFFSET, description="Page start")] = None,
    count: Annotated[bool, Query(description="Return NGSILD-Results-Count")] = False,
    options: Annotated[str | None, Query(description="sysAttrs")] = None,
    tenant: TenantHeader = None,
) -> Response:
    svc = services(request)
    access.check_tenant(actor_of(request), tenant)
    negotiated = await negotiate(request, geojson=False)
    ctx = negotiated.ctx
    _not_offered(
        q=q,
        csf=csf,
        georel=georel,
        geometry=geometry,
        coordinates=coordinates,
        geoproperty=geoproperty,
        timerel=timerel,
        timeAt=timeAt,
        endTimeAt=endTimeAt,
        timeproperty=timeproperty,
    )
    sys_attrs = "sysAttrs" in http.parse_options(options, frozenset({"sysAttrs"}))
    lim, off = paging(limit, offset, svc.settings.default_limit, svc.settings.max_limit)
    ids = [check_entity_id(i) for i in split_list(id)] if id is not None else None
    if idPattern is not None:
        check_id_pattern(idPattern)
    types = {ctx.expand(check_name(t, "type")) for t in split_list(type)} if type else None
    wanted = {ctx.expand(check_name(a, "attrs")) for a in split_list(attrs)} if attrs else None
    tenant_id = await _tenant_id(svc, tenant, create=False)
    rows = (
        await svc.store.fetch(f"{_SELECT} WHERE tenant_id = $1 ORDER BY id", tenant_id)
        if tenant_id is not None
        else []
    )
    found = []
    for row in rows:
        doc = _document(row)
        src = await svc.contexts.compile(doc.get("@context") or None)
        if _matches(doc, src, ids, idPattern if ids is None else None, types, wanted):
            found.append(doc)
    page = found[off : off + lim]
    body = []
    for doc in page:
        rendered = await _render(svc, doc, ctx, sys_attrs)
        if negotiated.accept == http.JSONLD:
            rendered["@context"] = ctx.response_context()
        body.append(rendered)
    headers = tenant_headers(tenant)
    if count:
        headers["NGSILD-Results-Count"] = str(len(found))
    response = http.json_response(body, negotiated=negotiated, headers=headers)
    links = page_links(request, lim, off, len(page), len(found), negotiated.accept)
    if links:
        existing = response.headers.get("Link")
        response.headers["Link"] = ", ".join([*([existing] if existing else []), *links])
    return response


@router.get(
    "/csourceRegistrations/{registrationId}",
    summary="Retrieve a context source registration",
    responses={
        **openapi.ok(_REGISTRATION, "The registration", openapi.NGSI_LD),
        **openapi.errors(400, 403, 404, 406, 504),
    },
)
async def retrieve_registration(
    request: Request,
    registrationId: RegistrationIdPath,
    options: Annotated[str | None, Query(description="sysAttrs")] = None,
    tenant: TenantHeader = None,
) -> Response:
    svc = services(request)
    check_entity_id(registrationId, "registration id")
    access.check_tenant(actor_of(request), tenant)
    negotiated = await negotiate(request, geojson=False)
    sys_attrs = "sysAttrs" in http.parse_options(options, frozenset({"sysAttrs"}))
    tenant_id = await _tenant_id(svc, tenant, create=False)
    doc = await _stored(svc, tenant_id, registrationId)
    body = await _render(svc, doc, negotiated.ctx, sys_attrs)
    if negotiated.accept == http.JSONLD:
        body["@context"] = negotiated.ctx.response_context()
    return http.json_response(body, negotiated=negotiated, headers=tenant_headers(tenant))


@router.patch(
    "/csourceRegistrations/{registrationId}",
    status_code=204,
    summary="Update a context source registration (members given replace the stored ones)",
    openapi_extra=openapi.body(_REGISTRATION, example={"endpoint": "http://other.example.org"}),
    responses={
        **openapi.no_content("Updated"),
        **openapi.errors(400, 403, 404, 413, 415, 504),
    },
)
async def update_registration(
    request: Request, registrationId: RegistrationIdPath, tenant: TenantHeader = None
) -> Response:
    svc = services(request)
    check_entity_id(registrationId, "registration id")
    name = svc.hub.check_tenant_name(tenant)
    access.check_write(actor_of(request), name)
    body, ctx = await http.body_and_context(request, svc.contexts, svc.settings.max_body_bytes)
    fragment = validate(body, creating=False)
    if fragment.get("id", registrationId) != registrationId:
        raise BadRequestData("the id of a registration cannot be changed")
    fragment.pop("id", None)
    if not fragment:
        raise BadRequestData("the fragment has no member to update")
    tenant_id = await _tenant_id(svc, tenant, create=False)
    doc = await _stored(svc, tenant_id, registrationId)
    stored_ctx = await svc.contexts.compile(doc.get("@context") or None)
    _translate(fragment, ctx, stored_ctx)  # the fragment's names in the stored @context's terms
    merged = {k: v for k, v in doc.items() if k not in ("_created", "_modified")}
    merged.update(fragment)
    await svc.store.execute(
        [
            (
                "UPDATE csource_registrations SET body = $3, modified_at = $4 "
                "WHERE tenant_id = $1 AND id = $2",
                (tenant_id, registrationId, orjson.dumps(merged).decode(), now_us()),
            )
        ]
    )
    return Response(status_code=204, headers=tenant_headers(tenant))


@router.delete(
    "/csourceRegistrations/{registrationId}",
    status_code=204,
    summary="Delete a context source registration",
    responses={**openapi.no_content("Deleted"), **openapi.errors(400, 403, 404)},
)
async def delete_registration(
    request: Request, registrationId: RegistrationIdPath, tenant: TenantHeader = None
) -> Response:
    svc = services(request)
    check_entity_id(registrationId, "registration id")
    name = svc.hub.check_tenant_name(tenant)
    access.check_write(actor_of(request), name)
    tenant_id = await _tenant_id(svc, tenant, create=False)
    counts = (
        await svc.store.execute(
            [
                (
                    "DELETE FROM csource_registrations WHERE tenant_id = $1 AND id = $2",
                    (tenant_id, registrationId),
                )
            ]
        )
        if tenant_id is not None
        else [0]
    )
    if counts[0] != 1:
        raise NotFound(f"context source registration {registrationId!r} was not found")
    return Response(status_code=204, headers=tenant_headers(tenant))


# -- /csourceSubscriptions: not offered ------------------------------------------------------


@router.get(
    "/csourceSubscriptions",
    summary="Query subscriptions to registrations (not offered: always empty)",
    responses={
        **openapi.ok({"type": "array", "items": {}, "maxItems": 0}, "None", openapi.NGSI_LD),
        **openapi.errors(400, 403, 406),
    },
)
async def query_csource_subscriptions(
    request: Request,
    limit: Annotated[int | None, Query(ge=0, description="Page size")] = None,
    offset: Annotated[int | None, Query(ge=0, le=MAX_OFFSET, description="Page start")] = None,
    count: Annotated[bool, Query(description="Return NGSILD-Results-Count")] = False,
    tenant: TenantHeader = None,
) -> Response:
    svc = services(request)
    svc.hub.check_tenant_name(tenant)
    access.check_tenant(actor_of(request), tenant)
    negotiated = await negotiate(request, geojson=False)
    paging(limit, offset, svc.settings.default_limit, svc.settings.max_limit)
    headers = tenant_headers(tenant)
    if count:
        headers["NGSILD-Results-Count"] = "0"
    return http.json_response([], negotiated=negotiated, headers=headers)


@router.post(
    "/csourceSubscriptions",
    status_code=201,
    summary="Subscribe to registrations (not offered: OperationNotSupported)",
    openapi_extra=openapi.body(
        openapi.ref("SubscriptionInput"),
        example={"type": "Subscription", "entities": [{"type": "Vehicle"}]},
    ),
    responses=openapi.errors(422),
)
async def create_csource_subscription(request: Request, tenant: TenantHeader = None) -> Response:
    http.require_content_length(request)
    raise OperationNotSupported(
        "subscriptions to context source registrations are not offered by this broker"
    )


@router.get(
    "/csourceSubscriptions/{subscriptionId}",
    summary="Retrieve a subscription to registrations (none exists)",
    responses=openapi.errors(400, 403, 404, 406),
)
@router.delete(
    "/csourceSubscriptions/{subscriptionId}",
    summary="Delete a subscription to registrations (none exists)",
    responses=openapi.errors(400, 403, 404),
)
async def retrieve_csource_subscription(
    request: Request, subscriptionId: str, tenant: TenantHeader = None
) -> Response:
    access.check_tenant(actor_of(request), tenant)  # another city's URLs are refused first
    check_entity_id(subscriptionId, "subscription id")
    await negotiate(request, geojson=False)
    raise NotFound(
        f"subscription {subscriptionId!r} was not found: subscriptions to context source "
        "registrations are not offered"
    )
