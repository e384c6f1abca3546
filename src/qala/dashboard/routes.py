"""The dashboard's HTTP routes: its pages, their assets, the basemap and the live stream.

The pages (``/``, ``/dashboard/city/{tenant}``) are templates holding structure and the
language's strings only: every figure on them is read by the page's scripts from Qala's APIs
(NGSI-LD, temporal, tenants, and the indicators, programme and Open311 APIs where the server
has them) with the user's own credentials, kept in the browser's session storage. Pages and
assets are open to everyone and carry a Content-Security-Policy that lets them load, connect
to and run nothing but this server. ``/api/v1/dashboard/events`` streams the changes the
caller may read (server-sent events, fed by the hub: :mod:`qala.dashboard.live`).
"""

from __future__ import annotations

import mimetypes
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import FileResponse, HTMLResponse, Response, StreamingResponse

from qala import openapi
from qala.dashboard import i18n
from qala.dashboard.live import Listener, LiveFeed
from qala.dashboard.sections import actor_summary, section_states
from qala.demo import CONTEXT, cities
from qala.hub import NotFound
from qala.ngsild import http
from qala.services import services
from qala.web.edge import TenantHeader, actor_of

router = APIRouter()


def N_(message: str) -> str:
    """Marks a message for the catalogue; the page translates it where it shows it."""
    return message

PACKAGE = Path(str(resources.files("qala.dashboard")))
STATIC = PACKAGE / "static"
BOUNDARIES = Path(str(resources.files("qala.demo"))) / "boundaries.geojson"
#: What the pages may load: this server only (images also from data: and blob: URLs the
#: map's own scripts make; no inline script or style, no plugins, no framing elsewhere).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
#: Assets the pages use, by extension; nothing else under static/ is served.
ASSET_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}
LANGUAGE_COOKIE = "qala_lang"
#: Seconds a live stream lasts before the page reconnects (below the request timeout).
STREAM_SECONDS = 300.0
#: The API behind each section, named where the page says it is missing or refused.
SECTION_APIS = {
    "assessment": N_("indicators API"),
    "indicators": N_("indicators API"),
    "programme": N_("programme monitor API"),
    "requests": N_("Open311 API"),
}


@cache
def _environment(lang: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(PACKAGE / "templates")),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(i18n.catalogue(lang), newstyle=True)  # type: ignore[attr-defined]
    return env


def _asset_version() -> str:
    from qala import __version__

    return __version__


def city_facts() -> dict[str, dict[str, Any]]:
    """The shipped public facts of the programme's cities (names, zone, centre): what the pages
    know before any API answers. Other tenants are shown by name, in Asia/Almaty time."""
    return {
        key: {
            "name": city.name,
            "zone": city.time_zone,
            "centre": [city.lat, city.lon],
            "approximate": city.boundary_approximate,
        }
        for key, city in cities().items()
    }


def _lang_of(request: Request) -> tuple[str, bool]:
    """The page's language (``?lang=``, then the remembered cookie, then Russian) and whether
    the request chose it (to be remembered)."""
    asked = request.query_params.get("lang")
    if asked in i18n.LANGUAGES:
        return asked, True
    return i18n.language(request.cookies.get(LANGUAGE_COOKIE)), False


def _page(request: Request, template: str, page: str, **extra: Any) -> HTMLResponse:
    lang, chosen = _lang_of(request)
    svc = services(request)
    root = request.scope.get("root_path", "")
    config = {
        "page": page,
        "lang": lang,
        "root": root,
        "messages": i18n.js_messages(lang),
        "numbers": i18n.number_symbols(i18n.language(lang)),
        "cities": city_facts(),
        "context": CONTEXT[0],
        # for the caller without credentials; a signed-in page asks /api/v1/dashboard/sections
        "sections": section_states(svc, actor_of(request)),
        "sectionApis": SECTION_APIS,
        "pmtiles": f"{root}/dashboard/basemap/streets.pmtiles"
        if _pmtiles_file(svc.settings.dashboard_pmtiles)
        else None,
        **extra,
    }
    body = _environment(lang).get_template(template).render(
        lang=lang,
        languages=[(code, i18n.AUTONYMS[code]) for code in i18n.LANGUAGES],
        page=page,
        root=root,
        version=_asset_version(),
        config=orjson.dumps(config).decode().replace("</", "<\\/"),
        generated=i18n.format_time(datetime.now(UTC), lang, "Asia/Almaty"),
        path=request.url.path,
        **extra,
    )
    response = HTMLResponse(body, headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"})
    if chosen:
        response.set_cookie(
            LANGUAGE_COOKIE, lang, max_age=365 * 86400, samesite="lax", httponly=False
        )
    return response


@router.get("/", include_in_schema=False)
async def overview(request: Request) -> HTMLResponse:
    """The national overview: the cities side by side."""
    return _page(request, "overview.html", "overview")


@router.get("/dashboard/city/{tenant}", include_in_schema=False)
async def city_page(request: Request, tenant: str) -> Response:
    """One city: its map with a layer per entity type, live."""
    if not http_valid_tenant(tenant):
        raise NotFound(f"no city {tenant!r}: a tenant name is letters, digits, '_', '.', '-'")
    facts = city_facts().get(tenant)
    lang, _ = _lang_of(request)
    name = facts["name"].get(lang, tenant) if facts else tenant
    return _page(request, "city.html", "city", tenant=tenant, city_name=name)


@router.get("/dashboard/programme", include_in_schema=False)
async def programme_page(request: Request) -> HTMLResponse:
    """The programme: money against verified delivery per project and city, the audit flags."""
    return _page(request, "programme.html", "programme")


@router.get("/dashboard/requests", include_in_schema=False)
async def requests_page(request: Request) -> HTMLResponse:
    """Citizen requests: the open ones on a map and in a table by SLA state, trends by service."""
    return _page(request, "requests.html", "requests")


def http_valid_tenant(name: str) -> bool:
    import re

    return bool(re.fullmatch(openapi.TENANT_PATTERN, name)) and bool(name)


@router.get("/dashboard/static/{path:path}", include_in_schema=False)
async def asset(path: str) -> Response:
    """The pages' scripts, styles and images, and the vendored libraries (``static/vendor``)."""
    target = (STATIC / path).resolve()
    if (
        not target.is_relative_to(STATIC.resolve())
        or not target.is_file()
        or target.suffix not in ASSET_TYPES
    ):
        raise NotFound(f"no dashboard asset {path!r}")
    return FileResponse(
        target,
        media_type=ASSET_TYPES[target.suffix],
        headers={**SECURITY_HEADERS, "Cache-Control": "public, max-age=3600"},
    )


@router.get("/dashboard/basemap/outlines.geojson", include_in_schema=False)
async def outlines() -> Response:
    """The city and region outlines shipped with Qala (``qala/demo/boundaries.geojson``)."""
    return FileResponse(
        BOUNDARIES,
        media_type="application/geo+json",
        headers={**SECURITY_HEADERS, "Cache-Control": "public, max-age=3600"},
    )


def _pmtiles_file(setting: str | None) -> Path | None:
    if not setting:
        return None
    path = Path(setting)
    return path if path.suffix == ".pmtiles" and path.is_file() else None


@router.get("/dashboard/basemap/streets.pmtiles", include_in_schema=False)
async def street_basemap(request: Request) -> Response:
    """The operator's street basemap (``QALA_DASHBOARD_PMTILES``), read by the page in HTTP
    Range requests."""
    path = _pmtiles_file(services(request).settings.dashboard_pmtiles)
    if path is None:
        raise NotFound("no street basemap: QALA_DASHBOARD_PMTILES names no .pmtiles file")
    mimetypes.add_type("application/vnd.pmtiles", ".pmtiles")
    return FileResponse(
        path,
        media_type="application/vnd.pmtiles",
        headers={**SECURITY_HEADERS, "Cache-Control": "public, max-age=3600"},
    )


_SECTIONS_SCHEMA = {
    "type": "object",
    "required": ["actor", "sections"],
    "properties": {
        "actor": {
            "type": "object",
            "properties": {"role": {"type": "string"}, "tenant": {"type": ["string", "null"]}},
        },
        "sections": {
            "type": "object",
            "description": (
                "Per section (hub — the city map —, assessment, indicators, programme, "
                "requests): state 'absent' "
                "(the capability does not run here), 'refused' (the caller's role reads none "
                "of it) or 'open', with the view the page uses, the cities it may read "
                "(null: every city) and, for the indicators, whether the caller may compute "
                "them"
            ),
            "additionalProperties": {
                "type": "object",
                "required": ["state"],
                "properties": {
                    "state": {"type": "string", "enum": ["absent", "refused", "open"]},
                    "view": {"type": "string"},
                    "tenants": {"type": ["array", "null"], "items": {"type": "string"}},
                    "compute": {"type": "boolean"},
                },
            },
        },
    },
}


@router.get(
    "/api/v1/dashboard/sections",
    tags=["Dashboard"],
    summary="What the dashboard's sections may show the caller on this server",
    responses={**openapi.ok(_SECTIONS_SCHEMA, "The sections' states"), **openapi.errors()},
)
async def sections(request: Request) -> Response:
    actor = actor_of(request)
    body = {
        "actor": actor_summary(actor),
        "sections": section_states(services(request), actor),
    }
    return Response(orjson.dumps(body), media_type="application/json")


_EVENTS_SCHEMA = {
    "type": "string",
    "description": (
        "Server-sent events: 'ready' once, then 'change' events {id, type, kind, at} for each "
        "entity of the tenant the caller may read that a write created, changed, replaced or "
        "deleted, and 'resync' when the stream fell behind (read the entities again). The "
        "stream ends after a few minutes; reconnect."
    ),
}


@router.get(
    "/api/v1/dashboard/events",
    tags=["Dashboard"],
    summary="Changes to the tenant's entities the caller may read, as server-sent events",
    response_class=StreamingResponse,
    responses={
        **openapi.ok(_EVENTS_SCHEMA, "The stream of changes", ("text/event-stream",)),
        **openapi.errors(400, 403, 404, 504),
    },
)
async def events(
    request: Request,
    tenant: TenantHeader = None,
    type: Annotated[
        str | None,
        Query(description="Entity types (comma-separated names of the request's @context)"),
    ] = None,
) -> Response:
    svc = services(request)
    actor = actor_of(request)
    ten, _ = await svc.hub.reader(tenant, actor)  # refused here as the NGSI-LD API would
    ctx = await http.request_context(request, svc.contexts)
    types = frozenset(ctx.expand(t.strip()) for t in (type or "").split(",") if t.strip())
    feed = svc.state.get(LiveFeed)
    listener = Listener(tenant=ten.name, actor=actor, context=ctx, types=types)
    duration = min(STREAM_SECONDS, max(1.0, svc.settings.request_timeout - 5.0))
    return StreamingResponse(
        feed.stream(listener, duration),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
