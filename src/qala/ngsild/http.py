"""HTTP details of the NGSI-LD API: media types, the @context Link header, bodies, responses."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from qala.hub.errors import (
    BadRequestData,
    InvalidRequest,
    NotAcceptable,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from qala.jsonld.compiled import CompiledContext
from qala.jsonld.core import CORE_CONTEXT_URL
from qala.jsonld.resolver import ContextResolver

JSON = "application/json"
JSONLD = "application/ld+json"
GEOJSON = "application/geo+json"
MERGE_PATCH = "application/merge-patch+json"
CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"
TENANT_HEADER = "NGSILD-Tenant"

_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]+)*)")


def link_header(url: str) -> str:
    return f'<{url}>; rel="{CONTEXT_REL}"; type="{JSONLD}"'


CORE_LINK = link_header(CORE_CONTEXT_URL)


def context_link(value: str | None) -> str | None:
    """The @context URL of a ``Link`` header (rel json-ld#context), if any."""
    if not value:
        return None
    for match in _LINK.finditer(value):
        params = match.group(2)
        if CONTEXT_REL in params:
            return match.group(1).strip()
    if "rel" not in value:  # a bare <url>
        match = _LINK.search(value)
        if match:
            return match.group(1).strip()
    raise BadRequestData(
        'the Link header has no JSON-LD context link (rel="http://www.w3.org/ns/json-ld#context")'
    )


def media_type(request: Request) -> str:
    raw = request.headers.get("content-type", "")
    return raw.split(";", 1)[0].strip().lower()


@dataclass(slots=True)
class Negotiated:
    """What a request asked for: its @context and the response media type."""

    ctx: CompiledContext
    accept: str  # JSON | JSONLD | GEOJSON


def accept_type(request: Request, *, geojson: bool = False) -> str:
    raw = request.headers.get("accept")
    if not raw:
        return JSON
    best: tuple[float, int, str] | None = None
    offered = [JSON, JSONLD] + ([GEOJSON] if geojson else [])
    for order, part in enumerate(raw.split(",")):
        pieces = [p.strip() for p in part.split(";")]
        media = pieces[0].lower()
        q = 1.0
        for piece in pieces[1:]:
            if piece.startswith("q="):
                try:
                    q = float(piece[2:])
                except ValueError:
                    q = 0.0
        if q <= 0:
            continue
        if media in ("*/*", "application/*"):
            candidate = JSON
        elif media in offered:
            candidate = media
        else:
            continue
        key = (q, -order, candidate)
        if best is None or (key[0], key[1]) > (best[0], best[1]):
            best = key
    if best is None:
        accepted = ", ".join(offered)
        raise NotAcceptable(f"cannot produce any of {raw!r}; this resource offers {accepted}")
    return best[2]


class LengthRequired(Exception):
    """A POST, PATCH or PUT of the NGSI-LD API without ``Content-Length``: GS CIM 009 6.3.4
    answers it with a bare ``411 Length Required`` (no body), before anything else is looked
    at. A chunked body (``Transfer-Encoding: chunked``) has no exemption."""


def require_content_length(request: Request) -> None:
    """The 6.3.4 precondition of every NGSI-LD request with a body."""
    if "content-length" not in request.headers:
        raise LengthRequired()


async def read_json(request: Request, limit: int) -> Any:
    """The request body as JSON, enforcing the size limit; clear errors for bad bodies."""
    length = request.headers.get("content-length")
    if length is not None:
        try:
            if int(length) > limit:
                raise PayloadTooLarge(f"the request body exceeds the limit of {limit} bytes")
        except ValueError:
            raise InvalidRequest("the Content-Length header is not a number") from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw:
        raise InvalidRequest("the request body is empty; a JSON payload is required")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"the request body is not valid JSON: {exc}") from None
    check_json(value, raw)
    return value


#: How deeply a request body may nest: far beyond any entity or GeoJSON geometry, and well
#: within what the server can serialize again (orjson stops at 254 levels).
MAX_DEPTH = 100


def check_json(value: Any, raw: bytes) -> None:
    """Refuse (BadRequestData) JSON that no store can hold: nested deeper than
    :data:`MAX_DEPTH`, or with the character U+0000, which PostgreSQL cannot store (refused on
    every store, so that data moves between them). ``raw``: the JSON text, for a quick
    look before walking the value."""
    nul = b"\\u0000" in raw
    if not nul and (raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH or _depth_within(raw)):
        return
    if nul and isinstance(value, str) and "\x00" in value:
        raise BadRequestData(_NUL)
    pending: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, dict | list) else []
    while pending:
        item, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise BadRequestData(f"the JSON is nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            if nul and any("\x00" in key for key in item):
                raise BadRequestData(_NUL)
            item = item.values()
        for child in item:
            if isinstance(child, dict | list):
                pending.append((child, depth + 1))
            elif nul and isinstance(child, str) and "\x00" in child:
                raise BadRequestData(_NUL)


_NUL = "the JSON holds the character U+0000 (NUL) in a string"
_NOT_MARK = bytes(b for b in range(256) if b not in b'[]{}"\\')
_ONE_KIND = bytes.maketrans(b"[]", b"{}")


def _depth_within(raw: bytes) -> bool:
    """Whether valid JSON text ``raw`` nests at most :data:`MAX_DEPTH` levels, decided at C
    speed: the brackets outside strings, as one kind, lose their innermost level per round."""
    # Only brackets, quotes and backslashes matter; then escapes go (backslash pairs first).
    marks = raw.translate(_ONE_KIND, _NOT_MARK).replace(b"\\\\", b"").replace(b'\\"', b"")
    # Two adjacent quotes enclose nothing but string text (no bracket of the structure):
    # dropping them leaves the rest as it was. What remains are strings holding brackets.
    brackets = marks.replace(b'""', b"")
    if b'"' in brackets:
        brackets = b"".join(brackets.split(b'"')[::2])  # the pieces outside strings
    for _ in range(MAX_DEPTH):
        if not brackets:
            return True
        brackets = brackets.replace(b"{}", b"")
    return not brackets


async def body_and_context(
    request: Request,
    resolver: ContextResolver,
    limit: int,
    *,
    allow_merge_patch: bool = False,
) -> tuple[Any, CompiledContext]:
    """Read a JSON object body and resolve its @context (Link header or the body's)."""
    require_content_length(request)
    kind = media_type(request)
    allowed = (JSON, JSONLD, MERGE_PATCH) if allow_merge_patch else (JSON, JSONLD)
    if kind not in allowed:
        raise UnsupportedMediaType(
            f"Content-Type {kind or '(none)'!r} is not supported; use {' or '.join(allowed)}"
        )
    body = await read_json(request, limit)
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    link = request.headers.get("link")
    if kind == JSONLD:
        if link and context_link(link):
            raise BadRequestData(
                "with Content-Type application/ld+json the @context goes in the body, "
                "not in a Link header"
            )
        context_value = body.get("@context")
        if context_value is None:
            raise BadRequestData(
                "a request with Content-Type application/ld+json must carry @context in its body"
            )
        ctx = await resolver.compile(context_value)
    else:
        if "@context" in body:
            raise BadRequestData(
                "with Content-Type application/json the @context goes in a Link header; "
                "send application/ld+json to put it in the body"
            )
        ctx = await resolver.compile(context_link(link))
    return body, ctx


async def request_context(request: Request, resolver: ContextResolver) -> CompiledContext:
    """The @context of a request without a body (the Link header, else the core)."""
    return await resolver.compile(context_link(request.headers.get("link")))


def json_response(
    body: Any,
    *,
    status: int = 200,
    negotiated: Negotiated | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    out_headers = dict(headers or {})
    media = JSON
    if negotiated is not None:
        media = negotiated.accept
        if media == JSON:
            out_headers["Link"] = link_header(negotiated.ctx.link_url or CORE_CONTEXT_URL)
    return Response(orjson.dumps(body), status_code=status, media_type=media, headers=out_headers)


def parse_options(raw: str | None, allowed: frozenset[str]) -> set[str]:
    """``options=a,b``: every option must be one this endpoint knows."""
    if not raw:
        return set()
    options = {o.strip() for o in raw.split(",") if o.strip()}
    unknown = options - allowed
    if unknown:
        raise InvalidRequest(
            f"unknown option(s) {', '.join(sorted(unknown))}; this operation accepts "
            f"{', '.join(sorted(allowed))}"
        )
    return options
