"""Authentication of every request: ``Authorization: Bearer <API key or JWT>``.

The middleware resolves the caller into an :class:`~qala.hub.changes.Actor` stored in the
request state (``request.state.actor``); APIs pass it to the hub, which applies the access
policy. It also enforces per-caller rate limits and a request timeout. A few paths need no
credentials: ``/health``, the API documentation, the dashboard's pages and assets (``/`` and
``/dashboard/``; their data comes from the APIs, with the caller's credentials), the
``@context`` documents the broker hosts (JSON-LD processors must be able to fetch them) and
device measures (``/iot/json``, checked against the device's service API key).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qala.auth.keys import PREFIX, KeyCache
from qala.auth.tokens import TokenVerifier
from qala.config import Settings
from qala.hub import Actor
from qala.hub.errors import HubError, ServiceUnavailable, Unauthorized

if TYPE_CHECKING:
    from qala.services import Services

log = logging.getLogger("qala.auth")

_OPEN_PATHS = ("/health", "/docs", "/openapi.json", "/static/", "/dashboard/")
_HOSTED_CONTEXTS = "/ngsi-ld/v1/jsonldContexts/"
#: Open311 GeoReport v2: public reading; its clients send ``api_key`` as a parameter, which
#: the Open311 capability checks itself, and it applies its own rate limits (per api_key
#: and per address).
_OPEN311 = "/open311/"


class RateLimiter:
    """A token bucket per caller; ``per_key``: the rate of particular callers (``key:<id>``),
    their burst scaled alike."""

    def __init__(self, rate: float, burst: int, per_key: dict[str, float] | None = None) -> None:
        self.rate = rate
        self.burst = float(max(burst, 1))
        self._buckets: dict[str, tuple[float, float]] = {}
        self._limits: dict[str, tuple[float, float]] = {
            who: (limit, max(1.0, self.burst * limit / rate) if rate > 0 else self.burst)
            for who, limit in (per_key or {}).items()
        }

    def rate_of(self, who: str) -> float:
        limit = self._limits.get(who)
        return limit[0] if limit is not None else self.rate

    def allow(self, who: str) -> float:
        """0 when the request may go; else the seconds to wait."""
        limit = self._limits.get(who)
        rate, burst = limit if limit is not None else (self.rate, self.burst)
        if rate <= 0:
            return 0.0
        now = time.monotonic()
        tokens, stamp = self._buckets.get(who, (burst, now))
        tokens = min(burst, tokens + (now - stamp) * rate)
        if tokens < 1.0:
            self._buckets[who] = (tokens, now)
            return (1.0 - tokens) / rate
        if len(self._buckets) > 100_000:
            self._buckets.clear()
        self._buckets[who] = (tokens - 1.0, now)
        return 0.0


class Authenticator:
    """Turns credentials into actors; shared by the HTTP middleware and other edges."""

    def __init__(self, settings: Settings, keys: KeyCache, tokens: TokenVerifier | None):
        self.settings = settings
        self.keys = keys
        self.tokens = tokens

    async def actor(self, authorization: str | None, address: str | None) -> Actor:
        if self.settings.auth_disabled:
            return Actor(id="anonymous", role="admin", address=address, via="disabled")
        if not authorization:
            if self.settings.anonymous_role:
                return Actor(
                    id="anonymous",
                    role=self.settings.anonymous_role,
                    address=address,
                    via="anonymous",
                )
            raise Unauthorized("credentials are required: send Authorization: Bearer <key>")
        scheme, _, credential = authorization.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise Unauthorized("use Authorization: Bearer <API key or access token>")
        if credential.startswith(PREFIX):
            key = await self.keys.lookup(credential)
            if key is None or not key.active:
                raise Unauthorized("the API key is not valid (unknown or revoked)")
            return Actor(
                id=f"key:{key.id}",
                role=key.role,
                address=address,
                tenant=key.tenant,
                via=f"key:{key.id}",
            )
        if self.tokens is None:
            raise Unauthorized("bearer tokens are not accepted: no JWKS is configured")
        return await self.tokens.verify(credential, address)


def _is_open(method: str, path: str) -> bool:
    """Paths that need no credentials: health, API docs, hosted @contexts, device measures
    (``/iot/json``), which devices authenticate with their service's API key, and Open311
    (``/open311/``), whose clients send an ``api_key`` parameter the capability checks."""
    if path.startswith(_OPEN_PATHS) or path == "/":
        return True
    if method == "POST" and path == "/iot/json":
        return True
    if path.startswith(_OPEN311):
        return True
    return method == "GET" and path.startswith(_HOSTED_CONTEXTS)


def _problem(
    status: int, title: str, detail: str, headers: dict[str, str]
) -> tuple[Message, bytes]:
    return {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json")]
        + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }, orjson.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail})


async def _send_problem(
    send: Send, status: int, title: str, detail: str, headers: dict[str, str] | None = None
) -> None:
    start, body = _problem(status, title, detail, headers or {})
    await send(start)
    await send({"type": "http.response.body", "body": body})


class AuthMiddleware:
    """Pure ASGI middleware: authenticate, rate-limit, time out."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        admitted, timeout = await self.admit(scope, send)
        if not admitted:
            return
        if timeout is None:
            await self.app(scope, receive, send)
        else:
            await self.within(timeout, self.app, scope, receive, send)

    async def admit(self, scope: Scope, send: Send) -> tuple[bool, float | None]:
        """Authenticate and rate-limit an HTTP request: whether it may go on (if not, it was
        answered: 401 or 429), and its time limit (None: the server has no authenticator)."""
        services = getattr(scope["app"].state, "services", None)
        auth = services.authenticator if services else None
        if auth is None:
            return True, None
        path = scope["path"]
        method = scope["method"]
        client = scope.get("client")
        address = client[0] if client else None
        authorization = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
                break
        try:
            actor = await auth.actor(authorization, address)
        except HubError as exc:
            if _is_open(method, path):
                actor = Actor(id="anonymous", role="public", address=address, via="anonymous")
            else:
                await _send_problem(
                    send,
                    401,
                    "Unauthorized",
                    exc.detail,
                    {"WWW-Authenticate": 'Bearer realm="qala"'},
                )
                return False, None
        scope.setdefault("state", {})["actor"] = actor
        limiter = services.rate_limiter if not path.startswith(_OPEN311) else None
        who = actor.via if actor.via.startswith("key:") else actor.id
        wait = limiter.allow(who) if limiter is not None else 0.0
        if limiter is not None and wait > 0 and not auth.settings.auth_disabled:
            await _send_problem(
                send,
                429,
                "Too many requests",
                f"rate limit of {limiter.rate_of(who):g} requests/s exceeded; "
                f"retry after {wait:.1f} s",
                {"Retry-After": str(max(1, round(wait)))},
            )
            return False, None
        return True, auth.settings.request_timeout

    @staticmethod
    async def within(
        timeout: float, app: ASGIApp, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Run ``app`` on the request; past ``timeout`` seconds, 503 (if nothing was sent)."""
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            async with asyncio.timeout(timeout):
                await app(scope, receive, tracking_send)
        except TimeoutError:
            log.warning(
                "request %s %s timed out after %s s", scope["method"], scope["path"], timeout
            )
            if not started:
                detail = ServiceUnavailable(f"the request took longer than {timeout:g} s").detail
                await _send_problem(send, 503, "Service unavailable", detail, {"Retry-After": "5"})


def install(services: Services, settings: Settings) -> None:
    """Create the authenticator and rate limiter for a running server."""
    tokens = None
    if settings.oidc_jwks:
        tokens = TokenVerifier(
            settings.oidc_jwks,
            issuer=settings.oidc_issuer,
            audience=settings.oidc_audience,
            tenant_claim=settings.oidc_tenant_claim,
            client_id=settings.oidc_client_id,
        )
    services.authenticator = Authenticator(settings, KeyCache(services.store), tokens)
    per_key = {f"key:{key_id}": rate for key_id, rate in settings.rate_limit_keys.items()}
    services.rate_limiter = RateLimiter(settings.rate_limit, settings.rate_burst, per_key)
