"""The GeoReport v2 error format for every error under ``/open311/``.

The specification's errors are a list of ``{code, description}`` — ``<errors><error>`` in XML,
an array in JSON — answered with 400 (a bad or missing parameter), 403 (a missing or bad
``api_key``) or 404 (an unknown jurisdiction, service, request or token). Qala answers every
error of its Open311 edge so, never with NGSI-LD ProblemDetails: parameter validation, an
unknown path or method under ``/open311/`` (404 and 405 in the same body), the rate limit
(429) and a server fault (500) included.

The format of an error follows the path's suffix (``….json`` answers JSON); anything else
answers XML, the specification's mandatory format.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.responses import Response

from qala.hub import Forbidden, HubError, NotFound, Unauthorized, UnknownTenant
from qala.open311.formats import ListOf, render
from qala.open311.model import GeoReportError

log = logging.getLogger("qala.open311")

PREFIX = "/open311/"


def format_of_path(path: str) -> str:
    """``json`` for a path ending in ``.json``; else ``xml`` (the mandatory format)."""
    return "json" if path.rstrip("/").endswith(".json") else "xml"


def errors_response(
    status: int,
    errors: list[tuple[str, str]],
    fmt: str = "xml",
    headers: dict[str, str] | None = None,
) -> Response:
    """A GeoReport ``errors`` body with any HTTP status (400/403/404 from the specification;
    405, 429 and 500 where the server itself answers)."""
    docs = [{"code": code, "description": description} for code, description in errors]
    body = render("errors", ListOf("error", docs), "json" if fmt == "json" else "xml")
    return Response(body.content, status_code=status, media_type=body.media_type,
                    headers=headers)  # fmt: skip


def error_response(status: int, code: str, message: str) -> Response:
    """The :class:`~qala.capabilities.ErrorFormat` responder: errors the server answers on
    ``/open311/`` paths outside a route (XML: the responder does not see the path)."""
    return errors_response(status, [(str(status), message)])


def error_response_at(path: str, status: int, code: str, message: str) -> Response:
    """The same, in the format of ``path`` (``….json``: JSON)."""
    return errors_response(status, [(str(status), message)], format_of_path(path))


def georeport_response(exc: GeoReportError, fmt: str) -> Response:
    return errors_response(exc.status, exc.errors, fmt)


def hub_error_response(exc: HubError, fmt: str) -> Response:
    if isinstance(exc, NotFound | UnknownTenant):
        status = 404
    elif isinstance(exc, Forbidden | Unauthorized):
        status = 403
    else:
        status = 400
    return errors_response(status, [(str(status), exc.detail)], fmt)


class GeoReportRoute(APIRoute):
    """Routes whose every error (parameter validation included) is a GeoReport error."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            fmt = format_of_path(request.url.path)
            try:
                return await handler(request)
            except GeoReportError as exc:
                return georeport_response(exc, fmt)
            except HubError as exc:
                return hub_error_response(exc, fmt)
            except RequestValidationError as exc:
                problems = []
                for error in exc.errors():
                    where = ".".join(
                        str(p) for p in error.get("loc", ()) if p not in ("query", "path")
                    )
                    problems.append(("400", f"{where}: {error.get('msg', 'invalid')}"))
                return errors_response(400, problems or [("400", "invalid request")], fmt)
            except Exception:
                log.exception("Open311: unexpected error on %s %s", request.method, request.url)
                return errors_response(500, [("500", "unexpected server error")], fmt)

        return route
