"""The fast lane: the hottest read routes served without the framework's generic layers.

A request for one entity (``GET /ngsi-ld/v1/entities/{id}``) is most of a city's traffic.
Through Starlette and FastAPI it crosses half a dozen generic layers (error middleware, body
limit, exception middleware, the exit stack, the router trying every route in turn, the
request/response wrapper) that cost more than the route's own work. :class:`FastLane` serves
the routes it is given directly: the same route object, the same path matching (its regex and
convertors), the same handler (:class:`~qala.ngsild.routing.FastRoute`'s), and the
application's own exception handlers for errors, so answers are the same byte for byte. It
runs after authentication, the rate limit and the time limit (see ``qala.app.FrontDoor``).

A request takes the lane only when no route registered before the hot one could answer it
(those are checked first, as the router would) and the hot route matches it fully; anything
else goes through the whole application.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

Handler = Callable[[Request], Awaitable[Response]]


class _Hot:
    __slots__ = ("before", "branch", "handler", "route")

    def __init__(self, route: APIRoute, branch: BaseRoute, before: list[BaseRoute]) -> None:
        self.route = route
        self.handler: Handler = route.get_route_handler()
        #: The application's top-level route that holds it (an included router, or itself).
        self.branch = branch
        #: The top-level routes before it: the router tries them first, so the lane does too.
        self.before = before


class FastLane:
    """Serves GET requests for ``probes`` straight from the route that answers them.

    ``probes``: one path for each hot route, e.g. ``/ngsi-ld/v1/entities/urn:ngsi-ld:X:1``;
    the route the application routes it to (with GET) is the hot one.
    """

    def __init__(self, app: FastAPI, probes: Sequence[str]) -> None:
        self.app = app
        self.hot: list[_Hot] = []
        routes = list(app.router.routes)
        for probe in probes:
            scope: Scope = {
                "type": "http",
                "method": "GET",
                "path": probe,
                "root_path": "",
                "query_string": b"",
                "headers": [],
                "app": app,
            }
            for index, branch in enumerate(routes):
                if branch.matches(scope)[0] is Match.NONE:
                    continue
                found = _select(branch, scope)
                if found is not None and isinstance(found[0], APIRoute):
                    self.hot.append(_Hot(found[0], branch, routes[:index]))
                break

    def route_for(self, scope: Scope) -> tuple[_Hot, dict[str, Any]] | None:
        """The hot route that answers this request, with what it adds to the scope (its path
        parameters), or None: the request goes through the whole application."""
        if scope["method"] != "GET":
            return None
        for hot in self.hot:
            if any(r.matches(scope)[0] is not Match.NONE for r in hot.before):
                continue
            found = _select(hot.branch, scope)
            if found is not None and found[0] is hot.route:
                return hot, found[1]
        return None

    async def serve(
        self, hot: _Hot, child: dict[str, Any], scope: Scope, receive: Receive, send: Send
    ) -> None:
        scope = {**scope, **child, "router": self.app.router}
        request = Request(scope, receive)
        try:
            response = await hot.handler(request)
        except Exception as exc:
            response = await self._handled(request, exc)
        await response(scope, receive, send)

    async def _handled(self, request: Request, exc: Exception) -> Response:
        """The application's handler for ``exc`` (the closest class it has one for), as
        Starlette's exception middleware would choose it."""
        handlers = self.app.exception_handlers
        for kind in type(exc).__mro__:
            handler = handlers.get(kind)
            if handler is not None:
                response: Response = await handler(request, exc)
                return response
        raise exc


def _select(branch: BaseRoute, scope: Scope) -> tuple[BaseRoute, dict[str, Any]] | None:
    """The route ``branch`` (a top-level route of the application) sends a request to, with
    its scope additions, when it matches fully; None otherwise or when that cannot be told
    (then the request takes the whole way)."""
    select = getattr(branch, "_match", None)  # FastAPI's included routers
    if select is None:
        match, child = branch.matches(scope)
        return (branch, child) if match is Match.FULL else None
    try:
        match, child, route, _context = select(scope)
    except Exception:
        return None
    if match is not Match.FULL or route is None:
        return None
    return route, child
