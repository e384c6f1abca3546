"""The Qala server: one ASGI application wiring the store, the hub and every API."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from qala import __version__, openapi
from qala.auth.middleware import AuthMiddleware
from qala.capabilities import Capability, ErrorFormat, load_capabilities
from qala.config import Settings, load_settings
from qala.hub import Hub
from qala.hub.errors import (
    BadRequestData,
    HubError,
    InvalidRequest,
    NotFound,
    OperationNotSupported,
)
from qala.jsonld.resolver import ContextResolver, load_context_folder
from qala.ngsild.errors import (
    internal_error_response,
    problem_body,
    problem_for,
    problem_response,
)
from qala.ngsild.http import LengthRequired
from qala.services import Services
from qala.store import open_store
from qala.web.lane import FastLane
from qala.web.slashes import AcceptTrailingSlash

log = logging.getLogger("qala")


def builtin_contexts() -> dict[str, dict[str, Any]]:
    from qala import sdm

    return sdm.builtin_contexts()


async def start_services(
    settings: Settings, capabilities: list[Capability] | None = None
) -> Services:
    store = open_store(settings)
    await store.open()
    resolver = ContextResolver(
        repository=store,
        builtin=builtin_contexts(),
        fetch_timeout=settings.context_fetch_timeout,
        allow_local=settings.allow_local_endpoints,
        cache_size=settings.context_cache_size,
    )
    if settings.contexts_dir is not None:
        for url, document in load_context_folder(Path(settings.contexts_dir)).items():
            resolver.preload(url, document)
    hub = Hub(store)
    svc = Services(settings=settings, store=store, hub=hub, contexts=resolver)
    try:
        for cap in load_capabilities() if capabilities is None else capabilities:
            if cap.start is not None:
                await cap.start(svc)
            svc.capabilities.append(cap)
    except BaseException:
        await stop_services(svc)
        raise
    return svc


async def stop_services(svc: Services) -> None:
    """Stop the capabilities in reverse order, then close the store."""
    for cap in reversed(svc.capabilities):
        if cap.stop is not None:
            try:
                await cap.stop(svc)
            except Exception:
                log.exception("stopping %s failed", cap.name)
    await svc.store.close()


#: Allocations (of objects the collector tracks) between two young-generation collections.
#: A batch of 1,000 entities allocates some 100,000 dicts and lists that all stay alive until
#: it is committed: with CPython's default (700) the collector walks them over and over.
GC_YOUNG_THRESHOLD = 50_000


def settle_memory() -> None:
    """Once the server has started: what start-up built (modules, routes, compiled contexts)
    lives as long as the process, so the collector stops walking it (``gc.freeze``), and the
    young generation is collected less often. Garbage cycles are still collected."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    capabilities = load_capabilities()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = await start_services(settings, capabilities)
        app.state.services = svc
        settle_memory()
        try:
            yield
        finally:
            await stop_services(svc)

    app = FastAPI(
        title="Qala",
        version=__version__,
        summary="City data hub: ETSI NGSI-LD context broker for smart cities",
        description=(
            "Qala publishes and serves live city data through the ETSI NGSI-LD API "
            "(GS CIM 009 v1.8) with FIWARE Smart Data Models. Each city is a tenant, "
            "chosen with the NGSILD-Tenant header."
        ),
        lifespan=lifespan,
        docs_url=None,  # served by openapi.install, from local assets
        redoc_url=None,
    )
    for cap in capabilities:
        for router, prefix in cap.routers:
            app.include_router(router, prefix=prefix)
    formats = [cap.error_format for cap in capabilities if cap.error_format is not None]
    install_error_handlers(app, formats)
    # One middleware at the front: trailing slashes, authentication and the rate limit, the
    # time limit, U+0000 in URLs, and the fast lane of the hottest reads.
    app.add_middleware(FrontDoor, fastapi_app=app, formats=formats, hot_paths=HOT_PATHS)
    openapi.install(app)

    health_body = {
        "type": "object",
        "required": ["status", "version", "store", "auth"],
        "properties": {
            "status": {"enum": ["ok", "degraded"]},
            "version": {"type": "string"},
            "store": {"type": "object"},
            "auth": {"type": "object"},
        },
    }

    @app.get(
        "/health",
        tags=["Server"],
        summary="Version and the store's state",
        responses={
            **openapi.ok(health_body, "The server works"),
            **openapi.ok(
                {"anyOf": [health_body, openapi.ref("ProblemDetails")]},
                "The store is unavailable (or the probe timed out)",
                status=503,
            ),
        },
    )
    async def health(request: Request) -> Response:
        svc: Services = request.app.state.services
        try:
            store = await svc.store.health()
            status = "ok"
        except Exception as exc:  # report, do not fail the probe with a 500
            log.exception("health check of the store failed")
            store = {"error": type(exc).__name__}
            status = "degraded"
        body: dict[str, Any] = {"status": status, "version": __version__, "store": store}
        if svc.settings.auth_disabled:
            body["auth"] = {
                "enabled": False,
                "warning": "authentication is disabled: every request acts as admin",
            }
        else:
            body["auth"] = {"enabled": True, "anonymous_role": svc.settings.anonymous_role}
        for cap in svc.capabilities:
            for name, probe in cap.health.items():
                try:
                    body[name] = await probe(svc)
                except Exception:  # a capability's probe must not break the health check
                    log.exception("health probe %s of %s failed", name, cap.name)
                    body[name] = {"error": "probe failed"}
        return JSONResponse(body, status_code=200 if status == "ok" else 503)

    return app


def format_of(formats: list[ErrorFormat], path: str) -> ErrorFormat | None:
    """The error format a capability declared for ``path``; None: NGSI-LD ProblemDetails."""
    for error_format in formats:
        if error_format.serves(path):
            return error_format
    return None


def formatted(error_format: ErrorFormat, status: int, detail: str, path: str = "") -> Response:
    """One error in a capability's format; its code is the name of the HTTP status."""
    try:
        code = HTTPStatus(status).name
    except ValueError:  # a status Python does not name
        code = "ERROR"
    if error_format.respond_at is not None:
        return error_format.respond_at(path, status, code, detail)
    return error_format.respond(status, code, detail)


class RejectNul:
    """Refuses (400) a request whose path or query string holds U+0000 (``%00``): no resource
    or parameter of any API contains it, and PostgreSQL could not even compare it."""

    def __init__(self, app: ASGIApp, formats: list[ErrorFormat]) -> None:
        self.app = app
        self.formats = formats

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and ("\x00" in scope["path"] or b"%00" in scope["query_string"]):
            detail = "the URL holds the character U+0000 (%00)"
            error_format = format_of(self.formats, scope["path"])
            if error_format is not None:
                response = formatted(error_format, 400, detail, scope["path"])
            else:
                response = problem_response(InvalidRequest(detail), instance=scope["path"])
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


#: A path of each route the fast lane (qala.web.lane) serves: most of a city's reads.
HOT_PATHS = ("/ngsi-ld/v1/entities/urn:ngsi-ld:Probe:1",)


class FrontDoor:
    """Every request's way in, as one ASGI middleware (each layer costs a coroutine and an
    indirection per request), in this order:

    1. a collection URL with a trailing slash is routed as without it (:mod:`qala.web.slashes`);
    2. authentication and the rate limit (:class:`~qala.auth.middleware.AuthMiddleware`):
       401 / 429;
    3. the time limit (503), around everything that follows;
    4. U+0000 in the URL: 400 (:class:`RejectNul`);
    5. the fast lane (:mod:`qala.web.lane`) for the hottest reads, else the application.
    """

    def __init__(
        self,
        app: ASGIApp,
        fastapi_app: FastAPI,
        formats: list[ErrorFormat],
        hot_paths: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.slashes = AcceptTrailingSlash(app, fastapi_app.router.routes)
        self.nul = RejectNul(app, formats)
        self.auth = AuthMiddleware(self.nul)
        self.fastapi_app = fastapi_app
        self.hot_paths = hot_paths
        self._lane: FastLane | None = None

    @property
    def lane(self) -> FastLane:
        # Built on first use: every route (openapi.install's too) is registered by then.
        if self._lane is None:
            self._lane = FastLane(self.fastapi_app, self.hot_paths)
        return self._lane

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if len(path) > 1 and path[-1] == "/":
            scope = self.slashes.routed(scope)
        admitted, timeout = await self.auth.admit(scope, send)
        if not admitted:
            return
        inner: ASGIApp = self._inner
        if timeout is None:
            await inner(scope, receive, send)
        else:
            await self.auth.within(timeout, inner, scope, receive, send)

    async def _inner(self, scope: Scope, receive: Receive, send: Send) -> None:
        if "\x00" in scope["path"] or b"%00" in scope["query_string"]:
            await self.nul(scope, receive, send)  # answers 400
            return
        found = self.lane.route_for(scope)
        if found is None:
            await self.app(scope, receive, send)
        else:
            await self.lane.serve(*found, scope, receive, send)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> str:
    """Every method some route serves at the request's path (for a 405's ``Allow``)."""
    routes = request.app.router.routes
    allowed = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in routes):
            allowed.append(method)
    return ", ".join(allowed)


def install_error_handlers(app: FastAPI, formats: list[ErrorFormat]) -> None:
    """Errors raised outside an API's own handling: NGSI-LD ProblemDetails, or the format the
    capability serving the path declared."""

    @app.exception_handler(HubError)
    async def hub_error(request: Request, exc: HubError) -> Response:
        error_format = format_of(formats, request.url.path)
        if error_format is not None:
            return formatted(error_format, problem_for(exc)[1], exc.detail, request.url.path)
        response = problem_response(exc, instance=request.url.path)
        tenant = request.headers.get("NGSILD-Tenant")
        if tenant and tenant.isascii():  # NGSI-LD echoes the tenant, errors included (6.3.14)
            response.headers["NGSILD-Tenant"] = tenant
        return response

    @app.exception_handler(LengthRequired)
    async def length_required(request: Request, exc: LengthRequired) -> Response:
        return Response(status_code=411)  # bare, as GS CIM 009 6.3.4 asks

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("query", "path"))
            problems.append(f"{where}: {error.get('msg', 'invalid')}")
        detail = "invalid request parameters: " + "; ".join(problems)
        error_format = format_of(formats, request.url.path)
        if error_format is not None:
            return formatted(error_format, 400, detail, request.url.path)
        return problem_response(BadRequestData(detail), instance=request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            err: HubError = NotFound(f"no resource at {request.url.path}")
        elif exc.status_code == 405:
            err = OperationNotSupported(f"{request.method} is not supported on {request.url.path}")
        else:
            err = InvalidRequest(str(exc.detail))
        headers = exc.headers
        if exc.status_code == 405:  # Allow lists what the path serves, not what one route does
            headers = {**(headers or {}), "Allow": allowed_methods(request)}
        error_format = format_of(formats, request.url.path)
        if error_format is not None:
            response = formatted(error_format, exc.status_code, err.detail, request.url.path)
            response.headers.update(headers or {})
            return response
        body = problem_body(err, instance=request.url.path)
        body["status"] = exc.status_code  # the ProblemDetails status is the HTTP status
        return JSONResponse(body, status_code=exc.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return internal_error_response()
