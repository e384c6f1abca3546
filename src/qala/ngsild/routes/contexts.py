"""The ``/jsonldContexts`` resources: contexts the broker hosts, caches or has built in."""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from starlette.convertors import PathConvertor, register_url_convertor
from starlette.responses import Response

from qala import openapi
from qala.hub.errors import BadRequestData, InvalidRequest, NotFound, UnsupportedMediaType
from qala.hub.model import us_to_iso
from qala.jsonld.resolver import HOSTED_PATH, HOSTED_PREFIX, StoredContext, use_key
from qala.ngsild import http
from qala.ngsild.routing import FastRoute
from qala.services import services


class ContextIdConvertor(PathConvertor):
    """A context id in a URL: a URL itself (it may hold '/'), never empty — so that
    ``/jsonldContexts/`` is the collection (see qala.web.slashes), not a context named ''."""

    regex = ".+"


register_url_convertor("context_id", ContextIdConvertor())

router = APIRouter(tags=["JSON-LD contexts"], route_class=FastRoute)
_KINDS = {"hosted": "Hosted", "cached": "Cached", "implicitlycreated": "ImplicitlyCreated"}
_BUILTIN_PREFIX = "builtin-"


def _iso(seconds: float | None) -> str | None:
    return us_to_iso(int(seconds * 1_000_000)) if seconds else None


def _info(ctx: StoredContext, uses: int = 0) -> dict[str, Any]:
    """The ContextInfo of a stored context; ``uses``: requests naming it since the start."""
    info: dict[str, Any] = {
        "URL": ctx.url,
        "localId": ctx.local_id,
        "kind": ctx.kind,
        "createdAt": _iso(ctx.created_at) or _iso(time.time()),
        "numberOfHits": ctx.hits + uses,
    }
    if ctx.last_usage:
        info["lastUsage"] = _iso(ctx.last_usage)
    return info


def _builtins(request: Request) -> list[StoredContext]:
    resolver = services(request).contexts
    out = []
    for index, url in enumerate(resolver.builtin_urls()):
        doc = resolver._documents.get(url)  # built-ins are always in memory
        if doc is None:
            continue
        out.append(
            StoredContext(f"{_BUILTIN_PREFIX}{index}", url, "Cached", doc, resolver.loaded_at)
        )
    return out


def _uses(request: Request, ctx: StoredContext) -> int:
    """Requests that named the context (serving the document itself is no use of it)."""
    return services(request).contexts.uses[use_key(ctx.url)]


async def _find(request: Request, context_id: str) -> StoredContext:
    svc = services(request)
    if context_id.startswith(_BUILTIN_PREFIX) or ":" in context_id:
        for builtin in _builtins(request):
            if context_id in (builtin.local_id, builtin.url):
                return builtin
    stored = await svc.store.context_by_id(context_id)
    if stored is None and ":" in context_id:
        stored = await svc.store.context_by_url(context_id)
    if stored is None:
        raise NotFound(f"@context {context_id!r} is not known to this broker")
    return stored


@router.get(
    "/jsonldContexts",
    summary="List the @contexts the broker holds",
    responses={
        **openapi.ok(
            {
                "anyOf": [
                    {"type": "array", "items": {"type": "string"}},
                    {"type": "array", "items": openapi.ref("ContextInfo")},
                ]
            },
            "Their URLs, or with details=true their descriptions",
        ),
        **openapi.errors(400),
    },
)
async def list_contexts(
    request: Request,
    details: Annotated[bool, Query(description="Full descriptions instead of URLs")] = False,
    kind: Annotated[str | None, Query(description="Hosted, Cached or ImplicitlyCreated")] = None,
) -> Response:
    svc = services(request)
    wanted = None
    if kind is not None:
        wanted = _KINDS.get(kind.lower())
        if wanted is None:
            raise BadRequestData(f"unknown kind {kind!r}; use Hosted, Cached or ImplicitlyCreated")
    stored = await svc.store.contexts(wanted)
    if wanted in (None, "Cached"):
        stored = _builtins(request) + stored
    body: Any = (
        [_info(c, _uses(request, c)) for c in stored] if details else [c.url for c in stored]
    )
    return http.json_response(body)


@router.post(
    "/jsonldContexts",
    status_code=201,
    summary="Host a @context document",
    openapi_extra=openapi.body(
        openapi.ref("ContextDocument"),
        example={"@context": {"Streetlight": "https://example.org/S"}},
    ),
    responses={
        **openapi.created("Hosted; Location names the document"),
        **openapi.errors(400, 413, 415, 504),
    },
)
async def add_context(request: Request) -> Response:
    svc = services(request)
    http.require_content_length(request)
    kind = http.media_type(request)
    if kind not in (http.JSON, http.JSONLD):
        raise UnsupportedMediaType(f"Content-Type {kind!r} is not supported; use application/json")
    body = await http.read_json(request, svc.settings.max_body_bytes)
    if not isinstance(body, dict) or "@context" not in body:
        raise InvalidRequest('the body must be a JSON-LD document: {"@context": …}')
    if not isinstance(body["@context"], dict | list | str):
        raise BadRequestData("@context must be an object, an array or a URL")
    local_id = uuid.uuid4().hex
    url = f"{str(request.base_url).rstrip('/')}/ngsi-ld/v1/jsonldContexts/{local_id}"
    # Check that the context is usable before hosting it.
    await svc.contexts.compile(body["@context"])
    await svc.store.save_context(StoredContext(local_id, url, "Hosted", body, time.time()))
    # Location is the path (like every Location of the API); the context's URL is absolute.
    return Response(status_code=201, headers={"Location": f"{HOSTED_PREFIX}/{local_id}"})


@router.get(
    "/jsonldContexts/{contextId:context_id}",
    summary="Serve a @context document",
    responses={
        **openapi.ok(
            {"anyOf": [openapi.ref("ContextDocument"), openapi.ref("ContextInfo")]},
            "The document, or with details=true its description",
        ),
        **openapi.errors(400, 404),
    },
)
async def get_context(
    request: Request,
    contextId: Annotated[
        str, Path(description="localId or URL of the context", examples=["builtin-0"])
    ],
    details: Annotated[bool, Query(description="Describe instead of serving")] = False,
) -> Response:
    stored = await _find(request, contextId)
    if details:
        return http.json_response(_info(stored, _uses(request, stored)))
    return http.json_response(stored.body)


@router.delete(
    "/jsonldContexts/{contextId:context_id}",
    status_code=204,
    summary="Delete a @context",
    responses={**openapi.no_content("Deleted (or reloaded)"), **openapi.errors(400, 404, 504)},
)
async def delete_context(
    request: Request,
    contextId: Annotated[
        str, Path(description="localId or URL of the context", examples=["builtin-0"])
    ],
    reload: Annotated[bool, Query(description="Fetch a cached context again")] = False,
) -> Response:
    svc = services(request)
    try:
        stored = await _find(request, contextId)
    except NotFound:
        if reload:  # reload names a Cached context; nothing here is one
            raise BadRequestData(
                f"@context {contextId!r} is not a Cached context of this broker; "
                "only Cached contexts can be reloaded"
            ) from None
        raise
    if stored.local_id.startswith(_BUILTIN_PREFIX):
        if reload:  # built-in documents are the broker's own copy: reloading changes nothing
            return Response(status_code=204)
        raise BadRequestData(f"{stored.url!r} is built in and cannot be deleted")
    if reload:
        if stored.kind != "Cached":
            raise BadRequestData("only Cached contexts can be reloaded")
        await svc.contexts.reload(stored.url)  # on failure the cached copy stays
        return Response(status_code=204)
    await svc.store.delete_context(stored.local_id)
    svc.contexts.forget_document(stored.url)
    svc.contexts.uses.pop(use_key(stored.url), None)  # a context cached again starts anew
    if HOSTED_PATH.search(stored.url):
        svc.contexts.forget(stored.local_id)
    return Response(status_code=204)
