"""Collection URLs with or without their trailing slash, answered alike, without a redirect.

The NGSI-LD specification writes collection resources with a trailing slash
(``{apiRoot}/ngsi-ld/v1/entities/``, ``…/subscriptions/``) and many clients send them so;
Orion-LD and Scorpio answer both forms. A redirect is no answer for a client that does not
follow one on POST. :class:`AcceptTrailingSlash` sits in front of every API: a request whose
path ends in ``/`` and that no route serves as it is, but one does without the slash, is routed
to that route — one mechanism for every API (NGSI-LD, temporal, subscriptions, ``/iot``,
``/qala/v1``, the capabilities'). A path some route serves with its slash (an entity id that
ends in ``/``) is left alone.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send


class AcceptTrailingSlash:
    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = self.routed(scope)
        await self.app(scope, receive, send)

    def routed(self, scope: Scope) -> Scope:
        """``scope``, or a copy without the trailing slash when only that form is served."""
        path: str = scope["path"]
        if len(path) > 1 and path.endswith("/") and not self._served(scope):
            stripped = path.rstrip("/") or "/"
            candidate = {**scope, "path": stripped}
            if self._served(candidate):
                raw = scope.get("raw_path")
                if raw is not None:
                    candidate["raw_path"] = raw.rstrip(b"/") or b"/"
                return candidate
        return scope

    def _served(self, scope: Scope) -> bool:
        """Some route serves this path with this method."""
        return any(route.matches(scope)[0] is Match.FULL for route in self.routes)
